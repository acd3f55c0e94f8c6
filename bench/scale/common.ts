/**
 * Shared pieces of the scale scenario (bench/scale/run.ts, issue 17): what one measurement
 * is, how memory is read, and the fixed sequence every server goes through.
 *
 * Memory is read from /proc/PID/smaps_rollup (proc(5), Linux 4.14+) for the daemon's leader
 * and every live descendant: Pss (pages shared between processes divided among their
 * users) summed is the fair figure for daemons that fork per session (vsftpd) or share a
 * pool between children (Kamailio's shm); Rss summed is given alongside, and counts shared
 * pages once per process. Bytes per item = (after − idle) / items verified.
 *
 * The sequence (`measureServer`): start fresh, wait `idleS`, read memory; create the items
 * (timed); wait `settleS`; count the items the server really holds; read memory again;
 * stop. A failure anywhere becomes a row with a note, never an exception: the other rows
 * still run.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { descendants, type Daemon } from '../../src/testing/daemon.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Memory of a process tree at one instant, KiB. */
export interface TreeMemory {
  readonly pssKb: number;
  readonly rssKb: number;
  readonly processes: number;
}

/** Pss/Rss of one process from smaps_rollup (VmRSS for Rss and Pss if it is missing). */
function processMemory(pid: number): { pssKb: number; rssKb: number } | undefined {
  const field = (text: string, name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const pss = field(rollup, 'Pss');
    const rss = field(rollup, 'Rss');
    if (pss !== undefined && rss !== undefined) return { pssKb: pss, rssKb: rss };
  } catch {
    /* gone, a zombie, or a kernel without smaps_rollup: try status */
  }
  try {
    const rss = field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
    return rss === undefined ? undefined : { pssKb: rss, rssKb: rss };
  } catch {
    return undefined;
  }
}

/** Pss and Rss summed over `root` and its live descendants. */
export function treeMemory(root: number): TreeMemory {
  let pssKb = 0;
  let rssKb = 0;
  let processes = 0;
  for (const pid of [root, ...descendants(root)]) {
    const m = processMemory(pid);
    if (!m) continue;
    pssKb += m.pssKb;
    rssKb += m.rssKb;
    processes++;
  }
  return { pssKb, rssKb, processes };
}

/** One line of the closing table (and of the JSON). */
export interface ScaleRow {
  readonly service: string;
  readonly server: string;
  readonly isNetsvc: boolean;
  /** Items asked for. */
  readonly wanted: number;
  /** Items the server was seen to hold (metrics, lease file, kamcmd, 230 replies). */
  readonly verified?: number;
  /** How `verified` was counted. */
  readonly verifiedBy?: string;
  readonly createS?: number;
  readonly idle?: TreeMemory;
  readonly after?: TreeMemory;
  readonly bytesPerItemPss?: number;
  readonly bytesPerItemRss?: number;
  readonly version?: string;
  readonly loadBefore?: readonly number[];
  readonly loadAfter?: readonly number[];
  /** Why the row has no figures (binary missing, start failed). */
  readonly skipped?: string;
  readonly notes: readonly string[];
  /** Tool output and counters kept for the JSON. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** What a service's file supplies for one server at one size. */
export interface ServerPlan<S> {
  readonly service: string;
  readonly server: string;
  readonly isNetsvc: boolean;
  readonly wanted: number;
  /** Start the server fresh; throw with a reason when it cannot run. */
  start(): Promise<S>;
  daemon(s: S): Daemon;
  /** Create the items; the caller times it. Returns notes and figures for the JSON. */
  create(s: S): Promise<{ notes?: string[]; extra?: Record<string, unknown> }>;
  /** Count the items the server holds now. */
  verify(s: S): Promise<{ count: number; by: string }>;
  /** Stop the server and undo what start() set up (the load's sockets included). */
  stop(s: S): Promise<void>;
  readonly idleS: number;
  readonly settleS: number;
  readonly version?: string;
}

export async function measureServer<S>(
  plan: ServerPlan<S>,
  progress: (msg: string) => void,
): Promise<ScaleRow> {
  const base = {
    service: plan.service,
    server: plan.server,
    isNetsvc: plan.isNetsvc,
    wanted: plan.wanted,
    ...(plan.version !== undefined ? { version: plan.version } : {}),
  };
  const label = `${plan.service} ${plan.server} ×${plan.wanted}`;
  let s: S;
  try {
    progress(`${label}: starting`);
    s = await plan.start();
  } catch (e) {
    const why = (e as Error).message.split('\n')[0] ?? 'failed';
    progress(`${label}: not measured: ${why}`);
    return { ...base, skipped: why, notes: [] };
  }
  try {
    const pid = plan.daemon(s).pid;
    await sleep(plan.idleS * 1000);
    const idle = treeMemory(pid);
    progress(
      `${label}: idle ${(idle.pssKb / 1024).toFixed(1)} MB PSS (${idle.processes} processes); creating`,
    );
    const loadBefore = loadavg();
    const t0 = performance.now();
    const made = await plan.create(s);
    const createS = (performance.now() - t0) / 1000;
    const loadAfter = loadavg();
    progress(`${label}: created in ${createS.toFixed(1)} s; settling ${plan.settleS} s`);
    await sleep(plan.settleS * 1000);
    const seen = await plan.verify(s);
    const after = treeMemory(pid);
    const notes = [...(made.notes ?? [])];
    if (!plan.daemon(s).running()) notes.push('server exited during the run');
    if (seen.count < plan.wanted) notes.push(`only ${seen.count} of ${plan.wanted} items held`);
    const per = (a: number, b: number): number | undefined =>
      seen.count > 0 ? ((a - b) * 1024) / seen.count : undefined;
    const bytesPerItemPss = per(after.pssKb, idle.pssKb);
    const bytesPerItemRss = per(after.rssKb, idle.rssKb);
    progress(
      `${label}: ${seen.count} held (${seen.by}); after ${(after.pssKb / 1024).toFixed(1)} MB PSS; ` +
        `${bytesPerItemPss?.toFixed(0) ?? '-'} B/item`,
    );
    return {
      ...base,
      verified: seen.count,
      verifiedBy: seen.by,
      createS,
      idle,
      after,
      ...(bytesPerItemPss !== undefined ? { bytesPerItemPss } : {}),
      ...(bytesPerItemRss !== undefined ? { bytesPerItemRss } : {}),
      loadBefore,
      loadAfter,
      notes,
      ...(made.extra ? { extra: made.extra } : {}),
    };
  } catch (e) {
    const why = (e as Error).message.split('\n')[0] ?? 'failed';
    progress(`${label}: failed: ${why}`);
    return { ...base, skipped: `failed: ${why}`, notes: [] };
  } finally {
    await plan.stop(s);
  }
}

/** A row for a server that cannot run at all (binary or tool missing). */
export function missing(
  service: string,
  server: string,
  isNetsvc: boolean,
  wanted: number,
  why: string,
): ScaleRow {
  return { service, server, isNetsvc, wanted, skipped: why, notes: [] };
}

/** A number ≥ 0 from the environment (seconds, a rate), or the default. */
export function envNumber(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0, got ${v}`);
  return n;
}
