/**
 * FTP scenario (shared/peers.md §6): netsvc against vsftpd on 127.0.0.1, one server at a
 * time. For each server:
 *   - a 200 MiB file of random bytes, down and up, passive (EPSV) and active (EPRT),
 *     each `timeout 20 curl …` with curl's own speed figure (MB/s = 10^6 B/s);
 *   - 50 concurrent clients, each one curl fetching the same 4 KiB file `filesPerClient`
 *     times over one control connection (passive): files/s over the wall time;
 *   - peak RSS (VmHWM summed over the server's processes, sampled every 100 ms, since
 *     vsftpd forks per session and its session processes are gone at the end).
 * vsftpd needs a system user: `prftp` is created with useradd and removed with userdel.
 * A missing binary (vsftpd, curl) skips that server instead of failing.
 *
 * `benchFtp(opts)` returns one row per server; `ftpScenario` wraps it for bench/run.ts
 * (opsPerSec = small files per second; the transfer speeds go in `extra`).
 */
import { imageNodeFlags } from './image-runtime.js';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon, freePort, type Daemon } from '../src/testing/daemon.js';
import type { BenchContext, Scenario, ServerResult, RunSample } from './scenario.js';

export interface FtpBenchOptions {
  /** Scratch folder (created if missing); removed afterwards unless keep. */
  readonly workDir?: string;
  readonly keep?: boolean;
  /** Size of the big file, bytes (default 200 MiB). */
  readonly bigBytes?: number;
  readonly clients?: number;
  readonly filesPerClient?: number;
  readonly servers?: readonly ('netsvc' | 'vsftpd')[];
  readonly progress?: (msg: string) => void;
  readonly verbose?: boolean;
}

