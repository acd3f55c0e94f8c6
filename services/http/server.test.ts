import t from 'tap';
import { connect, type Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/clock.js';
import { createHttpService, type HttpService } from './index.js';
import { overflowStatus } from './server.js';
import { makeFixture, fixtureConfig, SMALL_HTML } from './testing-store.js';
import type { HttpConfig } from './config.js';

const f = makeFixture();
t.teardown(() => f.cleanup());

async function start(
  cfg: HttpConfig,
  registry = new Registry(),
): Promise<{ svc: HttpService; port: number; registry: Registry }> {
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

/** Send raw bytes, collect everything until the server closes or `ms` passes. */
function raw(
  port: number,
  data: string | string[],
  ms = 2000,
  gapMs = 0,
  localAddress = '127.0.0.1',
): Promise<{ text: string; closed: boolean; elapsed: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s: Socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    let closed = false;
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed, elapsed: Date.now() - t0 });
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed, elapsed: Date.now() - t0 });
    }, ms);
    const parts = Array.isArray(data) ? data : [data];
    let i = 0;
    const next = () => {
      if (i >= parts.length || s.destroyed) return;
      s.write(parts[i++]!);
      if (gapMs > 0) setTimeout(next, gapMs);
      else next();
    };
    s.on('connect', next);
  });
}

t.test('service lifecycle on port 0: ready, serve, stop', async (t) => {
  const { svc, port, registry } = await start(fixtureConfig());
  t.ok(svc.ready());
  const r = await raw(
    port,
    'GET / HTTP/1.1\r\nHost: web1.tic2023.com\r\nConnection: close\r\n\r\n',
  );
  t.match(r.text, /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\n<h1>web1<\/h1>\n$/);
  const k = await fetch(`http://127.0.0.1:${port}/about%20us.html`);
  t.equal(await k.text(), '<p>about us</p>\n');
  t.match(await registry.metrics(), /http_connections \d/);
  await svc.reload!();
  await svc.stop();
  t.notOk(svc.ready());
  await t.rejects(fetch(`http://127.0.0.1:${port}/`));
});

t.test('fast path (answers from memory without Fastify) matches inject()', async (t) => {
  const { svc, port, registry } = await start(fixtureConfig());
  t.teardown(() => svc.stop());
  const req = (extra: string, method = 'GET', path = '/') =>
    raw(
      port,
      `${method} ${path} HTTP/1.1\r\nHost: www.tic2023.com\r\nConnection: close\r\n${extra}\r\n`,
    );
  const first = await req(''); // miss: through Fastify, fills the cache
  const second = await req(''); // hit: fast path
  const strip = (s: string) =>
    s.replace(/^date: .*\r\n/im, '').replace(/^connection: .*\r\n/im, '');
  t.equal(strip(second.text), strip(first.text));
  const etag = /etag: (.*)\r\n/i.exec(second.text)![1]!;
  t.match((await req(`If-None-Match: ${etag}\r\n`)).text, /^HTTP\/1\.1 304 [\s\S]*\r\n\r\n$/);
  t.match(
    (await req('Range: bytes=0-4\r\n')).text,
    /^HTTP\/1\.1 206 [\s\S]*content-range: bytes 0-4\/\d+[\s\S]*\r\n\r\n<!DOC$/i,
  );
  const head = await req('', 'HEAD');
  t.match(head.text, /^HTTP\/1\.1 200 [\s\S]*content-length: 51\r\n[\s\S]*\r\n\r\n$/i);
  const metrics = await registry.metrics();
  t.match(metrics, /http_requests_total\{site="www",class="2xx"\} 4/);
  t.match(metrics, /http_requests_total\{site="www",class="3xx"\} 1/);
  await svc.stop();
  const log = readFileSync(join(f.dir, 'data/logs/www.access.log'), 'utf8');
  t.match(log, /"HEAD \/ HTTP\/1\.1" 200 0 "-" "-"\n/);
});

