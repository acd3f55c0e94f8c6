/**
 * `npm run bench:hostile [sip|ftp|dns|http|dhcp…]`: the attacks of issue 18 against the
 * built services, one after the other in one run, and one table: what the attacker got
 * (guesses checked per second, responses per packet, log bytes), how a legitimate client
 * fared meanwhile (served/tried), and the server's RSS at peak during the attack and a few
 * seconds after. Results also go to bench/results/hostile-<time>.json.
 *
 * Traffic stays on 127.0.0.0/8; every attack is bounded in count and time (about 4 minutes
 * in all). The tools are the attackers' own where one exists (svcrack, slowhttptest); the
 * others are small Node senders here. A missing tool makes its row say so.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mb, root, type AttackRow } from './common.js';
import { sipAttacks } from './sip.js';
import { ftpAttacks } from './ftp.js';
import { dnsAttacks } from './dns.js';
import { httpAttacks } from './http.js';
import { dhcpAttacks } from './dhcp.js';

const all: Record<string, (work: string) => Promise<AttackRow[]>> = {
  sip: sipAttacks,
  ftp: ftpAttacks,
  dns: dnsAttacks,
  http: httpAttacks,
  dhcp: dhcpAttacks,
};

function table(rows: readonly AttackRow[]): string {
  const head = [
    'service',
    'attack',
    'attacker got',
    'legit served',
    'RSS peak MB',
    'after MB',
    'notes',
  ];
  const cells = [
    head,
    ...rows.map((r) => [
      r.service,
      r.attack,
      r.attackerGot,
      r.legit,
      mb(r.rssPeakMb),
      mb(r.rssAfterMb),
      r.notes,
    ]),
  ];
  return cells
    .map((c) => `| ${c.join(' | ')} |`)
    .join('\n')
    .replace(/\n/, `\n|${head.map(() => '---').join('|')}|\n`);
}

const names = process.argv.slice(2);
for (const n of names)
  if (!(n in all))
    throw new Error(`unknown attack group ${n}; one of ${Object.keys(all).join(', ')}`);
const work = mkdtempSync(join(tmpdir(), 'netsvc-hostile-'));
const rows: AttackRow[] = [];
try {
  for (const [name, fn] of Object.entries(all)) {
    if (names.length > 0 && !names.includes(name)) continue;
    process.stdout.write(`# ${name}…\n`);
    try {
      const got = await fn(work);
      for (const r of got)
        process.stdout.write(`#   ${r.attack}: ${r.attackerGot}; legit ${r.legit}\n`);
      rows.push(...got);
    } catch (e) {
      rows.push({
        service: name,
        attack: 'all',
        attackerGot: '-',
        legit: '-',
        rssPeakMb: null,
        rssAfterMb: null,
        notes: `failed: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
}
process.stdout.write('\n' + table(rows) + '\n');
const out = join(root, 'bench/results');
mkdirSync(out, { recursive: true });
const file = join(out, `hostile-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ node: process.version, rows }, null, 2));
process.stdout.write(`\nresults: ${file}\n`);