export interface FtpBenchRow {
  readonly server: string;
  readonly version?: string;
  readonly skipped?: string;
  /** MB/s (10^6 B/s) as curl reports; null when the run failed or timed out. */
  readonly passiveDownMBps: number | null;
  readonly passiveUpMBps: number | null;
  readonly activeDownMBps: number | null;
  readonly activeUpMBps: number | null;
  readonly smallFilesPerSec: number | null;
  readonly smallFilesOk: number;
  readonly smallFilesWanted: number;
  readonly peakRssKb: number | null;
  readonly rssProcesses: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly warnings: readonly string[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/dist\/?$/, '');
const repoRoot = (): string =>
  existsSync(join(ROOT, 'package.json')) ? ROOT : fileURLToPath(new URL('..', import.meta.url));

function which(cmd: string): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function run(
  cmd: string,
  args: string[],
  timeoutS: number,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const p = spawn('timeout', [String(timeoutS), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

export const USER = 'prftp';
export const PASS = 'bench-' + randomBytes(6).toString('hex');

export interface Started {
  daemon: Daemon;
  port: number;
  /** Folder served as /pub. */
  pub: string;
  version?: string;
}

/** `maxClients` also sets maxPerIp (bench/scale/ftp.ts raises both for 500 sessions). */
export async function startNetsvc(
  work: string,
  verbose: boolean,
  maxClients = 200,
): Promise<Started> {
  const root = repoRoot();
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'services/ftp/index.js')))
    throw new Error('dist/services/ftp/index.js missing (npm run build)');
  const port = await freePort();
  const cfgDir = join(work, 'netsvc-config');
  const dataDir = join(work, 'netsvc-data');
  const pub = join(dataDir, 'home', 'pub');
  mkdirSync(pub, { recursive: true });
  mkdirSync(cfgDir, { recursive: true });
  const cfg = {
    listen: [{ address: '127.0.0.1', port }],
    users: [
      {
        name: USER,
        password: PASS,
        home: 'home',
        permissions: ['read', 'write', 'delete', 'mkdir', 'rename'],
      },
    ],
    active: { sourcePort: 0 },
    passive: { portMin: 30000, portMax: 30100 },
    limits: { maxClients, maxPerIp: maxClients },
    protocolLog: null,
    xferlog: 'xferlog',
  };
  writeFileSync(join(cfgDir, 'ftp.yaml'), JSON.stringify(cfg, null, 2));
  writeFileSync(
    join(cfgDir, 'netsvc.yaml'),
    `admin: {enabled: false}\ndataDir: ${dataDir}\nlog: {level: warn, format: json}\n`,
  );
  const registered = readFileSync(join(dist, 'services/index.js'), 'utf8').includes('ftp/index.js');
  // Until ftp is in services/index.ts, run its create() in a process of its own.
  const launcher = `
import def from ${JSON.stringify(join(dist, 'services/ftp/index.js'))};
import { loadConfigDir } from ${JSON.stringify(join(dist, 'src/config.js'))};
import { createRegistry } from ${JSON.stringify(join(dist, 'src/metrics.js'))};
import { systemClock } from ${JSON.stringify(join(dist, 'src/clock.js'))};
import pino from 'pino';
const c = loadConfigDir(process.argv[1], [def]);
if (c.issues.length) { console.error(JSON.stringify(c.issues)); process.exit(1); }
const svc = def.create(c.services.get('ftp').value, { log: pino({ level: 'warn' }), metrics: createRegistry(), dataDir: c.dataDir, configDir: c.configDir, clock: systemClock });
await svc.start();
console.log('ftp ready');
process.on('SIGTERM', () => svc.stop().then(() => process.exit(0)));
`;
  const daemon = await startDaemon({
    name: 'netsvc-ftp',
    command: process.execPath,
    args: registered
      ? [...imageNodeFlags(), join(dist, 'src/main.js'), 'ftp', '--config', cfgDir]
      : ['--input-type=module', '-e', launcher, cfgDir],
    cwd: root,
    ready: { tcp: { host: '127.0.0.1', port } },
    ...(verbose ? { onLine: (l: string) => process.stderr.write(`[netsvc] ${l}\n`) } : {}),
  });
  return {
    daemon,
    port,
    pub,
    version: `node ${process.version}${registered ? '' : ' (create())'}`,
  };
}

/** `maxClients` also sets max_per_ip (bench/scale/ftp.ts raises both for 500 sessions). */
export async function startVsftpd(
  work: string,
  verbose: boolean,
  maxClients = 200,
): Promise<Started> {
  const bin = which('vsftpd');
  if (!bin) throw new Error('vsftpd not installed (apt-get install vsftpd)');
  const port = await freePort();
  const base = join(work, 'vsftpd');
  const home = join(base, 'home');
  const pub = join(home, 'pub');
  mkdirSync(pub, { recursive: true });
  // peers.md §6: the chroot root must not be writable by the user; pub is.
  execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/bash', USER]);
  execFileSync('chpasswd', { input: `${USER}:${PASS}\n` });
  chownSync(home, 0, 0);
  chmodSync(home, 0o755);
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
  chownSync(pub, uid, gid);
  mkdirSync('/var/run/vsftpd/empty', { recursive: true });
  const conf = join(base, 'vsftpd.conf');
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'local_umask=022',
      'chroot_local_user=YES',
      'pasv_enable=YES',
      'pasv_min_port=30000',
      'pasv_max_port=30100',
      'pasv_address=127.0.0.1',
      'port_enable=YES',
      'connect_from_port_20=NO',
      'pam_service_name=vsftpd',
      'secure_chroot_dir=/var/run/vsftpd/empty',
      'ssl_enable=NO',
      'xferlog_enable=YES',
      `vsftpd_log_file=${join(base, 'vsftpd.log')}`,
      `max_clients=${maxClients}`,
      `max_per_ip=${maxClients}`,
      '',
    ].join('\n'),
  );
  const daemon = await startDaemon({
    name: 'vsftpd',
    command: bin,
    args: [conf],
    ready: { tcp: { host: '127.0.0.1', port } },
    ...(verbose ? { onLine: (l: string) => process.stderr.write(`[vsftpd] ${l}\n`) } : {}),
  });
  let version: string | undefined;
  try {
    version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'vsftpd'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    /* unknown */
  }
  return { daemon, port, pub, ...(version ? { version: `vsftpd ${version}` } : {}) };
}

