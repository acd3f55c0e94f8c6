/**
 * RFC 2136 dynamic UPDATE, decided on a view of the zone: zone section (§3.1), the
 * prerequisites (§3.2), the prescan (§3.4.1), the changes (§3.4.2) and the serial bump.
 * Pure: the caller supplies the zone's current RRsets and gets back an rcode and, on
 * NOERROR, the exact records to delete and add. Nothing is applied here, so a refusal at
 * any step leaves the zone untouched (§3.4: "all or nothing").
 *
 * Policy (who may change what) is checked by update-policy.ts before this runs.
 */
import { isSubdomain, nameEquals, nameKey } from './name.js';
import { CLASS, DECOMPRESS_ON_READ, soaSerialOf, TYPE, type RR } from './rr.js';
import { RCODE } from './message.js';

/** The rcodes of RFC 2136 §2.2 (message.ts holds them with the others). */
export const UPDATE_RCODE = RCODE;

/** What the decision needs of the zone as it stands. */
export interface ZoneView {
  readonly origin: Uint8Array;
  /** The RRset at (name, type); empty when none. */
  rrset(name: Uint8Array, type: number): readonly RR[];
  /** Every RRset type present at `name` (empty: the name does not exist). */
  types(name: Uint8Array): readonly number[];
}

export interface UpdateRequest {
  /** §2.3 zone section: exactly one entry, type SOA. */
  readonly zone: readonly { qname: Uint8Array; qtype: number; qclass: number }[];
  /** §2.4 prerequisites (the answer section). */
  readonly prerequisites: readonly RR[];
  /** §2.5 updates (the authority section). */
  readonly updates: readonly RR[];
}

export interface UpdateDecision {
  readonly rcode: number;
  /** Why, for the log line (empty on success). */
  readonly reason: string;
  readonly deletes: readonly RR[];
  readonly adds: readonly RR[];
  /** The new SOA serial when anything changed (RFC 1982 increment, or the update's own). */
  readonly serial?: number;
}

/** Query types that are never records (RFC 2136 §3.4.1.2: FORMERR in an update). */
const META = new Set<number>([
  TYPE.AXFR,
  TYPE.IXFR,
  TYPE.MAILA,
  TYPE.MAILB,
  TYPE.OPT,
  250 /* TSIG */,
]);

const fail = (rcode: number, reason: string): UpdateDecision => ({
  rcode,
  reason,
  deletes: [],
  adds: [],
});

/** Lower-case the names inside RDATA (RFC 4034 §6.2) so `NS A.example.` equals `NS a.example.`. */
function canonicalRdata(type: number, rdata: Uint8Array): string {
  const layout = DECOMPRESS_ON_READ.get(type);
  if (!layout) return Buffer.from(rdata).toString('hex');
  const out = Uint8Array.from(rdata);
  let p = 0;
  for (const field of layout) {
    if (field === 'n') {
      while (p < out.length && out[p] !== 0) {
        const len = out[p]!;
        for (let j = p + 1; j <= p + len && j < out.length; j++)
          if (out[j]! >= 0x41 && out[j]! <= 0x5a) out[j]! += 0x20;
        p += len + 1;
      }
      p++;
    } else if (field === 'rest') break;
    else p += field;
  }
  return Buffer.from(out).toString('hex');
}

const rrKey = (rr: RR): string =>
  `${nameKey(rr.owner)}|${rr.type}|${canonicalRdata(rr.type, rr.rdata)}`;
const setKey = (name: Uint8Array, type: number): string => `${nameKey(name)}|${type}`;

/** RFC 1982 serial arithmetic: s1 > s2. */
export function serialGreater(s1: number, s2: number): boolean {
  return s1 !== s2 && ((s1 < s2 && s2 - s1 > 2 ** 31) || (s1 > s2 && s1 - s2 < 2 ** 31));
}

/** The serial after an update: +1, skipping 0 as BIND does (RFC 1982 §3.1 wrap). */
export function nextSerial(serial: number): number {
  const n = (serial + 1) >>> 0;
  return n === 0 ? 1 : n;
}

