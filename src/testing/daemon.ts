/**
 * Run a daemon in the foreground for a test or a benchmark, and always clean it up.
 *
 * `startDaemon()` spawns the command in its own process group (so the whole tree can be
 * signalled at once), keeps the tail of its stdout/stderr, and resolves once every readiness
 * probe holds: a TCP port accepts, an HTTP URL answers 200 (`/readyz`), a log pattern
 * appeared, or a custom async check returns true. It rejects (after killing the tree, with
 * the output tail in the message) if the process exits first or the deadline passes.
 *
 * `peakRss()` reads VmHWM from /proc/PID/status for the leader and every descendant (found by
 * PPid), summing them for multi-process daemons; the sum double-counts shared pages, which
 * the result says (`processes > 1`). `stop()` samples the peak RSS first, then sends SIGTERM
 * to the group, escalates to SIGKILL after a grace period, and also kills descendants that
 * left the group. Every live daemon is killed synchronously when the current process exits
 * or receives SIGINT/SIGTERM/SIGHUP, so a failing or timed-out test leaves nothing behind
 * (a SIGKILL of the test process itself cannot be caught: that case is not covered).
 *
 * Linux only (/proc). Not for production code: imported only by tests and bench/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

/** One readiness condition; all conditions given must hold. */
export type ReadyProbe =
  | { readonly tcp: { readonly host: string; readonly port: number } }
  | { readonly http: string }
  | { readonly log: RegExp }
  | { readonly check: () => Promise<boolean> };

export interface DaemonOptions {
  /** Short label used in messages ("netsvc", "named"). */
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly cwd?: string;
  /**
   * Full environment; defaults to process.env without NODE_OPTIONS (a test runner's loaders
   * and coverage hooks must not leak into the daemon under test).
   */
  readonly env?: NodeJS.ProcessEnv;
  readonly ready: ReadyProbe | readonly ReadyProbe[];
  /** Deadline for readiness, ms. Default 20 000. */
  readonly readyTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL, ms. Default 5 000. */
  readonly stopTimeoutMs?: number;
  /** Bytes of output kept. Default 256 KiB. */
  readonly keepOutputBytes?: number;
  /** Called for every output line (e.g. to echo with a prefix). */
  readonly onLine?: (line: string) => void;
  /** Give the child a stdin pipe (`child.stdin`) for interactive programs such as linphonec. */
  readonly stdin?: boolean;
  /** Registers cleanup with a test (tap's `t`); registered before readiness is awaited. */
  readonly teardown?: { teardown(fn: () => unknown): void };
}

export interface ProcessRss {
  readonly pid: number;
  readonly comm: string;
  /** VmHWM, peak resident set size, in KiB. */
  readonly peakKb: number;
  /** VmRSS at the time of reading, in KiB. */
  readonly rssKb: number;
}

export interface PeakRss {
  /** Sum of VmHWM over the processes found (KiB). */
  readonly totalKb: number;
  readonly processes: readonly ProcessRss[];
  /** Human note, e.g. "sum of 4 processes (shared pages counted more than once)". */
  readonly note: string;
}

export interface StopResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Whether SIGKILL was needed. */
  readonly killed: boolean;
  /** Peak RSS sampled just before the stop signal (undefined if already gone). */
  readonly rss: PeakRss | undefined;
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Time from spawn to readiness, ms. */
  readonly startupMs: number;
  /** The kept output (stdout and stderr interleaved). */
  output(): string;
  /** Whether the leader is still running. */
  running(): boolean;
  /** Leader plus every live descendant. */
  pids(): number[];
  peakRss(): PeakRss | undefined;
  /** Idempotent; resolves once the leader has exited and the group has been killed. */
  stop(): Promise<StopResult>;
}

const live = new Set<{ pid: number; kill: () => void }>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const d of live) d.kill();
    live.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killAll();
      process.removeListener(sig, handler);
      // Re-raise so the default action (or another handler such as tap's) still happens.
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/** Parent PID of a process, or undefined if it is gone. */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    return Number.isFinite(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (not including root), from /proc PPid links. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = ppidOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** VmHWM/VmRSS of one process, or undefined if it is gone (or a zombie). */
export function processRss(pid: number): ProcessRss | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const peakKb = field('VmHWM');
  if (peakKb === undefined) return undefined; // zombie or kernel thread
  const comm = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
  return { pid, comm, peakKb, rssKb: field('VmRSS') ?? 0 };
}

/** Peak RSS of a process tree (leader + descendants). */
export function treePeakRss(root: number): PeakRss | undefined {
  const procs = [root, ...descendants(root)]
    .map(processRss)
    .filter((p): p is ProcessRss => p !== undefined);
  if (procs.length === 0) return undefined;
  const totalKb = procs.reduce((s, p) => s + p.peakKb, 0);
  const note =
    procs.length === 1
      ? `single process (${procs[0]?.comm ?? '?'})`
      : `sum of ${procs.length} processes (${procs.map((p) => p.comm).join(', ')}); shared pages counted more than once`;
  return { totalKb, processes: procs, note };
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* ESRCH: already gone */
  }
}

function probeTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function probeHttp(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  hookExit();
  const keep = opts.keepOutputBytes ?? 256 * 1024;
  const probes: readonly ReadyProbe[] = Array.isArray(opts.ready)
    ? (opts.ready as readonly ReadyProbe[])
    : [opts.ready as ReadyProbe];
  const t0 = performance.now();
  const child = spawn(opts.command, [...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: opts.env ?? cleanEnv(),
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true, // own process group: kill(-pid) reaches the whole tree
  });
  let out = '';
  let partial = '';
  const onData = (buf: Buffer): void => {
    const text = buf.toString('utf8');
    out += text;
    if (out.length > keep) out = out.slice(out.length - keep);
    if (opts.onLine) {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited ??= { code: null, signal: null };
      resolve();
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    await exitPromise;
    throw new Error(`${opts.name}: cannot spawn ${opts.command}: ${spawnError?.message ?? '?'}`);
  }

  /** Pids of the tree, remembered while alive so that stragglers can still be killed. */
  const known = new Set<number>([pid]);
  const refresh = (): number[] => {
    if (exited === undefined) for (const d of descendants(pid)) known.add(d);
    return [...known];
  };
  const killNow = (): void => {
    refresh();
    signalPid(-pid, 'SIGKILL');
    for (const p of known) signalPid(p, 'SIGKILL');
  };
  const entry = { pid, kill: killNow };
  live.add(entry);

  let stopping: Promise<StopResult> | undefined;
  const stop = (): Promise<StopResult> => {
    stopping ??= (async () => {
      const rss = exited === undefined ? treePeakRss(pid) : undefined;
      refresh();
      let killed = false;
      if (exited === undefined) {
        signalPid(-pid, 'SIGTERM');
        const grace = opts.stopTimeoutMs ?? 5000;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((r) => {
          timer = setTimeout(() => r('timeout'), grace);
        });
        const first = await Promise.race([exitPromise.then(() => 'exit' as const), timeout]);
        clearTimeout(timer);
        if (first === 'timeout') {
          killed = true;
          killNow();
          await exitPromise;
        }
      }
      // Whatever is left of the group or the tree (children that outlived the leader).
      signalPid(-pid, 'SIGKILL');
      for (const p of known) if (p !== pid) signalPid(p, 'SIGKILL');
      live.delete(entry);
      child.stdout?.destroy();
      child.stderr?.destroy();
      return { code: exited?.code ?? null, signal: exited?.signal ?? null, killed, rss };
    })();
    return stopping;
  };

  opts.teardown?.teardown(stop);

  const deadline = t0 + (opts.readyTimeoutMs ?? 20_000);
  const pending = new Set(probes);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      const how = spawnError
        ? spawnError.message
        : `exit code ${exited.code ?? '-'} signal ${exited.signal ?? '-'}`;
      throw new Error(`${opts.name} exited before it was ready (${how}); output:\n${tail(out)}`);
    }
    for (const p of [...pending]) {
      let ok: boolean;
      if ('tcp' in p) ok = await probeTcp(p.tcp.host, p.tcp.port);
      else if ('http' in p) ok = await probeHttp(p.http);
      else if ('log' in p) ok = p.log.test(out);
      else ok = await p.check().catch(() => false);
      if (ok) pending.delete(p);
    }
    if (pending.size === 0) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(
        `${opts.name} not ready after ${opts.readyTimeoutMs ?? 20_000} ms; output:\n${tail(out)}`,
      );
    }
    await sleep(50);
  }
  refresh();
  const startupMs = performance.now() - t0;
  return {
    name: opts.name,
    pid,
    child,
    startupMs,
    output: () => out,
    running: () => exited === undefined,
    pids: () => (exited === undefined ? [pid, ...descendants(pid)] : []),
    peakRss: () => (exited === undefined ? treePeakRss(pid) : undefined),
    stop,
  };
}

/**
 * process.env without NODE_OPTIONS and NODE_V8_COVERAGE (a test runner's loaders and its
 * coverage collection, which would map a built daemon's dist/*.js onto the .ts sources),
 * plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  delete env.NODE_V8_COVERAGE;
  return env;
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * A port number free on 127.0.0.1 for both TCP and UDP at the time of the call (a DNS server
 * binds both). There is a small race until the caller binds it; tests accept that.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const srv = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, host, () => {
        const a = srv.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, host, () => resolve(true));
    });
    await new Promise<void>((r) => srv.close(() => r()));
    if (udpOk) await new Promise<void>((r) => udp.close(() => r()));
    else
      try {
        udp.close();
      } catch {
        /* never bound */
      }
    if (udpOk && port !== 0) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/** Several distinct free ports. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}

/** Whether `port` can be bound on `host` for TCP and UDP right now. */
async function bindable(port: number, host: string): Promise<boolean> {
  const srv = createServer();
  const tcpOk = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => resolve(true));
  });
  if (tcpOk) await new Promise<void>((r) => srv.close(() => r()));
  if (!tcpOk) return false;
  const udp = createSocket('udp4');
  const udpOk = await new Promise<boolean>((resolve) => {
    udp.once('error', () => resolve(false));
    udp.bind(port, host, () => resolve(true));
  });
  if (udpOk) await new Promise<void>((r) => udp.close(() => r()));
  else
    try {
      udp.close();
    } catch {
      /* never bound */
    }
  return udpOk;
}

/**
 * `n` first ports of runs of `width` consecutive free ports, the runs apart from each other
 * and from `avoid`: for clients that bind beside the port they are given (baresip opens
 * SIP/TLS on its sip_listen port + 1; a neighbour's listener there made it exit).
 */
export async function freePortRuns(
  n: number,
  width: number,
  avoid: readonly number[] = [],
  host = '127.0.0.1',
): Promise<number[]> {
  const taken = new Set(avoid);
  const out: number[] = [];
  for (let attempt = 0; out.length < n; attempt++) {
    if (attempt >= 200) throw new Error(`no ${n} runs of ${width} free ports`);
    const p = await freePort(host);
    const run = Array.from({ length: width }, (_, i) => p + i);
    if (run.some((q) => q > 65535 || taken.has(q))) continue;
    let free = true;
    for (const q of run.slice(1)) if (!(free = await bindable(q, host))) break;
    if (!free) continue;
    for (const q of run) taken.add(q);
    out.push(p);
  }
  return out;
}
