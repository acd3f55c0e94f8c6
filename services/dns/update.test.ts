/** RFC 2136 UPDATE decisions (update.ts), section by section, on an in-memory zone view. */
import t from 'tap';
import fc from 'fast-check';
import { nameFromText, nameKey } from './name.js';
import { CLASS, TYPE, type RR } from './rr.js';
import { rrFromText } from './zone-file.js';
import {
  UPDATE_RCODE as R,
  decideUpdate,
  nextSerial,
  serialGreater,
  type UpdateRequest,
  type ZoneView,
} from './update.js';
import { holds } from '../../src/testing/property.js';
import { ZoneRecords } from './zone-changes.js';

const ORIGIN = nameFromText('example.test.');
const rr = (line: string): RR => rrFromText(line, ORIGIN, 3600);
const ZONE: RR[] = [
  rr('@ SOA ns1 hostmaster 2026120401 3600 600 86400 300'),
  rr('@ NS ns1'),
  rr('@ NS ns2'),
  rr('ns1 A 192.0.2.1'),
  rr('ns2 A 192.0.2.2'),
  rr('www A 192.0.2.10'),
  rr('www A 192.0.2.11'),
  rr('alias CNAME www'),
];

const view = (records: readonly RR[]): ZoneView => new ZoneRecords(ORIGIN, records).view();

/** Apply a decision to a record list (what the journal will do). */
function apply(records: readonly RR[], d: ReturnType<typeof decideUpdate>): RR[] {
  const key = (r: RR) =>
    `${nameKey(r.owner)}|${r.type}|${r.ttl}|${Buffer.from(r.rdata).toString('hex')}`;
  const gone = new Set(d.deletes.map(key));
  return [...records.filter((r) => !gone.has(key(r))), ...d.adds];
}

const WWW = nameKey(nameFromText('www', ORIGIN));
const zoneSection = [{ qname: ORIGIN, qtype: TYPE.SOA, qclass: CLASS.IN }];
const req = (p: Partial<UpdateRequest>): UpdateRequest => ({
  zone: zoneSection,
  prerequisites: [],
  updates: [],
  ...p,
});
const meta = (name: string, type: number, klass: number, rdata = new Uint8Array(0)): RR => ({
  owner: nameFromText(name, ORIGIN),
  type,
  class: klass,
  ttl: 0,
  rdata,
});
const serialOf = (records: readonly RR[]): number => {
  const soa = records.find((r) => r.type === TYPE.SOA)!.rdata;
  return new DataView(soa.buffer, soa.byteOffset, soa.byteLength).getUint32(soa.length - 20);
};

t.test('§3.1 zone section', async (t) => {
  const z = view(ZONE);
  t.equal(decideUpdate(req({ zone: [] }), z).rcode, R.FORMERR, 'no zone');
  t.equal(decideUpdate(req({ zone: [...zoneSection, ...zoneSection] }), z).rcode, R.FORMERR);
  t.equal(decideUpdate(req({ zone: [{ ...zoneSection[0]!, qtype: TYPE.A }] }), z).rcode, R.FORMERR);
  t.equal(
    decideUpdate(req({ zone: [{ ...zoneSection[0]!, qname: nameFromText('other.test.') }] }), z)
      .rcode,
    R.NOTAUTH,
  );
});

