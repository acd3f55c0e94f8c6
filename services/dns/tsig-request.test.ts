/**
 * TSIG on requests and answers (tsig-request.ts, RFC 8945 §5): the server's check of a
 * request and its refusals; a multi-message answer signed by the server and read back by
 * the client, with unsigned messages between signed ones (§5.3.1), tampering, a wrong key,
 * 100 unsigned in a row, an unsigned last message.
 */
import t from 'tap';
import { decodeMessage, MessageWriter, RCODE, bareReply } from './message.js';
import { nameFromText } from './name.js';
import { findTsig, keyFromTriple, sign, signContinuation, TSIG_ERROR } from './tsig.js';
import {
  checkRequestTsig,
  refusalReply,
  signAnswer,
  SignedAnswerReader,
  tsigSize,
} from './tsig-request.js';
import { query } from './testing.js';
import { screenQuery } from './query-screen.js';

const KEY = keyFromTriple(
  `hmac-sha256:xfr:${Buffer.from('tsig request test key 32 bytes!!').toString('base64')}`,
);
const OTHER = keyFromTriple(
  `hmac-sha256:xfr:${Buffer.from('another secret of the same name!').toString('base64')}`,
);
const keys = (n: string) => (n === KEY.name ? KEY : undefined);
const NOW = 1_800_000_000;

function message(id: number, i: number): Uint8Array {
  const w = new MessageWriter(512);
  w.addQuestion({ qname: nameFromText(`m${i}.test.`), qtype: 1, qclass: 1 });
  return w.finish(id, 0x8400);
}

t.test('requests: unsigned, verified, refused, misplaced', async (t) => {
  const q = query('www.test', 'A');
  const seen = { signed: true };
  screenQuery(q, seen);
  t.notOk(seen.signed, 'no additional section: cannot be signed');
  t.same(checkRequestTsig(q, keys, NOW), { kind: 'unsigned' });
  const signed = sign(q, KEY, { now: NOW }).message;
  screenQuery(signed, seen);
  t.ok(seen.signed);
  const v = checkRequestTsig(signed, keys, NOW + 10);
  t.equal(v.kind, 'verified');
  if (v.kind === 'verified') t.same(v.unsigned, q, 'the request as it was before signing');

  const wrong = checkRequestTsig(sign(q, OTHER, { now: NOW }).message, keys, NOW);
  t.match(wrong, { kind: 'refused', error: TSIG_ERROR.BADSIG });
  const late = checkRequestTsig(signed, keys, NOW + 301);
  t.match(late, { kind: 'refused', error: TSIG_ERROR.BADTIME });
  const unknown = checkRequestTsig(signed, () => undefined, NOW);
  t.match(unknown, { kind: 'refused', error: TSIG_ERROR.BADKEY });

  // §5.2: BADSIG/BADKEY answered with an unsigned TSIG carrying the error; BADTIME signed.
  if (wrong.kind === 'refused') {
    const r = refusalReply(bareReply(signed, RCODE.NOTAUTH), wrong, NOW);
    const tsig = findTsig(r);
    t.match(tsig, { error: TSIG_ERROR.BADSIG });
    t.equal(typeof tsig === 'object' ? tsig.mac.length : -1, 0, 'no MAC');
    t.equal(decodeMessage(r).rcode, RCODE.NOTAUTH);
  }
  if (late.kind === 'refused') {
    const r = refusalReply(bareReply(signed, RCODE.NOTAUTH), late, NOW + 301);
    const tsig = findTsig(r);
    t.match(tsig, { error: TSIG_ERROR.BADTIME });
    t.equal(typeof tsig === 'object' ? tsig.other.length : -1, 6, 'our time in Other Data');
  }
  // A TSIG followed by another record: FORMERR (§5.1).
  const w = new MessageWriter(512);
  const d = decodeMessage(signed);
  w.addQuestion(d.questions[0]!);
  for (const r of d.additionals) w.addRR(3, r);
  w.addRR(3, { owner: new Uint8Array([0]), type: 16, class: 1, ttl: 0, rdata: Uint8Array.of(0) });
  t.same(checkRequestTsig(w.finish(1, 0), keys, NOW), { kind: 'formerr' });
  t.ok(tsigSize(KEY) >= signed.length - q.length, 'tsigSize covers what signing added');
});

