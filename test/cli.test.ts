/**
 * The `netsvc` command as a user runs it: `node dist/src/main.js …`. Usage and exit codes
 * (0 clean stop, 1 config or start failure, 2 usage), `check`/`--check`, a real DNS start
 * on 127.0.0.1 port 0 stopped by SIGTERM, and the start errors a person must be able to act
 * on (port in use, bad zone line). The build runs once, first.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  appendFileSync,
  readFileSync,
  writeFileSync,
  existsSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/main.js');
const DEV = join(ROOT, 'config/dev');

/** Newest mtime of the sources the build compiles (tests and src/testing excluded). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'testing' && e.name !== 'testdata' && e.name !== 'node_modules')
        newest = Math.max(newest, newestSource(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

t.before(() => {
  // Build once, unless dist/ is already newer than every source file (tsc rewrites every
  // output, so main.js carries the time of the last build).
  const built = existsSync(MAIN) ? statSync(MAIN).mtimeMs : 0;
  if (built > Math.max(newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'services'))))
    return;
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  // Type errors still emit JavaScript; only a missing entry point stops this test.
  if (r.status !== 0) t.comment(`tsc exited ${r.status}:\n${r.stdout}${r.stderr}`);
  if (!existsSync(MAIN)) throw new Error(`build produced no ${MAIN}:\n${r.stdout}${r.stderr}`);
});

/** The environment a user's shell would give: no NETSVC_* leaking in, no test-runner loaders. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      k.startsWith('NETSVC_') ||
      k === 'NODE_OPTIONS' ||
      // tap's V8 coverage: a built child would map dist/*.js onto the .ts sources and
      // garble the suite's coverage report.
      k === 'NODE_V8_COVERAGE' ||
      k.startsWith('TAP') ||
      k.startsWith('_TAP')
    )
      continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit code (a signal counts as -1). */
  exit: Promise<number>;
  /** Resolves with the first JSON log line whose msg is `msg`. */
  logLine: (msg: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
}

function run(
  t: { teardown(fn: () => unknown): void },
  args: readonly string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
): Run {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  let exited = false;
  const exit = new Promise<number>((ok) =>
    child.on('close', (code) => {
      exited = true;
      for (const w of waiters) w();
      ok(code ?? -1);
    }),
  );
  t.teardown(() => {
    if (!exited) child.kill('SIGKILL');
  });
  const logLine = (msg: string, timeoutMs = 10_000): Promise<Record<string, unknown>> =>
    new Promise((ok, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(`no "${msg}" log line in ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`),
          ),
        timeoutMs,
      );
      const check = (): void => {
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          const rec = JSON.parse(line) as Record<string, unknown>;
          if (rec.msg === msg) {
            clearTimeout(timer);
            ok(rec);
            return;
          }
        }
        if (exited) {
          clearTimeout(timer);
          fail(new Error(`exited before "${msg}"\nstdout:\n${out}\nstderr:\n${err}`));
        }
      };
      waiters.push(check);
      check();
    });
  return { child, out: () => out, err: () => err, exit, logLine };
}

/** A minimal DNS-only config dir in a temp dir: netsvc.yaml, dns.yaml, zones/. */
function dnsConfigDir(t: { testdir(): string }): string {
  const dir = t.testdir();
  for (const f of ['netsvc.yaml', 'dns.yaml', 'zones'])
    cpSync(join(DEV, f), join(dir, f), { recursive: true });
  mkdirSync(join(dir, 'data'));
  return dir;
}