function withSerial(soa: RR, serial: number): RR {
  const rdata = Uint8Array.from(soa.rdata);
  new DataView(rdata.buffer).setUint32(rdata.length - 20, serial);
  return { ...soa, rdata };
}

/**
 * The working copy of the RRsets the update touches: the zone's sets, overlaid with the
 * changes made so far (§3.4.2 applies the updates in order, each seeing the previous).
 */
class Overlay {
  private readonly sets = new Map<string, RR[]>();
  private readonly names = new Map<string, Set<number>>();

  constructor(private readonly zone: ZoneView) {}

  rrset(name: Uint8Array, type: number): RR[] {
    const k = setKey(name, type);
    let s = this.sets.get(k);
    if (!s) {
      s = [...this.zone.rrset(name, type)];
      this.sets.set(k, s);
    }
    return s;
  }

  types(name: Uint8Array): Set<number> {
    const k = nameKey(name);
    let t = this.names.get(k);
    if (!t) {
      t = new Set(this.zone.types(name));
      this.names.set(k, t);
    }
    return t;
  }

  add(rr: RR): void {
    const set = this.rrset(rr.owner, rr.type);
    const k = rrKey(rr);
    const i = set.findIndex((x) => rrKey(x) === k);
    // §3.4.2.2: "In case of duplicate RDATAs ... the Zone RR is replaced by Update RR."
    if (i >= 0) set[i] = rr;
    else set.push(rr);
    // RFC 2181 §5.2: one TTL per RRset; the newest wins, as BIND does.
    for (let j = 0; j < set.length; j++)
      if (set[j]!.ttl !== rr.ttl) set[j] = { ...set[j]!, ttl: rr.ttl };
    this.types(rr.owner).add(rr.type);
  }

  remove(name: Uint8Array, type: number, keep: (rr: RR) => boolean = () => false): void {
    const set = this.rrset(name, type);
    const left = set.filter(keep);
    set.length = 0;
    set.push(...left);
    if (left.length === 0) this.types(name).delete(type);
  }

  private readonly originals = new Map<string, readonly RR[]>();

  /** Remember the zone's set before its first change (for the diff). */
  snapshot(name: Uint8Array, type: number): void {
    const k = setKey(name, type);
    if (!this.originals.has(k)) this.originals.set(k, [...this.zone.rrset(name, type)]);
  }

  /** Every (name, type) touched: the zone's set before and the working set now. */
  *touched(): Generator<{ before: readonly RR[]; after: readonly RR[] }> {
    for (const [k, before] of this.originals) yield { before, after: this.sets.get(k) ?? before };
  }
}

/** §3.2: every prerequisite must hold, checked before any change. */
function checkPrerequisites(
  req: UpdateRequest,
  zone: ZoneView,
  zclass: number,
): UpdateDecision | undefined {
  const valueSets = new Map<string, { name: Uint8Array; type: number; rrs: RR[] }>();
  for (const p of req.prerequisites) {
    if (p.ttl !== 0) return fail(UPDATE_RCODE.FORMERR, 'prerequisite with a TTL other than 0');
    if (!isSubdomain(p.owner, zone.origin))
      return fail(UPDATE_RCODE.NOTZONE, 'prerequisite name outside the zone');
    if (p.class === CLASS.ANY || p.class === CLASS.NONE) {
      if (p.rdata.length !== 0) return fail(UPDATE_RCODE.FORMERR, 'prerequisite with RDATA');
      const types = zone.types(p.owner);
      if (p.class === CLASS.ANY) {
        if (p.type === TYPE.ANY) {
          if (types.length === 0) return fail(UPDATE_RCODE.NXDOMAIN, 'name not in use');
        } else if (zone.rrset(p.owner, p.type).length === 0)
          return fail(UPDATE_RCODE.NXRRSET, 'RRset does not exist');
      } else if (p.type === TYPE.ANY) {
        if (types.length > 0) return fail(UPDATE_RCODE.YXDOMAIN, 'name in use');
      } else if (zone.rrset(p.owner, p.type).length > 0)
        return fail(UPDATE_RCODE.YXRRSET, 'RRset exists');
    } else if (p.class === zclass) {
      if (p.type === TYPE.ANY || META.has(p.type))
        return fail(UPDATE_RCODE.FORMERR, 'value-dependent prerequisite of a meta type');
      const k = setKey(p.owner, p.type);
      const e = valueSets.get(k) ?? { name: p.owner, type: p.type, rrs: [] };
      e.rrs.push(p);
      valueSets.set(k, e);
    } else return fail(UPDATE_RCODE.FORMERR, `prerequisite of class ${p.class}`);
  }
  // §3.2.3: "the entire RRset must exist and match exactly" (RDATA only; TTLs are 0).
  for (const { name, type, rrs } of valueSets.values()) {
    const have = new Set(zone.rrset(name, type).map(rrKey));
    const want = new Set(rrs.map(rrKey));
    if (have.size !== want.size || [...want].some((k) => !have.has(k)))
      return fail(UPDATE_RCODE.NXRRSET, 'RRset differs from the prerequisite');
  }
  return undefined;
}

