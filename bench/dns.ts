/**
 * DNS scenario (shared/peers.md §3): the 25-RR zone bench/dns/example.test.zone and the
 * 20-line query file bench/dns/queries.txt (16 existing names incl. two CNAMEs, 4 NXDOMAIN:
 * 80/20 NOERROR/NXDOMAIN), served in turn by netsvc, BIND9 and Knot on 127.0.0.1, each loaded
 * with `timeout S+10 dnsperf -s 127.0.0.1 -p PORT -d queries.txt -l S -c 10` (S =
 * BENCH_SECONDS, default 10; dnsperf defaults: 100 outstanding, 1 thread, no rate limit).
 * Servers run one at a time so they never compete for the 2 cores; dnsperf shares them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/testing/daemon.js';
import {
  netsvcMain,
  startKnot,
  startNamed,
  startNetsvc,
  which,
  type DnsServerOptions,
  type RunningDnsServer,
} from './dns-servers.js';
import {
  median,
  type BenchContext,
  type RunSample,
  type Scenario,
  type ServerResult,
} from './scenario.js';
import { existsSync } from 'node:fs';

interface Candidate {
  readonly server: string;
  readonly isNetsvc: boolean;
  /** Why it cannot run here, or undefined. */
  missing(): string | undefined;
  version(): string | undefined;
  start(opts: DnsServerOptions): Promise<RunningDnsServer>;
}

const versionOf = (cmd: string | undefined, args: string[]): string | undefined => {
  if (cmd === undefined) return undefined;
  try {
    return execFileSync(cmd, args, { stdio: 'pipe' }).toString().trim().split('\n')[0];
  } catch {
    return undefined;
  }
};

const candidates: Candidate[] = [
  {
    server: 'netsvc',
    isNetsvc: true,
    missing: () =>
      existsSync(netsvcMain()) ? undefined : `${netsvcMain()} missing (npm run build)`,
    // Two processes reading the same UDP socket (dns.yaml `workers: 2`): BIND and Knot
    // use every core by default, so this is the like-for-like setting on 2 cores.
    version: () => `node ${process.version}, workers: 2`,
    start: (o) => startNetsvc({ ...o, dnsExtra: { workers: 2 } }),
  },
  {
    server: 'netsvc-1proc',
    isNetsvc: false,
    missing: () =>
      existsSync(netsvcMain()) ? undefined : `${netsvcMain()} missing (npm run build)`,
    version: () => `node ${process.version}, workers: 1`,
    start: (o) => startNetsvc(o),
  },
  {
    server: 'bind9',
    isNetsvc: false,
    missing: () => (which('named') ? undefined : 'named not installed (apt-get install bind9)'),
    version: () => versionOf(which('named'), ['-v']),
    start: (o) => startNamed(o),
  },
  {
    server: 'knot',
    isNetsvc: false,
    missing: () => (which('knotd') ? undefined : 'knotd not installed (apt-get install knot)'),
    version: () => versionOf(which('knotd'), ['--version']),
    start: (o) => startKnot(o),
  },
];

/** Parse dnsperf's summary ("Queries sent: …", "Average Latency (s): …"). */
export function parseDnsperf(
  out: string,
): Omit<RunSample, 'loadBefore' | 'loadAfter' | 'wallSeconds' | 'warnings'> {
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(out);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const qps = num(/Queries per second:\s+([\d.]+)/);
  if (qps === undefined) throw new Error(`dnsperf output not understood:\n${out}`);
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(out);
  const rcodes: Record<string, number> = {};
  const rc = /Response codes:\s+(.*)/.exec(out)?.[1] ?? '';
  for (const m of rc.matchAll(/([A-Z]+) (\d+)/g)) if (m[1] && m[2]) rcodes[m[1]] = Number(m[2]);
  return {
    opsPerSec: qps,
    avgLatencyMs: lat?.[1] ? Number(lat[1]) * 1000 : null,
    p99LatencyMs: null,
    sent: num(/Queries sent:\s+(\d+)/) ?? 0,
    completed: num(/Queries completed:\s+(\d+)/) ?? 0,
    lost: num(/Queries lost:\s+(\d+)/) ?? 0,
    extra: {
      latencyMinMs: lat?.[2] ? Number(lat[2]) * 1000 : null,
      latencyMaxMs: lat?.[3] ? Number(lat[3]) * 1000 : null,
      latencyStdDevMs: (num(/Latency StdDev \(s\):\s+([\d.]+)/) ?? NaN) * 1000,
      responseCodes: rcodes,
      avgPacketSize: /Average packet size:\s+(.*)/.exec(out)?.[1] ?? null,
    },
  };
}

