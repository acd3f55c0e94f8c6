/**
 * HTTP benchmark: netsvc's `http` service against nginx (peers.md §4), same files, same
 * three virtual hosts, access logs off on both (or on for both with `accessLog: true`),
 * loaded by wrk (`wrk -t2 -c50 -d10s --latency -H 'Host: web1.example.test'`).
 *
 * Two loads per server: the web1 index page (~50 bytes) and a 1 MiB image. A third, the
 * same page over HTTP/2 without TLS (h2c by prior knowledge, RFC 9113 §3.3), is driven by
 * h2load (Debian nghttp2-client): `h2load -t2 -c50 -m10 -n 50000 -H ':authority: web1…'`,
 * i.e. 50 connections with up to 10 streams each and 1,000 requests per connection (both
 * servers close a connection after keepalive_requests 1000, and h2load does not reconnect,
 * so a longer run would end in failed requests on both). netsvc serves h2c on its HTTP/1.1
 * port; nginx 1.22 cannot mix the two on one plain port, so it gets a second
 * `listen … http2` port. p50/p99 come from h2load's per-request log. Each server
 * runs in its own process (nginx: `worker_processes 1`, netsvc: one Node process) so peak
 * RSS (VmHWM, summed over nginx master + worker) is its own. Results:
 * `{ name, opsPerSec, p50Ms, p99Ms, peakRssKb, … }` per server and load.
 *
 * Needs Debian `wrk` and `nginx` (`apt-get install -y wrk nginx`), and `h2load` for the h2c
 * line; a missing binary is reported, not fatal for the other server. Never run by
 * `npm test`.
 *
 * Run directly: `node dist/bench/http.js` (or through the bench harness). The file is also
 * its own child entry: `http.js --serve <json>` starts the service in this process.
 */
import { imageNodeFlags } from './image-runtime.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  readFileSync,
  rmSync,
  existsSync,
} from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';

export interface BenchHttpOptions {
  /** Seconds per wrk run (peers.md: 10). */
  durationS?: number;
  connections?: number;
  threads?: number;
  /** Log every request on both servers (Debian's nginx default) instead of neither. */
  accessLog?: boolean;
  nginxPort?: number;
  /** nginx's h2c port (nginx 1.22 serves h2c or HTTP/1.1 on a plain port, not both). */
  nginxH2Port?: number;
  netsvcPort?: number;
  /** Keep the scratch folder (for inspection). */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface BenchHttpResult {
  name: string;
  load: 'small page' | '1 MiB image' | 'small page h2c';
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakRssKb: number;
  transferMBps: number;
  errors: string;
  loadAvg: number;
}

const HOST = 'web1.example.test';

function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

function writeSites(dir: string): void {
  const pages: Record<string, string> = {
    default: '<html><body>default site</body></html>\n',
    web1: '<html><body><h1>web1.example.test</h1></body></html>\n',
    web2: '<html><body><h1>web2</h1></body></html>\n',
  };
  const img = Buffer.alloc(1024 * 1024);
  let x = 12345;
  for (let i = 0; i < img.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff; // incompressible bytes, deterministic
    img[i] = x >> 16;
  }
  for (const [site, html] of Object.entries(pages)) {
    mkdirSync(join(dir, site), { recursive: true });
    writeFileSync(join(dir, site, 'index.html'), html);
    writeFileSync(join(dir, site, 'big image.jpg'), img);
  }
}

function nginxConf(s: string, port: number, h2Port: number, accessLog: boolean): string {
  return `worker_processes 1;
daemon off;
pid ${s}/logs/nginx.pid;
error_log ${s}/logs/error.log;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types; default_type application/octet-stream;
    sendfile on; tcp_nopush on;
    keepalive_timeout 65;
    ${accessLog ? `access_log ${s}/logs/nginx-access.log;` : 'access_log off;'}
    client_body_temp_path ${s}/logs/body; proxy_temp_path ${s}/logs/proxy;
    fastcgi_temp_path ${s}/logs/fastcgi; uwsgi_temp_path ${s}/logs/uwsgi; scgi_temp_path ${s}/logs/scgi;
    server { listen 127.0.0.1:${port} default_server; listen 127.0.0.1:${h2Port} default_server http2;
             server_name _;                 root ${s}/http/default; }
    server { listen 127.0.0.1:${port}; listen 127.0.0.1:${h2Port} http2;
             server_name web1.example.test; root ${s}/http/web1; }
    server { listen 127.0.0.1:${port}; listen 127.0.0.1:${h2Port} http2;
             server_name web2.example.test; root ${s}/http/web2; }
}
`;
}

function netsvcConfig(s: string, port: number, accessLog: boolean): Record<string, unknown> {
  const site = (name: string, names: string[], isDefault: boolean) => ({
    name,
    serverNames: names,
    default: isDefault,
    root: join(s, 'http', name),
    accessLog: accessLog ? join(s, 'logs', `${name}.access.log`) : null,
  });
  return {
    listen: { address: '127.0.0.1', port },
    sites: [
      site('default', [], true),
      site('web1', ['web1.example.test'], false),
      site('web2', ['web2.example.test'], false),
    ],
  };
}

function waitPort(port: number, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      const c = connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve();
      });
      c.on('error', () => {
        c.destroy();
        if (Date.now() > until) reject(new Error(`port ${port} did not open`));
        else setTimeout(tryOnce, 100);
      });
    };
    tryOnce();
  });
}

