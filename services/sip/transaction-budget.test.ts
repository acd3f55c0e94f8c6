/**
 * The transaction memory budget (transaction-layer.ts, maxTransactionBytes) on a manual
 * clock: a flood of new INVITEs fills it, the next request gets 503 Retry-After statelessly,
 * and the budget comes back as Timer H ends the transactions.
 */
import t from 'tap';
import { Buffer } from 'node:buffer';
import { testCore, responses, PHONE, T0 } from './testing.js';
import { getHeader } from './message.js';
import { TX_OVERHEAD_BYTES } from './transaction-layer.js';

/**
 * Forged credentials (a nonce that is not ours): the answer is a 407 again, but from a
 * transaction, since only requests without credentials are answered statelessly.
 */
const FORGED =
  'Proxy-Authorization: Digest username="2001", realm="asterisk", nonce="AAAA", ' +
  'uri="sip:2002@127.0.0.1", response="00000000000000000000000000000000"\r\n';

function invite(i: number, credentials = true): Buffer {
  return Buffer.from(
    `INVITE sip:2002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.${i % 250}:5060;branch=z9hG4bKflood${i}\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:2001@example.com>;tag=f${i}\r\nTo: <sip:2002@example.com>\r\n` +
      `Call-ID: flood-${i}\r\nCSeq: 1 INVITE\r\n${credentials ? FORGED : ''}Content-Length: 0\r\n\r\n`,
    'latin1',
  );
}

t.test('a full byte budget sheds new requests with 503 Retry-After, then recovers', async (t) => {
  const maxTransactionBytes = 64 * 1024;
  const { core } = testCore({ qualifyIntervalMs: 1e12, maxTransactionBytes });
  let i = 0;
  let first503: number | undefined;
  for (; i < 1000; i++) {
    const r = responses(core.handle({ data: invite(i), source: PHONE }, T0))[0]!;
    if (r.status === 503) {
      first503 = i;
      t.equal(getHeader(r, 'retry-after'), '5', 'Retry-After (RFC 3261 §21.5.4)');
      break;
    }
    t.equal(r.status, 407);
  }
  t.ok(first503 !== undefined, 'the budget filled before 1000 INVITEs');
  const per = maxTransactionBytes / first503!;
  t.ok(per > TX_OVERHEAD_BYTES && per < TX_OVERHEAD_BYTES + 1024, `~${Math.round(per)} B each`);
  t.ok(core.layer.retainedBytes >= maxTransactionBytes, 'full');
  t.ok(core.layer.serverCount < 10_000, 'well below the count backstop');
  const before = core.layer.serverCount;
  t.equal(
    responses(core.handle({ data: invite(5000), source: PHONE }, T0 + 1))[0]!.status,
    503,
    'still full',
  );
  t.equal(core.layer.serverCount, before, 'the 503 is stateless: no transaction kept');
  // Timer H (64*T1) ends every challenge transaction; their bytes come back.
  core.handleTimeout(T0 + 32_000);
  t.equal(core.layer.serverCount, 0);
  t.equal(core.layer.retainedBytes, 0, 'the estimate returns to zero (nothing leaked)');
  t.equal(
    responses(core.handle({ data: invite(6000), source: PHONE }, T0 + 32_001))[0]!.status,
    407,
    'accepting again',
  );
});

t.test('unauthenticated INVITEs over UDP hold no transaction at all (§8.2.7)', async (t) => {
  const maxTransactionBytes = 64 * 1024;
  const { core } = testCore({ qualifyIntervalMs: 1e12, maxTransactionBytes });
  for (let i = 0; i < 5000; i++) {
    const r = responses(core.handle({ data: invite(i, false), source: PHONE }, T0))[0]!;
    if (r.status !== 407) return t.fail(`INVITE ${i}: ${r.status}`);
  }
  t.equal(core.layer.serverCount, 0, '5,000 challenged, none kept');
  t.equal(core.layer.retainedBytes, 0, 'nothing charged to the budget');
});

t.test('retained bytes follow what a transaction holds (provisional then final)', async (t) => {
  const { core } = testCore({ qualifyIntervalMs: 1e12 });
  const out = core.handle(
    {
      data: Buffer.from(
        'OPTIONS sip:2001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKb1\r\n' +
          'Max-Forwards: 70\r\nFrom: <sip:2002@example.com>;tag=f1\r\nTo: <sip:2001@example.com>\r\n' +
          'Call-ID: b1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
        'latin1',
      ),
      source: PHONE,
    },
    T0,
  );
  const sent = out.find((o) => o.type === 'send')!;
  t.ok(sent.type === 'send');
  const held = core.layer.retainedBytes;
  t.ok(
    held >= TX_OVERHEAD_BYTES + (sent.type === 'send' ? sent.data.length : 0),
    'the cached 200 is counted',
  );
  core.handleTimeout(T0 + 32_000);
  t.equal(core.layer.retainedBytes, 0, 'Timer J gives it back');
});
