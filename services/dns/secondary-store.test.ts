/**
 * The stored secondary copy (secondary-store.ts): records round-trip byte for byte, the
 * contact time beside them, a damaged file is an error (the caller transfers afresh), a
 * missing contact file reads as never confirmed, a rewrite leaves no temporary file.
 */
import t from 'tap';
import { readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nameFromText } from './name.js';
import { rrFromText } from './zone-file.js';
import { decodeCopy, encodeCopy, SecondaryStore } from './secondary-store.js';

const O = nameFromText('Sec.Test.');
const records = [
  rrFromText('@ SOA ns1 hostmaster 7 3600 600 86400 300', O, 60),
  rrFromText('@ NS ns1', O, 60),
  rrFromText('ns1 A 192.0.2.53', O, 60),
  rrFromText('txt TXT "a \\"quoted\\" string" "and\\010more"', O, 60),
  rrFromText('x TYPE65280 \\# 3 010203', O, 4294967295 >>> 1),
  rrFromText('empty TYPE65281 \\# 0', O, 0),
];

t.test('round trip, contact time, damage, no leftovers', async (t) => {
  t.same(decodeCopy(encodeCopy(records)), records, 'records byte for byte');
  const dir = t.testdir({});
  const store = new SecondaryStore(join(dir, 'secondary'));
  t.equal(store.read(O), undefined, 'nothing stored yet');
  store.writeZone(O, records, 1_700_000_000_000);
  t.same(store.read(O), { records, lastContact: 1_700_000_000_000 });
  store.writeContact(O, 1_700_000_500_000);
  t.equal(store.read(O)?.lastContact, 1_700_000_500_000, 'contact rewritten alone');
  store.writeZone(O, records.slice(0, 3), 1_700_000_600_000);
  t.equal(store.read(O)?.records.length, 3, 'a new copy replaces the old');
  t.same(readdirSync(join(dir, 'secondary')).sort(), ['sec.test.contact', 'sec.test.zone']);

  const zone = join(dir, 'secondary', 'sec.test.zone');
  const whole = readFileSync(zone);
  writeFileSync(zone, whole.subarray(0, whole.length - 3));
  t.throws(() => store.read(O), /truncated/, 'a cut file is an error');
  writeFileSync(zone, Buffer.from('garbage'));
  t.throws(() => store.read(O), /not a netsvc zone copy/);
  writeFileSync(join(dir, 'secondary', 'sec.test.contact'), '{not json');
  store.writeZone(O, records, 5);
  writeFileSync(join(dir, 'secondary', 'sec.test.contact'), '{not json');
  t.equal(store.read(O)?.lastContact, undefined, 'unreadable contact: never confirmed');
  const odd = nameFromText('a/b.test.');
  store.writeZone(odd, records, 1);
  t.ok(readdirSync(join(dir, 'secondary')).includes('a%2fb.test.zone'), 'odd names escaped');
});
