/**
 * TSIG (RFC 8945) on golden bytes and round trips. The golden query was sent by
 * `dig -y hmac-sha256:tsig-test.example.:<secret> +noedns www.example.com A` (DiG 9.18.49,
 * Debian bind9-dnsutils) to a Node socket on this machine on 2026-12-04; the key is ours
 * (base64 of "netsvc tsig golden vector key 01"), so the capture carries no licence.
 */
import t from 'tap';
import fc from 'fast-check';
import { MessageWriter } from './message.js';
import {
  TSIG_ALGORITHMS,
  TSIG_ERROR,
  findTsig,
  keyFromTriple,
  sign,
  signContinuation,
  verify,
  type TsigKey,
  type TsigRecord,
} from './tsig.js';
import { nameFromText } from './name.js';
import { holds } from '../../src/testing/property.js';

const DIG_QUERY = Buffer.from(
  '5f750120000100000000000103777777076578616d706c6503636f6d000001000109747369672d74657374' +
    '076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b1326c0012c0020' +
    '6818e321a4ee40a0638da665dcaaed56c5d98492942b02a69a86e757b3c780a65f7500000000',
  'hex',
);
const KEY = keyFromTriple(
  'hmac-sha256:tsig-test.example.:bmV0c3ZjIHRzaWcgZ29sZGVuIHZlY3RvciBrZXkgMDE=',
);
const keys = (k: TsigKey) => (name: string) => (name === k.name ? k : undefined);

function record(msg: Uint8Array): TsigRecord {
  const r = findTsig(msg);
  if (r === undefined || r === 'formerr') throw new Error(`no TSIG: ${r}`);
  return r;
}

t.test("dig's signed query: located, verified, and each §5.2 failure in order", async (t) => {
  const r = record(DIG_QUERY);
  t.equal(r.timeSigned, 0x6b1326c0);
  t.equal(r.fudge, 300);
  t.equal(r.mac.length, 32);
  t.equal(r.originalId, 0x5f75);
  const ok = verify(DIG_QUERY, r, keys(KEY), r.timeSigned + 10);
  t.ok(ok.ok, 'verifies with the key dig used');
  if (ok.ok) t.equal(ok.unsigned.length, r.offset, 'the message without its TSIG');
  const other = { ...KEY, name: 'other.' };
  t.match(verify(DIG_QUERY, r, keys(other), r.timeSigned), { ok: false, error: TSIG_ERROR.BADKEY });
  const sha1 = { ...KEY, algorithm: 'hmac-sha1' };
  t.match(
    verify(DIG_QUERY, r, keys(sha1), r.timeSigned),
    { ok: false, error: TSIG_ERROR.BADKEY },
    'algorithm must match the key',
  );
  const wrong = { ...KEY, secret: Buffer.from('another secret') };
  t.match(verify(DIG_QUERY, r, keys(wrong), r.timeSigned), { ok: false, error: TSIG_ERROR.BADSIG });
  const late = verify(DIG_QUERY, r, keys(KEY), r.timeSigned + 301);
  t.match(late, { ok: false, error: TSIG_ERROR.BADTIME }, 'outside the fudge');
  t.ok(!late.ok && late.key, 'BADTIME answers are signed: the key comes back');
  t.ok(verify(DIG_QUERY, r, keys(KEY), r.timeSigned - 300).ok, 'the fudge is inclusive');
  // Any changed byte of the signed part fails the MAC (the ID is covered via Original ID).
  const tampered = Buffer.from(DIG_QUERY);
  tampered[20] = tampered[20]! ^ 0x20; // the case of a letter of www.example.com
  t.match(verify(tampered, record(tampered), keys(KEY), r.timeSigned), {
    ok: false,
    error: TSIG_ERROR.BADSIG,
  });
  const newId = Buffer.from(DIG_QUERY);
  newId[0] = 0x12; // a forwarder may change the ID: Original ID keeps the MAC valid (§4.3.3)
  t.ok(verify(newId, record(newId), keys(KEY), r.timeSigned).ok);
});

function query(): Uint8Array {
  const w = new MessageWriter(512);
  w.addQuestion({ qname: nameFromText('host.example.'), qtype: 1, qclass: 1 });
  return w.finish(0x1234, 0x0100);
}

