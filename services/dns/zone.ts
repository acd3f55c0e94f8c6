/**
 * An authoritative zone in memory and its lookup (RFC 1034 §4.3.2 steps 3a-3c; RFC 4592
 * wildcards; RFC 2308 negative answers).
 *
 * The data is packed (zone-pack.ts): names, RRsets and RDATA in typed arrays with a hash
 * table of case-folded owner names, so a zone costs tens of bytes per record and no JS
 * object per record; lookup() builds RR objects (views into the packed bytes) only for what
 * it returns. Every ancestor of a record owner down from the apex is a node too, so empty
 * non-terminals exist and answer NODATA rather than NXDOMAIN, and stop wildcard matching
 * (RFC 4592 §2.2.2).
 *
 * lookup() returns what the algorithm found; handler.ts turns it into a message (CNAME
 * chasing, additional data, truncation). Out of scope: DNSSEC signing and NSEC proofs,
 * DNAME (RFC 6672).
 */
import { labelOffsets, nameKey, isWildcard, wildcardOf, nameToText } from './name.js';
import { TYPE, type RR } from './rr.js';
import { ZoneBuilder, findNode, foldedHash, type PackedZone } from './zone-pack.js';

export interface ZoneNode {
  readonly owner: Uint8Array;
  /** RRsets by type, each in zone-file order. Empty for an empty non-terminal. */
  readonly sets: Map<number, RR[]>;
}

export type LookupResult =
  /** Records of the asked type (or all, for ANY); `synthesized` for a wildcard match. */
  | { kind: 'answer'; rrs: RR[]; owner: Uint8Array; synthesized: boolean }
  /** The name is an alias: answer the CNAME and continue with its target. */
  | { kind: 'cname'; rr: RR; owner: Uint8Array; target: Uint8Array; synthesized: boolean }
  | { kind: 'nodata'; synthesized: boolean }
  | { kind: 'nxdomain' }
  /** The name lies at or below a zone cut: refer to the child's servers (no AA). */
  | { kind: 'delegation'; cut: Uint8Array; ns: RR[] };

export class Zone {
  readonly origin: Uint8Array;
  readonly originKey: string;
  readonly soa: RR;
  /** min(SOA TTL, SOA MINIMUM): the negative-caching TTL (RFC 2308 §3, §5). */
  readonly negativeTtl: number;
  readonly serial: number;
  readonly recordCount: number;
  /** The zone's data (zone-pack.ts); RR objects are built from it per answer. */
  readonly packed: PackedZone;
  private readonly apex: number;

  /** From records (merged into RRsets here), or from a zone packed elsewhere (the load thread). */
  constructor(origin: Uint8Array, records: readonly RR[] | PackedZone) {
    if (Array.isArray(records)) {
      const b = new ZoneBuilder(origin);
      for (const rr of records as readonly RR[])
        b.add(rr.owner, rr.type, rr.class, rr.ttl, rr.rdata);
      this.packed = b.finish();
    } else {
      this.packed = records as PackedZone;
    }
    const p = this.packed;
    this.origin = p.origin;
    this.originKey = nameKey(this.origin);
    this.recordCount = p.rdataAt.length - 1;
    this.apex = this.find(this.origin, 0, this.origin.length);
    const soaSet = this.apex < 0 ? -1 : this.setOf(this.apex, TYPE.SOA);
    if (soaSet < 0) throw new Error(`zone ${nameToText(origin)} has no SOA record at its apex`);
    const soa = this.rrs(this.apex, soaSet)[0]!;
    this.soa = soa;
    const r = soa.rdata;
    const fixed = r.length - 20;
    const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
    this.serial = dv.getUint32(fixed);
    this.negativeTtl = Math.min(soa.ttl, dv.getUint32(fixed + 16));
  }

  /** Node index of the name `q[from..to)`, or -1. */
  private find(q: Uint8Array, from: number, to: number): number {
    const p = this.packed;
    return findNode(p.table, p.names, p.nodeName, q, from, to - from, foldedHash(q, from, to));
  }

  private ownerOf(node: number): Uint8Array {
    const p = this.packed;
    return p.names.subarray(p.nodeName[node]!, p.nodeName[node + 1]!);
  }

  /** Index of node's RRset of `type`, or -1. */
  private setOf(node: number, type: number): number {
    const p = this.packed;
    for (let s = p.nodeSets[node]!; s < p.nodeSets[node + 1]!; s++)
      if (p.setType[s] === type) return s;
    return -1;
  }

