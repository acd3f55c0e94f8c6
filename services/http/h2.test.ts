/**
 * HTTP/2 on the service's real listeners (127.0.0.1, port 0) with node:http2 clients and
 * hand-made frames: h2c by prior knowledge next to HTTP/1.1 on one port, h2 over TLS by
 * ALPN, vhosts by :authority, error pages, precompressed files, the connection limits, and
 * hostile input (garbage after the preface, rapid reset, oversized header sections).
 */
import t from 'tap';
import {
  connect as h2connect,
  constants,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/clock.js';
import { createHttpService, type HttpService } from './index.js';
import { makeFixture, fixtureConfig, SMALL_HTML } from './testing-store.js';
import type { HttpConfig } from './config.js';
import { CLIENT_PREFACE } from './connection-preface.js';

const f = makeFixture();
t.teardown(() => f.cleanup());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(
  cfg: HttpConfig,
): Promise<{ svc: HttpService; port: number; registry: Registry }> {
  const registry = new Registry();
  const svc = createHttpService(cfg, {
    log: pino({ level: 'silent' }),
    metrics: registry,
    dataDir: join(f.dir, 'data'),
    configDir: f.dir,
    clock: systemClock,
  });
  await svc.start();
  return { svc, port: svc.addresses().http!.port, registry };
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on an open session. */
function get(
  session: ClientHttp2Session,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': path, ...headers });
    const chunks: Buffer[] = [];
    let h: IncomingHttpHeaders = {};
    s.on('response', (r) => (h = r));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () =>
      resolve({ status: Number(h[':status']), headers: h, body: Buffer.concat(chunks) }),
    );
    s.on('error', reject);
    s.end();
  });
}

