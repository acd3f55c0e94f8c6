/**
 * Byte-for-byte golden test against BIND 9.18's answers for the reference zones
 * (testdata/bind-golden.txt says how they were captured).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { handleQuery } from './handler.js';
import { loadZoneFile } from './zone-store.js';
import { ZoneSet } from './zone-set.js';
import { defaultPolicy } from './testing.js';
import type { Zone } from './zone.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const zonesDir = fileURLToPath(new URL('../../config/dev/', import.meta.url));
const zones = new ZoneSet(
  [
    loadZoneFile('TIC2023.com', 'zones/TIC2023.com.zone', zonesDir).zone,
    loadZoneFile('0.168.192.in-addr.arpa', 'zones/0.168.192.in-addr.arpa.zone', zonesDir).zone,
  ].filter((z): z is Zone => z !== undefined),
);

const lines = readFileSync(`${here}/testdata/bind-golden.txt`, 'utf8').split('\n');
let comment = '';
let q: string | undefined;
let n = 0;
for (const line of lines) {
  if (line.startsWith('# ')) comment = line.slice(2);
  else if (line.startsWith('Q ')) q = line.slice(2);
  else if (line.startsWith('R ') && q) {
    const query = Buffer.from(q, 'hex');
    const want = line.slice(2);
    const name = comment;
    n++;
    t.test(name, async (t) => {
      const out = handleQuery(query, zones, defaultPolicy, {
        transport: 'udp',
        client: '127.0.0.1',
      });
      t.equal(out.kind, 'reply');
      if (out.kind === 'reply') t.equal(Buffer.from(out.bytes).toString('hex'), want);
    });
  }
}
t.equal(zones.size, 2, 'both reference zones load');
t.ok(n >= 15, `${n} golden pairs`);