export function removeUser(): void {
  try {
    execFileSync('userdel', [USER], { stdio: 'ignore' });
  } catch {
    /* not there */
  }
}

async function measure(
  s: Started,
  opts: Required<Pick<FtpBenchOptions, 'clients' | 'filesPerClient'>>,
  src: string,
  work: string,
): Promise<Omit<FtpBenchRow, 'server' | 'version' | 'loadBefore' | 'loadAfter'>> {
  const warnings: string[] = [];
  const url = `ftp://${USER}:${PASS}@127.0.0.1:${s.port}/pub`;
  let peak = 0;
  let procs = 0;
  const sampler = setInterval(() => {
    const r = s.daemon.peakRss();
    if (r && r.totalKb > peak) {
      peak = r.totalKb;
      procs = r.processes.length;
    }
  }, 100);
  const speed = async (name: string, args: string[]): Promise<number | null> => {
    const r = await run('curl', ['-sS', '--max-time', '20', ...args], 25);
    const v = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isFinite(v) || v <= 0) {
      warnings.push(`${name}: exit ${r.status} ${r.stderr.trim().slice(0, 200)}`);
      return null;
    }
    return v / 1e6;
  };
  const down = (flags: string[]): string[] => [
    ...flags,
    '-o',
    '/dev/null',
    '-w',
    '%{speed_download}',
    `${url}/big.bin`,
  ];
  const up = (flags: string[], name: string): string[] => [
    ...flags,
    '-T',
    src,
    '-w',
    '%{speed_upload}',
    `${url}/${name}`,
  ];
  const passiveDownMBps = await speed('passive download', down([]));
  const passiveUpMBps = await speed('passive upload', up([], 'up-p.bin'));
  const activeDownMBps = await speed('active download', down(['--ftp-port', '127.0.0.1']));
  const activeUpMBps = await speed('active upload', up(['--ftp-port', '127.0.0.1'], 'up-a.bin'));
  for (const f of ['up-p.bin', 'up-a.bin']) {
    const p = join(s.pub, f);
    if (existsSync(p) && statSync(p).size !== statSync(src).size)
      warnings.push(`${f}: size ${statSync(p).size}, expected ${statSync(src).size}`);
  }
  // 50 clients × N small files, each client one control connection (curl reuses it).
  const wanted = opts.clients * opts.filesPerClient;
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: opts.clients }, (_, i) => {
      const args = ['-sS', '--max-time', '60'];
      for (let k = 0; k < opts.filesPerClient; k++)
        args.push('-o', '/dev/null', '-w', 'ok\\n', `${url}/small.txt`);
      void i;
      return run('curl', args, 65);
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const ok = results.reduce((n, r) => n + (r.stdout.match(/^ok$/gm)?.length ?? 0), 0);
  const failed = results.filter((r) => r.status !== 0);
  if (failed.length > 0)
    warnings.push(
      `${failed.length} small-file clients failed: ${failed[0]!.stderr.trim().slice(0, 200)}`,
    );
  const final = s.daemon.peakRss();
  if (final && final.totalKb > peak) {
    peak = final.totalKb;
    procs = final.processes.length;
  }
  void work;
  return {
    passiveDownMBps,
    passiveUpMBps,
    activeDownMBps,
    activeUpMBps,
    smallFilesPerSec: ok > 0 ? ok / wall : null,
    smallFilesOk: ok,
    smallFilesWanted: wanted,
    peakRssKb: peak > 0 ? peak : null,
    rssProcesses: procs,
    warnings,
  };
}

