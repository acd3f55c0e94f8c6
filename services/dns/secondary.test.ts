/**
 * The secondary's pure side (secondary.ts): requests, reading the SOA answer, the answer
 * stream of AXFR and IXFR split over messages, the new copy built from it; random and
 * truncated answers never throw and never yield a copy.
 */
import t from 'tap';
import fc from 'fast-check';
import { decodeMessage, FLAG, MessageWriter, RCODE, type Message } from './message.js';
import { nameFromText } from './name.js';
import { soaSerialOf, TYPE, type RR } from './rr.js';
import { rrFromText } from './zone-file.js';
import { ixfrAnswer } from './ixfr.js';
import type { JournalEntry } from './journal-store.js';
import {
  applyTransfer,
  readSoaAnswer,
  soaQuery,
  soaTimers,
  TransferReader,
  transferQuery,
} from './secondary.js';
import { ZoneRecords } from './zone-changes.js';
import { holds } from '../../src/testing/property.js';

const O = nameFromText('sec.test.');
const rr = (l: string): RR => rrFromText(l, O, 60);
const soa = (n: number): RR => rr(`@ SOA ns1 hostmaster ${n} 3600 600 86400 300`);
const ZONE1 = [soa(1), rr('@ NS ns1'), rr('ns1 A 192.0.2.53'), rr('www A 192.0.2.1')];

/** The primary's answer messages carrying `records`, `perMessage` answers each. */
function answers(id: number, records: readonly RR[], perMessage: number, aa = true): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < records.length || i === 0; i += perMessage) {
    const w = new MessageWriter(65535);
    if (i === 0) w.addQuestion({ qname: O, qtype: TYPE.AXFR, qclass: 1 });
    for (const r of records.slice(i, i + perMessage)) w.addRR(1, r);
    out.push(decodeMessage(w.finish(id, FLAG.QR | (aa ? FLAG.AA : 0))));
  }
  return out;
}

function read(id: number, msgs: readonly Message[], ours?: number) {
  const r = new TransferReader(id, O, ours);
  let last;
  for (const m of msgs) {
    last = r.push(m);
    if (last.kind !== 'more') return last;
  }
  return last;
}

t.test('requests: SOA query; AXFR without a copy, IXFR with our SOA', async (t) => {
  const q = decodeMessage(soaQuery(5, O));
  t.same([q.id, q.questions[0]!.qtype, q.flags & FLAG.QR], [5, TYPE.SOA, 0]);
  t.equal(decodeMessage(transferQuery(6, O, undefined)).questions[0]!.qtype, TYPE.AXFR);
  const ix = decodeMessage(transferQuery(7, O, soa(4)));
  t.equal(ix.questions[0]!.qtype, TYPE.IXFR);
  t.equal(soaSerialOf(ix.authorities[0]!), 4, 'RFC 1995 §3: our SOA in the authority section');
  t.same(soaTimers(soa(1)), { refresh: 3600, retry: 600, expire: 86400 });
});

t.test('the SOA answer: authoritative, ours, same ID', async (t) => {
  const ok = answers(9, [soa(3)], 10)[0]!;
  t.same(readSoaAnswer(ok, 9, O), { soa: soa(3) });
  t.match(readSoaAnswer(ok, 8, O), { error: /ID/ });
  t.match(readSoaAnswer(answers(9, [soa(3)], 10, false)[0]!, 9, O), { error: /authoritative/ });
  t.match(readSoaAnswer(answers(9, [rr('www A 192.0.2.1')], 10)[0]!, 9, O), { error: /no SOA/ });
  const refused = decodeMessage(new MessageWriter(512).finish(9, FLAG.QR | RCODE.REFUSED));
  t.match(readSoaAnswer(refused, 9, O), { error: /REFUSED/ });
});

