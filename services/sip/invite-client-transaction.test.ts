/** INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2) on a manual clock. */
import t from 'tap';
import { InviteClientTransaction, TIMER_D_MS } from './invite-client-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { DEFAULT_TIMERS } from './sip-timers.js';

const DEST = { transport: 'udp' as const, address: '192.0.2.1', port: 5060 };
const ACK = new Uint8Array([0xac]);
const mk = (reliable = false, now = 0) =>
  new InviteClientTransaction(
    'k',
    reliable ? { ...DEST, transport: 'tcp' } : DEST,
    new Uint8Array([1]),
    reliable,
    DEFAULT_TIMERS,
    now,
    () => ACK,
  );

function pops(tx: InviteClientTransaction, from: number, to: number): number[] {
  const times: number[] = [];
  for (let ms = from; ms <= to; ms += 100) if (tx.handleTimeout(ms).length) times.push(ms);
  return times;
}

t.test('Timer A doubles without a T2 cap; Timer B at 64*T1 tells the TU', async (t) => {
  const tx = mk();
  t.equal(tx.start().length, 1);
  t.same(
    pops(tx, 0, 40_000),
    [500, 1500, 3500, 7500, 15500, 31500],
    'A: T1, 2T1, 4T1 … (no T2 cap for INVITE)',
  );
  t.equal(tx.state, 'terminated');
  t.ok(tx.timedOut, 'Timer B fired at 32 s');
});

t.test('reliable transport: no Timer A, Timer B still', async (t) => {
  const tx = mk(true);
  t.equal(tx.nextTimeout(), 32_000);
  t.same(pops(tx, 0, 40_000), []);
  t.ok(tx.timedOut);
});

t.test('a provisional stops A and B (Proceeding has no timer)', async (t) => {
  const tx = mk();
  t.same(tx.receiveResponse(180, '<sip:b>;tag=x', 200), { deliver: true, sends: [] });
  t.equal(tx.state, 'proceeding');
  t.equal(tx.nextTimeout(), undefined);
  t.same(pops(tx, 0, 60_000), []);
});

t.test(
  'non-2xx: ACK sent (even reliable), retransmitted finals re-ACKed and absorbed, Timer D',
  async (t) => {
    const tx = mk();
    const r = tx.receiveResponse(486, '<sip:b>;tag=x', 1000);
    t.ok(r.deliver);
    t.same(
      r.sends.map((s) => s.data),
      [ACK],
    );
    t.equal(tx.state, 'completed');
    const again = tx.receiveResponse(486, '<sip:b>;tag=x', 1500);
    t.notOk(again.deliver, 'not passed up again');
    t.equal(again.sends.length, 1, 'ACK re-sent');
    t.equal(tx.nextTimeout(), 1000 + TIMER_D_MS, 'Timer D = 32 s on UDP');
    tx.handleTimeout(1000 + TIMER_D_MS);
    t.equal(tx.state, 'terminated');
    const rel = mk(true);
    t.equal(rel.receiveResponse(404, 'x', 10).sends.length, 1, 'ACK on TCP too');
    t.equal(rel.nextTimeout(), 10, 'Timer D = 0 on TCP');
  },
);

t.test('RFC 6026 Accepted: every 2xx passed up, no ACK by the transaction, Timer M', async (t) => {
  const tx = mk();
  t.same(tx.receiveResponse(200, 'x', 100), { deliver: true, sends: [] });
  t.equal(tx.state, 'accepted');
  t.same(
    tx.receiveResponse(200, 'x', 600),
    { deliver: true, sends: [] },
    '2xx retransmission reaches the TU (it ACKs)',
  );
  t.notOk(tx.receiveResponse(180, 'x', 700).deliver);
  t.equal(tx.nextTimeout(), 100 + 32_000, 'Timer M = 64*T1');
  tx.handleTimeout(32_100);
  t.equal(tx.state, 'terminated');
  t.notOk(tx.timedOut);
});

t.test(
  'IST RFC 6026 Accepted: 2xx keeps the transaction for Timer L and absorbs INVITE retransmissions',
  async (t) => {
    const ist = new InviteServerTransaction('s', DEST, false, DEFAULT_TIMERS);
    ist.respond(200, new Uint8Array([2]), 0);
    t.equal(ist.state, 'accepted');
    t.same(ist.receiveRequest(), [], 'retransmitted INVITE absorbed (the TU retransmits the 2xx)');
    t.equal(ist.nextTimeout(), 32_000);
    ist.handleTimeout(32_000);
    t.equal(ist.state, 'terminated');
  },
);
