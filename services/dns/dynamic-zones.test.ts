/** Dynamic zones: UPDATEs group-committed per turn, the zone swapped after, a failed commit undone. */
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { DnsConfig } from './config.js';
import { loadTsigKeys } from './tsig-secret.js';
import { DynamicZones, type UpdateResult } from './dynamic-zones.js';
import { decodeMessage, RCODE } from './message.js';
import { nameFromText } from './name.js';
import { CLASS, soaSerialOf, TYPE, type RR } from './rr.js';
import { keyFromTriple, sign } from './tsig.js';
import { encodeUpdate } from './update-message.js';
import { rrFromText } from './zone-file.js';
import { Zone } from './zone.js';

const SECRET = Buffer.from('dynamic zones unit test key, 32b').toString('base64');
const KEY = keyFromTriple(`hmac-sha256:k:${SECRET}`);
const O = nameFromText('dyn.test.');
const cfg = Value.Default(DnsConfig, {
  keys: [{ name: 'k', secretEnv: 'DYN_KEY' }],
  zones: [{ origin: 'dyn.test', file: 'x', update: { allow: [{ key: 'k', match: 'zonesub' }] } }],
}) as DnsConfig;

function update(id: number, add: RR, prerequisites: RR[] = []): Uint8Array {
  const msg = encodeUpdate(id, {
    zone: [{ qname: O, qtype: TYPE.SOA, qclass: CLASS.IN }],
    prerequisites,
    updates: [add],
  });
  return sign(msg, KEY, { now: Date.now() / 1000 }).message;
}

t.test(
  'a turn of UPDATEs: one commit, one zone, then every reply; a failed commit undone',
  async (t) => {
    const dz = new DynamicZones(
      cfg,
      loadTsigKeys(cfg.keys, '/', { DYN_KEY: SECRET }),
      ':memory:',
      pino({ level: 'silent' }),
    );
    let zone = dz.withJournal(
      new Zone(O, [
        rrFromText('@ SOA ns1 h 1 3600 600 86400 300', O, 60),
        rrFromText('@ NS ns1', O, 60),
      ]),
    );
    const got: UpdateResult[] = [];
    const submit = (b: Uint8Array) =>
      dz.submit(
        b,
        () => zone,
        Date.now(),
        (r) => got.push(r),
      );
    submit(update(1, rrFromText('a A 192.0.2.1', O, 60)));
    submit(update(2, rrFromText('b A 192.0.2.2', O, 60)));
    t.equal(got.length, 0, 'no reply before the commit');
    await new Promise((r) => setImmediate(r));
    t.equal(got.length, 2);
    t.same(
      got.map((r) => r.rcode),
      [RCODE.NOERROR, RCODE.NOERROR],
    );
    t.same(
      got.map((r) => r.changed),
      [O, O],
      'both changed the zone (the server rebuilds it once, before its next query)',
    );
    t.equal(soaSerialOf(dz.soa(O)), 3, 'two serial steps, in the SOA a NOTIFY announces');
    zone = dz.build(O);
    t.equal(zone.serial, 3, 'the built zone has them');
    t.equal(zone.lookup(nameFromText('b.dyn.test.'), TYPE.A).kind, 'answer');
    t.equal(decodeMessage(got[0]!.reply).id, 1);

    // The journal is gone: the next commit fails, its change is undone and answered SERVFAIL.
    dz.close();
    got.length = 0;
    const c = rrFromText('c A 192.0.2.3', O, 60);
    submit(update(3, c));
    await new Promise((r) => setImmediate(r));
    t.same(
      got.map((r) => r.rcode),
      [RCODE.SERVFAIL],
      'not committed: SERVFAIL',
    );
    t.notOk(got[0]!.changed, 'nothing changed');
    t.equal(dz.build(O).recordCount, zone.recordCount, 'the working records are as before');
    // Undone: "c does not exist" holds again (it would be YXDOMAIN had c stayed applied).
    got.length = 0;
    submit(
      update(4, c, [
        { owner: c.owner, type: TYPE.ANY, class: CLASS.NONE, ttl: 0, rdata: new Uint8Array(0) },
      ]),
    );
    await new Promise((r) => setImmediate(r));
    t.same(
      got.map((r) => r.rcode),
      [RCODE.SERVFAIL],
      'the prerequisite saw c gone',
    );
  },
);
