/**
 * `netsvc leases`, `netsvc registrations`, `netsvc calls` [--json]: the tables of the
 * services' `GET /state/<svc>` documents (DHCP leases, SIP registrations and calls),
 * merged over every admin listener, as the monitor shows them.
 */
import { scrapeTarget } from '../observe/scrape-client.js';
import { mergeState } from '../observe/snapshot.js';
import type { AdminTarget } from './targets.js';
import { formatDuration, formatTable } from './table.js';

export type StateTable = 'leases' | 'registrations' | 'calls';

const SOURCE: Record<StateTable, { svc: string; key: string }> = {
  leases: { svc: 'dhcp', key: 'leases' },
  registrations: { svc: 'sip', key: 'registrations' },
  calls: { svc: 'sip', key: 'calls' },
};

export interface StateRows {
  /** undefined: no reachable process publishes this service's state. */
  readonly rows: Record<string, unknown>[] | undefined;
  readonly down: string[];
}

export async function collectRows(
  which: StateTable,
  targets: readonly AdminTarget[],
  timeoutMs: number,
): Promise<StateRows> {
  const scrapes = await Promise.all(targets.map((t) => scrapeTarget(t, timeoutMs)));
  const state = mergeState(scrapes.filter((s) => s.up));
  const { svc, key } = SOURCE[which];
  const doc = state[svc] as Record<string, unknown> | undefined;
  const rows =
    doc === undefined
      ? undefined
      : Array.isArray(doc[key])
        ? (doc[key] as Record<string, unknown>[])
        : [];
  return {
    rows,
    down: scrapes.filter((s) => !s.up).map((s) => `${s.target} (${s.url}): ${s.error ?? 'down'}`),
  };
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const inSeconds = (ms: unknown, now: number): string =>
  typeof ms === 'number' ? `in ${formatDuration((ms - now) / 1000)}` : '';
const num = (v: unknown, digits: number): string =>
  typeof v === 'number' ? v.toFixed(digits) : '-';

export function renderRows(
  which: StateTable,
  rows: readonly Record<string, unknown>[],
  now: number,
): string {
  if (rows.length === 0) {
    return {
      leases: 'no active leases\n',
      registrations: 'no registrations\n',
      calls: 'no active calls\n',
    }[which];
  }
  switch (which) {
    case 'leases':
      return formatTable(
        ['ip', 'mac', 'hostname', 'expires', 'subnet', 'process'],
        rows.map((l) => [
          str(l.address),
          str(l.mac),
          str(l.hostname),
          inSeconds(l.ends, now),
          str(l.subnet),
          str(l.target),
        ]),
      );
    case 'registrations':
      return formatTable(
        ['aor', 'contact', 'expires', 'user agent', 'source', 'process'],
        rows.map((r) => [
          str(r.aor),
          str(r.contact),
          inSeconds(r.expiresAt, now),
          str(r.userAgent),
          str(r.source),
          str(r.target),
        ]),
      );
    case 'calls':
      return formatTable(
        ['call', 'from', 'to', 'state', 'duration', 'packets', 'loss %', 'jitter ms'],
        rows.map((c) => [
          str(c.callId),
          str(c.from),
          str(c.to),
          str(c.state),
          typeof c.startedAt === 'number' ? formatDuration((now - c.startedAt) / 1000) : '-',
          num(c.packets, 0),
          num(c.lossPercent, 1),
          num(c.jitterMs, 1),
        ]),
        [4, 5, 6, 7],
      );
  }
}