/** An h2c session, once the server's SETTINGS arrived. */
function h2c(port: number, localAddress = '127.0.0.1'): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${port}`, { localAddress } as never);
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
    s.on('error', () => undefined); // a connection the server closes is an expected outcome
  });
}

/** Raw bytes in, everything the server sent until it closed (or `ms` passed). */
function raw(
  port: number,
  data: Buffer | string,
  ms = 3000,
): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), closed });
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed });
    }, ms);
    s.on('connect', () => s.write(data));
  });
}

/** An HTTP/2 frame (RFC 9113 §4.1). */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}
const SETTINGS = frame(4, 0, 0, Buffer.alloc(0));
/** HPACK: :method GET, :scheme http, :path /, :authority "a" (RFC 7541 static table). */
const GET_HEADERS = Buffer.from([0x82, 0x86, 0x84, 0x41, 0x01, 0x61]);

/** The frames in `bytes`: type and, for GOAWAY, the error code. */
function frames(bytes: Buffer): { type: number; code?: number }[] {
  const out: { type: number; code?: number }[] = [];
  for (let i = 0; i + 9 <= bytes.length;) {
    const len = bytes.readUIntBE(i, 3);
    const type = bytes[i + 3]!;
    out.push(
      type === 7 && i + 17 <= bytes.length ? { type, code: bytes.readUInt32BE(i + 13) } : { type },
    );
    i += 9 + len;
  }
  return out;
}

t.test('h2c by prior knowledge and HTTP/1.1 on the same port', async (t) => {
  const { svc, port, registry } = await start(fixtureConfig());
  t.teardown(() => svc.stop());
  const s = await h2c(port);
  t.teardown(() => s.destroy());
  t.equal(s.remoteSettings.maxConcurrentStreams, 128, 'SETTINGS_MAX_CONCURRENT_STREAMS');
  t.equal(s.remoteSettings.maxHeaderListSize, 32768, 'SETTINGS_MAX_HEADER_LIST_SIZE');
  t.equal(s.remoteSettings.enablePush, false);
  // twice: the first goes through Fastify, the second is answered from memory (fastServe)
  for (const pass of ['fastify', 'fast path']) {
    const r = await get(s, '/', { ':authority': 'www.TIC2023.com' });
    t.equal(r.status, 200, pass);
    t.equal(r.body.toString(), SMALL_HTML, pass);
    t.equal(r.headers['content-type'], 'text/html; charset=utf-8', pass);
    t.equal(r.headers['content-length'], String(SMALL_HTML.length), pass);
    t.equal(r.headers.connection, undefined, 'no connection-specific field (RFC 9113 §8.2.2)');
  }
  const head = await get(s, '/about%20us.html', { ':method': 'HEAD', ':authority': 'a' });
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], '16');
  t.equal(head.body.length, 0);
  // a file bigger than one flow-control window (65 535), streamed through Fastify
  const big = await get(s, '/big.bin', { ':authority': 'www.TIC2023.com' });
  t.equal(big.status, 200);
  t.ok(big.body.equals(f.big), 'big.bin arrives whole');
  // several streams at once on one connection
  const many = await Promise.all(
    Array.from({ length: 20 }, () => get(s, '/about%20us.html', { ':authority': 'a' })),
  );
  t.same(
    many.map((r) => r.body.toString()),
    Array(20).fill('<p>about us</p>\n'),
  );
  // HTTP/1.1 still answered on the same port, while the h2 connection stays open
  const h1 = await raw(
    port,
    'GET / HTTP/1.1\r\nHost: web1.tic2023.com\r\nConnection: close\r\n\r\n',
  );
  t.match(h1.bytes.toString(), /^HTTP\/1\.1 200 OK[\s\S]*<h1>web1<\/h1>\n$/);
  const again = await get(s, '/', { ':authority': 'web1.TIC2023.com' });
  t.equal(again.body.toString(), '<h1>web1</h1>\n');
  const m = await registry.metrics();
  t.match(m, /http_h2_sessions_total 1\n/);
  t.match(m, /http_requests_total\{site="www",class="2xx"\} 24/);
  s.close();
  await svc.stop();
  const log = readFileSync(join(f.dir, 'data/logs/www.access.log'), 'utf8');
  t.match(
    log,
    /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ HTTP\/2\.0" 200 51 "-" "-"$/m,
    'access log: client address, HTTP/2.0 as nginx writes it',
  );
  t.match(log, /"HEAD \/about%20us\.html HTTP\/2\.0" 200 0 /);
});

t.test('vhosts by :authority, error pages, precompressed files', async (t) => {
  const { svc, port } = await start(fixtureConfig());
  t.teardown(() => svc.stop());
  const s = await h2c(port);
  t.teardown(() => s.destroy());
  const cases: [string, string][] = [
    ['web1.TIC2023.com', '<h1>web1</h1>\n'],
    ['WEB1.tic2023.com:18080', '<h1>web1</h1>\n'],
    ['web2.TIC2023.com', '<h1>web2</h1>\n'],
    ['x.web2.TIC2023.com', '<h1>web2</h1>\n'],
    ['elsewhere.example', SMALL_HTML],
  ];
  for (const [authority, body] of cases) {
    const r = await get(s, '/', { ':authority': authority });
    t.equal(r.status, 200, authority);
    t.equal(r.body.toString(), body, authority);
  }
  // RFC 9113 §8.3.1: a Host that differs from :authority makes the request malformed
  const clash = await get(s, '/', { ':authority': 'web1.TIC2023.com', host: 'web2.TIC2023.com' });
  t.equal(clash.status, 400);
  t.equal(clash.headers.connection, undefined);
  const same = await get(s, '/', { ':authority': 'web1.TIC2023.com', host: 'WEB1.tic2023.com' });
  t.equal(same.status, 200);

  const missing = await get(s, '/nothing.html', { ':authority': 'www.TIC2023.com' });
  t.equal(missing.status, 404);
  t.equal(missing.body.toString(), '<h1>custom not found</h1>\n', "the site's 404 page");
  const plain404 = await get(s, '/nothing.html', { ':authority': 'web1.TIC2023.com' });
  t.equal(plain404.status, 404);
  t.match(plain404.body.toString(), /404/);
  const traversal = await get(s, '/%2e%2e/outside/secret.txt', { ':authority': 'a' });
  t.equal(traversal.status, 400);
  t.notMatch(traversal.body.toString(), 'secret');
  const post = await get(s, '/', { ':method': 'POST', ':authority': 'a' });
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
  const dir = await get(s, '/sub?x=1', { ':authority': 'a' });
  t.equal(dir.status, 301);
  t.equal(dir.headers.location, '/sub/?x=1');

  const original = Buffer.from('body { color: red; }\n'.repeat(30));
  const gz = await get(s, '/pre.css', { ':authority': 'a', 'accept-encoding': 'gzip' });
  t.equal(gz.status, 200);
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.match(String(gz.headers.vary), /accept-encoding/i);
  t.ok(gz.body.equals(readFileSync(join(f.dir, 'www/pre.css.gz'))), 'the .gz sibling itself');
  t.ok(gunzipSync(gz.body).equals(original));
  const br = await get(s, '/pre.css', { ':authority': 'a', 'accept-encoding': 'br, gzip' });
  t.equal(br.headers['content-encoding'], 'br');
  t.ok(br.body.equals(readFileSync(join(f.dir, 'www/pre.css.br'))));
  const identity = await get(s, '/pre.css', { ':authority': 'a' });
  t.equal(identity.headers['content-encoding'], undefined);
  t.ok(identity.body.equals(original));
});

t.test('a proxied prefix over h2: Host, not pseudo-header fields, goes upstream', async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const upstream = createHttpServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('connection', 'keep-alive'); // hop-by-hop: must not reach the h2 client
    res.end(`upstream ${req.method} ${req.url}`);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => upstream.close());
  const up = (upstream.address() as import('node:net').AddressInfo).port;
  const { svc, port } = await start(
    fixtureConfig((d) => {
      d.sites[1].proxy = [{ prefix: '/api/', upstream: `http://127.0.0.1:${up}/` }];
    }),
  );
  t.teardown(() => svc.stop());
  const s = await h2c(port);
  t.teardown(() => s.destroy());
  const r = await get(s, '/api/x?y=1', { ':authority': 'web1.TIC2023.com', 'x-test': '1' });
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'upstream GET /x?y=1');
  t.equal(r.headers.connection, undefined);
  t.equal(seen.length, 1);
  const h = seen[0]!;
  t.equal(h.host, `127.0.0.1:${up}`);
  t.equal(h['x-forwarded-host'], 'web1.TIC2023.com', 'the :authority');
  t.equal(h['x-forwarded-proto'], 'http');
  t.equal(h['x-test'], '1');
  t.same(
    Object.keys(h).filter((k) => k.startsWith(':')),
    [],
    'no pseudo-header field upstream (RFC 9113 §8.3)',
  );
});