/** Fixed RDATA sizes of the address types (RFC 1035 §3.4.1, RFC 3596 §2.2). */
const FIXED_SIZE = new Map<number, number>([
  [TYPE.A, 4],
  [TYPE.AAAA, 16],
]);

/**
 * Whether an added record's RDATA has its type's shape: the address types' sizes, and for
 * the types with names the names and fixed fields filling RDATA exactly (BIND refuses such
 * a message at parse time with FORMERR; a zone must never hold one).
 */
function wellFormed(type: number, rdata: Uint8Array): boolean {
  const size = FIXED_SIZE.get(type);
  if (size !== undefined) return rdata.length === size;
  const layout = DECOMPRESS_ON_READ.get(type);
  if (!layout) return true; // RFC 3597: opaque
  let p = 0;
  for (const field of layout) {
    if (field === 'rest') return p <= rdata.length;
    if (field === 'n') {
      let total = 0;
      for (;;) {
        if (p >= rdata.length) return false;
        const len = rdata[p]!;
        if (len > 63) return false;
        total += len + 1;
        if (total > 255) return false;
        p += len + 1;
        if (len === 0) break;
      }
    } else p += field;
  }
  return p === rdata.length;
}

/** §3.4.1: a malformed update anywhere refuses the whole message before any change. */
function prescan(
  req: UpdateRequest,
  origin: Uint8Array,
  zclass: number,
): UpdateDecision | undefined {
  for (const u of req.updates) {
    if (!isSubdomain(u.owner, origin))
      return fail(UPDATE_RCODE.NOTZONE, 'update name outside the zone');
    if (u.class === zclass) {
      if (u.type === TYPE.ANY || META.has(u.type))
        return fail(UPDATE_RCODE.FORMERR, 'adding a meta type');
      if (!wellFormed(u.type, u.rdata)) return fail(UPDATE_RCODE.FORMERR, 'malformed RDATA');
    } else if (u.class === CLASS.ANY) {
      if (u.ttl !== 0 || u.rdata.length !== 0 || (META.has(u.type) && u.type !== TYPE.ANY))
        return fail(UPDATE_RCODE.FORMERR, 'malformed delete of an RRset');
    } else if (u.class === CLASS.NONE) {
      if (u.ttl !== 0 || u.type === TYPE.ANY || META.has(u.type) || !wellFormed(u.type, u.rdata))
        return fail(UPDATE_RCODE.FORMERR, 'malformed delete of an RR');
    } else return fail(UPDATE_RCODE.FORMERR, `update of class ${u.class}`);
  }
  return undefined;
}

