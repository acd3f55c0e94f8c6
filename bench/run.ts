/**
 * `npm run bench [name…]`: run the named benchmark scenarios (default: all), print progress
 * while they run and a table at the end — ops/s, latency, lost, peak RSS of each server and
 * the netsvc/peer ratios — and write the results as JSON to bench/results/<name>-<time>.json.
 *
 * Environment: BENCH_SECONDS (load duration per run, default 10), BENCH_RUNS (runs per
 * server, default 1; the median run is reported), BENCH_VERBOSE=1 (echo daemon logs),
 * BENCH_KEEP=1 (keep the scratch folders). Figures are "server plus load generator on the
 * same machine": compare servers only within one run of this script (shared/peers.md).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './dns-servers.js';
import { dnsScenario } from './dns.js';
import { dnsUpdateScenario } from './dns-update.js';
import { dhcpScenario } from './dhcp.js';
import { ftpScenario } from './ftp.js';
import { httpScenario, httpImageScenario, httpH2Scenario } from './http.js';
import { sipScenario, rtpScenario } from './voip.js';
import type { Scenario, ServerResult } from './scenario.js';

/** Every scenario, in run order. Add dhcp/http/ftp/sip here as bench/<name>.ts files. */
const scenarios: readonly Scenario[] = [
  dnsScenario,
  dnsUpdateScenario,
  dhcpScenario,
  ftpScenario,
  httpScenario,
  httpImageScenario,
  httpH2Scenario,
  sipScenario,
  rtpScenario,
];

function envInt(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r, ri) => {
      const line = r
        .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

function summaryRows(scenario: Scenario, results: readonly ServerResult[]): string[][] {
  const ours = results.find((r) => r.isNetsvc);
  const rows: string[][] = [];
  for (const r of results) {
    if (r.skipped !== undefined && r.median === undefined) {
      rows.push([scenario.name, r.server, 'skipped', '', '', '', '', '', '', r.skipped]);
      continue;
    }
    const m = r.median;
    const ratio = (a: number | undefined, b: number | undefined): string =>
      r.isNetsvc || a === undefined || b === undefined || b === 0 ? '' : (a / b).toFixed(2);
    rows.push([
      scenario.name,
      r.server,
      fmt(m?.opsPerSec),
      fmt(m?.avgLatencyMs, 3),
      fmt(m?.p99LatencyMs, 3),
      fmt(m?.lost),
      r.rss
        ? (r.rss.totalKb / 1024).toFixed(1) +
          (r.rss.processes.length > 1 ? `(${r.rss.processes.length}p)` : '')
        : '-',
      ratio(ours?.median?.opsPerSec, m?.opsPerSec),
      ratio(ours?.rss?.totalKb, r.rss?.totalKb),
      m
        ? `${fmt(m.loadBefore[0], 2)}→${fmt(m.loadAfter[0], 2)}` +
          (m.warnings.length ? ` WARN: ${m.warnings.join('; ')}` : '')
        : '',
    ]);
  }
  return rows;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
  if (unknown.length > 0) {
    console.error(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`,
    );
    process.exit(2);
  }
  const chosen = wanted.length > 0 ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;
  const seconds = envInt('BENCH_SECONDS', 10);
  const runs = envInt('BENCH_RUNS', 1);
  const root = repoRoot();
  const started = new Date();
  const progress = (msg: string): void => {
    const t = ((Date.now() - started.getTime()) / 1000).toFixed(1).padStart(6);
    console.log(`[${t}s] ${msg}`);
  };
  progress(
    `bench: ${chosen.map((s) => s.name).join(', ')}; ${seconds} s per run, ${runs} run(s) per server; ` +
      `${cpus().length} CPUs; load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const header = [
    'scenario',
    'server',
    'ops/s',
    'avg ms',
    'p99 ms',
    'lost',
    'peak RSS MB',
    'ops netsvc/peer',
    'RSS netsvc/peer',
    'load 1m before→after',
  ];
  const allRows: string[][] = [header];
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  for (const s of chosen) {
    const workDir = mkdtempSync(join(tmpdir(), `netsvc-bench-${s.name}-`));
    progress(`${s.name}: ${s.description} (scratch ${workDir})`);
    let results: ServerResult[] = [];
    try {
      results = await s.run({
        seconds,
        runs,
        workDir,
        root,
        verbose: process.env.BENCH_VERBOSE === '1',
        progress,
      });
    } finally {
      if (process.env.BENCH_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
    }
    const file = join(resultsDir, `${s.name}-${stamp}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        {
          scenario: s.name,
          description: s.description,
          unit: s.unit,
          started: started.toISOString(),
          host: hostname(),
          cpus: cpus().length,
          node: process.version,
          seconds,
          runsPerServer: runs,
          results,
        },
        null,
        2,
      ) + '\n',
    );
    progress(`${s.name}: results written to ${file}`);
    allRows.push(...summaryRows(s, results));
  }
  console.log('');
  console.log(table(allRows));
  console.log('');
  console.log(
    'ops/s and latency: median run; peak RSS: VmHWM (summed over processes, (Np) = N processes).',
  );
  console.log(
    'ratios: netsvc divided by the peer (ops > 1 = netsvc faster; RSS > 1 = netsvc bigger).',
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
