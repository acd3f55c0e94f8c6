/**
 * `node dist/bench/scale/run.js [dhcp|sip|ftp…]` (issue 17): what each item costs netsvc
 * and its C peer as the item count grows, at two sizes, in one run — DHCP leases (Kea),
 * SIP bindings (Kamailio), FTP sessions (vsftpd). Per server and size: load (create) time,
 * items/s, memory idle and after, bytes per item (PSS, and RSS alongside) and the
 * netsvc/peer ratio of bytes per item. One table at the end; JSON in
 * bench/results/scale-<time>.json.
 *
 * Environment: BENCH_SCALE_<DHCP|SIP|FTP>_SIZES (two comma-separated counts; defaults
 * 10000,50000 / 2000,10000 / 100,500), BENCH_SCALE_IDLE_S (3), BENCH_SCALE_SETTLE_S (5),
 * BENCH_SCALE_SIP_SETTLE_S (35), BENCH_SCALE_DHCP_RATE (perfdhcp's offered exchanges/s,
 * 1000), BENCH_KEEP=1 keeps the scratch folder. Needs root (a network namespace
 * for DHCP, a system user for vsftpd); both are removed at the end, also on failure.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../dns-servers.js';
import { namespaceDown } from '../dhcp.js';
import type { ScaleRow } from './common.js';
import { DHCP_SIZES, scaleDhcp } from './dhcp.js';
import { SIP_SIZES, scaleSip } from './sip.js';
import { FTP_SIZES, cleanupFtp, scaleFtp } from './ftp.js';

type Group = (
  work: string,
  progress: (m: string) => void,
  sizes: readonly number[],
) => Promise<ScaleRow[]>;

const groups: Record<string, { run: Group; sizes: readonly number[]; cleanup: () => void }> = {
  dhcp: { run: scaleDhcp, sizes: DHCP_SIZES, cleanup: namespaceDown },
  sip: { run: scaleSip, sizes: SIP_SIZES, cleanup: () => undefined },
  ftp: { run: scaleFtp, sizes: FTP_SIZES, cleanup: cleanupFtp },
};

function sizesFor(name: string, def: readonly number[]): readonly number[] {
  const v = process.env[`BENCH_SCALE_${name.toUpperCase()}_SIZES`];
  if (v === undefined || v === '') return def;
  const sizes = v.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`BENCH_SCALE_${name.toUpperCase()}_SIZES: positive integers, got ${v}`);
  return sizes;
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);

function tableRows(rows: readonly ScaleRow[]): string[][] {
  const out: string[][] = [
    [
      'service',
      'server',
      'items',
      'create s',
      'items/s',
      'idle MB',
      'after MB',
      'B/item PSS',
      'B/item RSS',
      'PSS netsvc/peer',
      'Δ B/item PSS',
      'notes',
    ],
  ];
  for (const r of rows) {
    if (r.skipped !== undefined) {
      out.push([r.service, r.server, String(r.wanted), '', '', '', '', '', '', '', '', r.skipped]);
      continue;
    }
    // The ratio goes on the peer's row, against netsvc at the same size (as bench/run.ts).
    const ours = rows.find(
      (o) => o.isNetsvc && o.service === r.service && o.wanted === r.wanted && !o.skipped,
    );
    const ratio =
      !r.isNetsvc && ours?.bytesPerItemPss !== undefined && r.bytesPerItemPss
        ? fmt(ours.bytesPerItemPss / r.bytesPerItemPss, 2)
        : '';
    // Growth between the sizes: how much more the larger run grew than the smaller one, per
    // extra item. Growth (after − idle) already leaves out what a size costs at rest (netsvc
    // SIP's N configured extensions); the difference of two growths also cancels the fixed
    // cost of the first items (scrypt's heap for FTP, the first SQLite pages): the slope.
    const smaller = rows
      .filter(
        (o) =>
          o.service === r.service &&
          o.server === r.server &&
          o.after &&
          o.idle &&
          o.verified !== undefined &&
          r.verified !== undefined &&
          o.verified < r.verified,
      )
      .at(-1);
    const grown = (o: ScaleRow | undefined): number | undefined =>
      o?.after && o.idle ? o.after.pssKb - o.idle.pssKb : undefined;
    const g1 = grown(smaller);
    const g2 = grown(r);
    const slope =
      g1 !== undefined &&
      g2 !== undefined &&
      smaller?.verified !== undefined &&
      r.verified !== undefined
        ? ((g2 - g1) * 1024) / (r.verified - smaller.verified)
        : undefined;
    out.push([
      r.service,
      r.server,
      r.verified === r.wanted ? String(r.wanted) : `${r.verified ?? 0}/${r.wanted}`,
      fmt(r.createS, 1),
      fmt(r.verified !== undefined && r.createS ? r.verified / r.createS : undefined),
      fmt(r.idle && r.idle.pssKb / 1024, 1) +
        (r.idle && r.idle.processes > 1 ? `(${r.idle.processes}p)` : ''),
      fmt(r.after && r.after.pssKb / 1024, 1) +
        (r.after && r.after.processes > 1 ? `(${r.after.processes}p)` : ''),
      fmt(r.bytesPerItemPss),
      fmt(r.bytesPerItemRss),
      ratio,
      fmt(slope),
      r.notes.join('; '),
    ]);
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r, ri) => {
      const line = r
        .map((c, i) =>
          i < 2 || i === r.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0),
        )
        .join('  ')
        .trimEnd();
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !(w in groups));
  if (unknown.length > 0) {
    console.error(
      `unknown group(s): ${unknown.join(', ')}; known: ${Object.keys(groups).join(', ')}`,
    );
    process.exit(2);
  }
  const chosen = Object.keys(groups).filter((g) => wanted.length === 0 || wanted.includes(g));
  const started = new Date();
  const progress = (msg: string): void => {
    const t = ((Date.now() - started.getTime()) / 1000).toFixed(1).padStart(6);
    console.log(`[${t}s] ${msg}`);
  };
  // Undo the namespace and the system user whatever happens; daemons are killed by
  // src/testing/daemon.ts's own exit hook. A signal becomes an exit so both hooks run.
  const cleanups = chosen.map((g) => groups[g]!.cleanup);
  process.on('exit', () => {
    for (const c of cleanups) c();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => process.exit(130));

  const root = repoRoot();
  const work = mkdtempSync(join(tmpdir(), 'netsvc-bench-scale-'));
  progress(
    `scale: ${chosen.join(', ')}; ${cpus().length} CPUs; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; scratch ${work}`,
  );
  const rows: ScaleRow[] = [];
  try {
    for (const g of chosen) {
      const group = groups[g]!;
      try {
        rows.push(...(await group.run(work, progress, sizesFor(g, group.sizes))));
      } catch (e) {
        const why = (e as Error).message.split('\n')[0] ?? 'failed';
        rows.push({
          service: g,
          server: 'all',
          isNetsvc: false,
          wanted: 0,
          skipped: `failed: ${why}`,
          notes: [],
        });
      } finally {
        group.cleanup();
      }
    }
  } finally {
    if (process.env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  }
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `scale-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        scenario: 'scale',
        started: started.toISOString(),
        host: hostname(),
        cpus: cpus().length,
        node: process.version,
        rows,
      },
      null,
      2,
    ) + '\n',
  );
  console.log('');
  console.log(table(tableRows(rows)));
  console.log('');
  console.log(
    'idle/after MB: PSS summed over the server process tree ((Np) = N processes); B/item = (after − idle) / items held.',
  );
  console.log(
    "PSS netsvc/peer: netsvc bytes per item divided by the peer's at the same size (> 1: netsvc bigger).",
  );
  console.log(
    'Δ B/item PSS: (growth at the larger size − growth at the smaller) / (items − items), growth = after − idle: the slope.',
  );
  console.log(`results: ${file}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