function runDnsperf(port: number, queries: string, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = [String(seconds + 10), 'dnsperf', '-s', '127.0.0.1', '-p', String(port)];
    args.push('-d', queries, '-l', String(seconds), '-c', '10');
    const p = spawn('timeout', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`dnsperf exited with ${code === 124 ? 'timeout' : code}:\n${out}`));
    });
  });
}

export const dnsScenario: Scenario = {
  name: 'dns',
  description:
    'authoritative DNS, example.test (25 RRs), 20 queries 80/20 NOERROR/NXDOMAIN, dnsperf -c 10 over UDP',
  unit: 'queries/s',
  async run(ctx: BenchContext): Promise<ServerResult[]> {
    const zone = join(ctx.root, 'bench', 'dns', 'example.test.zone');
    const queries = join(ctx.root, 'bench', 'dns', 'queries.txt');
    if (which('dnsperf') === undefined) {
      return candidates.map((c) => ({
        server: c.server,
        isNetsvc: c.isNetsvc,
        skipped: 'dnsperf not installed (apt-get install dnsperf)',
        runs: [],
      }));
    }
    const results: ServerResult[] = [];
    for (const c of candidates) {
      const missing = c.missing();
      if (missing !== undefined) {
        ctx.progress(`dns: SKIP ${c.server}: ${missing}`);
        results.push({ server: c.server, isNetsvc: c.isNetsvc, skipped: missing, runs: [] });
        continue;
      }
      const version = c.version();
      const port = await freePort();
      let srv: RunningDnsServer;
      try {
        ctx.progress(`dns: starting ${c.server} on 127.0.0.1:${port}`);
        srv = await c.start({
          dir: join(ctx.workDir, c.server),
          port,
          zones: [{ origin: 'example.test', file: zone }],
          allowTransfer: true,
          verbose: ctx.verbose,
        });
      } catch (e) {
        const why = `failed to start: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`;
        ctx.progress(`dns: SKIP ${c.server}: ${why}`);
        results.push({
          server: c.server,
          isNetsvc: c.isNetsvc,
          skipped: why,
          runs: [],
          ...(version ? { version } : {}),
        });
        continue;
      }
      const runs: RunSample[] = [];
      try {
        ctx.progress(
          `dns: ${c.server} ready in ${srv.daemon.startupMs.toFixed(0)} ms (pid ${srv.daemon.pid})`,
        );
        for (let i = 1; i <= ctx.runs; i++) {
          const loadBefore = loadavg();
          ctx.progress(
            `dns: ${c.server} run ${i}/${ctx.runs}: dnsperf -l ${ctx.seconds} -c 10 (load ${loadBefore.map((l) => l.toFixed(2)).join(' ')})`,
          );
          const t0 = performance.now();
          const out = await runDnsperf(port, queries, ctx.seconds);
          const wallSeconds = (performance.now() - t0) / 1000;
          const loadAfter = loadavg();
          const parsed = parseDnsperf(out);
          const warnings: string[] = [];
          const rc = parsed.extra.responseCodes as Record<string, number>;
          const total = Object.values(rc).reduce((s, n) => s + n, 0);
          const noerr = total > 0 ? (rc.NOERROR ?? 0) / total : 0;
          if (Math.abs(noerr - 0.8) > 0.01)
            warnings.push(
              `NOERROR share ${(noerr * 100).toFixed(1)} % (expected 80 %): ${JSON.stringify(rc)}`,
            );
          if (parsed.lost > 0) warnings.push(`${parsed.lost} queries lost`);
          // peers.md pitfall 1: a busy machine makes the figures meaningless.
          const busy = Math.max(loadBefore[0] ?? 0, loadAfter[0] ?? 0);
          if (busy > cpus().length)
            warnings.push(`machine busy (load ${busy.toFixed(1)} on ${cpus().length} CPUs)`);
          if (!srv.daemon.running()) warnings.push('server exited during the run');
          const sample: RunSample = { ...parsed, loadBefore, loadAfter, wallSeconds, warnings };
          runs.push(sample);
          ctx.progress(
            `dns: ${c.server} run ${i}: ${Math.round(sample.opsPerSec)} q/s, avg ${sample.avgLatencyMs?.toFixed(3) ?? '-'} ms, lost ${sample.lost}` +
              (warnings.length ? `  WARN ${warnings.join('; ')}` : ''),
          );
        }
      } catch (e) {
        ctx.progress(`dns: ${c.server} run failed: ${(e as Error).message}`);
      }
      const rss = srv.daemon.peakRss();
      await srv.daemon.stop();
      const med = median(runs);
      results.push({
        server: c.server,
        isNetsvc: c.isNetsvc,
        runs,
        ...(version ? { version } : {}),
        ...(med ? { median: med } : {}),
        ...(rss ? { rss } : {}),
        ...(runs.length === 0 ? { skipped: 'no successful run' } : {}),
      });
    }
    return results;
  },
};