function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function ms(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

export function parseWrk(out: string): {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  transferMBps: number;
  errors: string;
} {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const tr = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
  const scale: Record<string, number> = {
    B: 1e-6,
    KB: 1024 / 1e6,
    MB: (1024 * 1024) / 1e6,
    GB: (1024 * 1024 * 1024) / 1e6,
  };
  const errs = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx or 3xx responses: \d+/.exec(out)?.[0]]
    .filter(Boolean)
    .join('; ');
  return {
    opsPerSec: rps ? Number(rps[1]) : 0,
    p50Ms: p50 ? ms(p50[1]!, p50[2]!) : NaN,
    p99Ms: p99 ? ms(p99[1]!, p99[2]!) : NaN,
    transferMBps: tr ? Number(tr[1]) * scale[tr[2]!]! : 0,
    errors: errs,
  };
}

function runWrk(
  port: number,
  path: string,
  o: Required<Pick<BenchHttpOptions, 'durationS' | 'connections' | 'threads'>>,
): string {
  const r = spawnSync(
    'timeout',
    [
      String(o.durationS + 10),
      'wrk',
      `-t${o.threads}`,
      `-c${o.connections}`,
      `-d${o.durationS}s`,
      '--latency',
      '-H',
      `Host: ${HOST}`,
      `http://127.0.0.1:${port}${path}`,
    ],
    { encoding: 'utf8' },
  );
  return r.stdout + r.stderr;
}

/** h2load's summary; p50/p99 from its per-request log (start µs, status, duration µs). */
export function parseH2load(
  out: string,
  log: string,
): { opsPerSec: number; p50Ms: number; p99Ms: number; transferMBps: number; errors: string } {
  const fin = /finished in [\d.]+m?s, ([\d.]+) req\/s, ([\d.]+)(B|KB|MB|GB)\/s/.exec(out);
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
      out,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const scale: Record<string, number> = {
    B: 1e-6,
    KB: 1024 / 1e6,
    MB: (1024 * 1024) / 1e6,
    GB: (1024 * 1024 * 1024) / 1e6,
  };
  const durations = log
    .split('\n')
    .map((l) => Number(l.split('\t')[2]))
    .filter((d) => Number.isFinite(d) && d > 0)
    .sort((a, b) => a - b);
  const pct = (p: number): number =>
    durations.length === 0
      ? NaN
      : durations[Math.min(durations.length - 1, Math.floor(p * durations.length))]! / 1000;
  const errors = [
    req && (req[5] !== '0' || req[6] !== '0') ? `${req[5]} failed, ${req[6]} errored` : '',
    codes && codes[1] !== req?.[4] ? `status codes: ${codes[0]}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return {
    opsPerSec: fin ? Number(fin[1]) : 0,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    transferMBps: fin ? Number(fin[2]) * scale[fin[3]!]! : 0,
    errors,
  };
}

function runH2load(port: number, requests: number, connections: number, logFile: string): string {
  const r = spawnSync(
    'timeout',
    [
      '120',
      'h2load',
      '-t2',
      `-c${connections}`,
      '-m10',
      `-n${requests}`,
      '-H',
      `:authority: ${HOST}`,
      '--log-file',
      logFile,
      `http://127.0.0.1:${port}/`,
    ],
    { encoding: 'utf8' },
  );
  return r.stdout + r.stderr;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

