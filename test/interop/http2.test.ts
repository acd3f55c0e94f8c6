/**
 * Interop, issue 17 (HTTP/2): the built CLI (`node dist/src/main.js http --config DIR`; run
 * `npm run build` first, `npm run test:interop` does) serving three sites from a temporary
 * config (self-signed certificates made with openssl, an HTTPS listener), exercised with
 * the real clients nginx and Caddy are tested with:
 *   - `curl --http2-prior-knowledge` on the plain port (h2c, RFC 9113 §3.3) and curl's
 *     HTTP/1.1 on the same port;
 *   - `curl --http2` over https (ALPN h2, §3.2), and `--http1.1` there too;
 *   - vhosts by :authority, the site's 404 page, a precompressed `.gz` sibling;
 *   - `h2load` (Debian nghttp2-client), bounded: 2,000 requests over 10 connections with
 *     10 streams each, on h2c and on h2 over TLS; every request must succeed.
 * The access log (`HTTP/2.0` request lines) and /metrics (http_h2_sessions_total) are read
 * back. Traffic goes to 127.0.0.1 only; the server is stopped at teardown.
 */
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { cleanEnv, freePorts, startDaemon } from '../../src/testing/daemon.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const has = (cmd: string, arg: string): boolean => {
  try {
    execFileSync(cmd, [arg], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // ran, exited non-zero
  }
};

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'latin1', maxBuffer: 1 << 24 }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