t.test('§3.2 prerequisites, each form and its failure rcode', async (t) => {
  const z = view(ZONE);
  const pre = (...p: RR[]) => decideUpdate(req({ prerequisites: p }), z).rcode;
  t.equal(pre(meta('www', TYPE.ANY, CLASS.ANY)), R.NOERROR, 'name in use');
  t.equal(pre(meta('nope', TYPE.ANY, CLASS.ANY)), R.NXDOMAIN);
  t.equal(pre(meta('www', TYPE.A, CLASS.ANY)), R.NOERROR, 'RRset exists');
  t.equal(pre(meta('www', TYPE.AAAA, CLASS.ANY)), R.NXRRSET);
  t.equal(pre(meta('nope', TYPE.ANY, CLASS.NONE)), R.NOERROR, 'name not in use');
  t.equal(pre(meta('www', TYPE.ANY, CLASS.NONE)), R.YXDOMAIN);
  t.equal(pre(meta('www', TYPE.AAAA, CLASS.NONE)), R.NOERROR, 'RRset does not exist');
  t.equal(pre(meta('www', TYPE.A, CLASS.NONE)), R.YXRRSET);
  const v = (line: string): RR => ({ ...rr(line), ttl: 0 });
  t.equal(pre(v('www A 192.0.2.10'), v('www A 192.0.2.11')), R.NOERROR, 'exact RRset');
  t.equal(pre(v('www A 192.0.2.10')), R.NXRRSET, 'a subset is not the RRset (§3.2.3)');
  t.equal(pre(v('www A 192.0.2.10'), v('www A 192.0.2.12')), R.NXRRSET);
  t.equal(pre(v('alias CNAME WWW')), R.NOERROR, 'names in RDATA compare case-insensitively');
  t.equal(pre({ ...meta('www', TYPE.A, CLASS.ANY), ttl: 5 }), R.FORMERR, 'TTL must be 0');
  t.equal(pre(meta('www.other.test.', TYPE.A, CLASS.ANY)), R.NOTZONE);
  t.equal(pre(meta('www', TYPE.A, CLASS.ANY, Uint8Array.of(1))), R.FORMERR, 'no RDATA with ANY');
});

t.test('§3.4.1 prescan refuses the whole update before any change', async (t) => {
  const z = view(ZONE);
  const up = (...u: RR[]) => decideUpdate(req({ updates: u }), z);
  const add = rr('new A 192.0.2.50');
  t.equal(up(add, meta('www', TYPE.AXFR, CLASS.IN)).rcode, R.FORMERR, 'adding a meta type');
  t.equal(up(add, { ...meta('www', TYPE.A, CLASS.ANY), ttl: 1 }).rcode, R.FORMERR);
  t.equal(up(add, meta('www', TYPE.ANY, CLASS.NONE)).rcode, R.FORMERR);
  t.equal(up(add, { ...add, class: CLASS.CH }).rcode, R.FORMERR);
  t.equal(up(add, rrFromText('x.other.test. A 192.0.2.1', ORIGIN, 60)).rcode, R.NOTZONE);
  t.equal(up(add, { ...add, rdata: Uint8Array.of(1, 2, 3) }).rcode, R.FORMERR, 'A of 3 bytes');
  t.equal(up({ ...rr('x CNAME www'), rdata: Uint8Array.of(3, 0x61) }).rcode, R.FORMERR, 'cut name');
  const d = up(add, meta('www', TYPE.AXFR, CLASS.IN));
  t.same([d.adds, d.deletes], [[], []], 'nothing partial');
});

