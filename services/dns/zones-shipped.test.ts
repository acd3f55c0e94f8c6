// Every zone file shipped under config/*/zones parses and checks without an error or a
// warning, and the two reference zones hold exactly the records of the reference
// deployment (its DNS section: the BIND 9 master zones this service replaces).
import t from 'tap';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nameFromText } from './name.js';
import { rrToText } from './rdata-text.js';
import { typeToText } from './rr.js';
import { parseZoneFile } from './zone-file.js';
import { checkZone } from './zone-check.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const configDir = join(root, 'config');

function zoneFiles(): string[] {
  const out: string[] = [];
  for (const profile of readdirSync(configDir)) {
    const dir = join(configDir, profile, 'zones');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.zone')) out.push(join(dir, f));
  }
  return out.sort();
}

/** Load a zone file named `<origin>.zone`, as the DNS service does. */
function load(path: string) {
  const origin = nameFromText(
    path
      .split('/')
      .pop()!
      .replace(/\.zone$/, '') + '.',
  );
  const rel = path.slice(root.length + 1);
  const z = parseZoneFile(readFileSync(path, 'utf8'), {
    origin,
    file: rel,
    readInclude: (p) => readFileSync(resolve(dirname(path), p), 'utf8'),
  });
  const c = checkZone(z.records, origin, { file: rel, sources: z.sources });
  const fmt = (i: { file: string; line: number; message: string }): string =>
    `${i.file}:${i.line}: ${i.message}`;
  return {
    records: c.records,
    errors: [...z.errors, ...c.errors].map(fmt),
    warnings: [...z.warnings, ...c.warnings].map(fmt),
  };
}

const FORWARD = [
  'TIC2023.com.\t604800\tIN\tSOA\tTIC2023.com. root.TIC2023.com. 2 604800 86400 2419200 604800',
  'TIC2023.com.\t604800\tIN\tNS\tns1.TIC2023.com.',
  'ns1.TIC2023.com.\t604800\tIN\tA\t192.168.0.2',
  'dhcp.TIC2023.com.\t604800\tIN\tA\t192.168.0.3',
  'ftp.TIC2023.com.\t604800\tIN\tA\t192.168.0.4',
  'www.TIC2023.com.\t604800\tIN\tA\t192.168.0.5',
  'voip.TIC2023.com.\t604800\tIN\tA\t192.168.0.6',
  'monitor.TIC2023.com.\t604800\tIN\tA\t192.168.0.7',
  'web1.TIC2023.com.\t604800\tIN\tCNAME\twww.TIC2023.com.',
  'web2.TIC2023.com.\t604800\tIN\tCNAME\twww.TIC2023.com.',
];

const REVERSE = [
  '0.168.192.in-addr.arpa.\t604800\tIN\tSOA\tTIC2023.com. root.TIC2023.com. 2 604800 86400 2419200 604800',
  '0.168.192.in-addr.arpa.\t604800\tIN\tNS\tns1.TIC2023.com.',
  '2.0.168.192.in-addr.arpa.\t604800\tIN\tPTR\tns1.TIC2023.com.',
  '3.0.168.192.in-addr.arpa.\t604800\tIN\tPTR\tdhcp.TIC2023.com.',
  '4.0.168.192.in-addr.arpa.\t604800\tIN\tPTR\tftp.TIC2023.com.',
  '5.0.168.192.in-addr.arpa.\t604800\tIN\tPTR\twww.TIC2023.com.',
  '6.0.168.192.in-addr.arpa.\t604800\tIN\tPTR\tvoip.TIC2023.com.',
  '7.0.168.192.in-addr.arpa.\t604800\tIN\tPTR\tmonitor.TIC2023.com.',
];

const counts = (rrs: { type: number }[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const rr of rrs) out[typeToText(rr.type)] = (out[typeToText(rr.type)] ?? 0) + 1;
  return out;
};

t.test('every shipped zone loads cleanly', async (t) => {
  const files = zoneFiles();
  t.ok(files.length >= 4, 'dev and pi each ship the two reference zones');
  for (const f of files) {
    const z = load(f);
    t.same(z.errors, [], `${f}: no errors`);
    t.same(z.warnings, [], `${f}: no warnings`);
  }
});

for (const profile of ['dev', 'pi']) {
  t.test(`${profile}: the reference zones`, async (t) => {
    const fwd = load(join(configDir, profile, 'zones', 'TIC2023.com.zone'));
    t.same(counts(fwd.records), { SOA: 1, NS: 1, A: 6, CNAME: 2 });
    t.same(fwd.records.map(rrToText), FORWARD);
    const rev = load(join(configDir, profile, 'zones', '0.168.192.in-addr.arpa.zone'));
    t.same(counts(rev.records), { SOA: 1, NS: 1, PTR: 6 });
    t.same(rev.records.map(rrToText), REVERSE);
  });
}

t.test('dev and pi ship identical zone files', async (t) => {
  for (const f of ['TIC2023.com.zone', '0.168.192.in-addr.arpa.zone']) {
    t.equal(
      readFileSync(join(configDir, 'pi', 'zones', f), 'utf8'),
      readFileSync(join(configDir, 'dev', 'zones', f), 'utf8'),
      f,
    );
  }
});