t.test('AXFR over one or many messages gives the zone', async (t) => {
  for (const per of [1, 2, 100]) {
    const r = read(1, answers(1, [...ZONE1, soa(1)], per));
    t.equal(r?.kind, 'done', `${per} records per message`);
    if (r?.kind !== 'done') continue;
    const c = applyTransfer(O, undefined, r.records);
    t.match(c, { kind: 'copy', incremental: false });
    if (c.kind === 'copy') t.equal(c.records.length, ZONE1.length);
  }
  t.match(read(1, answers(1, [...ZONE1], 2)), { kind: 'more' }, 'no closing SOA yet');
  t.match(read(1, answers(1, [rr('www A 192.0.2.1'), soa(1)], 5)), { kind: 'error' });
  t.match(read(1, answers(1, [...ZONE1, soa(1), rr('x A 192.0.2.9')], 100)), {
    kind: 'error',
    reason: /after the closing SOA/,
  });
  t.match(read(2, answers(1, [...ZONE1, soa(1)], 100)), { kind: 'error', reason: /ID/ });
});

t.test('IXFR from the primary journal applies to our copy; up to date; wrong start', async (t) => {
  const journal: JournalEntry[] = [
    { from: 1, to: 2, deletes: [soa(1)], adds: [soa(2), rr('pc1 A 192.0.2.10')] },
    {
      from: 2,
      to: 3,
      deletes: [soa(2), rr('www A 192.0.2.1')],
      adds: [soa(3), rr('www A 192.0.2.2')],
    },
  ];
  const seq = ixfrAnswer(soa(3), journal, 1) as RR[];
  const current = new ZoneRecords(O, ZONE1);
  for (const per of [1, 3, 50]) {
    const r = read(4, answers(4, seq, per), 1);
    t.equal(r?.kind, 'done', `IXFR, ${per} per message`);
    if (r?.kind !== 'done') continue;
    const c = applyTransfer(O, { records: () => current.records(), serial: 1 }, r.records);
    t.match(c, { kind: 'copy', incremental: true });
    if (c.kind !== 'copy') continue;
    t.equal(soaSerialOf(c.soa), 3);
    const text = c.records
      .filter((x) => x.type === TYPE.A)
      .map((x) => [...x.rdata].join('.'))
      .sort();
    t.same(text, ['192.0.2.10', '192.0.2.2', '192.0.2.53']);
  }
  t.same(applyTransfer(O, { records: () => ZONE1, serial: 3 }, [soa(3)]), { kind: 'uptodate' });
  t.match(applyTransfer(O, { records: () => ZONE1, serial: 2 }, seq), {
    kind: 'error',
    reason: /deltas start at serial 1/,
  });
  t.match(applyTransfer(O, undefined, seq), { kind: 'error', reason: /no copy/ });
  t.match(read(4, answers(4, [soa(3)], 1), 3), { kind: 'done' }, 'our serial: up to date');
  t.match(read(4, answers(4, [soa(3)], 1)), { kind: 'more' }, 'an AXFR goes on after the SOA');
});

t.test('random and truncated answers never throw and never make a copy', async (t) => {
  const seq = [...ZONE1, soa(1)];
  holds(
    t,
    fc.property(
      fc.array(fc.integer({ min: 0, max: seq.length - 1 }), { maxLength: 12 }),
      fc.integer({ min: 1, max: 4 }),
      (picks, per) => {
        const recs = picks.map((i) => seq[i]!);
        const r = read(3, answers(3, recs, per));
        if (r?.kind !== 'done') return true;
        const c = applyTransfer(O, undefined, r.records);
        // A copy only from records that start and end with the SOA, and with one SOA in it.
        const used = r.records;
        return (
          c.kind !== 'copy' ||
          (used[0]?.type === TYPE.SOA &&
            used.at(-1)?.type === TYPE.SOA &&
            c.records.filter((x) => x.type === TYPE.SOA).length === 1)
        );
      },
    ),
    { numRuns: 500 },
    'only well-formed streams make a copy',
  );
  // Truncations of a full AXFR: never done, never a throw.
  let done = 0;
  for (let n = 0; n < seq.length; n++) {
    const r = read(3, answers(3, seq.slice(0, n), 2));
    if (r?.kind === 'done' && n > 1) done++;
  }
  t.equal(done, 0, 'a truncated AXFR is never complete');
});
