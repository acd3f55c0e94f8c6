/**
 * `netsvc status [--json]`: every service of every admin listener, with its state, the
 * uptime and RSS of the process running it, and a few counters (src/observe/snapshot.ts
 * KEY_COUNTERS). One scrape, so counters are totals, not rates (the monitor charts rates).
 */
import { extract } from '../observe/derive-series.js';
import { scrapeTarget } from '../observe/scrape-client.js';
import { buildStatus, type Status } from '../observe/snapshot.js';
import type { AdminTarget } from './targets.js';
import { formatBytes, formatDuration, formatTable } from './table.js';

export async function collectStatus(
  targets: readonly AdminTarget[],
  timeoutMs: number,
): Promise<Status> {
  const scrapes = await Promise.all(
    targets.map((t) => scrapeTarget(t, timeoutMs, { state: false })),
  );
  const values = new Map<string, number>();
  // Gauges only (RSS): request and error rates need two scrapes, so no service rules.
  for (const s of scrapes) {
    for (const [k, v] of extract(s.target, s.samples, []).gauges) values.set(k, v);
  }
  return buildStatus(Math.round(Date.now() / 1000), 0, scrapes, values);
}

export function renderStatus(st: Status): string {
  const rows: string[][] = [];
  for (const t of st.targets) {
    if (!t.up) {
      rows.push(['-', 'DOWN', '-', t.name, '-', t.error ?? 'unreachable']);
      continue;
    }
    for (const name of t.services) {
      const s = st.services.find((x) => x.name === name);
      const counters = Object.entries(s?.counters ?? {})
        .map(
          ([k, v]) =>
            `${k.replace(/^[a-z]+_/, '').replace(/_total$/, '')}=${Math.round(v * 100) / 100}`,
        )
        .join(' ');
      rows.push([
        name,
        s?.ready ? 'ready' : 'not ready',
        formatDuration(t.uptimeSeconds),
        t.name,
        formatBytes(t.rssBytes),
        counters,
      ]);
    }
  }
  return formatTable(['service', 'state', 'uptime', 'process', 'rss', 'counters'], rows, [2, 4]);
}
