/**
 * An authoritative zone in memory and its lookup (RFC 1034 §4.3.2 steps 3a-3c; RFC 4592
 * wildcards; RFC 2308 negative answers).
 *
 * Nodes are kept in one map keyed by the case-folded wire name. Every ancestor of a record
 * owner down from the apex is a node too, so empty non-terminals exist and answer NODATA
 * rather than NXDOMAIN, and stop wildcard matching (RFC 4592 §2.2.2).
 *
 * lookup() returns what the algorithm found; handler.ts turns it into a message (CNAME
 * chasing, additional data, truncation). Out of scope: DNSSEC signing and NSEC proofs,
 * DNAME (RFC 6672).
 */
import { labelOffsets, nameKey, isWildcard, wildcardOf, nameToText } from './name.js';
import { TYPE, type RR } from './rr.js';

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
  readonly originKey: string;
  readonly nodes = new Map<string, ZoneNode>();
  readonly soa: RR;
  /** min(SOA TTL, SOA MINIMUM): the negative-caching TTL (RFC 2308 §3, §5). */
  readonly negativeTtl: number;
  readonly serial: number;
  readonly recordCount: number;

  constructor(
    readonly origin: Uint8Array,
    records: readonly RR[],
  ) {
    this.originKey = nameKey(origin);
    for (const rr of records) this.add(rr);
    this.recordCount = records.length;
    const apex = this.nodes.get(this.originKey);
    const soa = apex?.sets.get(TYPE.SOA)?.[0];
    if (!soa) throw new Error(`zone ${nameToText(origin)} has no SOA record at its apex`);
    this.soa = soa;
    const r = soa.rdata;
    const fixed = r.length - 20;
    const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
    this.serial = dv.getUint32(fixed);
    this.negativeTtl = Math.min(soa.ttl, dv.getUint32(fixed + 16));
  }

  private add(rr: RR): void {
    const key = nameKey(rr.owner);
    let node = this.nodes.get(key);
    if (!node) {
      node = { owner: rr.owner, sets: new Map() };
      this.nodes.set(key, node);
      // Ancestors between the owner and the apex become (possibly empty) nodes.
      const offs = labelOffsets(rr.owner);
      for (let i = 1; i < offs.length; i++) {
        const anc = rr.owner.subarray(offs[i]!);
        const ak = key.slice(offs[i]!);
        if (ak.length < this.originKey.length) break;
        if (!this.nodes.has(ak)) this.nodes.set(ak, { owner: anc, sets: new Map() });
      }
    }
    const set = node.sets.get(rr.type);
    if (set) {
      // RFC 2181 §5.2: all TTLs of an RRset must be equal; the zone checker already warned.
      set.push(set[0] && set[0].ttl !== rr.ttl ? { ...rr, ttl: set[0].ttl } : rr);
    } else node.sets.set(rr.type, [rr]);
  }

  node(name: Uint8Array): ZoneNode | undefined {
    return this.nodes.get(nameKey(name));
  }

  apexNs(): RR[] {
    return this.nodes.get(this.originKey)?.sets.get(TYPE.NS) ?? [];
  }

  /** Every record, SOA first (for AXFR, RFC 5936 §2.2). */
  *records(): Generator<RR> {
    yield this.soa;
    for (const n of this.nodes.values()) {
      for (const [type, set] of n.sets) {
        if (type === TYPE.SOA && n === this.nodes.get(this.originKey)) continue;
        yield* set;
      }
    }
  }

  /** RFC 1034 §4.3.2 step 3 for a qname inside this zone. */
  lookup(qname: Uint8Array, qtype: number): LookupResult {
    const key = nameKey(qname);
    const offs = labelOffsets(qname);
    const originLabels = labelOffsets(this.origin).length;
    const depth = offs.length - originLabels; // labels below the apex
    // Walk down from the apex's child to the qname looking for a zone cut (step 3b).
    let closest: ZoneNode | undefined = this.nodes.get(this.originKey);
    for (let d = depth - 1; d >= 0; d--) {
      const n = this.nodes.get(key.slice(offs[d]!));
      if (!n) {
        return this.wildcard(closest!, qname, qtype);
      }
      const ns = n.sets.get(TYPE.NS);
      // RFC 4035 §3.1.4.1 / RFC 3658: DS at a cut is the parent's data.
      if (ns && !(d === 0 && qtype === TYPE.DS)) return { kind: 'delegation', cut: n.owner, ns };
      closest = n;
    }
    // Owner names keep the zone's case (BIND's default case-sensitive compression).
    return this.fromNode(closest!, closest!.owner, qtype, false);
  }

  private fromNode(
    node: ZoneNode,
    owner: Uint8Array,
    qtype: number,
    synthesized: boolean,
  ): LookupResult {
    const cname = node.sets.get(TYPE.CNAME);
    if (qtype === TYPE.ANY) {
      const all: RR[] = [];
      for (const set of node.sets.values()) all.push(...set);
      return all.length > 0
        ? { kind: 'answer', rrs: all, owner, synthesized }
        : { kind: 'nodata', synthesized };
    }
    const set = node.sets.get(qtype);
    if (set) return { kind: 'answer', rrs: set, owner, synthesized };
    // RFC 1034 §4.3.2 step 3a: a CNAME at the name answers every other type.
    if (cname && cname[0]) {
      const rr = cname[0];
      return { kind: 'cname', rr, owner, target: rr.rdata, synthesized };
    }
    return { kind: 'nodata', synthesized };
  }

  /** RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`. */
  private wildcard(closest: ZoneNode, qname: Uint8Array, qtype: number): LookupResult {
    if (isWildcard(closest.owner)) return { kind: 'nxdomain' };
    const src = this.nodes.get(nameKey(wildcardOf(closest.owner)));
    if (!src) return { kind: 'nxdomain' };
    return this.fromNode(src, qname, qtype, true);
  }
}