/** Self-signed certificates for www and web1 under the fixture's tls/ (made once). */
function makeCertificates(): void {
  const dir = join(f.dir, 'tls');
  if (existsSync(join(dir, 'www.crt'))) return;
  mkdirSync(dir, { recursive: true });
  for (const name of ['web1', 'www']) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}.TIC2023.com`,
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
  }
}

const withTls = (d: Record<string, any>, http2 = true) => {
  d.https = { enabled: true, address: '127.0.0.1', port: 0, http2 };
  d.sites[0].tls = { cert: 'tls/www.crt', key: 'tls/www.key' };
  d.sites[1].tls = { cert: 'tls/web1.crt', key: 'tls/web1.key' };
  d.sites[1].redirectToHttps = true;
};

/** The protocol a TLS client offering `alpn` ends up with. */
function negotiated(port: number, alpn: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      port,
      host: '127.0.0.1',
      servername: 'www.TIC2023.com',
      ALPNProtocols: alpn,
      rejectUnauthorized: false,
    });
    s.once('secureConnect', () => {
      resolve(s.alpnProtocol ?? false);
      s.destroy();
    });
    s.once('error', reject);
  });
}

t.test('h2 over TLS by ALPN; HTTP/1.1 clients keep working', async (t) => {
  makeCertificates();
  const { svc } = await start(fixtureConfig((d) => withTls(d)));
  t.teardown(() => svc.stop());
  const sport = svc.addresses().https!.port;
  t.equal(await negotiated(sport, ['h2', 'http/1.1']), 'h2', 'h2 preferred when offered');
  t.equal(await negotiated(sport, ['http/1.1']), 'http/1.1');
  t.equal(await negotiated(sport, []), false, 'no ALPN at all');

  const s = h2connect(`https://127.0.0.1:${sport}`, {
    servername: 'web1.TIC2023.com',
    rejectUnauthorized: false,
  });
  t.teardown(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  const tls = s.socket as unknown as import('node:tls').TLSSocket;
  t.equal(tls.alpnProtocol, 'h2');
  t.equal(String(tls.getPeerCertificate().subject.CN), 'web1.TIC2023.com', 'SNI picks the cert');
  const w1 = await get(s, '/', { ':authority': 'web1.TIC2023.com' });
  t.equal(w1.status, 200);
  t.equal(w1.body.toString(), '<h1>web1</h1>\n');
  // same connection, another authority (RFC 9113 §9.1.1 reuse): routed by :authority
  const www = await get(s, '/', { ':authority': 'www.TIC2023.com' });
  t.equal(www.body.toString(), SMALL_HTML);

  // an HTTP/1.1 client over TLS (Node's https offers no ALPN, or http/1.1)
  const h1 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: sport,
        path: '/',
        servername: 'web1.TIC2023.com',
        headers: { host: 'web1.TIC2023.com' },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.same(h1, { status: 200, body: '<h1>web1</h1>\n' });

  // h2c on the plain port to a site with redirectToHttps: 301 to the TLS port
  const plain = await h2c(svc.addresses().http!.port);
  t.teardown(() => plain.destroy());
  const moved = await get(plain, '/x?y', { ':authority': 'web1.TIC2023.com' });
  t.equal(moved.status, 301);
  t.equal(moved.headers.location, `https://web1.TIC2023.com:${sport}/x?y`);
  // and over h2 on TLS the same site is served, not redirected
  t.equal((await get(s, '/x?y', { ':authority': 'web1.TIC2023.com' })).status, 404);
});