if (
  !has('curl', '--version') ||
  !has('h2load', '--version') ||
  !has('openssl', 'version') ||
  !existsSync(join(root, 'dist/src/main.js'))
) {
  // CI installs the tools and builds dist/: there a missing one is a failure, not a skip.
  if (process.env.CI) t.fail('curl, h2load (apt nghttp2-client), openssl or dist/ missing in CI');
  else t.plan(0, 'curl, h2load (apt nghttp2-client), openssl or dist/ missing: skipped');
} else {
  const work = mkdtempSync(join(tmpdir(), 'netsvc-http2-interop-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const conf = join(work, 'config');
  const w = (p: string, data: string | Buffer) => {
    mkdirSync(join(conf, p, '..'), { recursive: true });
    writeFileSync(join(conf, p), data);
  };
  const css = 'body { font-family: sans-serif; color: #234; }\n'.repeat(40);
  w('sites/www/index.html', '<h1>www over h2</h1>\n');
  w('sites/www/404.html', '<h1>Nothing at this address</h1>\n');
  w('sites/www/style.css', css);
  w('sites/www/style.css.gz', gzipSync(Buffer.from(css)));
  w('sites/web1/index.html', '<h1>web1 over h2</h1>\n');
  w('sites/web2/index.html', '<h1>web2 over h2</h1>\n');
  mkdirSync(join(conf, 'tls'), { recursive: true });
  for (const name of ['www', 'web1']) {
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
        join(conf, `tls/${name}.key`),
        '-out',
        join(conf, `tls/${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
  }
  const [port, sport] = (await freePorts(2)) as [number, number];
  // JSON is YAML; defaults leave http2 on for both listeners (the switch under test)
  w(
    'netsvc.yaml',
    JSON.stringify({ admin: { address: '127.0.0.1', port: 0 }, dataDir: join(work, 'data') }),
  );
  w(
    'http.yaml',
    JSON.stringify({
      listen: { address: '127.0.0.1', port },
      https: { enabled: true, address: '127.0.0.1', port: sport },
      sites: [
        {
          name: 'www',
          default: true,
          serverNames: ['www.TIC2023.com'],
          root: 'sites/www',
          errorPages: { '404': '/404.html' },
          accessLog: 'logs/www.access.log',
          tls: { cert: 'tls/www.crt', key: 'tls/www.key' },
        },
        {
          name: 'web1',
          serverNames: ['web1.TIC2023.com'],
          root: 'sites/web1',
          accessLog: 'logs/web1.access.log',
          tls: { cert: 'tls/web1.crt', key: 'tls/web1.key' },
        },
        { name: 'web2', serverNames: ['web2.TIC2023.com'], root: 'sites/web2' },
      ],
    }),
  );
  const server = await startDaemon({
    name: 'netsvc-http',
    command: process.execPath,
    args: ['dist/src/main.js', 'http', '--config', conf],
    cwd: root,
    env: cleanEnv({ NETSVC_LOG__FORMAT: 'json' }),
    ready: { log: /"msg":"ready"/ },
    teardown: t,
  });
  const admin = Number(/"admin":(\d+)/.exec(server.output())?.[1]);
  const plain = `http://127.0.0.1:${port}`;
  /** curl's status, negotiated version and body for one request */
  const curl = async (...args: string[]) => {
    const r = await run('curl', [
      '-sS',
      '--max-time',
      '10',
      '-o',
      '-',
      '-w',
      '\n%{http_code} %{http_version}',
      ...args,
    ]);
    const nl = r.out.lastIndexOf('\n');
    const [status, version] = r.out.slice(nl + 1).split(' ');
    return { status: Number(status), version, body: r.out.slice(0, nl), err: r.err };
  };
  const https = (host: string, ...args: string[]) =>
    curl('-k', '--resolve', `${host}:${sport}:127.0.0.1`, ...args, `https://${host}:${sport}/`);

  t.test('h2c by prior knowledge and HTTP/1.1 on one port', async (t) => {
    const h2 = await curl('--http2-prior-knowledge', `${plain}/`);
    t.same([h2.status, h2.version], [200, '2'], h2.err);
    t.equal(h2.body, '<h1>www over h2</h1>\n');
    const h1 = await curl('--http1.1', `${plain}/`);
    t.same([h1.status, h1.version], [200, '1.1']);
    t.equal(h1.body, h2.body);
    // curl turns -H Host into :authority for HTTP/2
    const cases: [string, string][] = [
      ['web1.TIC2023.com', '<h1>web1 over h2</h1>\n'],
      ['WEB2.tic2023.com', '<h1>web2 over h2</h1>\n'],
      ['unknown.example', '<h1>www over h2</h1>\n'],
    ];
    for (const [host, body] of cases) {
      const r = await curl('--http2-prior-knowledge', '-H', `Host: ${host}`, `${plain}/`);
      t.same([r.status, r.version, r.body], [200, '2', body], host);
    }
    const missing = await curl('--http2-prior-knowledge', `${plain}/nope.html`);
    t.same([missing.status, missing.body], [404, '<h1>Nothing at this address</h1>\n']);
    const gz = await run('curl', [
      '-sS',
      '--http2-prior-knowledge',
      '-H',
      'Accept-Encoding: gzip',
      '-D',
      '-',
      '-o',
      join(work, 'style.css.gz'),
      `${plain}/style.css`,
    ]);
    t.match(gz.out, /^HTTP\/2 200/);
    t.match(gz.out, /content-encoding: gzip/i);
    t.ok(
      readFileSync(join(work, 'style.css.gz')).equals(
        readFileSync(join(conf, 'sites/www/style.css.gz')),
      ),
      'the precompressed sibling, byte for byte',
    );
  });

  t.test('h2 over TLS by ALPN; HTTP/1.1 over TLS still served', async (t) => {
    const h2 = await https('web1.TIC2023.com', '--http2', '-v');
    t.same([h2.status, h2.version], [200, '2']);
    t.equal(h2.body, '<h1>web1 over h2</h1>\n');
    t.match(h2.err, /ALPN.*h2/, 'ALPN chose h2');
    t.match(h2.err, /subject: CN=web1\.TIC2023\.com/, 'SNI picked web1 certificate');
    const h1 = await https('web1.TIC2023.com', '--http1.1');
    t.same([h1.status, h1.version, h1.body], [200, '1.1', '<h1>web1 over h2</h1>\n']);
    const www = await https('www.TIC2023.com', '--http2');
    t.same([www.status, www.version, www.body], [200, '2', '<h1>www over h2</h1>\n']);
  });

  /** h2load's summary line: requests done / succeeded / failed / errored, 2xx count */
  const h2load = async (...args: string[]) => {
    const r = await run('timeout', ['60', 'h2load', ...args]);
    const req =
      /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
        r.out,
      );
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.out);
    t.comment(/finished in .*/.exec(r.out)?.[0] ?? r.out.slice(-600));
    return {
      out: r.out,
      done: Number(req?.[3]),
      succeeded: Number(req?.[4]),
      failed: Number(req?.[5]),
      errored: Number(req?.[6]),
      ok2xx: Number(codes?.[1]),
    };
  };

  t.test('h2load: 2,000 requests, 10 connections × 10 streams, all succeed', async (t) => {
    const clear = await h2load('-n', '2000', '-c', '10', '-m', '10', `${plain}/`);
    t.same(
      [clear.done, clear.succeeded, clear.failed, clear.errored, clear.ok2xx],
      [2000, 2000, 0, 0, 2000],
      'h2c',
    );
    t.match(clear.out, /Application protocol: h2c/);
    const tls = await h2load(
      '-n',
      '2000',
      '-c',
      '10',
      '-m',
      '10',
      '-H',
      ':authority: web1.TIC2023.com',
      `https://127.0.0.1:${sport}/`,
    );
    t.same(
      [tls.done, tls.succeeded, tls.failed, tls.errored, tls.ok2xx],
      [2000, 2000, 0, 0, 2000],
      'h2 over TLS',
    );
    t.match(tls.out, /Application protocol: h2\b/);
  });

  t.test('metrics and access log lines', async (t) => {
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    const sessions = Number(/^http_h2_sessions_total (\d+)/m.exec(metrics)?.[1]);
    t.ok(sessions >= 28, `http_h2_sessions_total ${sessions}`);
    t.match(metrics, /http_requests_total\{site="web1",class="2xx"\} \d{4}/);
    t.notMatch(metrics, /http_h2_sessions_closed_total\{/, 'no session closed for misbehaviour');
    await new Promise((r) => setTimeout(r, 1500)); // access logs are written once a second
    const log = readFileSync(join(work, 'data/logs/web1.access.log'), 'utf8');
    t.match(log, /"GET \/ HTTP\/2\.0" 200 22 "-" "curl\//);
    t.match(log, /"GET \/ HTTP\/1\.1" 200 22 "-" "curl\//);
    t.match(log, /"GET \/ HTTP\/2\.0" 200 22 "-" "h2load/);
  });
}
