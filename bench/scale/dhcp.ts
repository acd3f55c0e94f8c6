/**
 * DHCP at scale: N leases (10,000 and 50,000) held by netsvc and by Kea, each started with
 * bench/dhcp.ts's config (pool 127.16.0.0–127.31.255.255, a million addresses; lease time
 * 4000 s, longer than the run) in its network namespace, loaded by perfdhcp as a relay on
 * 127.0.0.2 with full DORA exchanges.
 *
 * `perfdhcp -r RATE -R N -n N` walks N distinct MACs in order (checked: 10,000 exchanges
 * left 10,000 distinct leases in Kea's CSV), but it never retries a dropped exchange, so a
 * pass that lost some is repeated, up to five passes: clients that already hold a lease
 * renew the same address, the others get theirs. The create time covers every pass.
 * (`--scenario avalanche` retries by itself, but sends all N DISCOVERs at once and needed
 * 69 s for 10,000 clients against Kea through its back-off.)
 *
 * Items verified: bound rows in netsvc's SQLite lease table; distinct addresses in Kea's
 * memfile CSV (which appends a line per renewal).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Daemon } from '../../src/testing/daemon.js';
import { which } from '../dns-servers.js';
import { NS, namespaceDown, namespaceUp, parsePerfdhcp, startKea, startNetsvc } from '../dhcp.js';
import { envNumber, measureServer, missing, type ScaleRow } from './common.js';

export const DHCP_SIZES = [10_000, 50_000] as const;
const PASSES = 5;

interface Running {
  readonly daemon: Daemon;
  readonly dir: string;
}

function countNetsvc(dir: string): number {
  const db = new Database(join(dir, 'data', 'dhcp.sqlite'), { readonly: true });
  try {
    const r = db.prepare("SELECT count(*) AS n FROM lease WHERE state = 'bound'").get() as {
      n: number;
    };
    return r.n;
  } finally {
    db.close();
  }
}

function countKea(dir: string): number {
  const file = join(dir, 'kea-leases4.csv');
  if (!existsSync(file)) return 0;
  const addresses = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    const address = line.split(',')[0];
    if (address) addresses.add(address);
  }
  return addresses.size;
}

function version(server: 'netsvc' | 'kea'): string | undefined {
  if (server === 'netsvc') return `node ${process.version}`;
  const r = spawnSync('kea-dhcp4', ['-v'], { encoding: 'utf8' });
  return r.status === 0 ? `kea-dhcp4 ${r.stdout.trim()}` : undefined;
}

export async function scaleDhcp(
  work: string,
  progress: (msg: string) => void,
  sizes: readonly number[] = DHCP_SIZES,
): Promise<ScaleRow[]> {
  const rate = Math.max(1, envNumber('BENCH_SCALE_DHCP_RATE', 1000));
  const rows: ScaleRow[] = [];
  const perfdhcp = which('perfdhcp');
  for (const n of sizes)
    for (const server of ['netsvc', 'kea'] as const) {
      const why =
        process.getuid?.() !== 0
          ? 'needs root (network namespace)'
          : !perfdhcp
            ? 'perfdhcp not installed (apt-get install kea-admin)'
            : server === 'kea' && !which('kea-dhcp4')
              ? 'kea-dhcp4 not installed (apt-get install kea-dhcp4-server)'
              : undefined;
      if (why) {
        rows.push(missing('dhcp', server, server === 'netsvc', n, why));
        continue;
      }
      const dir = join(work, `dhcp-${server}-${n}`);
      const count = (): number => (server === 'netsvc' ? countNetsvc(dir) : countKea(dir));
      const v = version(server);
      rows.push(
        await measureServer<Running>(
          {
            service: 'dhcp',
            server,
            isNetsvc: server === 'netsvc',
            wanted: n,
            idleS: envNumber('BENCH_SCALE_IDLE_S', 3),
            settleS: envNumber('BENCH_SCALE_SETTLE_S', 5),
            ...(v !== undefined ? { version: v } : {}),
            async start() {
              namespaceUp();
              try {
                const daemon =
                  server === 'netsvc' ? await startNetsvc(dir, false) : await startKea(dir, false);
                return { daemon, dir };
              } catch (e) {
                namespaceDown();
                throw e;
              }
            },
            daemon: (s) => s.daemon,
            async create() {
              const passes: Record<string, unknown>[] = [];
              let held = 0;
              for (let pass = 1; pass <= PASSES && held < n; pass++) {
                const r = spawnSync(
                  'timeout',
                  [
                    String(Math.ceil(n / rate) + 30),
                    'ip',
                    'netns',
                    'exec',
                    NS,
                    perfdhcp!,
                    '-4',
                    '-l',
                    '127.0.0.2',
                    '-r',
                    String(rate),
                    '-R',
                    String(n),
                    '-n',
                    String(n),
                    // Wait 2 s for the last answers before counting the rest as drops.
                    '-W',
                    '2000000',
                    '127.0.0.1',
                  ],
                  { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
                );
                const p = parsePerfdhcp(r.stdout + r.stderr);
                held = count();
                passes.push({ pass, exit: r.status, ...p, heldAfter: held });
                progress(
                  `dhcp ${server} ×${n}: pass ${pass}: ${p.completed} ACKs, ${held} leases held`,
                );
              }
              // A later pass renews every lease already held: its churn is in "after" too.
              const notes =
                passes.length > 1 ? [`${passes.length} perfdhcp passes (the later renew all)`] : [];
              return { notes, extra: { offeredRate: rate, passes } };
            },
            verify: async () => ({
              count: count(),
              by: server === 'netsvc' ? 'bound rows in dhcp.sqlite' : 'addresses in lease CSV',
            }),
            async stop(s) {
              await s.daemon.stop();
              namespaceDown();
            },
          },
          progress,
        ),
      );
    }
  return rows;
}