t.test('http2: false on both listeners: HTTP/1.1 only', async (t) => {
  makeCertificates();
  const { svc, port } = await start(
    fixtureConfig((d) => {
      withTls(d, false);
      d.listen.http2 = false;
    }),
  );
  t.teardown(() => svc.stop());
  const sport = svc.addresses().https!.port;
  t.equal(await negotiated(sport, ['h2', 'http/1.1']), 'http/1.1', 'h2 not offered');
  const r = await raw(port, Buffer.concat([CLIENT_PREFACE, SETTINGS]));
  t.match(r.bytes.toString('latin1'), /^HTTP\/1\.1 400 /, 'the preface is a bad HTTP/1.1 request');
  t.ok(r.closed);
});

t.test('bad input after or instead of the preface never crashes', async (t) => {
  const { svc, port, registry } = await start(
    fixtureConfig((d) => (d.limits = { headersTimeoutMs: 500 })),
  );
  t.teardown(() => svc.stop());
  // RFC 9113 §3.4: the preface "MUST be followed by a SETTINGS frame"; garbage is a
  // connection error (§5.4.1): GOAWAY, then close
  const garbage = await raw(port, Buffer.concat([CLIENT_PREFACE, Buffer.from('hello\r\n\r\n')]));
  t.ok(garbage.closed, 'closed');
  t.ok(
    frames(garbage.bytes).some((fr) => fr.type === 7 && fr.code !== 0),
    'GOAWAY with an error code',
  );
  // a frame too big for the peer's SETTINGS_MAX_FRAME_SIZE (16 384, §4.2)
  const oversized = await raw(
    port,
    Buffer.concat([CLIENT_PREFACE, SETTINGS, frame(0, 0, 1, Buffer.alloc(20000))]),
  );
  t.ok(oversized.closed);
  t.ok(frames(oversized.bytes).some((fr) => fr.type === 7));
  // almost the preface: not HTTP/2, so a bad HTTP/1.1 request line
  const near = await raw(port, 'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n');
  t.match(near.bytes.toString('latin1'), /^HTTP\/1\.1 400 /);
  // the preface's first bytes and then silence: 408 when the head deadline passes
  const t0 = Date.now();
  const stalled = await raw(port, 'PRI * HTTP/2');
  t.match(stalled.bytes.toString('latin1'), /^HTTP\/1\.1 408 /);
  t.ok(stalled.closed);
  t.ok(Date.now() - t0 < 2500, 'cut at the deadline');
  // random bytes after the preface, many times
  const junk = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      const bytes = Buffer.from(Array.from({ length: 64 }, (_, k) => (k * 37 + i * 101) & 0xff));
      return raw(port, Buffer.concat([CLIENT_PREFACE, SETTINGS, bytes]), 2000);
    }),
  );
  t.same(
    junk.map((r) => r.closed),
    Array(20).fill(true),
    'every junk connection closed',
  );
  const s = await h2c(port);
  t.teardown(() => s.destroy());
  t.equal((await get(s, '/', { ':authority': 'a' })).status, 200, 'still serving');
  const m = await registry.metrics();
  // the garbage is fatal to nghttp2 (counted at once); the other cases get GOAWAY and are
  // closed by the head deadline (nghttp2 stops reading but Node 20 keeps the socket)
  t.match(m, /http_h2_sessions_closed_total\{reason="protocol_error"\} [1-9]/);
  t.match(m, /http_client_errors_total\{status="408"\} 1/);
});

