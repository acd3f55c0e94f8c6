/**
 * Shared pieces of the hostile-client measurements (bench/hostile/run.ts): one built
 * service on config/dev with its data in a scratch folder, its /metrics, and the memory
 * and CPU figures read from /proc.
 *
 * RSS "peak" is VmHWM over the attack: the high-water mark is reset (`echo 5 >
 * /proc/PID/clear_refs`, proc(5)) just before the attack starts, so start-up does not count.
 * RSS "after" is VmRSS a few seconds after the attack ended.
 */
import { imageNodeFlags } from '../image-runtime.js';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, startDaemon, type Daemon } from '../../src/testing/daemon.js';

export const root = fileURLToPath(new URL('../../..', import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One line of the closing table. */
export interface AttackRow {
  readonly service: string;
  readonly attack: string;
  /** What the attacker got: checked guesses/s, responses per packet, log bytes… */
  readonly attackerGot: string;
  /** Legitimate client during the attack: "served/tried". */
  readonly legit: string;
  readonly rssPeakMb: number | null;
  readonly rssAfterMb: number | null;
  readonly notes: string;
}

export interface Service {
  readonly daemon: Daemon;
  readonly adminPort: number;
  metrics(): Promise<string>;
  /** Reset VmHWM so the next peak reading covers only what follows. */
  resetPeak(): void;
  /** [VmHWM, VmRSS] in MB. */
  rss(): { peakMb: number; nowMb: number };
  /** utime + stime of the process, clock ticks (USER_HZ, 100 on Linux). */
  cpuTicks(): number;
  /** Bytes of log output (stdout and stderr) so far. */
  logBytes(): number;
}

/** `node dist/src/main.js <name> --config config/dev` with overrides; ready on its log line. */
export async function startService(
  name: string,
  work: string,
  env: Record<string, string>,
  configDir = join(root, 'config/dev'),
): Promise<Service> {
  let logged = 0;
  const daemon = await startDaemon({
    name: `netsvc-${name}`,
    command: process.execPath,
    args: [...imageNodeFlags(), join(root, 'dist/src/main.js'), name, '--config', configDir],
    cwd: root,
    env: cleanEnv({
      NETSVC_DATA_DIR: join(work, 'data'),
      NETSVC_ADMIN__PORT: '0',
      NETSVC_LOG__FORMAT: 'json',
      ...env,
    }),
    ready: { log: /"msg":"ready"/ },
    onLine: (line) => (logged += Buffer.byteLength(line) + 1),
  });
  const admin = /"admin":(\d+)/.exec(daemon.output())?.[1];
  if (admin === undefined) {
    await daemon.stop();
    throw new Error(`${name}: admin port not in the ready line`);
  }
  const adminPort = Number(admin);
  const status = (): string => readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status())?.[1] ?? NaN);
  return {
    daemon,
    adminPort,
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
    resetPeak: () => writeFileSync(`/proc/${daemon.pid}/clear_refs`, '5'),
    rss: () => ({ peakMb: kb('VmHWM') / 1024, nowMb: kb('VmRSS') / 1024 }),
    cpuTicks: () => {
      const stat = readFileSync(`/proc/${daemon.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(f[11]) + Number(f[12]); // fields 14 and 15: utime, stime
    },
    logBytes: () => logged,
  };
}

/** Sum of a metric's samples whose labels include every `want` pair. */
export function sample(text: string, name: string, want: Record<string, string> = {}): number {
  let n = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = new Map(
      (m[1] ?? '')
        .split(',')
        .filter((x) => x !== '')
        .map((kv) => {
          const i = kv.indexOf('=');
          return [kv.slice(0, i), kv.slice(i + 1).replace(/"/g, '')] as const;
        }),
    );
    if (Object.entries(want).every(([k, v]) => labels.get(k) === v)) n += Number(m[2]);
  }
  return n;
}

export interface RunResult {
  readonly status: number | null;
  readonly output: string;
  readonly ms: number;
}

/** Run a tool to completion (killed after `timeoutMs`), stdout and stderr together. */
export function run(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
  cwd?: string,
): Promise<RunResult> {
  return new Promise((ok) => {
    const t0 = Date.now();
    const p = spawn(cmd, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-200_000);
    };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    p.on('error', (e) => (output += String(e)));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (status) => {
      clearTimeout(timer);
      ok({ status, output, ms: Date.now() - t0 });
    });
  });
}

/** Whether `cmd` is on PATH. */
export async function has(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`], 5000)).status === 0;
}

/**
 * Run `probe` every `everyMs` until `until()` holds; how many of the tries succeeded.
 * The legitimate client's view of an attack.
 */
export async function probeWhile(
  probe: () => Promise<boolean>,
  until: () => boolean,
  everyMs: number,
): Promise<{ ok: number; tries: number }> {
  let ok = 0;
  let tries = 0;
  while (!until()) {
    tries++;
    if (await probe()) ok++;
    await sleep(everyMs);
  }
  return { ok, tries };
}

export const mb = (n: number | null): string => (n === null ? '-' : n.toFixed(0));

/**
 * Send `count` datagrams `make(i)` to 127.0.0.1:`port` at `rate` per second (in 5 ms
 * batches, so the rate holds without a timer per packet); resolves once all are sent.
 */
export function sendAtRate(
  sock: { send(b: Uint8Array, port: number, address: string): void },
  port: number,
  count: number,
  rate: number,
  make: (i: number) => Uint8Array,
): Promise<void> {
  const t0 = Date.now();
  let sent = 0;
  return new Promise<void>((done) => {
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor(((Date.now() - t0) * rate) / 1000));
      while (sent < due) sock.send(make(sent++), port, '127.0.0.1');
      if (sent >= count) {
        clearInterval(timer);
        done();
      }
    }, 5);
  });
}
