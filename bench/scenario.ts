/**
 * What a benchmark scenario is, for bench/run.ts. A scenario (bench/dns.ts; later dhcp, http,
 * ftp, sip) starts netsvc and each installed peer one at a time, drives the same load
 * against each with the peer's usual tool, and returns one result per server. It never
 * throws for a missing peer: it returns that server with `skipped` set.
 */
import type { PeakRss } from '../src/testing/daemon.js';

export interface BenchContext {
  /** Load duration per run, seconds (env BENCH_SECONDS, default 10). */
  readonly seconds: number;
  /** Runs per server (env BENCH_RUNS, default 1); the median by ops/s is reported. */
  readonly runs: number;
  /** Scratch folder for this scenario (removed afterwards unless BENCH_KEEP=1). */
  readonly workDir: string;
  /** Repository root. */
  readonly root: string;
  /** Echo daemon logs (env BENCH_VERBOSE=1). */
  readonly verbose: boolean;
  /** Print a progress line. */
  progress(msg: string): void;
}

export interface RunSample {
  readonly opsPerSec: number;
  readonly avgLatencyMs: number | null;
  /** Only when the load tool reports it (dnsperf 2.10 does not). */
  readonly p99LatencyMs: number | null;
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  /** os.loadavg() just before and just after the run (peers.md pitfall 1). */
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly wallSeconds: number;
  /** Tool-specific figures (latency min/max/stddev, response codes…). */
  readonly extra: Readonly<Record<string, unknown>>;
  /** Sanity problems noticed in this run (unexpected rcodes, tool errors). */
  readonly warnings: readonly string[];
}

export interface ServerResult {
  readonly server: string;
  readonly isNetsvc: boolean;
  /** Why this server was not measured (binary missing, failed to start). */
  readonly skipped?: string;
  readonly version?: string;
  readonly runs: readonly RunSample[];
  /** The run with the median ops/s. */
  readonly median?: RunSample;
  /** Peak RSS of the server after its runs (VmHWM; summed over processes). */
  readonly rss?: PeakRss;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Unit of opsPerSec ("queries/s"). */
  readonly unit: string;
  run(ctx: BenchContext): Promise<ServerResult[]>;
}

export function median(samples: readonly RunSample[]): RunSample | undefined {
  const sorted = [...samples].sort((a, b) => a.opsPerSec - b.opsPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
