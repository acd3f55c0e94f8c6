/**
 * The packed form of a zone: every owner name, RRset and RDATA in a handful of typed arrays,
 * with no JS object per record, name or RRset (issue 17: the object-per-record zone cost
 * four times BIND's memory). Records are kept in wire form as RFC 1035 §3.2.1 lays them
 * out (owner, type, class, TTL, RDATA), names uncompressed (RFC 1035 §3.1); zone.ts builds
 * RR objects from it only for the records an answer needs.
 *
 * Layout (n nodes, s RRsets, r records):
 * - `names`: the owner names of the nodes, concatenated in node order; node i's name is
 *   `names[nodeName[i] .. nodeName[i+1])` (nodeName has n+1 entries).
 * - `nodeSets`: node i's RRsets are `[nodeSets[i], nodeSets[i+1])` (n+1 entries), in the
 *   order their types first appeared at the node; `setType`, `setClass`, `setTtl` per RRset.
 * - `setRrs`: RRset j's records are `[setRrs[j], setRrs[j+1])` (s+1 entries), in file order;
 *   record k's RDATA is `rdata[rdataAt[k] .. rdataAt[k+1])` (r+1 entries).
 * - `table`: an open-addressing hash table of node index + 1 (0: empty), keyed by the
 *   case-folded owner name (RFC 4343 §3: only ASCII letters fold), size a power of two at
 *   most half full. This is the whole name index: no Map, no string key per name.
 *
 * Node order is creation order: a record's owner, then its missing ancestors up to the
 * apex (empty non-terminals, RFC 4592 §2.2.2), as the earlier Map-based zone kept them, so
 * AXFR order and ANY order are unchanged. The arrays are views into ArrayBuffers, so the whole
 * zone can be transferred from the load thread without a copy (zone-store.ts). The builder
 * puts every array in one ArrayBuffer.
 */

export interface PackedZone {
  readonly origin: Uint8Array;
  readonly names: Uint8Array;
  readonly nodeName: Uint32Array;
  readonly nodeSets: Uint32Array;
  readonly setType: Uint16Array;
  readonly setClass: Uint16Array;
  readonly setTtl: Uint32Array;
  readonly setRrs: Uint32Array;
  readonly rdata: Uint8Array;
  readonly rdataAt: Uint32Array;
  readonly table: Uint32Array;
}

/** The ArrayBuffers of a packed zone (ZoneBuilder makes one), for postMessage's transfer list. */
export function packedBuffers(p: PackedZone): ArrayBuffer[] {
  const arrays = [
    p.names,
    p.nodeName,
    p.nodeSets,
    p.setType,
    p.setClass,
    p.setTtl,
    p.setRrs,
    p.rdata,
    p.rdataAt,
    p.table,
  ];
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
}