t.test(
  'sign → verify round trip for every algorithm; a response covers the request MAC',
  async (t) => {
    for (const algorithm of TSIG_ALGORITHMS) {
      const key: TsigKey = {
        name: 'k.example.',
        algorithm,
        secret: Buffer.from(`secret-${algorithm}`),
      };
      const signed = sign(query(), key, { now: 1_800_000_000 });
      const r = record(signed.message);
      const v = verify(signed.message, r, keys(key), 1_800_000_100);
      t.ok(v.ok, `${algorithm} verifies`);
      t.same(Buffer.from(r.mac), Buffer.from(signed.mac));
      // Response to it, signed over the request MAC; verifying without that MAC fails.
      const resp = sign(query(), key, { now: 1_800_000_001, requestMac: signed.mac });
      const rr = record(resp.message);
      t.ok(
        verify(resp.message, rr, keys(key), 1_800_000_001, signed.mac).ok,
        `${algorithm} response`,
      );
      t.match(verify(resp.message, rr, keys(key), 1_800_000_001), {
        ok: false,
        error: TSIG_ERROR.BADSIG,
      });
    }
  },
);

t.test('BADTIME answers carry Other Data; continuation messages chain their MACs', async (t) => {
  const now = 1_800_000_000;
  const other = Uint8Array.of(0, 0, 0x6b, 0x49, 0xd2, 0x00);
  const s = sign(query(), KEY, { now, error: TSIG_ERROR.BADTIME, other });
  const r = record(s.message);
  t.equal(r.error, TSIG_ERROR.BADTIME);
  t.same(Buffer.from(r.other), Buffer.from(other));
  t.ok(verify(s.message, r, keys(KEY), now).ok, 'error and other data are covered by the MAC');
  const first = sign(query(), KEY, { now });
  const second = signContinuation(query(), KEY, first.mac, now + 1);
  const third = signContinuation(query(), KEY, second.mac, now + 1);
  t.not(
    Buffer.from(second.mac).toString('hex'),
    Buffer.from(third.mac).toString('hex'),
    'each MAC depends on the prior one',
  );
  t.equal(record(third.message).mac.length, 32);
});

t.test('truncated MACs (§5.2.2.1): at least half the hash and 10 bytes', async (t) => {
  const s = sign(query(), KEY, { now: 1_800_000_000 });
  const r = record(s.message);
  const short = { ...r, mac: r.mac.subarray(0, 15) };
  t.match(verify(s.message, short, keys(KEY), 1_800_000_000), {
    ok: false,
    error: TSIG_ERROR.BADTRUNC,
  });
  const half = { ...r, mac: r.mac.subarray(0, 16) };
  t.ok(verify(s.message, half, keys(KEY), 1_800_000_000).ok, 'half of SHA-256 is allowed');
});

t.test('findTsig: absent, misplaced, malformed, and random bytes never throw', async (t) => {
  t.equal(findTsig(query()), undefined);
  const signed = sign(query(), KEY, { now: 1_800_000_000 }).message;
  // Claim one more additional record after the TSIG: the TSIG is no longer last (§5.1).
  const extra = Buffer.concat([Buffer.from(signed), Buffer.from('0000010001000000000000', 'hex')]);
  extra[11] = 2;
  t.equal(findTsig(extra), 'formerr');
  for (let cut = 12; cut < signed.length; cut += 7)
    t.equal(findTsig(signed.subarray(0, cut)), 'formerr', `cut at ${cut}`);
  holds(
    t,
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (b) => {
      const r = findTsig(b);
      return r === undefined || r === 'formerr' || typeof r.offset === 'number';
    }),
  );
});

t.test('keyFromTriple (dig/nsupdate -y syntax)', async (t) => {
  t.same(keyFromTriple('HMAC-SHA256:Ddns-Key:c2VjcmV0'), {
    algorithm: 'hmac-sha256',
    name: 'ddns-key.',
    secret: Buffer.from('secret'),
  });
  t.throws(() => keyFromTriple('hmac-sha3:k:c2VjcmV0'), /unknown TSIG algorithm/);
  t.throws(() => keyFromTriple('hmac-sha256:k'), /algorithm:name:secret/);
});