t.test('raw sockets: parser limits and RFC 9112 rules', async (t) => {
  const { svc, port, registry } = await start(
    fixtureConfig((d) => {
      d.limits = {
        headersTimeoutMs: 400,
        maxHeaderBytes: 4096,
        maxUriBytes: 1024,
        keepAliveTimeoutMs: 300,
      };
    }),
  );
  t.teardown(() => svc.stop());

  const ok = await raw(
    port,
    'GET / HTTP/1.1\r\nHost: www.tic2023.com\r\nConnection: close\r\n\r\n',
  );
  t.match(ok.text, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(ok.text, SMALL_HTML);

  // keep-alive: two requests on one connection, then the idle connection is closed (keepAliveTimeout)
  const ka = await raw(
    port,
    'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /about%20us.html HTTP/1.1\r\nHost: a\r\n\r\n',
    3000,
  );
  t.equal(ka.text.match(/HTTP\/1\.1 200/g)?.length, 2);
  t.ok(ka.closed, 'idle keep-alive connection closed');
  t.ok(ka.elapsed < 2500);

  // literal dot segments and absolute-form, which inject() cannot send
  for (const p of [
    '/../outside/secret.txt',
    '/images/../../outside/secret.txt',
    '/%2e%2e/outside/secret.txt',
    '/..%2foutside/secret.txt',
  ]) {
    const r = await raw(
      port,
      `GET ${p} HTTP/1.1\r\nHost: www.tic2023.com\r\nConnection: close\r\n\r\n`,
    );
    t.match(r.text, /^HTTP\/1\.1 400 /, p);
    t.notMatch(r.text, 'secret\n', p);
  }
  const abs = await raw(
    port,
    'GET http://web2.TIC2023.com/ HTTP/1.1\r\nHost: www.tic2023.com\r\nConnection: close\r\n\r\n',
  );
  t.match(abs.text, '<h1>web2</h1>');

  // RFC 9112 §3.2: HTTP/1.1 without Host → 400; HTTP/1.0 without Host → default server
  t.match(
    (await raw(port, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')).text,
    /^HTTP\/1\.1 400 /,
  );
  t.match((await raw(port, 'GET / HTTP/1.0\r\n\r\n')).text, /^HTTP\/1\.1 200 [\s\S]*www home/);

  // malformed request line
  const bad = await raw(port, 'GARBAGE\r\n\r\n');
  t.match(bad.text, /^HTTP\/1\.1 400 /);
  t.ok(bad.closed);

  // header fields too large → 431; request line too long → 414
  const big = await raw(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(5000)}\r\n\r\n`);
  t.match(big.text, /^HTTP\/1\.1 431 /);
  const longLine = await raw(port, `GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  t.match(longLine.text, /^HTTP\/1\.1 414 /);
  const longUri = await raw(port, `GET /${'a'.repeat(2000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  t.match(longUri.text, /^HTTP\/1\.1 414 /);

  // slow client (slowloris): head not complete within headersTimeoutMs → 408 and close
  const slow = await raw(
    port,
    [
      'GET / HTTP/1.1\r\n',
      'Host: a\r\n',
      'X-1: 1\r\n',
      'X-2: 2\r\n',
      'X-3: 3\r\n',
      'X-4: 4\r\n',
      'X-5: 5\r\n',
      'X-6: 6\r\n',
    ],
    4000,
    200,
  );
  t.match(slow.text, /^HTTP\/1\.1 408 /);
  t.ok(slow.closed);
  t.ok(slow.elapsed < 2500, `closed after ${slow.elapsed} ms`);

  const m = await registry.metrics();
  t.match(m, /http_client_errors_total\{status="431"\} 1/);
  t.match(m, /http_client_errors_total\{status="408"\} 1/);
  t.equal(overflowStatus(undefined, 100), 431);
  t.equal(overflowStatus(Buffer.from('GET /aaaa'), 100), 414);
  t.equal(overflowStatus(Buffer.from('GET / HTTP/1.1\r\nX: yyyy'), 100), 431);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A slowloris client: the request line and one field (or nothing at all), then silence. */
interface Held {
  readonly socket: Socket;
  /** Set once the server closed the connection. */
  closed: boolean;
}
async function slowClient(port: number, localAddress: string, head = true): Promise<Held> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  const held: Held = { socket, closed: false };
  socket.on('error', () => undefined);
  socket.on('close', () => (held.closed = true));
  socket.resume();
  await new Promise((r) => socket.once('connect', r));
  if (head) socket.write('GET / HTTP/1.1\r\nHost: a\r\n');
  return held;
}
/** A connection kept mid-response: pipelined downloads it does not read. */
function pipelinedDownloads(s: Socket): void {
  s.pause();
  s.write('GET /big.txt HTTP/1.1\r\nHost: www.tic2023.com\r\n\r\n'.repeat(40));
}
const OK = 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';

t.test(
  'maxConnectionsPerSource: slow clients of one address do not lock out another',
  async (t) => {
    const registry = new Registry();
    const { svc, port } = await start(
      fixtureConfig((d) => {
        d.limits = { maxConnections: 8, maxConnectionsPerSource: 4, headersTimeoutMs: 20000 };
      }),
      registry,
    );
    const held: Held[] = [];
    t.teardown(() => {
      held.forEach((h) => h.socket.destroy());
      return svc.stop();
    });
    for (let i = 0; i < 8; i++) held.push(await slowClient(port, '127.0.0.1'));
    await sleep(200);
    t.same(
      held.map((h) => h.closed),
      [false, false, false, false, true, true, true, true],
      'the 5th to 8th connection of 127.0.0.1 are closed at once',
    );
    const other = await raw(port, OK, 2000, 0, '127.0.0.2');
    t.match(other.text, /^HTTP\/1\.1 200 /, '127.0.0.2 is served');
    t.match(await registry.metrics(), /http_connections_shed_total\{reason="per_source_cap"\} 4/);
    held.slice(0, 4).forEach((h) => h.socket.destroy());
    await sleep(100);
    t.match((await raw(port, OK)).text, /^HTTP\/1\.1 200 /, 'closing gives the slots back');
  },
);

t.test('maxConnections: a new client evicts the oldest header-incomplete one', async (t) => {
  const registry = new Registry();
  const { svc, port } = await start(
    fixtureConfig((d) => {
      d.limits = { maxConnections: 8, maxConnectionsPerSource: 4, headersTimeoutMs: 20000 };
    }),
    registry,
  );
  const held: Held[] = [];
  t.teardown(() => {
    held.forEach((h) => h.socket.destroy());
    return svc.stop();
  });
  for (const from of ['127.0.0.1', '127.0.0.3'])
    for (let i = 0; i < 4; i++) {
      held.push(await slowClient(port, from));
      await sleep(10); // accepted in this order
    }
  await sleep(100);
  t.notOk(
    held.some((h) => h.closed),
    'all 8 slots taken',
  );
  const first = await raw(port, OK, 2000, 0, '127.0.0.2');
  t.match(first.text, /^HTTP\/1\.1 200 /, 'the newcomer is served');
  await sleep(50);
  t.same(
    held.map((h) => h.closed),
    [true, false, false, false, false, false, false, false],
    'the oldest slow client made room',
  );
  // the served connection closed (Connection: close): its slot goes to a new slow client
  const late = await slowClient(port, '127.0.0.4');
  held.push(late);
  await sleep(50);
  t.notOk(late.closed, 'a free slot: nobody evicted');
  const second = await raw(port, OK, 2000, 0, '127.0.0.2');
  t.match(second.text, /^HTTP\/1\.1 200 /);
  await sleep(50);
  t.same(
    held.map((h) => h.closed),
    [true, true, false, false, false, false, false, false, false],
    'then the next oldest',
  );
  t.match(
    await registry.metrics(),
    /http_connections_shed_total\{reason="evicted_header_incomplete"\} 2/,
  );
});

t.test(
  'maxConnections: when every slot is mid-response the new connection is dropped',
  async (t) => {
    const registry = new Registry();
    const { svc, port } = await start(
      fixtureConfig((d) => (d.limits = { maxConnections: 1 })),
      registry,
    );
    const busy = connect(port, '127.0.0.1');
    busy.on('error', () => undefined);
    t.teardown(() => {
      busy.destroy();
      return svc.stop();
    });
    await new Promise((r) => busy.once('connect', r));
    pipelinedDownloads(busy);
    await sleep(300);
    const refused = await raw(port, OK, 1500);
    t.ok(refused.closed);
    t.equal(refused.text, '');
    t.notOk(busy.destroyed, 'the busy connection is kept');
    const m = await registry.metrics();
    t.match(m, /http_connections_shed_total\{reason="max_connections"\} 1/);
    t.match(m, /http_client_errors_total\{status="503"\} 1/);
    busy.destroy();
    await sleep(100);
    t.match((await raw(port, OK)).text, /^HTTP\/1\.1 200/);
  },
);

/** Self-signed certificates for www and web1 under the fixture's tls/ (made once). */
function makeCertificates(): void {
  const tls = join(f.dir, 'tls');
  if (existsSync(join(tls, 'www.crt'))) return;
  mkdirSync(tls, { recursive: true });
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
        join(tls, `${name}.key`),
        '-out',
        join(tls, `${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
  }
}

t.test('HTTPS with a per-site certificate (SNI) and the HTTP redirect', async (t) => {
  makeCertificates();
  const { svc, port } = await start(
    fixtureConfig((d) => {
      d.https = { enabled: true, address: '127.0.0.1', port: 0 };
      d.sites[0].tls = { cert: 'tls/www.crt', key: 'tls/www.key' };
      d.sites[1].tls = { cert: 'tls/web1.crt', key: 'tls/web1.key' };
      d.sites[1].redirectToHttps = true;
    }),
  );
  t.teardown(() => svc.stop());
  const sport = svc.addresses().https!.port;
  const get = (servername: string) =>
    new Promise<{ status: number; body: string; cn: string }>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: sport,
          path: '/',
          servername,
          headers: { host: servername },
          rejectUnauthorized: false,
        },
        (res) => {
          let body = '';
          const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          res.on('data', (c) => (body += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body, cn: String(cert.subject.CN) }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  const w1 = await get('web1.TIC2023.com');
  t.equal(w1.status, 200);
  t.equal(w1.body, '<h1>web1</h1>\n');
  t.equal(w1.cn, 'web1.TIC2023.com');
  const www = await get('www.TIC2023.com');
  t.equal(www.cn, 'www.TIC2023.com');
  t.match(www.body, 'www home');
  const redirect = await raw(
    port,
    'GET /x?y HTTP/1.1\r\nHost: web1.TIC2023.com\r\nConnection: close\r\n\r\n',
  );
  t.match(
    redirect.text,
    new RegExp(
      `^HTTP/1\\.1 301 [\\s\\S]*location: https://web1\\.TIC2023\\.com:${sport}/x\\?y`,
      'i',
    ),
  );
});

t.test('HTTPS listener: the same limits, counted on the TCP socket under TLS', async (t) => {
  makeCertificates();
  const registry = new Registry();
  const { svc } = await start(
    fixtureConfig((d) => {
      d.https = { enabled: true, address: '127.0.0.1', port: 0 };
      d.sites[0].tls = { cert: 'tls/www.crt', key: 'tls/www.key' };
      d.limits = { maxConnections: 2, maxConnectionsPerSource: 0, headersTimeoutMs: 20000 };
    }),
    registry,
  );
  const sport = svc.addresses().https!.port;
  // mid-response over TLS: only seen as busy if the request is tied to its TCP socket
  const busy = tlsConnect({
    port: sport,
    host: '127.0.0.1',
    servername: 'www.TIC2023.com',
    rejectUnauthorized: false,
  });
  busy.on('error', () => undefined);
  const held: Held[] = [];
  t.teardown(() => {
    busy.destroy();
    held.forEach((h) => h.socket.destroy());
    return svc.stop();
  });
  await new Promise((r) => busy.once('secureConnect', r));
  pipelinedDownloads(busy);
  await sleep(300);
  // slow clients that never start the TLS handshake
  held.push(await slowClient(sport, '127.0.0.1', false));
  await sleep(50);
  held.push(await slowClient(sport, '127.0.0.1', false));
  await sleep(100);
  t.same(
    held.map((h) => h.closed),
    [true, false],
    'the waiting one is evicted, not the older busy one',
  );
  t.notOk(busy.destroyed, 'the busy TLS connection is kept');
  const get = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: sport,
        path: '/',
        localAddress: '127.0.0.2',
        servername: 'www.TIC2023.com',
        headers: { host: 'www.TIC2023.com', connection: 'close' },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.equal(get, 200, 'a new HTTPS client is served');
  await sleep(50);
  t.same(
    held.map((h) => h.closed),
    [true, true],
  );
  t.notOk(busy.destroyed);
  t.match(
    await registry.metrics(),
    /http_connections_shed_total\{reason="evicted_header_incomplete"\} 2/,
  );
});
