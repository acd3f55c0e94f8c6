/**
 * Password guessing through the core (registrar.ts + auth-guard.ts) on a manual clock, as
 * svcrack does it: REGISTER → 401 → REGISTER with a guess, a fresh nonce per guess.
 */
import t from 'tap';
import { Buffer } from 'node:buffer';
import { authorize, register, responses, testCore, PHONE, T0 } from './testing.js';
import { AUTH_GUARD_DEFAULTS } from './auth-guard.js';
import { digestResponse, parseAuthorization } from './digest.js';
import { getHeader } from './message.js';
import type { CoreOutput, SipCore } from './sip-core.js';
import type { Endpoint } from './transport.js';

const ATTACKER: Endpoint = { transport: 'udp', address: '203.0.113.5', port: 5070 };

function guardedCore(over: Partial<typeof AUTH_GUARD_DEFAULTS> = {}) {
  const base = testCore();
  return testCore({
    registrar: { ...base.opts.registrar, guard: { ...AUTH_GUARD_DEFAULTS, ...over } },
  });
}

let n = 0;
/** One guess: REGISTER, then the answer to its 401 with `password`; both responses. */
function guess(core: SipCore, source: Endpoint, password: string, now: number, user = '2001') {
  const callId = `guess-${++n}`;
  const via = `SIP/2.0/UDP ${source.address}:${source.port};branch=z9hG4bKg${n}a;rport`;
  const out1 = core.handle({ data: register({ user, callId, via }), source }, now);
  const first = responses(out1)[0]!;
  if (first.status !== 401) return { first, final: first, events: events(out1) };
  const auth = authorize(first, user, password);
  const out2 = core.handle(
    {
      data: register({
        user,
        callId,
        cseq: 2,
        authorization: auth,
        via: via.replace(`g${n}a`, `g${n}b`),
      }),
      source,
    },
    now,
  );
  return { first, final: responses(out2)[0]!, events: [...events(out1), ...events(out2)] };
}

const events = (out: CoreOutput[]) => out.flatMap((o) => (o.type === 'event' ? [o.event] : []));

t.test('20 wrong passwords from one source: banned at 5; the phone still registers', async (t) => {
  const { core } = guardedCore({ delayMs: 0 });
  const finals: number[] = [];
  const all = [];
  for (let i = 0; i < 20; i++) {
    const g = guess(core, ATTACKER, `wrong-${i}`, T0 + i * 1000);
    finals.push(g.final.status);
    all.push(...g.events);
  }
  t.same(finals.slice(0, 4), [401, 401, 401, 401], 'the first guesses are checked');
  t.same(finals.slice(5), Array(15).fill(403), 'then 403 without a check');
  t.equal(finals[4], 401, 'the fifth is checked and starts the ban');
  t.equal(all.filter((e) => e.type === 'auth-ban').length, 1, 'one ban event');
  t.equal(all.filter((e) => e.type === 'auth-failure').length, 5, 'five checked guesses');
  t.ok(
    all.filter((e) => e.type === 'auth-throttled').every((e) => e.reason === 'extension-source'),
  );
  // The right password from the attacker's address is not even checked now.
  t.equal(guess(core, ATTACKER, 'dev-2001', T0 + 30_000).final.status, 403, 'banned pair');
  // The phone, from its own address, is untouched.
  t.equal(guess(core, PHONE, 'dev-2001', T0 + 30_000).final.status, 200, 'phone registers');
  t.equal(core.registrar.guard!.bannedCount(T0 + 30_000), 1, 'active bans');
  // After banTime the pair may try again.
  t.equal(guess(core, ATTACKER, 'dev-2001', T0 + 20_000 + 600_000).final.status, 200);
});

t.test('the delay: a guess during it is refused unchecked, then allowed', async (t) => {
  const { core } = guardedCore({ delayMs: 1000 });
  t.equal(guess(core, ATTACKER, 'wrong', T0).final.status, 401);
  const early = guess(core, ATTACKER, 'dev-2001', T0 + 500);
  t.equal(early.first.status, 401, 'a challenge is still given during the delay');
  t.equal(early.final.status, 403, 'the right password inside the delay: not checked');
  t.equal(guess(core, ATTACKER, 'dev-2001', T0 + 1000).final.status, 200, 'after 1 s: checked');
});

t.test('defaults: a typo corrected at once is accepted (no delay unless configured)', async (t) => {
  const { core } = guardedCore();
  t.equal(guess(core, PHONE, 'typo', T0).final.status, 401);
  t.equal(guess(core, PHONE, 'dev-2001', T0 + 50).final.status, 200);
});

t.test('a stale nonce after our restart is not counted as a guess', async (t) => {
  const { core } = guardedCore({ maxFailures: 1 });
  const c1 = responses(core.handle({ data: register(), source: PHONE }, T0))[0]!;
  const auth = authorize(c1, '2001', 'dev-2001');
  const late = responses(
    core.handle({ data: register({ cseq: 2, authorization: auth }), source: PHONE }, T0 + 301_000),
  )[0]!;
  t.equal(late.status, 401, 'stale');
  t.equal(guess(core, PHONE, 'dev-2001', T0 + 301_000).final.status, 200, 'no delay, no ban');
});

t.test('guesses spread over many sources: extension ban spares the registered phone', async (t) => {
  const { core } = guardedCore({ extensionMaxFailures: 10 });
  t.equal(guess(core, PHONE, 'dev-2001', T0).final.status, 200, 'the phone registered first');
  for (let i = 1; i <= 10; i++) {
    const src = { ...ATTACKER, address: `198.51.100.${i}` };
    t.equal(guess(core, src, `wrong-${i}`, T0 + i).final.status, 401);
  }
  const fresh = { ...ATTACKER, address: '198.51.100.77' };
  t.equal(guess(core, fresh, 'dev-2001', T0 + 100).final.status, 403, 'a new source: banned');
  t.equal(guess(core, PHONE, 'dev-2001', T0 + 100).final.status, 200, 'the phone: exempt');
});

t.test('INVITE guesses are throttled the same way (407 then 403)', async (t) => {
  const { core } = guardedCore({ delayMs: 0, maxFailures: 2 });
  const invite = (i: number, auth?: string): Buffer =>
    Buffer.from(
      [
        'INVITE sip:2002@127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 203.0.113.5:5070;branch=z9hG4bKinv${i}`,
        'Max-Forwards: 70',
        'From: <sip:2001@example.com>;tag=f1',
        'To: <sip:2002@example.com>',
        `Call-ID: inv-${i}`,
        `CSeq: ${i} INVITE`,
        ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'latin1',
    );
  const statuses: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const ch = responses(core.handle({ data: invite(i * 2), source: ATTACKER }, T0 + i))[0]!;
    if (ch.status !== 407) {
      statuses.push(ch.status);
      continue;
    }
    const c = parseAuthorization(getHeader(ch, 'proxy-authenticate')!)!;
    const nonce = c.params.get('nonce')!;
    const uri = 'sip:2002@127.0.0.1';
    const response = digestResponse({
      algorithm: 'SHA-256',
      username: '2001',
      realm: 'asterisk',
      password: `wrong-${i}`,
      method: 'INVITE',
      uri,
      nonce,
      nc: '00000001',
      cnonce: 'c1',
      qop: 'auth',
    });
    const auth = `Digest username="2001", realm="asterisk", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c1"`;
    statuses.push(
      responses(core.handle({ data: invite(i * 2 + 1, auth), source: ATTACKER }, T0 + i))[0]!
        .status,
    );
  }
  t.same(statuses, [407, 407, 403, 403], 'two checked guesses, then refused unchecked');
});