t.test('§3.4.2 additions, deletions and the serial', async (t) => {
  let zone = ZONE;
  const step = (u: RR[], label: string): ReturnType<typeof decideUpdate> => {
    const d = decideUpdate(req({ updates: u }), view(zone));
    t.equal(d.rcode, R.NOERROR, label);
    zone = apply(zone, d);
    return d;
  };
  let d = step([rr('pc1 60 A 192.0.2.77'), rr('pc1 60 TXT "dhcp"')], 'add a name');
  t.equal(d.serial, 2026120402, 'serial +1');
  t.equal(serialOf(zone), 2026120402);
  t.equal(zone.filter((r) => nameKey(r.owner) === nameKey(nameFromText('pc1', ORIGIN))).length, 2);
  d = step([rr('pc1 60 A 192.0.2.77')], 'the same RR again');
  t.same([d.adds, d.deletes], [[], []], 'a duplicate changes nothing: no new serial');
  d = step([rr('www 120 A 192.0.2.12')], 'join an RRset with another TTL');
  const www = zone.filter((r) => r.type === TYPE.A && nameKey(r.owner) === WWW);
  t.equal(www.length, 3);
  t.equal(
    www.every((r) => r.ttl === 120),
    true,
    'one TTL per RRset (RFC 2181 §5.2)',
  );
  d = step([rr('alias A 192.0.2.99'), rr('www CNAME elsewhere')], 'CNAME conflicts');
  t.same([d.adds, d.deletes], [[], []], 'no data beside a CNAME, no CNAME beside data: ignored');
  d = step([meta('pc1', TYPE.ANY, CLASS.ANY)], 'delete a name');
  t.notOk(zone.some((r) => nameKey(r.owner) === nameKey(nameFromText('pc1', ORIGIN))));
  d = step([meta('@', TYPE.ANY, CLASS.ANY)], 'delete all at the apex');
  t.ok(
    zone.some((r) => r.type === TYPE.NS) && zone.some((r) => r.type === TYPE.SOA),
    'apex SOA and NS stay',
  );
  d = step([meta('@', TYPE.NS, CLASS.ANY)], 'delete the apex NS RRset');
  t.equal(zone.filter((r) => r.type === TYPE.NS).length, 2, 'kept');
  step([{ ...rr('@ NS ns1'), class: CLASS.NONE, ttl: 0 }], 'delete one apex NS');
  step([{ ...rr('@ NS ns2'), class: CLASS.NONE, ttl: 0 }], 'delete the last apex NS');
  t.equal(zone.filter((r) => r.type === TYPE.NS).length, 1, 'the last one stays');
  step([{ ...rr('www A 192.0.2.10'), class: CLASS.NONE, ttl: 0 }], 'delete one RR');
  t.equal(zone.filter((r) => r.type === TYPE.A && nameKey(r.owner) === WWW).length, 2);
  const before = serialOf(zone);
  step([rr('@ SOA ns1 hostmaster 2000000000 3600 600 86400 300')], 'an older SOA');
  t.equal(serialOf(zone), before, 'ignored');
  d = step([rr('@ SOA ns1 hostmaster 2026999999 3600 600 86400 300')], 'a newer SOA');
  t.equal(serialOf(zone), 2026999999, 'its serial is kept, not incremented');
  t.equal(zone.filter((r) => r.type === TYPE.SOA).length, 1);
  // Order matters (§3.4.2): an add then a delete of the same RRset leaves nothing.
  d = step([rr('tmp A 192.0.2.5'), meta('tmp', TYPE.A, CLASS.ANY)], 'add then delete');
  t.same([d.adds, d.deletes], [[], []]);
});

t.test('RFC 1982 serials', async (t) => {
  t.ok(serialGreater(1, 0));
  t.ok(serialGreater(0, 0xffffffff), 'wraps');
  t.notOk(serialGreater(5, 5));
  t.equal(nextSerial(0xffffffff), 1, '0 is skipped');
});

t.test('random updates never throw and never touch the zone on a refusal', async (t) => {
  const z = view(ZONE);
  const arbRR = fc.record({
    owner: fc
      .constantFrom('www', 'new', '@', 'alias', 'x.other.test.')
      .map((n) => nameFromText(n, ORIGIN)),
    type: fc.constantFrom(TYPE.A, TYPE.NS, TYPE.CNAME, TYPE.SOA, TYPE.ANY, TYPE.AXFR, TYPE.TXT),
    class: fc.constantFrom(CLASS.IN, CLASS.ANY, CLASS.NONE, CLASS.CH),
    ttl: fc.constantFrom(0, 60),
    rdata: fc.uint8Array({ maxLength: 24 }),
  });
  holds(
    t,
    fc.property(fc.array(arbRR, { maxLength: 4 }), fc.array(arbRR, { maxLength: 6 }), (p, u) => {
      const d = decideUpdate(req({ prerequisites: p, updates: u }), z);
      if (d.rcode !== R.NOERROR) return d.adds.length === 0 && d.deletes.length === 0;
      // What is added is well-formed: an A added has 4 bytes.
      return d.adds.every((a) => a.type !== TYPE.A || a.rdata.length === 4);
    }),
  );
});
