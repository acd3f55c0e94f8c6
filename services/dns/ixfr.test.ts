/** IXFR (RFC 1995) out from the journal and in from a primary's answer, both directions agree. */
import t from 'tap';
import fc from 'fast-check';
import { nameFromText } from './name.js';
import { rrFromText } from './zone-file.js';
import type { JournalEntry } from './journal-store.js';
import { ixfrAnswer, readIxfrResponse } from './ixfr.js';
import { soaSerialOf } from './rr.js';
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

t.test('the handler answers IXFR from the journal, AXFR form when it cannot', async (t) => {
  const { handleQuery } = await import('./handler.js');
  const { zoneFromText, zoneSet, defaultPolicy, view } = await import('./testing.js');
  const { MessageWriter } = await import('./message.js');
  const { CidrList } = await import('../../src/net/cidr.js');
  // The zone as served: the file (serial 1) with the journal's two changes applied.
  const zone = zoneFromText(
    'example.test.',
    '$TTL 60\n@ SOA ns1 hostmaster 3 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\npc1 A 192.0.2.2\n',
  );
  const policy = {
    ...defaultPolicy,
    transferAllow: new CidrList(['127.0.0.0/8']),
    journal: () => journal,
  };
  const ask = (clientSerial: number) => {
    const w = new MessageWriter(512);
    w.addQuestion({ qname: O, qtype: 251, qclass: 1 });
    w.addRR(2, soa(clientSerial));
    const out = handleQuery(w.finish(7, 0), zoneSet(zone), policy, {
      transport: 'tcp',
      client: '127.0.0.1',
    });
    return out.kind === 'transfer' ? out.messages.flatMap((m) => view(m).answer) : [];
  };
  const inc = ask(1);
  t.equal(inc.length, 9, 'SOA3, SOA1, SOA2, +A, SOA2, -A, SOA3, +A, SOA3');
  t.match(inc[1], /SOA .* 1 3600/);
  t.equal(ask(3).length, 1, 'up to date: the SOA alone');
  t.equal(ask(0).length, zone.recordCount + 1, 'before the journal: the whole zone');
  const noJournal = handleQuery(
    (() => {
      const w = new MessageWriter(512);
      w.addQuestion({ qname: O, qtype: 251, qclass: 1 });
      w.addRR(2, soa(1));
      return w.finish(8, 0);
    })(),
    zoneSet(zone),
    { ...policy, journal: undefined },
    { transport: 'tcp', client: '127.0.0.1' },
  );
  t.equal(
    noJournal.kind === 'transfer' && noJournal.records,
    zone.recordCount + 1,
    'static zone: AXFR form',
  );
});
