import t from 'tap';
import { writeFileSync, utimesSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { authorityOf, buildApp, type RawRequest } from './app-adapter.js';
import { makeFixture, fixtureConfig, SMALL_HTML, TEXT_BODY } from './testing-store.js';

const f = makeFixture();
t.teardown(() => f.cleanup());

let mono = 0;
const clock = { now: () => Date.UTC(2023, 3, 5, 9, 0, 0) + mono, monotonic: () => mono };
const registry = new Registry();
const app = buildApp(fixtureConfig(), {
  configDir: f.dir,
  dataDir: join(f.dir, 'data'),
  clock,
  registry,
});
t.teardown(() => app.close());

const get = (url: string, headers: Record<string, string> = {}, method = 'GET') =>
  app.inject({ method: method as 'GET', url, headers: { host: 'www.TIC2023.com', ...headers } });

t.test('virtual hosts: exact, case, port, wildcards, default', async (t) => {
  const cases: [string | undefined, string][] = [
    ['www.TIC2023.com', 'www home'],
    ['WWW.tic2023.COM:18080', 'www home'],
    ['TIC2023.com', 'www home'],
    ['web1.TIC2023.com', 'web1'],
    ['WEB1.tic2023.com:80', 'web1'],
    ['web2.tic2023.com', 'web2'],
    ['photos.web2.TIC2023.com', 'web2'], // *.web2.TIC2023.com
    ['web2.example.net', 'web2'], // web2.*
    ['nobody.example', 'www home'], // default server
    ['10.0.0.5', 'www home'],
  ];
  for (const [host, want] of cases) {
    const r = await app.inject({ url: '/', headers: host === undefined ? {} : { host } });
    t.equal(r.statusCode, 200, String(host));
    t.match(r.payload, want, String(host));
  }
  // (absolute-form targets are tested on a socket: inject() rewrites them)
  t.equal((await get('/', { host: 'bad host' })).statusCode, 400);
  t.equal((await get('/', { host: 'a/b' })).statusCode, 400);
});

t.test('static GET and HEAD, MIME types, names with spaces', async (t) => {
  const r = await get('/');
  t.equal(r.statusCode, 200);
  t.equal(r.payload, SMALL_HTML);
  t.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(r.headers['content-length'], String(Buffer.byteLength(SMALL_HTML)));
  t.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  t.ok(r.headers['last-modified']);
  t.equal(r.headers['accept-ranges'], 'bytes');
  t.equal(r.headers['cache-control'], 'public, max-age=300'); // per site
  const h = await get('/', {}, 'HEAD');
  t.equal(h.statusCode, 200);
  t.equal(h.rawPayload.length, 0);
  t.equal(h.headers['content-length'], r.headers['content-length']);
  t.equal(h.headers.etag, r.headers.etag);
  t.equal((await get('/about%20us.html')).payload, '<p>about us</p>\n');
  const png = await get('/images/pi%20logo.png');
  t.equal(png.headers['content-type'], 'image/png');
  t.equal(png.headers.vary, undefined);
  const svg = await get('/photos/night%20sky.svg', { host: 'web2.TIC2023.com' });
  t.equal(svg.headers['content-type'], 'image/svg+xml');
  t.equal(svg.headers['cache-control'], undefined); // web2 sets none
  const big = await get('/big.bin');
  t.equal(big.statusCode, 200);
  t.ok(big.rawPayload.equals(f.big), 'streamed file intact');
  const hb = await get('/big.bin', {}, 'HEAD');
  t.equal(hb.rawPayload.length, 0);
  t.equal(hb.headers['content-length'], String(f.big.length));
  const empty = await get('/empty.txt');
  t.equal(empty.statusCode, 200);
  t.equal(empty.headers['content-length'], '0');
});

t.test('methods other than GET/HEAD → 405 with Allow (RFC 9110 §15.5.6)', async (t) => {
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND']) {
    const r = await app.inject({
      method: m as 'POST',
      url: '/',
      headers: { host: 'www.TIC2023.com' },
    });
    t.equal(r.statusCode, 405, m);
    t.equal(r.headers.allow, 'GET, HEAD', m);
  }
});