export function decideUpdate(req: UpdateRequest, zone: ZoneView): UpdateDecision {
  // §3.1.1: one zone, type SOA, and it must be the zone we hold.
  if (req.zone.length !== 1) return fail(UPDATE_RCODE.FORMERR, 'zone section must have one entry');
  const z = req.zone[0]!;
  if (z.qtype !== TYPE.SOA) return fail(UPDATE_RCODE.FORMERR, 'zone section type is not SOA');
  if (!nameEquals(z.qname, zone.origin))
    return fail(UPDATE_RCODE.NOTAUTH, 'not authoritative for that zone');
  const zclass = z.qclass;
  const pre = checkPrerequisites(req, zone, zclass);
  if (pre) return pre;
  const bad = prescan(req, zone.origin, zclass);
  if (bad) return bad;

  const work = new Overlay(zone);
  const apex = (n: Uint8Array): boolean => nameEquals(n, zone.origin);
  const soa0 = zone.rrset(zone.origin, TYPE.SOA)[0];
  if (!soa0) return fail(UPDATE_RCODE.SERVFAIL, 'zone has no SOA');
  let soaFromUpdate: RR | undefined;
  for (const u of req.updates) {
    work.snapshot(u.owner, u.type);
    if (u.class === zclass) {
      const types = work.types(u.owner);
      // §3.4.2.2: a CNAME is not added beside other data, nor other data beside a CNAME.
      if (u.type === TYPE.CNAME && [...types].some((t) => t !== TYPE.CNAME)) continue;
      if (u.type !== TYPE.CNAME && types.has(TYPE.CNAME)) continue;
      if (u.type === TYPE.SOA) {
        // Only at the apex, and only a newer serial replaces the SOA.
        if (!apex(u.owner)) continue;
        const cur = work.rrset(zone.origin, TYPE.SOA)[0] ?? soa0;
        if (!serialGreater(soaSerialOf(u), soaSerialOf(cur))) continue;
        work.remove(zone.origin, TYPE.SOA);
        work.add(u);
        soaFromUpdate = u;
        continue;
      }
      work.add(u);
    } else if (u.class === CLASS.ANY) {
      const types = u.type === TYPE.ANY ? [...work.types(u.owner)] : [u.type];
      for (const t of types) {
        // §3.4.2.3: the apex SOA and NS RRsets are never deleted this way.
        if (apex(u.owner) && (t === TYPE.SOA || t === TYPE.NS)) continue;
        work.snapshot(u.owner, t);
        work.remove(u.owner, t);
      }
    } else {
      // CLASS NONE: one RR. §3.4.2.4: never the SOA, never the apex's last NS.
      if (u.type === TYPE.SOA) continue;
      const k = rrKey(u);
      const set = work.rrset(u.owner, u.type);
      if (apex(u.owner) && u.type === TYPE.NS && set.length === 1 && rrKey(set[0]!) === k) continue;
      work.remove(u.owner, u.type, (rr) => rrKey(rr) !== k);
    }
  }

  const deletes: RR[] = [];
  const adds: RR[] = [];
  for (const { before, after } of work.touched()) {
    const now = new Map(after.map((r) => [`${rrKey(r)}|${r.ttl}`, r]));
    const was = new Map(before.map((r) => [`${rrKey(r)}|${r.ttl}`, r]));
    for (const [k, r] of was) if (!now.has(k)) deletes.push(r);
    for (const [k, r] of now) if (!was.has(k)) adds.push(r);
  }
  const soaChange = (r: RR): boolean => r.type === TYPE.SOA && apex(r.owner);
  const content = [...deletes, ...adds].filter((r) => !soaChange(r));
  if (content.length === 0 && !soaFromUpdate)
    return { rcode: UPDATE_RCODE.NOERROR, reason: '', deletes: [], adds: [] };
  // Every change gets a new serial (RFC 2136 §3.6); an update that set one keeps it.
  const serial = soaFromUpdate ? soaSerialOf(soaFromUpdate) : nextSerial(soaSerialOf(soa0));
  const newSoa = soaFromUpdate ?? withSerial(soa0, serial);
  return {
    rcode: UPDATE_RCODE.NOERROR,
    reason: '',
    deletes: [...content.filter((r) => deletes.includes(r)), soa0],
    adds: [...content.filter((r) => adds.includes(r)), newSoa],
    serial,
  };
}
