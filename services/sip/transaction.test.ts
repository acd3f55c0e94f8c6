/** Transactions on a manual clock (RFC 3261 §17), driven through the core as a phone would. */
import t from 'tap';
import { Buffer } from 'node:buffer';
import { testCore, responses, sends, PHONE, T0 } from './testing.js';
import { NonInviteClientTransaction } from './non-invite-client-transaction.js';
import { DEFAULT_TIMERS } from './sip-timers.js';
import { InviteServerTransaction } from './invite-server-transaction.js';

function req(method: string, branch: string, extra = ''): Buffer {
  return Buffer.from(
    `${method} sip:2001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=${branch}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:2002@example.com>;tag=f1\r\nTo: <sip:2001@example.com>${extra}\r\nCall-ID: tx-${branch}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
    'latin1',
  );
}

/** Advance the clock in 100 ms steps from `from` to `to`, returning send times. */
function run(core: ReturnType<typeof testCore>['core'], from: number, to: number): number[] {
  const times: number[] = [];
  for (let now = from; now <= to; now += 100)
    for (const _ of sends(core.handleTimeout(now))) times.push(now - from);
  return times;
}

t.test(
  'NIST: retransmitted OPTIONS gets the same response; Timer J = 64*T1 over UDP',
  async (t) => {
    const { core } = testCore({ qualifyIntervalMs: 1e12 });
    const first = sends(core.handle({ data: req('OPTIONS', 'z9hG4bKn1'), source: PHONE }, T0));
    t.equal(first.length, 1);
    t.equal(responses(first)[0]!.status, 200);
    const again = sends(
      core.handle({ data: req('OPTIONS', 'z9hG4bKn1'), source: PHONE }, T0 + 500),
    );
    t.same(
      Buffer.from(again[0]!.data),
      Buffer.from(first[0]!.data),
      'cached final resent byte for byte (same To tag)',
    );
    t.equal(core.layer.serverCount, 1);
    core.handleTimeout(T0 + 31_999);
    t.equal(core.layer.serverCount, 1, 'still Completed before Timer J');
    core.handleTimeout(T0 + 32_000);
    t.equal(core.layer.serverCount, 0, 'Terminated at 64*T1');
    t.equal(run(core, T0, T0 + 40_000).length, 0, 'a NIST never retransmits by itself');
  },
);

t.test('NIST over TCP: Timer J is zero', async (t) => {
  const { core } = testCore({ qualifyIntervalMs: 1e12 });
  const tcp = { transport: 'tcp' as const, address: '192.0.2.10', port: 40001, connection: 9 };
  const out = sends(
    core.handle(
      {
        data: Buffer.from(
          req('OPTIONS', 'z9hG4bKt1').toString('latin1').replace('UDP', 'TCP'),
          'latin1',
        ),
        source: tcp,
      },
      T0,
    ),
  );
  t.equal(out[0]!.dest.connection, 9, 'response on the same connection');
  core.handleTimeout(T0);
  t.equal(core.layer.serverCount, 0);
});

t.test(
  'IST: a 407 to an unauthenticated UDP INVITE is stateless (§8.2.7): one copy, no state, same To tag again',
  async (t) => {
    const { core } = testCore({ qualifyIntervalMs: 1e12 });
    const out = responses(core.handle({ data: req('INVITE', 'z9hG4bKi1'), source: PHONE }, T0));
    t.equal(out.length, 1);
    t.equal(out[0]!.status, 407, 'INVITE challenged');
    t.equal(core.layer.serverCount, 0, 'no transaction kept');
    t.same(run(core, T0, T0 + 8000), [], 'no Timer G: nothing sent on a timer');
    // Retransmitted INVITE (the UAC's Timer A) → answered again, with the same To tag.
    const tag = out[0]!.to.params.find(([k]) => k === 'tag')![1];
    const again = responses(
      core.handle({ data: req('INVITE', 'z9hG4bKi1'), source: PHONE }, T0 + 8000),
    );
    t.equal(again.length, 1);
    t.equal(again[0]!.status, 407);
    t.equal(again[0]!.to.params.find(([k]) => k === 'tag')![1], tag, 'To tag stable per request');
    const other = responses(
      core.handle({ data: req('INVITE', 'z9hG4bKi9'), source: PHONE }, T0 + 8000),
    );
    t.not(other[0]!.to.params.find(([k]) => k === 'tag')![1], tag, 'another branch, another tag');
    // The ACK is ignored (§8.2.7): nothing sent, nothing kept.
    t.equal(
      sends(core.handle({ data: req('ACK', 'z9hG4bKi1', `;tag=${tag}`), source: PHONE }, T0 + 8050))
        .length,
      0,
    );
    t.equal(core.layer.serverCount, 0);
    // A CANCEL finds no transaction: 481 (§9.2).
    t.equal(
      responses(core.handle({ data: req('CANCEL', 'z9hG4bKi1'), source: PHONE }, T0 + 8060))[0]!
        .status,
      481,
    );
  },
);

t.test(
  'IST: a 407 to an INVITE with credentials is sent once, no Timer G; its retransmission is answered from the transaction',
  async (t) => {
    const { core } = testCore({ qualifyIntervalMs: 1e12 });
    const creds = `\r\nProxy-Authorization: Digest username="2002", realm="asterisk", nonce="AAAA", uri="sip:2001@127.0.0.1", response="00000000000000000000000000000000"`;
    const first = sends(
      core.handle({ data: req('INVITE', 'z9hG4bKa1', creds), source: PHONE }, T0),
    );
    t.equal(first.length, 1);
    t.equal(core.layer.serverCount, 1, 'transaction kept');
    t.same(run(core, T0, T0 + 8000), [], 'no Timer G');
    const again = sends(
      core.handle({ data: req('INVITE', 'z9hG4bKa1', creds), source: PHONE }, T0 + 8000),
    );
    t.same(Buffer.from(again[0]!.data), Buffer.from(first[0]!.data), 'the same bytes');
    const tag = responses(first)[0]!.to.params.find(([k]) => k === 'tag')![1];
    t.equal(
      sends(
        core.handle(
          { data: req('ACK', 'z9hG4bKa1', `;tag=${tag}${creds}`), source: PHONE },
          T0 + 8050,
        ),
      ).length,
      0,
    );
    t.equal(run(core, T0 + 8100, T0 + 20_000).length, 0, 'nothing after ACK');
    t.equal(core.layer.serverCount, 0, 'Timer I (T4 = 5 s) ended it');
  },
);

t.test(
  'IST: exactly one 407 over 32 s for a spoofed INVITE (no ACK); Timer H at 64*T1',
  async (t) => {
    const { core } = testCore({ qualifyIntervalMs: 1e12 });
    const first = sends(core.handle({ data: req('INVITE', 'z9hG4bKi2'), source: PHONE }, T0));
    t.equal(first.length, 1, 'one 407 on arrival');
    t.same(run(core, T0, T0 + 33_000), [], 'none of the 10 Timer G copies');
    t.equal(core.layer.serverCount, 0, 'nothing held');
  },
);

t.test(
  'IST unit: Timer G (T1, 2T1 … T2) for a final after a 1xx, and without `once`',
  async (t) => {
    const dest = { transport: 'udp' as const, address: '192.0.2.10', port: 5062 };
    const times = (tx: InviteServerTransaction, from: number): number[] => {
      const at: number[] = [];
      for (let now = from; now <= from + 33_000; now += 100)
        if (tx.handleTimeout(now).length > 0) at.push(now - from);
      return at;
    };
    const plain = new InviteServerTransaction('k1', dest, false, DEFAULT_TIMERS);
    plain.respond(486, Buffer.from('486'), T0);
    t.same(
      times(plain, T0),
      [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500],
      'G doubles to T2 = 4 s, H at 32 s',
    );
    t.equal(plain.state, 'terminated');
    // After a 100 Trying the UAC stops retransmitting (Timer A), so `once` keeps Timer G.
    const ringing = new InviteServerTransaction('k2', dest, false, DEFAULT_TIMERS);
    ringing.respond(100, Buffer.from('100'), T0);
    ringing.respond(480, Buffer.from('480'), T0, true);
    t.same(times(ringing, T0).slice(0, 3), [500, 1500, 3500], 'Timer G runs after a 1xx');
    const once = new InviteServerTransaction('k3', dest, false, DEFAULT_TIMERS);
    once.respond(407, Buffer.from('407'), T0, true);
    t.equal(once.receiveRequest().length, 1, 'a retransmitted INVITE gets it again');
    t.same(times(once, T0), [], 'once: no Timer G');
    t.equal(once.state, 'terminated', 'Timer H still ends it');
  },
);

t.test('CANCEL matching the INVITE gets 200; unknown CANCEL and BYE get 481', async (t) => {
  const { core } = testCore({ qualifyIntervalMs: 1e12 });
  // With credentials, so the INVITE keeps a transaction for the CANCEL to match.
  const creds = `\r\nProxy-Authorization: Digest username="2002", realm="asterisk", nonce="AAAA", uri="sip:2001@127.0.0.1", response="00000000000000000000000000000000"`;
  core.handle({ data: req('INVITE', 'z9hG4bKc1', creds), source: PHONE }, T0);
  t.equal(
    responses(core.handle({ data: req('CANCEL', 'z9hG4bKc1'), source: PHONE }, T0 + 10))[0]!.status,
    200,
  );
  t.equal(
    responses(core.handle({ data: req('CANCEL', 'z9hG4bKc9'), source: PHONE }, T0 + 10))[0]!.status,
    481,
  );
  t.equal(
    responses(core.handle({ data: req('BYE', 'z9hG4bKb1', ';tag=x'), source: PHONE }, T0 + 10))[0]!
      .status,
    481,
  );
});

t.test('RFC 2543 request without branch still matched for retransmissions', async (t) => {
  const { core } = testCore({ qualifyIntervalMs: 1e12 });
  const m = Buffer.from(req('OPTIONS', 'x').toString('latin1').replace(';branch=x', ''));
  core.handle({ data: m, source: PHONE }, T0);
  core.handle({ data: m, source: PHONE }, T0 + 500);
  t.equal(core.layer.serverCount, 1);
});

t.test('NICT: Timer E doubles to T2, Timer F at 64*T1, Timer K after a final', async (t) => {
  const now = 0;
  const tx = new NonInviteClientTransaction(
    'k',
    { transport: 'udp', address: '192.0.2.1', port: 5060 },
    new Uint8Array([1]),
    false,
    DEFAULT_TIMERS,
    now,
  );
  t.equal(tx.start().length, 1);
  const times: number[] = [];
  for (let ms = 0; ms <= 40_000; ms += 100) {
    if (tx.handleTimeout(ms).length) times.push(ms);
  }
  t.same(times, [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.ok(tx.timedOut && tx.state === 'terminated', 'Timer F');

  const tx2 = new NonInviteClientTransaction(
    'k2',
    { transport: 'udp', address: '192.0.2.1', port: 5060 },
    new Uint8Array([1]),
    false,
    DEFAULT_TIMERS,
    0,
  );
  t.ok(tx2.receiveResponse(100, 200), 'provisional passed up');
  t.equal(tx2.handleTimeout(500).length, 1, 'E in Proceeding');
  t.equal(tx2.nextTimeout(), 4500, 'reset to T2');
  t.ok(tx2.receiveResponse(200, 600));
  t.notOk(tx2.receiveResponse(200, 700), 'retransmitted final absorbed');
  t.equal(tx2.nextTimeout(), 5600, 'Timer K = T4');
  tx2.handleTimeout(5600);
  t.equal(tx2.state, 'terminated');
});
