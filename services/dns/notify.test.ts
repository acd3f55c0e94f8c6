/** NOTIFY messages and their resend schedule (RFC 1996 §3.6) on a manual clock. */
import t from 'tap';
import { decodeMessage, FLAG, OPCODE } from './message.js';
import { nameFromText } from './name.js';
import { TYPE } from './rr.js';
import { rrFromText } from './zone-file.js';
import { NotifySchedule, notifyMessage } from './notify.js';

const O = nameFromText('tic2023.com.');
const SOA = rrFromText('@ SOA ns1 hostmaster 7 3600 600 86400 300', O, 300);

t.test('the message: opcode NOTIFY, AA, SOA question and answer', async (t) => {
  const m = decodeMessage(notifyMessage(0x77, O, SOA));
  t.equal(m.opcode, OPCODE.NOTIFY);
  t.ok(m.flags & FLAG.AA);
  t.notOk(m.flags & FLAG.QR);
  t.equal(m.questions[0]!.qtype, TYPE.SOA);
  t.equal(m.answers[0]!.type, TYPE.SOA);
});

t.test('resends double from 1 s until answered or 5 tries', async (t) => {
  const s = new NotifySchedule();
  let id = 100;
  const a = { address: '192.0.2.1', port: 53 };
  const b = { address: '192.0.2.2', port: 53 };
  const first = s.changed(O, SOA, [a, b], () => id++, 0);
  t.equal(first.length, 2, 'one to each secondary at once');
  t.ok(s.answered(a, 100), 'a answered');
  t.notOk(s.answered(b, 999), 'a wrong id is not an answer');
  const at: number[] = [];
  let gave: string[] = [];
  for (let now = 0; now <= 40_000; now += 100) {
    const r = s.tick(now);
    for (const x of r.sends) {
      t.equal(x.target, b);
      at.push(now);
    }
    gave = gave.concat(r.gaveUp.map((g) => g.address));
  }
  t.same(at, [1000, 3000, 7000, 15000], 'tries 2-5 at 1, 2, 4, 8 s intervals');
  t.same(gave, ['192.0.2.2'], 'then given up');
  t.equal(s.nextTimeout(), undefined);
});

t.test('a newer change replaces an unanswered NOTIFY', async (t) => {
  const s = new NotifySchedule();
  let id = 1;
  const a = { address: '192.0.2.1', port: 53 };
  s.changed(O, SOA, [a], () => id++, 0);
  s.changed(O, SOA, [a], () => id++, 500);
  t.notOk(s.answered(a, 1), 'the old id no longer counts');
  t.ok(s.answered(a, 2));
});

t.test("a change of another zone does not cancel a zone's unanswered NOTIFY", async (t) => {
  // Found in the topology test: the reverse zone's NOTIFY to Pi II was lost (sent while
  // routing converged), and the forward zone's next change replaced its resends, so Pi II
  // never transferred the reverse zone until REFRESH (a week).
  const s = new NotifySchedule();
  let id = 1;
  const a = { address: '192.0.2.1', port: 53 };
  const R = nameFromText('0.168.192.in-addr.arpa.');
  s.changed(R, SOA, [a], () => id++, 0);
  s.changed(O, SOA, [a], () => id++, 100);
  t.ok(s.answered(a, 2, O), 'the forward zone answered');
  t.equal(s.nextTimeout(), 1000, "the reverse zone's resend is still due");
  t.same(
    s.tick(1000).sends.map((x) => x.target),
    [a],
    'and sent',
  );
  t.notOk(s.answered(a, 1, O), 'an answer naming the wrong zone does not end it');
  t.ok(s.answered(a, 1, R));
});