export async function benchFtp(opts: FtpBenchOptions = {}): Promise<FtpBenchRow[]> {
  const work = opts.workDir ?? mkdtempSync(join(tmpdir(), 'netsvc-bench-ftp-'));
  mkdirSync(work, { recursive: true });
  chmodSync(work, 0o755); // vsftpd's user must traverse it
  const progress = opts.progress ?? (() => {});
  const bigBytes = opts.bigBytes ?? 200 * 1024 * 1024;
  const clients = opts.clients ?? 50;
  const filesPerClient = opts.filesPerClient ?? 20;
  const rows: FtpBenchRow[] = [];
  const blank = (server: string, skipped: string): FtpBenchRow => ({
    server,
    skipped,
    passiveDownMBps: null,
    passiveUpMBps: null,
    activeDownMBps: null,
    activeUpMBps: null,
    smallFilesPerSec: null,
    smallFilesOk: 0,
    smallFilesWanted: 0,
    peakRssKb: null,
    rssProcesses: 0,
    loadBefore: [],
    loadAfter: [],
    warnings: [],
  });
  if (!which('curl'))
    return (opts.servers ?? ['netsvc', 'vsftpd']).map((s) => blank(s, 'curl not installed'));
  // One random source file, copied into each server's /pub (page cache warm for both).
  const src = join(work, 'big.bin');
  progress(`ftp: writing ${bigBytes} random bytes`);
  const chunk = randomBytes(1024 * 1024);
  const parts: Buffer[] = [];
  for (let n = 0; n < bigBytes; n += chunk.length)
    parts.push(n + chunk.length <= bigBytes ? chunk : chunk.subarray(0, bigBytes - n));
  writeFileSync(src, Buffer.concat(parts));
  const small = randomBytes(4096);
  try {
    for (const server of opts.servers ?? (['netsvc', 'vsftpd'] as const)) {
      let s: Started | undefined;
      try {
        progress(`ftp: starting ${server}`);
        s =
          server === 'netsvc'
            ? await startNetsvc(work, opts.verbose ?? false)
            : await startVsftpd(work, opts.verbose ?? false);
        execFileSync('cp', [src, join(s.pub, 'big.bin')]);
        writeFileSync(join(s.pub, 'small.txt'), small);
        if (server === 'vsftpd') execFileSync('chown', ['-R', `${USER}:`, s.pub]);
        const loadBefore = loadavg();
        progress(`ftp: measuring ${server}`);
        const m = await measure(s, { clients, filesPerClient }, src, work);
        rows.push({
          server,
          ...(s.version ? { version: s.version } : {}),
          ...m,
          loadBefore,
          loadAfter: loadavg(),
        });
      } catch (e) {
        rows.push(blank(server, (e as Error).message.split('\n')[0] ?? 'failed'));
      } finally {
        await s?.daemon.stop();
        if (server === 'vsftpd') removeUser();
        if (s) rmSync(s.pub, { recursive: true, force: true });
      }
    }
  } finally {
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

/** For bench/run.ts: opsPerSec = small files per second. */
export const ftpScenario: Scenario = {
  name: 'ftp',
  description:
    '200 MiB down/up (curl, passive and active) and 50 concurrent small-file clients; netsvc vs vsftpd',
  unit: 'files/s',
  async run(ctx: BenchContext): Promise<ServerResult[]> {
    const rows = await benchFtp({
      workDir: ctx.workDir,
      keep: true,
      progress: (m) => ctx.progress(m),
      verbose: ctx.verbose,
    });
    return rows.map((r) => {
      const sample: RunSample | undefined =
        r.smallFilesPerSec === null
          ? undefined
          : {
              opsPerSec: r.smallFilesPerSec,
              avgLatencyMs: null,
              p99LatencyMs: null,
              sent: r.smallFilesWanted,
              completed: r.smallFilesOk,
              lost: r.smallFilesWanted - r.smallFilesOk,
              loadBefore: r.loadBefore,
              loadAfter: r.loadAfter,
              wallSeconds: r.smallFilesOk / r.smallFilesPerSec,
              extra: {
                passiveDownMBps: r.passiveDownMBps,
                passiveUpMBps: r.passiveUpMBps,
                activeDownMBps: r.activeDownMBps,
                activeUpMBps: r.activeUpMBps,
              },
              warnings: r.warnings,
            };
      return {
        server: r.server,
        isNetsvc: r.server === 'netsvc',
        ...(r.skipped !== undefined ? { skipped: r.skipped } : {}),
        ...(r.version !== undefined ? { version: r.version } : {}),
        runs: sample ? [sample] : [],
        ...(sample ? { median: sample } : {}),
      };
    });
  },
};