t.test('traversal refused', async (t) => {
  // inject() normalises literal dot segments away (the socket test sends them raw)
  for (const u of [
    '/../outside/secret.txt',
    '/images/../../outside/secret.txt',
    '/%2e%2e/outside/secret.txt',
  ]) {
    const r = await get(u);
    t.equal(r.statusCode, 404, u);
    t.notMatch(r.payload, 'secret', u);
  }
  for (const u of [
    '/%2E%2E%2Foutside%2Fsecret.txt',
    '/images/..%2f..%2foutside/secret.txt',
    '/a%5c..%5c..%5coutside',
    '/index.html%00.png',
    '/%zz',
  ]) {
    const r = await get(u);
    t.equal(r.statusCode, 400, u);
    t.notMatch(r.payload, 'secret', u);
  }
  const leak = await get('/leak.txt'); // symlink to a file outside the root
  t.equal(leak.statusCode, 403);
  t.notMatch(leak.payload, 'secret');
  t.equal((await get('/inside-link.html')).payload, SMALL_HTML); // symlink inside the root is fine
  const lenient = buildApp(
    fixtureConfig((d) => (d.sites[0].followSymlinksOutsideRoot = true)),
    { configDir: f.dir },
  );
  t.equal((await lenient.inject({ url: '/leak.txt' })).payload, 'secret\n');
  await lenient.close();
});

t.test('directories: 301 with slash, index, 403, autoindex', async (t) => {
  const r = await get('/sub?x=1');
  t.equal(r.statusCode, 301);
  t.equal(r.headers.location, '/sub/?x=1');
  t.equal((await get('/sub/')).payload, '<p>sub</p>\n');
  t.equal((await get('/noindex/')).statusCode, 403);
  t.equal((await get('/index.html/')).statusCode, 404); // a file is not a directory
  const ai = await get('/photos/', { host: 'web2.TIC2023.com' });
  t.equal(ai.statusCode, 200);
  t.match(ai.payload, '<a href="night%20sky.svg">night sky.svg</a>');
  t.match(ai.payload, 'stripes.png');
  t.equal((await get('/photos', { host: 'web2.TIC2023.com' })).headers.location, '/photos/');
});

t.test('errors: default and per-site pages', async (t) => {
  const www = await get('/missing.html');
  t.equal(www.statusCode, 404);
  t.equal(www.payload, '<h1>custom not found</h1>\n'); // error_page 404 /404.html
  const w1 = await get('/missing.html', { host: 'web1.TIC2023.com' });
  t.equal(w1.statusCode, 404);
  t.match(w1.payload, '<title>404 Not Found</title>');
  t.equal(w1.headers['content-type'], 'text/html; charset=utf-8');
});