t.test('a multi-message answer: signed, then read back', async (t) => {
  const req = sign(query('test', 'AXFR'), KEY, { now: NOW });
  const msgs = [0, 1, 2, 3].map((i) => message(7, i));
  const signed = signAnswer(msgs, KEY, req.mac, NOW);
  const ok = new SignedAnswerReader(KEY, req.mac);
  t.same(
    signed.map((m) => ok.push(m, NOW + 1)),
    signed.map(() => ({ ok: true })),
    'every message verifies',
  );
  t.ok(ok.complete());

  // A primary that signs every other message (§5.3.1 allows up to 99 unsigned between).
  const sparse: Uint8Array[] = [];
  let prior = req.mac;
  const pending: Uint8Array[] = [];
  msgs.forEach((m, i) => {
    if (i % 2 === 1 && i !== msgs.length - 1) {
      sparse.push(m);
      pending.push(m);
      return;
    }
    // Sign over the prior MAC, the unsigned run and this message (what BIND may send).
    const s =
      i === 0
        ? sign(m, KEY, { now: NOW, requestMac: prior })
        : signOverRun(pending.splice(0), m, prior);
    sparse.push(s.message);
    prior = s.mac;
  });
  const r2 = new SignedAnswerReader(KEY, req.mac);
  t.same(
    sparse.map((m) => r2.push(m, NOW)),
    sparse.map(() => ({ ok: true })),
    'unsigned messages between signed ones',
  );
  t.ok(r2.complete());

  const tampered = Uint8Array.from(signed[2]!);
  tampered[14] = tampered[14]! ^ 1;
  const r3 = new SignedAnswerReader(KEY, req.mac);
  r3.push(signed[0]!, NOW);
  r3.push(signed[1]!, NOW);
  t.match(r3.push(tampered, NOW), { ok: false, reason: /BADSIG/ }, 'a changed byte');
  t.match(
    new SignedAnswerReader(OTHER, req.mac).push(signed[0]!, NOW),
    { ok: false },
    'the wrong secret',
  );
  t.match(
    new SignedAnswerReader(KEY, req.mac).push(msgs[0]!, NOW),
    { ok: false, reason: /not signed/ },
    'the first message unsigned',
  );
  const r4 = new SignedAnswerReader(KEY, req.mac);
  r4.push(signed[0]!, NOW);
  r4.push(msgs[1]!, NOW);
  t.notOk(r4.complete(), 'an unsigned last message leaves the answer incomplete');
  const r5 = new SignedAnswerReader(KEY, req.mac);
  r5.push(signed[0]!, NOW);
  let last: { ok: boolean } = { ok: true };
  for (let i = 0; i < 100 && last.ok; i++) last = r5.push(msgs[1]!, NOW);
  t.match(last, { ok: false, reason: /100 unsigned/ });
});

/**
 * §5.3.1 by hand, as a primary that signs every other message does it: the MAC covers the
 * prior MAC, the unsigned run and this message, then the timers. signContinuation over
 * their concatenation computes exactly that digest; its TSIG then goes on `m` alone.
 */
function signOverRun(run: Uint8Array[], m: Uint8Array, prior: Uint8Array) {
  const joined = Buffer.concat([...run, m]);
  const s = signContinuation(joined, KEY, prior, NOW);
  const tsig = s.message.subarray(joined.length);
  const out = new Uint8Array(m.length + tsig.length);
  out.set(m, 0);
  out.set(tsig, m.length);
  const ar = ((out[10]! << 8) | out[11]!) + 1;
  out[10] = ar >>> 8;
  out[11] = ar & 0xff;
  return { message: out, mac: s.mac };
}
