/**
 * Zone scale: what loading a big zone costs netsvc and BIND, side by side in one run
 * (issue 17, "Cost that grows like BIND's"). Standalone: `npm run build` then
 * `node dist/bench/zone-scale.js [records…]` (default 100000 1000000).
 *
 * For each size a zone of A/AAAA/TXT/MX records (one record per name, types in turn) is
 * written to the system temp dir. netsvc loads it with loadZoneFile in a fresh
 * `node --expose-gc` child: load time, RSS and heap after gc (steady), VmHWM (peak), bytes
 * per record over the child's RSS before the load, and RSS after one and after ten reloads
 * (through one ZoneLoadThread, the old copy dropped, as the server does). BIND:
 * named-checkzone's wall time, and named's startup time and VmRSS/VmHWM once it answers
 * the zone's SOA (bytes per record over an empty named started the same way).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, processRss } from '../src/testing/daemon.js';
import { startNamed, which } from './dns-servers.js';

const ORIGIN = 'scale.test.';

/** A zone of `n` records besides SOA, NS and the two address records they need. */
export function generateZone(n: number): string {
  const out: string[] = [
    '$TTL 3600',
    '@ SOA ns1 hostmaster 2024010101 3600 600 604800 300',
    '@ NS ns1',
    'ns1 A 192.0.2.53',
    'mail A 192.0.2.25',
  ];
  for (let i = 0; i < n; i++) {
    const a = (i >>> 16) & 0xff;
    const b = (i >>> 8) & 0xff;
    const c = i & 0xff;
    switch (i % 4) {
      case 0:
        out.push(`h${i} A 10.${a}.${b}.${c}`);
        break;
      case 1:
        out.push(`h${i} AAAA 2001:db8::${a.toString(16)}:${b.toString(16)}:${c.toString(16)}`);
        break;
      case 2:
        out.push(`h${i} TXT "v=spf1 ip4:10.${a}.${b}.${c} -all"`);
        break;
      default:
        out.push(`h${i} MX 10 mail`);
    }
  }
  return out.join('\n') + '\n';
}

interface ChildResult {
  records: number;
  loadMs: number;
  baseRssKb: number;
  rssKb: number;
  heapKb: number;
  peakKb: number;
  reload1RssKb: number;
  reload10RssKb: number;
}

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync('/proc/self/status', 'utf8'),
  );
  return Number(m?.[1] ?? 0);
}

/** The child: load once, measure, reload ten times through the load thread. */
async function child(file: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the child with --expose-gc');
  const { loadZoneFile, ZoneLoadThread } = await import('../services/dns/zone-store.js');
  gc();
  const baseRssKb = Math.round(process.memoryUsage().rss / 1024);
  const t0 = performance.now();
  let r = loadZoneFile(ORIGIN, file, '/');
  const loadMs = performance.now() - t0;
  if (!r.zone) throw new Error(r.errors.join('\n'));
  gc();
  gc();
  const mem = process.memoryUsage();
  const rssKb = Math.round(mem.rss / 1024);
  const heapKb = Math.round(mem.heapUsed / 1024);
  const peakKb = statusKb('VmHWM');
  let reload1RssKb = 0;
  const thread = new ZoneLoadThread();
  for (let i = 1; i <= 10; i++) {
    const [next] = await thread.load([{ origin: ORIGIN, file }], '/');
    if (!next?.zone) throw new Error(next?.errors.join('\n'));
    r = next; // the previous copy is now garbage, as in DnsServer.loadZones
    gc();
    gc();
    if (i === 1) reload1RssKb = Math.round(process.memoryUsage().rss / 1024);
  }
  await thread.close();
  const result: ChildResult = {
    records: r.zone!.recordCount,
    loadMs,
    baseRssKb,
    rssKb,
    heapKb,
    peakKb,
    reload1RssKb,
    reload10RssKb: Math.round(process.memoryUsage().rss / 1024),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function named(
  file: string | undefined,
  dir: string,
): Promise<{ ms: number; rssKb: number; peakKb: number }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const zoneFile = file ?? join(dir, 'empty.zone');
  if (!file) writeFileSync(zoneFile, generateZone(0));
  const s = await startNamed({ dir, port, zones: [{ origin: ORIGIN, file: zoneFile }] });
  try {
    // Let named settle after its first answer (it loads zones before it answers).
    await new Promise((ok) => setTimeout(ok, 500));
    const m = processRss(s.daemon.pid);
    return { ms: s.daemon.startupMs, rssKb: m?.rssKb ?? 0, peakKb: m?.peakKb ?? 0 };
  } finally {
    await s.daemon.stop();
  }
}

const mb = (kb: number): string => (kb / 1024).toFixed(0);

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  if (sizes.length === 0) sizes.push(100_000, 1_000_000);
  const self = fileURLToPath(import.meta.url);
  const work = mkdtempSync(join(tmpdir(), 'zone-scale-'));
  const haveBind = which('named') !== undefined && which('named-checkzone') !== undefined;
  const rows: string[][] = [
    [
      'server',
      'records',
      'load s',
      'RSS steady MB',
      'RSS peak MB',
      'bytes/record',
      'heap MB',
      'RSS reload 1→10 MB',
    ],
  ];
  try {
    const emptyNamed = haveBind ? await named(undefined, join(work, 'named-empty')) : undefined;
    for (const n of sizes) {
      const file = join(work, `scale-${n}.zone`);
      writeFileSync(file, generateZone(n));
      const c = spawnSync(process.execPath, ['--expose-gc', self, '--child', file], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (c.status !== 0) throw new Error(`netsvc child failed:\n${c.stderr}`);
      const r = JSON.parse(c.stdout.trim().split('\n').pop()!) as ChildResult;
      rows.push([
        'netsvc',
        String(n),
        (r.loadMs / 1000).toFixed(2),
        mb(r.rssKb),
        mb(r.peakKb),
        (((r.rssKb - r.baseRssKb) * 1024) / n).toFixed(0),
        mb(r.heapKb),
        `${mb(r.reload1RssKb)}→${mb(r.reload10RssKb)}`,
      ]);
      if (emptyNamed) {
        const t0 = performance.now();
        execFileSync(which('named-checkzone')!, ['-q', ORIGIN, file], { stdio: 'pipe' });
        const checkMs = performance.now() - t0;
        const b = await named(file, join(work, `named-${n}`));
        rows.push(['named-checkzone', String(n), (checkMs / 1000).toFixed(2), '', '', '', '', '']);
        rows.push([
          'named',
          String(n),
          (b.ms / 1000).toFixed(2),
          mb(b.rssKb),
          mb(b.peakKb),
          (((b.rssKb - emptyNamed.rssKb) * 1024) / n).toFixed(0),
          '',
          '',
        ]);
      }
      rmSync(file);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
  if (!haveBind) console.log('(BIND not installed: apt-get install bind9 for its figures)');
}

if (process.argv[2] === '--child') await child(process.argv[3]!);
else await main();