  /** The records of RRset `set` of `node` as RR objects (built now: views into the zone). */
  private rrs(node: number, set: number): RR[] {
    const p = this.packed;
    const owner = this.ownerOf(node);
    const type = p.setType[set]!;
    const klass = p.setClass[set]!;
    const ttl = p.setTtl[set]!;
    const out: RR[] = [];
    for (let k = p.setRrs[set]!; k < p.setRrs[set + 1]!; k++) {
      out.push({
        owner,
        type,
        class: klass,
        ttl,
        rdata: p.rdata.subarray(p.rdataAt[k]!, p.rdataAt[k + 1]!),
      });
    }
    return out;
  }

  node(name: Uint8Array): ZoneNode | undefined {
    const n = this.find(name, 0, name.length);
    if (n < 0) return undefined;
    const p = this.packed;
    const sets = new Map<number, RR[]>();
    for (let s = p.nodeSets[n]!; s < p.nodeSets[n + 1]!; s++)
      sets.set(p.setType[s]!, this.rrs(n, s));
    return { owner: this.ownerOf(n), sets };
  }

  apexNs(): RR[] {
    const s = this.setOf(this.apex, TYPE.NS);
    return s < 0 ? [] : this.rrs(this.apex, s);
  }

  /** Every record, SOA first (for AXFR, RFC 5936 §2.2). */
  *records(): Generator<RR> {
    yield this.soa;
    const p = this.packed;
    const nodes = p.nodeName.length - 1;
    for (let n = 0; n < nodes; n++) {
      for (let s = p.nodeSets[n]!; s < p.nodeSets[n + 1]!; s++) {
        if (n === this.apex && p.setType[s] === TYPE.SOA) continue;
        yield* this.rrs(n, s);
      }
    }
  }

  /** RFC 1034 §4.3.2 step 3 for a qname inside this zone. */
  lookup(qname: Uint8Array, qtype: number): LookupResult {
    const offs = labelOffsets(qname);
    const originLabels = labelOffsets(this.origin).length;
    const depth = offs.length - originLabels; // labels below the apex
    // Walk down from the apex's child to the qname looking for a zone cut (step 3b).
    let closest = this.apex;
    for (let d = depth - 1; d >= 0; d--) {
      const n = this.find(qname, offs[d]!, qname.length);
      if (n < 0) {
        return this.wildcard(closest, qname, qtype);
      }
      const ns = this.setOf(n, TYPE.NS);
      // RFC 4035 §3.1.4.1 / RFC 3658: DS at a cut is the parent's data.
      if (ns >= 0 && !(d === 0 && qtype === TYPE.DS))
        return { kind: 'delegation', cut: this.ownerOf(n), ns: this.rrs(n, ns) };
      closest = n;
    }
    // Owner names keep the zone's case (BIND's default case-sensitive compression).
    return this.fromNode(closest, this.ownerOf(closest), qtype, false);
  }

  private fromNode(
    node: number,
    owner: Uint8Array,
    qtype: number,
    synthesized: boolean,
  ): LookupResult {
    const p = this.packed;
    if (qtype === TYPE.ANY) {
      const all: RR[] = [];
      for (let s = p.nodeSets[node]!; s < p.nodeSets[node + 1]!; s++)
        all.push(...this.rrs(node, s));
      return all.length > 0
        ? { kind: 'answer', rrs: all, owner, synthesized }
        : { kind: 'nodata', synthesized };
    }
    const set = this.setOf(node, qtype);
    if (set >= 0) return { kind: 'answer', rrs: this.rrs(node, set), owner, synthesized };
    // RFC 1034 §4.3.2 step 3a: a CNAME at the name answers every other type.
    const cname = this.setOf(node, TYPE.CNAME);
    if (cname >= 0) {
      const rr = this.rrs(node, cname)[0]!;
      return { kind: 'cname', rr, owner, target: rr.rdata, synthesized };
    }
    return { kind: 'nodata', synthesized };
  }

  /** RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`. */
  private wildcard(closest: number, qname: Uint8Array, qtype: number): LookupResult {
    const encloser = this.ownerOf(closest);
    if (isWildcard(encloser)) return { kind: 'nxdomain' };
    const w = wildcardOf(encloser);
    const src = this.find(w, 0, w.length);
    if (src < 0) return { kind: 'nxdomain' };
    return this.fromNode(src, qname, qtype, true);
  }
}
