/** UPDATE messages through TSIG, zone, policy and decision (update-handler.ts). */
import t from 'tap';
import { decodeMessage, RCODE } from './message.js';
import { nameFromText, nameKey } from './name.js';
import { CLASS, TYPE, type RR } from './rr.js';
import { rrFromText } from './zone-file.js';
import { encodeUpdate } from './update-message.js';
import { findTsig, sign, verify, keyFromTriple, TSIG_ERROR } from './tsig.js';
import { UpdatePolicy } from './update-policy.js';
import { handleUpdate, type UpdateContext } from './update-handler.js';
import type { ZoneView } from './update.js';
import { ZoneRecords } from './zone-changes.js';

const ORIGIN = nameFromText('tic2023.com.');
const KEY = keyFromTriple(
  'hmac-sha256:ddns-key:' + Buffer.from('update handler test key 32 bytes').toString('base64'),
);
const NOW = 1_800_000_000;
const records: RR[] = [
  rrFromText('@ SOA ns1 hostmaster 1 3600 600 86400 300', ORIGIN, 300),
  rrFromText('@ NS ns1', ORIGIN, 300),
];
const view: ZoneView = new ZoneRecords(ORIGIN, records).view();
const ctx = (policy = true): UpdateContext => ({
  keys: (n) => (n === KEY.name ? KEY : undefined),
  zone: (o) =>
    nameKey(o) === nameKey(ORIGIN)
      ? {
          view,
          policy: policy
            ? new UpdatePolicy(ORIGIN, [{ key: 'ddns-key', match: 'zonesub' }])
            : undefined,
        }
      : undefined,
  now: NOW,
});
const update = (zone = ORIGIN) =>
  encodeUpdate(0x0101, {
    zone: [{ qname: zone, qtype: TYPE.SOA, qclass: CLASS.IN }],
    prerequisites: [],
    updates: [rrFromText('pc1 300 A 192.168.1.50', ORIGIN)],
  });
const run = (bytes: Uint8Array, c = ctx()) => handleUpdate(bytes, decodeMessage(bytes), c);

t.test(
  'a signed, granted update: NOERROR, a change to commit, a reply signed over our MAC',
  async (t) => {
    const s = sign(update(), KEY, { now: NOW });
    const v = run(s.message);
    t.equal(v.rcode, RCODE.NOERROR);
    t.equal(v.keyName, 'ddns-key.');
    t.equal(v.change?.decision.adds.filter((r) => r.type === TYPE.A).length, 1);
    const reply = v.reply(RCODE.NOERROR);
    const m = decodeMessage(reply);
    t.equal(m.id, 0x0101);
    t.equal(m.questions.length, 1, 'zone section echoed');
    const rt = findTsig(reply);
    t.ok(
      rt &&
        rt !== 'formerr' &&
        verify(reply, rt, (n) => (n === KEY.name ? KEY : undefined), NOW, s.mac).ok,
      'client can verify it',
    );
    t.equal(
      decodeMessage(v.reply(RCODE.SERVFAIL)).rcode,
      RCODE.SERVFAIL,
      'a failed commit answers SERVFAIL',
    );
  },
);

t.test('refusals, in BIND order', async (t) => {
  t.equal(run(update()).rcode, RCODE.REFUSED, 'unsigned');
  t.equal(
    run(sign(update(), KEY, { now: NOW }).message, ctx(false)).rcode,
    RCODE.REFUSED,
    'zone has no policy',
  );
  t.equal(
    run(sign(update(nameFromText('other.com.')), KEY, { now: NOW }).message).rcode,
    RCODE.NOTAUTH,
    'not our zone',
  );
  const wrong = { ...KEY, secret: Buffer.from('not the right secret at all....') };
  const bad = run(sign(update(), wrong, { now: NOW }).message);
  t.equal(bad.rcode, RCODE.NOTAUTH);
  const bt = findTsig(bad.reply(bad.rcode));
  t.ok(
    bt && bt !== 'formerr' && bt.error === TSIG_ERROR.BADSIG && bt.mac.length === 0,
    'BADSIG in an unsigned TSIG',
  );
  const late = run(sign(update(), KEY, { now: NOW - 1000 }).message);
  t.equal(late.rcode, RCODE.NOTAUTH);
  const lt = findTsig(late.reply(late.rcode));
  t.ok(
    lt && lt !== 'formerr' && lt.error === TSIG_ERROR.BADTIME && lt.mac.length === 32,
    'BADTIME signed',
  );
  const unknown = run(sign(update(), { ...KEY, name: 'who.' }, { now: NOW }).message);
  const ut = findTsig(unknown.reply(unknown.rcode));
  t.ok(ut && ut !== 'formerr' && ut.error === TSIG_ERROR.BADKEY, 'BADKEY');
  t.notOk(bad.change ?? late.change ?? unknown.change, 'nothing to commit');
});