export async function benchHttp(opts: BenchHttpOptions = {}): Promise<BenchHttpResult[]> {
  const o = {
    durationS: opts.durationS ?? 10,
    connections: opts.connections ?? 50,
    threads: opts.threads ?? 2,
  };
  const log = opts.log ?? ((l: string) => console.error(l));
  const accessLog = opts.accessLog ?? false;
  const nginxPort = opts.nginxPort ?? 8080;
  const nginxH2Port = opts.nginxH2Port ?? 8082;
  const netsvcPort = opts.netsvcPort ?? 8081;
  const h2load = which('h2load');
  if (!h2load) log('h2load is not installed (apt-get install -y nghttp2-client): no h2c line');
  if (!which('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk)');
  const s = mkdtempSync(join(tmpdir(), 'bench-http-'));
  chmodSync(s, 0o755); // nginx workers run as www-data/nobody and must read the roots
  mkdirSync(join(s, 'logs'), { recursive: true });
  writeSites(join(s, 'http'));
  const loads: { load: BenchHttpResult['load']; path: string }[] = [
    { load: 'small page', path: '/' },
    { load: '1 MiB image', path: '/big%20image.jpg' },
  ];
  const results: BenchHttpResult[] = [];

  const report = (
    name: string,
    load: BenchHttpResult['load'],
    w: ReturnType<typeof parseWrk>,
    pids: () => number[],
    la: number,
  ): void => {
    const rss = pids().reduce((a, p) => a + vmHwmKb(p), 0);
    results.push({ name, load, ...w, peakRssKb: rss, loadAvg: la });
    log(
      `${name.padEnd(7)} ${load.padEnd(14)} ${w.opsPerSec.toFixed(0).padStart(7)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms  ${w.transferMBps.toFixed(0)} MB/s  VmHWM ${rss} kB  load ${la.toFixed(2)} ${w.errors}`,
    );
  };

  /** The small page over h2c: 50 connections × 1,000 requests, 10 streams at a time. */
  const measureH2 = (name: string, port: number, pids: () => number[]): void => {
    if (!h2load) return;
    const logFile = join(s, 'logs', `${name}-h2load.tsv`);
    runH2load(port, 2000, 10, `${logFile}.warm-up`); // its own log: not counted
    const la = loadavg()[0]!;
    const out = runH2load(port, 50 * 1000, 50, logFile);
    const w = parseH2load(out, existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    if (w.opsPerSec === 0) log(`h2load output for ${name}:\n${out}`);
    report(name, 'small page h2c', w, pids, la);
  };

  const measure = async (name: string, port: number, pids: () => number[]) => {
    // warm-up: fills caches, opens files
    runWrk(port, '/', { ...o, durationS: 1 });
    for (const l of loads) {
      const la = loadavg()[0]!;
      const out = runWrk(port, l.path, o);
      const w = parseWrk(out);
      if (w.opsPerSec === 0) log(`wrk output for ${name} ${l.load}:\n${out}`);
      report(name, l.load, w, pids, la);
    }
  };

  try {
    // netsvc, in a child process of its own
    const self = fileURLToPath(import.meta.url);
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        ...imageNodeFlags(),
        self,
        '--serve',
        JSON.stringify(netsvcConfig(s, netsvcPort, accessLog)),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    try {
      await waitPort(netsvcPort, 30000);
      await measure('netsvc', netsvcPort, () => [child.pid!]);
      // the same port: netsvc tells h2c from HTTP/1.1 by the connection preface
      measureH2('netsvc', netsvcPort, () => [child.pid!]);
    } finally {
      await stop(child);
    }

    if (which('nginx')) {
      writeFileSync(join(s, 'nginx.conf'), nginxConf(s, nginxPort, nginxH2Port, accessLog));
      const ng = spawn('nginx', ['-c', join(s, 'nginx.conf')], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      try {
        await waitPort(nginxPort);
        await measure('nginx', nginxPort, () => [ng.pid!, ...childPids(ng.pid!)]);
        await waitPort(nginxH2Port);
        measureH2('nginx', nginxH2Port, () => [ng.pid!, ...childPids(ng.pid!)]);
      } finally {
        await stop(ng);
      }
    } else {
      log('nginx is not installed (apt-get install -y nginx): skipped');
    }
  } finally {
    if (!opts.keep) rmSync(s, { recursive: true, force: true });
  }
  return results;
}

/** Child entry: start the http service with the given config until SIGTERM. */
async function serve(json: string): Promise<void> {
  const [{ Value }, { HttpConfig }, { createHttpService }, pino, { Registry }, { systemClock }] =
    await Promise.all([
      import('@sinclair/typebox/value'),
      import('../services/http/config.js'),
      import('../services/http/index.js'),
      import('pino'),
      import('prom-client'),
      import('../src/clock.js'),
    ]);
  const cfg = Value.Default(
    HttpConfig,
    JSON.parse(json),
  ) as import('../services/http/config.js').HttpConfig;
  const svc = createHttpService(cfg, {
    log: pino.default({ level: 'warn' }),
    metrics: new Registry(),
    dataDir: tmpdir(),
    configDir: process.cwd(),
    clock: systemClock,
  });
  await svc.start();
  process.once('SIGTERM', () => void svc.stop().then(() => process.exit(0)));
}

const isMain =
  process.argv[1] !== undefined &&
  existsSync(process.argv[1]) &&
  fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  if (process.argv[2] === '--serve') {
    await serve(process.argv[3] ?? '{}');
  } else {
    const durationS = Number(process.env.BENCH_DURATION ?? 10);
    const res = await benchHttp({ durationS, accessLog: process.env.BENCH_ACCESS_LOG === '1' });
    console.log(JSON.stringify(res, null, 2));
  }
}

/**
 * The harness's view of benchHttp: three scenarios, `http` (small page), `http-image`
 * (1 MiB image) and `http-h2` (small page over h2c), sharing one benchHttp run, so each
 * gets its own netsvc/nginx ratios. Whichever runs first prints every line as progress.
 */
let shared: Promise<BenchHttpResult[]> | undefined;

function httpScenarioFor(
  name: string,
  load: BenchHttpResult['load'],
): import('./scenario.js').Scenario {
  return {
    name,
    description:
      load === 'small page h2c'
        ? 'h2load -t2 -c50 -m10 -n50000 against web1 over h2c (prior knowledge), access logs off on both'
        : `wrk -t2 -c50 against web1 (peers.md §4), ${load}, access logs off on both`,
    unit: 'requests/s',
    async run(ctx) {
      shared ??= benchHttp({ durationS: ctx.seconds, log: (l) => ctx.progress(l) });
      const rows = (await shared).filter((x) => x.load === load);
      rows.sort((a) => (a.name === 'netsvc' ? -1 : 1));
      return rows.map((r) => {
        const sample = {
          opsPerSec: r.opsPerSec,
          avgLatencyMs: r.p50Ms,
          p99LatencyMs: r.p99Ms,
          sent: 0,
          completed: 0,
          lost: 0,
          loadBefore: [r.loadAvg],
          loadAfter: [r.loadAvg],
          wallSeconds: ctx.seconds,
          extra: { transferMBps: r.transferMBps, errors: r.errors, latencyColumn: 'p50 (not avg)' },
          warnings: r.errors ? [r.errors] : [],
        };
        return {
          server: r.name,
          isNetsvc: r.name === 'netsvc',
          runs: [sample],
          median: sample,
          rss: { totalKb: r.peakRssKb, processes: [], note: 'VmHWM of the server process' },
        };
      });
    },
  };
}

export const httpScenario = httpScenarioFor('http', 'small page');
export const httpImageScenario = httpScenarioFor('http-image', '1 MiB image');
export const httpH2Scenario = httpScenarioFor('http-h2', 'small page h2c');
