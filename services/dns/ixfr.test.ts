/** IXFR (RFC 1995) out from the journal and in from a primary's answer, both directions agree. */
import t from 'tap';
import fc from 'fast-check';
import { nameFromText } from './name.js';
import { rrFromText } from './zone-file.js';
import type { JournalEntry } from './journal-store.js';
import { ixfrAnswer, readIxfrResponse, soaSerialOf } from './ixfr.js';
import { holds } from '../../src/testing/property.js';

const O = nameFromText('example.test.');
const rr = (l: string) => rrFromText(l, O, 60);
const soa = (n: number) => rr(`@ SOA ns1 hostmaster ${n} 3600 600 86400 300`);
const journal: JournalEntry[] = [
  { from: 1, to: 2, deletes: [soa(1)], adds: [soa(2), rr('pc1 A 192.0.2.1')] },
  {
    from: 2,
    to: 3,
    deletes: [soa(2), rr('pc1 A 192.0.2.1')],
    adds: [soa(3), rr('pc1 A 192.0.2.2')],
  },
];

t.test('out: the §4 sequence, up to date, too old, ahead', async (t) => {
  const a = ixfrAnswer(soa(3), journal, 1);
  t.not(a, 'axfr');
  if (a === 'axfr') return;
  t.same(
    a.map((r) => (r.type === 6 ? `SOA${soaSerialOf(r)}` : [...r.rdata].join('.'))),
    ['SOA3', 'SOA1', 'SOA2', '192.0.2.1', 'SOA2', '192.0.2.1', 'SOA3', '192.0.2.2', 'SOA3'],
  );
  t.same(ixfrAnswer(soa(3), journal, 3), [soa(3)], 'current: the SOA alone');
  t.equal(ixfrAnswer(soa(3), journal, 0), 'axfr', 'older than the journal');
  t.equal(ixfrAnswer(soa(3), journal, 9), 'axfr', 'ahead of us');
  t.equal(ixfrAnswer(soa(4), journal, 1), 'axfr', 'journal ends before the current serial');
});

t.test('in: what out produced reads back as the same deltas; AXFR form; errors', async (t) => {
  const a = ixfrAnswer(soa(3), journal, 1) as ReturnType<typeof rr>[];
  const back = readIxfrResponse(a);
  t.equal(back.kind, 'ixfr');
  if (back.kind === 'ixfr') {
    t.equal(back.serial, 3);
    t.same(
      back.deltas.map((d) => [d.from, d.to, d.deletes.length, d.adds.length]),
      [
        [1, 2, 1, 2],
        [2, 3, 2, 2],
      ],
    );
  }
  t.same(readIxfrResponse([soa(3)]), { kind: 'uptodate', serial: 3 });
  const full = readIxfrResponse([soa(3), rr('@ NS ns1'), rr('ns1 A 192.0.2.53'), soa(3)]);
  t.equal(full.kind, 'axfr');
  if (full.kind === 'axfr')
    t.equal(full.records.length, 3, 'SOA and the zone, trailing SOA dropped');
  t.match(readIxfrResponse([]), { kind: 'error' });
  t.match(readIxfrResponse([soa(3), rr('@ NS ns1')]), { kind: 'error' }, 'AXFR form cut short');
  t.match(readIxfrResponse([soa(3), soa(1), soa(2)]), { kind: 'error' }, 'IXFR cut short');
  t.match(
    readIxfrResponse([soa(3), soa(1), soa(2), soa(5), soa(6), soa(3)]),
    { kind: 'error' },
    'gap',
  );
});

t.test('random record sequences never throw', async (t) => {
  const pool = [soa(1), soa(2), soa(3), rr('a A 192.0.2.1'), rr('b A 192.0.2.2')];
  holds(
    t,
    fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 12 }), (recs) => {
      const r = readIxfrResponse(recs);
      return ['uptodate', 'axfr', 'ixfr', 'error'].includes(r.kind);
    }),
  );
});