t.test('rapid reset (CVE-2023-44487): the connection is closed and counted', async (t) => {
  const { svc, port, registry } = await start(fixtureConfig());
  t.teardown(() => svc.stop());
  const parts = [CLIENT_PREFACE, SETTINGS];
  for (let id = 1; id < 2 * 2000; id += 2) {
    // HEADERS with END_STREAM|END_HEADERS, then RST_STREAM CANCEL (§6.4)
    parts.push(frame(1, 0x5, id, GET_HEADERS), frame(3, 0, id, Buffer.from([0, 0, 0, 8])));
  }
  const r = await raw(port, Buffer.concat(parts), 5000);
  t.ok(r.closed, 'closed by the server');
  t.ok(
    frames(r.bytes).some((fr) => fr.type === 7 && fr.code === constants.NGHTTP2_ENHANCE_YOUR_CALM),
    'GOAWAY ENHANCE_YOUR_CALM',
  );
  const m = await registry.metrics();
  t.match(m, /http_h2_sessions_closed_total\{reason="rapid_reset"\} 1/);
  // a client cancelling a few streams is not an attacker
  const s = await h2c(port);
  t.teardown(() => s.destroy());
  for (let i = 0; i < 10; i++) {
    const st = s.request({ ':path': '/big.bin', ':authority': 'a' });
    st.on('error', () => undefined);
    st.close(constants.NGHTTP2_CANCEL);
  }
  await sleep(100);
  t.equal((await get(s, '/', { ':authority': 'a' })).status, 200);
  t.notOk(s.destroyed);
});

t.test('oversized header section: that stream is reset, the connection stays', async (t) => {
  const { svc, port } = await start(fixtureConfig((d) => (d.limits = { maxHeaderBytes: 4096 })));
  t.teardown(() => svc.stop());
  const s = await h2c(port);
  t.teardown(() => s.destroy());
  t.equal(s.remoteSettings.maxHeaderListSize, 4096);
  const code = await new Promise<number>((resolve) => {
    const st = s.request({ ':path': '/', ':authority': 'a', 'x-big': 'x'.repeat(6000) });
    st.on('error', () => undefined);
    st.on('response', () => resolve(-1));
    st.on('close', () => resolve(st.rstCode ?? -2));
    st.end();
  });
  t.not(code, -1, 'no response');
  t.not(code, constants.NGHTTP2_NO_ERROR, `reset with code ${code}`);
  t.equal((await get(s, '/', { ':authority': 'a' })).status, 200, 'next stream is served');
});