t.test('conditional requests: 304 and 412 (RFC 9110 §13)', async (t) => {
  const first = await get('/');
  const etag = first.headers.etag as string;
  const lm = first.headers['last-modified'] as string;
  const inm = await get('/', { 'if-none-match': etag });
  t.equal(inm.statusCode, 304);
  t.equal(inm.rawPayload.length, 0);
  t.equal(inm.headers.etag, etag);
  t.equal(inm.headers['cache-control'], 'public, max-age=300');
  t.equal(inm.headers['content-length'], undefined);
  t.equal((await get('/', { 'if-modified-since': lm })).statusCode, 304);
  t.equal(
    (await get('/', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).statusCode,
    200,
  );
  t.equal(
    (await get('/', { 'if-none-match': '"other"', 'if-modified-since': lm })).statusCode,
    200,
  );
  t.equal((await get('/', { 'if-match': '"other"' })).statusCode, 412);
  t.equal((await get('/', { 'if-match': etag })).statusCode, 200);
  t.equal(
    (await get('/', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).statusCode,
    412,
  );
});

t.test('ranges: 206, 416, If-Range (RFC 9110 §14)', async (t) => {
  const r = await get('/big.bin', { range: 'bytes=100-199' });
  t.equal(r.statusCode, 206);
  t.equal(r.headers['content-range'], `bytes 100-199/${f.big.length}`);
  t.equal(r.headers['content-length'], '100');
  t.ok(r.rawPayload.equals(f.big.subarray(100, 200)));
  const tail = await get('/big.bin', { range: 'bytes=-10' });
  t.ok(tail.rawPayload.equals(f.big.subarray(f.big.length - 10)));
  const small = await get('/', { range: 'bytes=0-4' }); // from the memory cache
  t.equal(small.statusCode, 206);
  t.equal(small.payload, SMALL_HTML.slice(0, 5));
  const bad = await get('/big.bin', { range: `bytes=${f.big.length}-` });
  t.equal(bad.statusCode, 416);
  t.equal(bad.headers['content-range'], `bytes */${f.big.length}`);
  const etag = r.headers.etag as string;
  t.equal((await get('/big.bin', { range: 'bytes=0-0', 'if-range': etag })).statusCode, 206);
  const stale = await get('/big.bin', { range: 'bytes=0-0', 'if-range': '"stale"' });
  t.equal(stale.statusCode, 200);
  t.equal(stale.rawPayload.length, f.big.length);
  t.equal((await get('/big.bin', { range: 'bytes=0-1,5-6' })).statusCode, 200); // multi-range: whole body
  t.equal((await get('/big.bin', { range: 'bytes=0-0' }, 'HEAD')).statusCode, 200); // Range is GET-only
  // a range request is not compressed on the fly
  const txt = await get('/text.txt', { range: 'bytes=0-3', 'accept-encoding': 'gzip' });
  t.equal(txt.statusCode, 206);
  t.equal(txt.headers['content-encoding'], undefined);
  t.equal(txt.payload, TEXT_BODY.slice(0, 4));
});

t.test('compression: precompressed siblings, on the fly, Vary', async (t) => {
  const plain = readFileSync(join(f.dir, 'www/pre.css'));
  const br = await get('/pre.css', { 'accept-encoding': 'gzip, deflate, br' });
  t.equal(br.headers['content-encoding'], 'br');
  t.equal(br.headers.vary, 'Accept-Encoding');
  t.ok(brotliDecompressSync(br.rawPayload).equals(plain));
  const gz = await get('/pre.css', { 'accept-encoding': 'gzip' });
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.ok(gunzipSync(gz.rawPayload).equals(plain));
  t.not(gz.headers.etag, br.headers.etag);
  const id = await get('/pre.css');
  t.equal(id.headers['content-encoding'], undefined);
  t.equal(id.headers.vary, 'Accept-Encoding');
  t.ok(id.rawPayload.equals(plain));

  const otf = await get('/text.txt', { 'accept-encoding': 'gzip' });
  t.equal(otf.headers['content-encoding'], 'gzip');
  t.match(otf.headers.etag, /^W\//);
  t.equal(gunzipSync(otf.rawPayload).toString(), TEXT_BODY);
  t.ok(Number(otf.headers['content-length']) < TEXT_BODY.length);
  const otfBr = await get('/text.txt', { 'accept-encoding': 'br' });
  t.equal(brotliDecompressSync(otfBr.rawPayload).toString(), TEXT_BODY);
  // 304 for the compressed variant's weak tag
  t.equal(
    (
      await get('/text.txt', {
        'accept-encoding': 'gzip',
        'if-none-match': otf.headers.etag as string,
      })
    ).statusCode,
    304,
  );
  // streamed (too big for the memory cache)
  const bigTxt = readFileSync(join(f.dir, 'www/big.txt'));
  const s = await get('/big.txt', { 'accept-encoding': 'br' });
  t.equal(s.headers['content-encoding'], 'br');
  t.equal(s.headers['content-length'], undefined);
  t.ok(brotliDecompressSync(s.rawPayload).equals(bigTxt));
  // not for images, not below minBytes
  t.equal(
    (await get('/images/pi%20logo.png', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    undefined,
  );
  t.equal((await get('/', { 'accept-encoding': 'gzip' })).headers['content-encoding'], undefined);
});

t.test('limits: 414 long target, 413 declared body', async (t) => {
  const long = await get('/' + 'a'.repeat(9000));
  t.equal(long.statusCode, 414);
  t.equal(long.headers.connection, 'close');
  const big = await app.inject({
    method: 'POST',
    url: '/',
    headers: { host: 'www.TIC2023.com', 'content-length': String(2 * 1024 * 1024) },
    payload: 'x',
  });
  t.equal(big.statusCode, 413);
});

t.test('file cache: an edited file is served fresh after validMs', async (t) => {
  const p = join(f.dir, 'web1/index.html');
  const before = await get('/', { host: 'web1.TIC2023.com' });
  writeFileSync(p, '<h1>web1 v2</h1>\n');
  utimesSync(p, new Date(), new Date(Date.now() + 5000));
  mono += 10; // still within validMs: the cached copy
  t.equal((await get('/', { host: 'web1.TIC2023.com' })).payload, before.payload);
  mono += 2000;
  const after = await get('/', { host: 'web1.TIC2023.com' });
  t.equal(after.payload, '<h1>web1 v2</h1>\n');
  t.not(after.headers.etag, before.headers.etag);
  const added = join(f.dir, 'web1/new.html');
  t.equal((await get('/new.html', { host: 'web1.TIC2023.com' })).statusCode, 404);
  writeFileSync(added, 'new');
  mono += 2000;
  t.equal((await get('/new.html', { host: 'web1.TIC2023.com' })).statusCode, 200);
  await app.http.reload();
  t.equal(app.http.cache.size, 0);
});

t.test('metrics and logs', async (t) => {
  await get('/');
  await get('/nothing-here');
  const text = await registry.metrics();
  t.match(text, /http_requests_total\{site="www",class="2xx"\} \d+/);
  t.match(text, /http_requests_total\{site="www",class="4xx"\} \d+/);
  t.match(text, /http_requests_total\{site="web1",class="2xx"\} \d+/);
  t.match(text, /http_response_bytes_total\{site="www"\} \d+/);
  t.match(text, /http_request_duration_seconds_bucket\{le="0.005",site="www"\} \d+/);
  t.match(text, /http_file_cache_entries \d+/);
  await app.http.closeLogs();
  const access = readFileSync(join(f.dir, 'data/logs/www.access.log'), 'utf8').trim().split('\n');
  t.ok(access.length > 10);
  t.match(
    access.find((l) => l.includes('/nothing-here')),
    /^127\.0\.0\.1 - - \[05\/Apr\/2023:09:00:\d\d \+0000\] "GET \/nothing-here HTTP\/1\.1" 404 26 "-" "lightMyRequest"$/,
  );
  const errors = readFileSync(join(f.dir, 'data/logs/www.error.log'), 'utf8');
  t.match(
    errors,
    /\[error\] \d+#0: open\(\) \\x22.*nothing-here\\x22 failed \(ENOENT\), client: 127\.0\.0\.1, server: www\.TIC2023\.com, request: "GET \/nothing-here HTTP\/1\.1"/,
  );
});

t.test('HTTPS redirect', async (t) => {
  mkdirSync(join(f.dir, 'tls'), { recursive: true });
  writeFileSync(join(f.dir, 'tls/c.pem'), 'not checked here');
  writeFileSync(join(f.dir, 'tls/k.pem'), 'not checked here');
  const a = buildApp(
    fixtureConfig((d) => {
      d.https = { enabled: true, port: 8443 };
      d.sites[1].tls = { cert: 'tls/c.pem', key: 'tls/k.pem' };
      d.sites[1].redirectToHttps = true;
    }),
    { configDir: f.dir },
  );
  const r = await a.inject({ url: '/a%20b?q=1', headers: { host: 'Web1.TIC2023.com:18080' } });
  t.equal(r.statusCode, 301);
  t.equal(r.headers.location, 'https://Web1.TIC2023.com:8443/a%20b?q=1');
  t.equal((await a.inject({ url: '/', headers: { host: 'www.TIC2023.com' } })).statusCode, 200);
  await a.close();
});

t.test('reverse proxy of a prefix', async (t) => {
  const seen: {
    method?: string;
    url?: string;
    headers?: IncomingMessage['headers'];
    body?: string;
  }[] = [];
  const upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url?.includes('slow')) return; // never answers
      res.writeHead(201, {
        'content-type': 'text/plain',
        'x-up': '1',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
      });
      res.end(`upstream saw ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const a = buildApp(
    fixtureConfig((d) => {
      d.sites[1].proxy = [
        { prefix: '/api/', upstream: `http://127.0.0.1:${port}/v1/`, readTimeoutMs: 300 },
        { prefix: '/raw/', upstream: `http://127.0.0.1:${port}` },
        { prefix: '/dead/', upstream: 'http://127.0.0.1:1/' },
      ];
    }),
    { configDir: f.dir },
  );
  t.teardown(async () => {
    await a.close();
    upstream.closeAllConnections();
    upstream.close();
  });
  const host = {
    host: 'web1.TIC2023.com',
    connection: 'x-secret',
    'x-secret': 'hop',
    'x-forwarded-for': '10.9.9.9',
  };
  const r = await a.inject({
    method: 'POST',
    url: '/api/items%20x?q=1',
    headers: { ...host, 'content-type': 'application/json' },
    payload: '{"a":1}',
  });
  t.equal(r.statusCode, 201);
  t.equal(r.payload, 'upstream saw POST /v1/items%20x?q=1');
  t.equal(r.headers['x-up'], '1');
  t.equal(r.headers['keep-alive'], undefined); // hop-by-hop
  const s = seen[0]!;
  t.equal(s.body, '{"a":1}');
  t.equal(s.headers!.host, `127.0.0.1:${port}`);
  t.equal(s.headers!['x-forwarded-for'], '10.9.9.9, 127.0.0.1');
  t.equal(s.headers!['x-forwarded-host'], 'web1.TIC2023.com');
  t.equal(s.headers!['x-forwarded-proto'], 'http');
  t.equal(s.headers!['x-secret'], undefined); // named in Connection
  t.equal(s.headers!.via, '1.1 netsvc');
  const raw = await a.inject({ url: '/raw/x/y', headers: { host: 'web1.TIC2023.com' } });
  t.equal(raw.payload, 'upstream saw GET /raw/x/y');
  t.equal(
    (await a.inject({ url: '/dead/', headers: { host: 'web1.TIC2023.com' } })).statusCode,
    502,
  );
  t.equal(
    (await a.inject({ url: '/api/slow', headers: { host: 'web1.TIC2023.com' } })).statusCode,
    504,
  );
  // outside the prefix: static as usual
  t.equal((await a.inject({ url: '/', headers: { host: 'web1.TIC2023.com' } })).statusCode, 200);
  t.equal(
    (await a.inject({ url: '/api/x', headers: { host: 'www.TIC2023.com' } })).statusCode,
    404,
  ); // other site
});

t.test('authorityOf: Host for HTTP/1.x, :authority for HTTP/2 (RFC 9113 §8.3.1)', async (t) => {
  const req = (major: number, headers: Record<string, string>) =>
    ({ httpVersionMajor: major, headers }) as unknown as RawRequest;
  const cases: [string, RawRequest, string | undefined | null][] = [
    ['HTTP/1.1 Host', req(1, { host: 'a.example' }), 'a.example'],
    ['HTTP/1.1 ignores a stray :authority', req(1, { ':authority': 'b', host: 'a' }), 'a'],
    ['HTTP/1.0 without Host', req(1, {}), undefined],
    ['h2 :authority', req(2, { ':authority': 'web1.example:8443' }), 'web1.example:8443'],
    ['h2 Host only', req(2, { host: 'a.example' }), 'a.example'],
    [
      'h2 both, same (any case)',
      req(2, { ':authority': 'A.example', host: 'a.EXAMPLE' }),
      'A.example',
    ],
    ['h2 both, different', req(2, { ':authority': 'a.example', host: 'b.example' }), null],
    ['h2 neither', req(2, {}), undefined],
  ];
  for (const [name, r, want] of cases) t.equal(authorityOf(r), want, name);
});