function dnsEnv(dir: string, port: number | string = 0): NodeJS.ProcessEnv {
  return cleanEnv({
    NETSVC_DNS__LISTEN__0__PORT: String(port),
    NETSVC_ADMIN__PORT: '0',
    NETSVC_DATA_DIR: join(dir, 'data'),
    NETSVC_LOG__FORMAT: 'json',
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

t.test('--help exits 0 and lists the services', async (t) => {
  const r = run(t, ['--help']);
  t.equal(await r.exit, 0);
  t.match(r.out(), /^usage: netsvc \[service…\] \[--config DIR\] \[--check\]/);
  t.match(r.out(), /services: .*\bdns\b/);
  t.equal(r.err(), '');
});

t.test('usage errors exit 2', async (t) => {
  const r = run(t, ['nosuch']);
  const r2 = run(t, ['--frobnicate']);
  t.equal(await r.exit, 2);
  t.match(r.err(), /^netsvc: unknown service "nosuch"\nusage: netsvc/);
  t.equal(await r2.exit, 2);
  t.match(r2.err(), /unknown option --frobnicate/);
});

t.test('check --config config/dev exits 0 and prints OK', async (t) => {
  const r = run(t, ['check', '--config', DEV]);
  t.equal(await r.exit, 0, r.err());
  t.match(r.out(), new RegExp(`^config ${DEV} OK: .*\\bdns\\b`));
});

t.test('--check on a bad config exits 1 with `file /path: message`', async (t) => {
  const dir = dnsConfigDir(t);
  appendFileSync(join(dir, 'dns.yaml'), 'udpsize: 4096\n');
  const r = run(t, ['--check', '--config', dir]);
  t.equal(await r.exit, 1);
  t.match(r.err(), `${join(dir, 'dns.yaml')} /udpsize: unknown key`);
  t.match(r.err(), /netsvc: 1 config issue\(s\) in /);
  t.equal(r.out(), '');
  // An env override naming an unknown key is reported the same way.
  const r2 = run(t, ['--check', '--config', dir], cleanEnv({ NETSVC_DNS__LISTEN__0__PROT: '1' }));
  t.equal(await r2.exit, 1);
  t.match(
    r2.err(),
    /dns\.yaml \/listen\/0\/PROT: unknown key set by environment variable NETSVC_DNS__LISTEN__0__PROT/,
  );
});

t.test('dns starts on port 0, reports ready, and SIGTERM stops it with 0', async (t) => {
  const dir = dnsConfigDir(t);
  const r = run(t, ['dns', '--config', dir], dnsEnv(dir));
  const ready = await r.logLine('ready');
  t.same(ready.services, ['dns']);
  t.equal(ready.dataDir, join(dir, 'data'));
  const admin = ready.admin as number;
  t.ok(admin > 0, `admin on ${admin}`);
  const readyz = await httpGet(admin, '/readyz');
  t.equal(readyz.status, 200);
  t.same(JSON.parse(readyz.body), { ready: true, services: { dns: true } });
  t.match((await httpGet(admin, '/metrics')).body, /netsvc_service_up\{svc="dns"\} 1/);

  const t0 = performance.now();
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0, r.err());
  const ms = performance.now() - t0;
  t.ok(ms < 5000, `stopped in ${Math.round(ms)} ms`);
  t.match(r.out(), /"msg":"stopping"/);
  t.match(r.out(), /"svc":"dns".*"msg":"stopped"/);
});

t.test('a port already in use exits 1 and says so', async (t) => {
  const sock: Socket = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
  t.teardown(() => sock.close());
  const port = sock.address().port;
  const dir = dnsConfigDir(t);
  const r = run(t, ['dns', '--config', dir], dnsEnv(dir, port));
  t.equal(await r.exit, 1);
  t.match(r.err(), `netsvc: dns: address 127.0.0.1:${port} already in use`);
  t.match(r.err(), /change the port in dns\.yaml/);
});

t.test('a bad zone line exits 1 naming the file and the line', async (t) => {
  const dir = dnsConfigDir(t);
  const zone = join(dir, 'zones/TIC2023.com.zone');
  const lines = readFileSync(zone, 'utf8').split('\n');
  const bad = lines.length + (lines.at(-1) === '' ? 0 : 1);
  writeFileSync(zone, lines.join('\n').replace(/\n?$/, '\n') + 'oops    IN  A   999.1.2.3\n');
  const r = run(t, ['dns', '--config', dir], dnsEnv(dir));
  t.equal(await r.exit, 1);
  t.match(r.err(), /netsvc: dns: zone files have errors/);
  t.match(
    r.err(),
    new RegExp(`${zone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${bad}: .*999\\.1\\.2\\.3`),
    r.err(),
  );
});