/** FNV-1a over the case-folded bytes `b[from..to)`. */
export function foldedHash(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    let c = b[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

/** `a[ao..ao+len)` equals `b[bo..bo+len)` ignoring ASCII case (RFC 4343 §3). */
export function foldedEqual(
  a: Uint8Array,
  ao: number,
  b: Uint8Array,
  bo: number,
  len: number,
): boolean {
  for (let i = 0; i < len; i++) {
    let x = a[ao + i]!;
    let y = b[bo + i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/**
 * Find a name in a table: the node index or -1. `names`/`nodeName` as in PackedZone (the
 * builder passes its growing arrays).
 */
export function findNode(
  table: Uint32Array,
  names: Uint8Array,
  nodeName: Uint32Array,
  q: Uint8Array,
  qo: number,
  qlen: number,
  hash: number,
): number {
  const mask = table.length - 1;
  for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
    const v = table[slot]!;
    if (v === 0) return -1;
    const i = v - 1;
    const o = nodeName[i]!;
    if (nodeName[i + 1]! - o === qlen && foldedEqual(names, o, q, qo, qlen)) return i;
  }
}

/** A growable typed array (doubling). */
class Grow<T extends Uint8Array | Uint16Array | Uint32Array> {
  length = 0;
  constructor(
    public a: T,
    private readonly make: (n: number) => T,
  ) {}
  reserve(extra: number): void {
    if (this.length + extra <= this.a.length) return;
    let cap = this.a.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const b = this.make(cap);
    b.set(this.a.subarray(0, this.length) as never);
    this.a = b;
  }
  push(v: number): void {
    if (this.length === this.a.length) this.reserve(1);
    this.a[this.length++] = v;
  }
}

/** Builders that need this many bytes or more are rounded up to MMAP_THRESHOLD_MAX. */
const BIG_BLOCK = 1 << 20;
/** Past glibc's DEFAULT_MMAP_THRESHOLD_MAX (32 MiB on 64-bit, 16 MiB on 32-bit). */
const MMAP_THRESHOLD_MAX = (32 << 20) + 4096;

/** No RRset, no record: the end of a linked list below. */
const NONE = 0xffffffff;
/** What findSet returns for a type the node does not have. */
export const NO_SET = NONE;

/**
 * Builds a PackedZone record by record. Records of one owner and type join one RRset; its
 * TTL and class are the first record's (RFC 2181 §5.2: one TTL per RRset; the checker
 * warns about differing ones). Duplicate removal and the zone rules are zone-check.ts's.
 */
export class ZoneBuilder {
  private readonly names: Grow<Uint8Array>;
  private readonly nodeName: Grow<Uint32Array>;
  /** Per node: first and last RRset (a list through setNext), in creation order. */
  private readonly nodeFirst: Grow<Uint32Array>;
  private readonly nodeLast: Grow<Uint32Array>;
  private readonly setNode: Grow<Uint32Array>;
  private readonly setNext: Grow<Uint32Array>;
  private readonly setType: Grow<Uint32Array>;
  private readonly setClass: Grow<Uint32Array>;
  private readonly setTtl: Grow<Uint32Array>;
  private readonly setCount: Grow<Uint32Array>;
  private readonly recSet: Grow<Uint32Array>;
  /** Records of an RRset as a list (first, last, next), for the duplicate check. */
  private readonly setFirstRec: Grow<Uint32Array>;
  private readonly setLastRec: Grow<Uint32Array>;
  private readonly recNext: Grow<Uint32Array>;
  private readonly rdata: Grow<Uint8Array>;
  private readonly rdataAt: Grow<Uint32Array>;
  /** A number the caller keeps per record (the checker: its source line). */
  readonly recTag: Grow<Uint32Array>;
  /** A byte the caller keeps per node (the checker: its per-name rule state). */
  readonly nodeTag: Grow<Uint8Array>;
  private table: Uint32Array;
  private readonly originLen: number;
  /** The RRset the last record joined: consecutive records usually share it. */
  private lastSet = NONE;
  private lastOwner: Uint8Array | undefined;

  /**
   * `expected`: a guess of the zone's records (and names), to size the arrays once. They
   * grow by doubling past it; sized from the file they need no copy, and since pages a
   * typed array does not touch take no memory, a generous guess costs address space only.
   * (Grown arrays also fragmented the C heap: glibc raises its mmap threshold to the size
   * of each freed block, so the next ones landed in arenas that do not shrink. The reload
   * RSS grew with every reload; sized once, it stays flat.)
   */
  constructor(
    readonly origin: Uint8Array,
    expected = 0,
  ) {
    const n = Math.max(64, Math.ceil(expected));
    const namesCap = n * Math.min(origin.length + 8, 32);
    const rdataCap = n * 16;
    // The first arrays are views of one block. glibc's malloc maps a big block on its own
    // and unmaps it when freed, but then raises its mmap threshold to that block's size (up
    // to 32 MiB), and the next zone's arrays landed in heap arenas that never shrink:
    // reloads of a 100,000-record zone grew the process by 30 MB before this. A block over
    // 32 MiB does not move the threshold, so a big builder asks for at least that much;
    // the pages it does not touch cost address space, not memory.
    const need = (n + 1 + 14 * n) * 4 + namesCap + rdataCap + n;
    const block = new ArrayBuffer(need < BIG_BLOCK ? need : Math.max(need, MMAP_THRESHOLD_MAX));
    let off = 0;
    const w32 = (len: number): Grow<Uint32Array> => {
      const g = new Grow(new Uint32Array(block, off, len), (m) => new Uint32Array(m));
      off += len * 4;
      return g;
    };
    const w8 = (len: number): Grow<Uint8Array> => {
      const g = new Grow(new Uint8Array(block, off, len), (m) => new Uint8Array(m));
      off += len;
      return g;
    };
    this.nodeName = w32(n + 1);
    this.nodeFirst = w32(n);
    this.nodeLast = w32(n);
    this.setNode = w32(n);
    this.setNext = w32(n);
    this.setType = w32(n);
    this.setClass = w32(n);
    this.setTtl = w32(n);
    this.setCount = w32(n);
    this.recSet = w32(n);
    this.setFirstRec = w32(n);
    this.setLastRec = w32(n);
    this.recNext = w32(n);
    this.rdataAt = w32(n);
    this.recTag = w32(n);
    this.names = w8(namesCap);
    this.rdata = w8(rdataCap);
    this.nodeTag = w8(n);
    this.originLen = origin.length;
    this.nodeName.push(0);
    let size = 64;
    while (size < n * 2) size *= 2;
    this.table = new Uint32Array(size);
  }

  get recordCount(): number {
    return this.recSet.length;
  }

  get nodeCount(): number {
    return this.nodeName.length - 1;
  }

  /** Add one record; returns its index (insertion order). */
  add(owner: Uint8Array, type: number, klass: number, ttl: number, rdata: Uint8Array): number {
    const last = this.lastSet;
    // Consecutive records of one RRset (an owner inherited by blank-led lines is the same
    // array) skip the name lookup.
    if (last !== NONE && owner === this.lastOwner && this.setType.a[last] === type) {
      return this.addRecord(this.setNode.a[last]!, last, type, klass, ttl, rdata);
    }
    const node = this.intern(owner);
    const k = this.addRecord(node, this.findSet(node, type), type, klass, ttl, rdata);
    this.lastOwner = owner;
    return k;
  }

  /**
   * Add a record to RRset `set` of `node` (NONE: a new RRset with this type, class and
   * TTL); returns the record's index (insertion order).
   */
  addRecord(
    node: number,
    set: number,
    type: number,
    klass: number,
    ttl: number,
    rdata: Uint8Array,
    tag = 0,
  ): number {
    if (set === NONE) set = this.newSet(node, type, klass, ttl);
    this.recTag.push(tag);
    this.lastSet = set;
    this.lastOwner = undefined;
    const k = this.recSet.length;
    this.setCount.a[set]!++;
    this.recSet.push(set);
    this.recNext.push(NONE);
    const prev = this.setLastRec.a[set]!;
    if (prev === NONE) this.setFirstRec.a[set] = k;
    else this.recNext.a[prev] = k;
    this.setLastRec.a[set] = k;
    this.rdataAt.push(this.rdata.length);
    this.rdata.reserve(rdata.length);
    const out = this.rdata.a;
    for (let i = 0, o = this.rdata.length; i < rdata.length; i++) out[o + i] = rdata[i]!;
    this.rdata.length += rdata.length;
    return k;
  }

  /** The records of RRset `set`, in insertion order. */
  *recordsOf(set: number): Generator<number> {
    for (let k = this.setFirstRec.a[set]!; k !== NONE; k = this.recNext.a[k]!) yield k;
  }

  /** Type of record `k`. */
  recordType(k: number): number {
    return this.setType.a[this.recSet.a[k]!]!;
  }

  /** TTL of RRset `set` (its first record's). */
  setTtlOf(set: number): number {
    return this.setTtl.a[set]!;
  }

  /** Number of records in RRset `set`. */
  setSize(set: number): number {
    return this.setCount.a[set]!;
  }

  /** The node of a name, or -1. */
  find(name: Uint8Array): number {
    return findNode(
      this.table,
      this.names.a,
      this.nodeName.a,
      name,
      0,
      name.length,
      foldedHash(name, 0, name.length),
    );
  }

  /** The RRset of `type` at node `node`, or NO_SET. */
  findSet(node: number, type: number): number {
    for (let s = this.nodeFirst.a[node]!; s !== NONE; s = this.setNext.a[s]!) {
      if (this.setType.a[s] === type) return s;
    }
    return NONE;
  }

  /** The node of `owner`, created with its missing ancestors down from the apex. */
  intern(owner: Uint8Array): number {
    const found = this.find(owner);
    if (found >= 0) return found;
    const node = this.newNode(owner, 0);
    // Ancestors between the owner and the apex become (possibly empty) nodes. A node is
    // only ever made with all of its ancestors, so the first one found ends the walk.
    let o = owner[0]! + 1;
    while (o < owner.length && owner[o] !== 0 && owner.length - o >= this.originLen) {
      const len = owner.length - o;
      const hash = foldedHash(owner, o, owner.length);
      if (findNode(this.table, this.names.a, this.nodeName.a, owner, o, len, hash) >= 0) break;
      this.newNode(owner, o);
      o += owner[o]! + 1;
    }
    return node;
  }

  private newNode(name: Uint8Array, from: number): number {
    const node = this.nodeCount;
    const len = name.length - from;
    this.names.reserve(len);
    const names = this.names.a;
    // A loop, not set(subarray()): names are short and a view per copy costs more.
    for (let i = 0, o = this.names.length; i < len; i++) names[o + i] = name[from + i]!;
    this.names.length += len;
    this.nodeName.push(this.names.length);
    this.nodeFirst.push(NONE);
    this.nodeLast.push(NONE);
    this.nodeTag.push(0);
    if ((node + 1) * 2 > this.table.length) this.rehash(this.table.length * 2);
    this.place(node);
    return node;
  }

  private place(node: number): void {
    const t = this.table;
    const mask = t.length - 1;
    const o = this.nodeName.a[node]!;
    let slot = foldedHash(this.names.a, o, this.nodeName.a[node + 1]!) & mask;
    while (t[slot] !== 0) slot = (slot + 1) & mask;
    t[slot] = node + 1;
  }

  private rehash(size: number): void {
    this.table = new Uint32Array(size);
    for (let i = 0; i < this.nodeCount; i++) this.place(i);
  }

  private newSet(node: number, type: number, klass: number, ttl: number): number {
    const set = this.setType.length;
    this.setNode.push(node);
    this.setNext.push(NONE);
    this.setType.push(type);
    this.setClass.push(klass);
    this.setTtl.push(ttl);
    this.setCount.push(0);
    this.setFirstRec.push(NONE);
    this.setLastRec.push(NONE);
    const lastSet = this.nodeLast.a[node]!;
    if (lastSet === NONE) this.nodeFirst.a[node] = set;
    else this.setNext.a[lastSet] = set;
    this.nodeLast.a[node] = set;
    return set;
  }

  /** Owner name of node `i` (a view into the builder's buffer: valid until the next add). */
  nodeOwner(i: number): Uint8Array {
    return this.names.a.subarray(this.nodeName.a[i]!, this.nodeName.a[i + 1]!);
  }

  /** RDATA of record `k` (insertion order; a view valid until the next add). */
  recordRdata(k: number): Uint8Array {
    const end = k + 1 < this.rdataAt.length ? this.rdataAt.a[k + 1]! : this.rdata.length;
    return this.rdata.a.subarray(this.rdataAt.a[k]!, end);
  }

  /**
   * The packed zone: RRsets grouped by node and records by RRset, both in creation order
   * (two stable counting sorts), every array a view of one exactly sized ArrayBuffer.
   */
  finish(): PackedZone {
    const nodes = this.nodeCount;
    const sets = this.setType.length;
    const records = this.recSet.length;
    // One ArrayBuffer for the whole zone: freed (unmapped) as one block when the zone is
    // dropped, transferred as one. 4-byte arrays first, so every view is aligned.
    const tableLen = this.table.length;
    const u32s = (nodes + 1) * 2 + sets + (sets + 1) + (records + 1) + tableLen;
    const buf = new ArrayBuffer(u32s * 4 + sets * 4 + this.names.length + this.rdata.length);
    let off = 0;
    const u32 = (n: number): Uint32Array => {
      const a = new Uint32Array(buf, off, n);
      off += n * 4;
      return a;
    };
    const u16 = (n: number): Uint16Array => {
      const a = new Uint16Array(buf, off, n);
      off += n * 2;
      return a;
    };
    const u8 = (n: number): Uint8Array => {
      const a = new Uint8Array(buf, off, n);
      off += n;
      return a;
    };
    const nodeName = u32(nodes + 1);
    const nodeSets = u32(nodes + 1);
    const setTtl = u32(sets);
    const setRrs = u32(sets + 1);
    const rdataAt = u32(records + 1);
    const table = u32(tableLen);
    const setType = u16(sets);
    const setClass = u16(sets);
    const names = u8(this.names.length);
    const rdata = u8(this.rdata.length);
    nodeName.set(this.nodeName.a.subarray(0, nodes + 1));
    table.set(this.table);
    names.set(this.names.a.subarray(0, this.names.length));
    // RRsets by node.
    for (let s = 0; s < sets; s++) nodeSets[this.setNode.a[s]! + 1]!++;
    for (let i = 0; i < nodes; i++) nodeSets[i + 1]! += nodeSets[i]!;
    const setPos = new Uint32Array(sets);
    const cursor = nodeSets.slice(0, nodes);
    for (let i = 0; i < nodes; i++) {
      for (let s = this.nodeFirst.a[i]!; s !== NONE; s = this.setNext.a[s]!) {
        setPos[s] = cursor[i]!++;
      }
    }
    for (let s = 0; s < sets; s++) {
      const p = setPos[s]!;
      setType[p] = this.setType.a[s]!;
      setClass[p] = this.setClass.a[s]!;
      setTtl[p] = this.setTtl.a[s]!;
      setRrs[p + 1] = this.setCount.a[s]!;
    }
    for (let p = 0; p < sets; p++) setRrs[p + 1]! += setRrs[p]!;
    // Records by RRset, RDATA copied into that order.
    const recCursor = setRrs.slice(0, sets);
    const order = new Uint32Array(records);
    for (let k = 0; k < records; k++) order[recCursor[setPos[this.recSet.a[k]!]!]!++] = k;
    let at = 0;
    const from = this.rdata.a;
    const fromAt = this.rdataAt.a;
    for (let p = 0; p < records; p++) {
      const k = order[p]!;
      const end = k + 1 < records ? fromAt[k + 1]! : this.rdata.length;
      rdataAt[p] = at;
      for (let i = fromAt[k]!; i < end; i++) rdata[at++] = from[i]!;
    }
    rdataAt[records] = at;
    return {
      origin: this.origin.slice(),
      names,
      nodeName,
      nodeSets,
      setType,
      setClass,
      setTtl,
      setRrs,
      rdata,
      rdataAt,
      table,
    };
  }
}