t.test('limits: keep-alive requests and timeout, per-source cap, slots', async (t) => {
  t.test('keepAliveRequests: GOAWAY after that many, in-flight ones complete', async (t) => {
    const { svc, port } = await start(fixtureConfig((d) => (d.limits = { keepAliveRequests: 3 })));
    t.teardown(() => svc.stop());
    const s = await h2c(port);
    t.teardown(() => s.destroy());
    const goaway = new Promise<number>((r) => s.once('goaway', (code: number) => r(code)));
    const answers = await Promise.all([1, 2, 3].map(() => get(s, '/', { ':authority': 'a' })));
    t.same(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    t.equal(await goaway, constants.NGHTTP2_NO_ERROR, 'graceful GOAWAY (RFC 9113 §6.8)');
  });

  t.test('keepAliveTimeoutMs: an idle connection is closed', async (t) => {
    const { svc, port } = await start(
      fixtureConfig((d) => (d.limits = { keepAliveTimeoutMs: 300, headersTimeoutMs: 300 })),
    );
    t.teardown(() => svc.stop());
    const s = await h2c(port);
    const closed = new Promise<number>((r) => s.once('close', () => r(Date.now())));
    t.equal((await get(s, '/', { ':authority': 'a' })).status, 200);
    const t0 = Date.now();
    t.ok((await closed) - t0 < 1500, 'closed soon after the last response');
    // a connection that never sends a request: the head deadline
    const idle = await h2c(port);
    const t1 = Date.now();
    await new Promise((r) => idle.once('close', r));
    t.ok(Date.now() - t1 < 1500, 'closed without any request');
  });

  t.test('maxConnectionsPerSource counts h2 connections', async (t) => {
    const { svc, port, registry } = await start(
      fixtureConfig((d) => (d.limits = { maxConnectionsPerSource: 2, maxConnections: 16 })),
    );
    t.teardown(() => svc.stop());
    const held = [await h2c(port), await h2c(port)];
    t.teardown(() => held.forEach((s) => s.destroy()));
    for (const s of held) t.equal((await get(s, '/', { ':authority': 'a' })).status, 200);
    const third = h2connect(`http://127.0.0.1:${port}`);
    third.on('error', () => undefined);
    const gotAnswer = await new Promise<boolean>((resolve) => {
      const st = third.request({ ':path': '/', ':authority': 'a' });
      st.on('error', () => undefined);
      st.on('response', () => resolve(true));
      third.once('close', () => resolve(false));
      st.end();
    });
    t.notOk(gotAnswer, 'a third connection from 127.0.0.1 is closed');
    // an HTTP/1.1 connection from the same address is refused too: one count for both
    const h1 = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 1000);
    t.equal(h1.bytes.length, 0);
    t.ok(h1.closed);
    const other = await h2c(port, '127.0.0.2');
    t.teardown(() => other.destroy());
    t.equal((await get(other, '/', { ':authority': 'a' })).status, 200, '127.0.0.2 is served');
    t.match(await registry.metrics(), /http_connections_shed_total\{reason="per_source_cap"\} 2/);
    held[0]!.destroy();
    await sleep(100);
    const back = await h2c(port);
    t.teardown(() => back.destroy());
    t.equal((await get(back, '/', { ':authority': 'a' })).status, 200, 'slot given back');
  });

  t.test('maxConnections: an idle h2 connection is evicted, a busy one kept', async (t) => {
    const { svc, port, registry } = await start(
      fixtureConfig((d) => {
        d.limits = { maxConnections: 2, maxConnectionsPerSource: 0, headersTimeoutMs: 20000 };
      }),
    );
    // busy: a download it does not read (flow control keeps the stream open)
    const busy = await h2c(port);
    const dl = busy.request({ ':path': '/big.bin', ':authority': 'a' });
    dl.on('error', () => undefined);
    dl.pause();
    dl.end();
    await new Promise((r) => dl.once('response', r));
    const idle = await h2c(port);
    t.teardown(() => {
      busy.destroy();
      idle.destroy();
      return svc.stop();
    });
    t.equal((await get(idle, '/', { ':authority': 'a' })).status, 200);
    const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
    await sleep(50);
    // a third connection: the idle h2 one (waiting for a request) makes room
    const h1 = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    t.match(h1.bytes.toString(), /^HTTP\/1\.1 200 /, 'the newcomer is served');
    await idleClosed;
    t.ok(idle.closed || idle.destroyed, 'the idle h2 connection was evicted');
    t.notOk(busy.destroyed, 'the busy h2 connection is kept');
    t.match(
      await registry.metrics(),
      /http_connections_shed_total\{reason="evicted_header_incomplete"\} 1/,
    );
  });
});

t.test('stop(): GOAWAY to open sessions, then the service is down', async (t) => {
  const { svc, port } = await start(fixtureConfig());
  const s = await h2c(port);
  s.on('error', () => undefined);
  t.equal((await get(s, '/', { ':authority': 'a' })).status, 200);
  const goaway = new Promise<void>((r) => s.once('goaway', () => r()));
  const t0 = Date.now();
  await svc.stop();
  await goaway;
  t.ok(Date.now() - t0 < 2000, 'stopped without waiting for the grace period');
  const r = await raw(port, Buffer.concat([CLIENT_PREFACE, SETTINGS]), 500);
  t.equal(r.bytes.length, 0, 'nothing listens any more');
});
