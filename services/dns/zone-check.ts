/**
 * Zone semantics checked before a zone is served: the named-checkzone rules that matter.
 *
 * Errors (the zone is not loaded):
 * - a record outside the origin ("out of zone"; BIND only ignores it with a warning, we
 *   refuse it: it is always a typo in a hand-written zone);
 * - not exactly one SOA at the apex, or an SOA elsewhere (RFC 1035 §5.2);
 * - no NS at the apex (RFC 1034 §4.2.1; BIND: "has no NS records");
 * - CNAME and other data at one name, or more than one CNAME or DNAME there (RFC 1034
 *   §3.6.2, RFC 2181 §10.1, RFC 6672 §2.4); DNSSEC types may sit beside a CNAME;
 * - an NS whose in-zone target has no A or AAAA, or is a CNAME (BIND's check-integrity).
 *
 * Warnings (the zone loads): TTLs differing within one RRset (the first TTL wins, as BIND:
 * "TTL set to prior TTL"), MX or SRV targets that are CNAMEs (BIND's check-mx-cname and
 * check-srv-cname default to warn). Identical records are merged silently, comparing names
 * inside RDATA without case as RFC 4034 §6.2's canonical form does.
 *
 * The checks run record by record as the parser produces them (ZoneChecker), on the packed
 * zone being built (zone-pack.ts): RRsets, names and the per-name state live in its typed
 * arrays, not in a Map of strings per record, so checking a zone costs about what serving
 * it does. Issues come out in the order of the passes they belong to: records out of the
 * zone, then the per-name rules, then the zone as a whole, then NS/MX/SRV targets.
 *
 * Left out: BIND's check-names (host name syntax), check-sibling, check-wildcard, and
 * checks of data below a delegation or a DNAME (occluded data is kept, as BIND keeps it).
 */

import { nameEquals, nameKey, nameToText } from './name.js';
import { DECOMPRESS_ON_READ, TYPE, typeToText, type RR } from './rr.js';
import { NO_SET, ZoneBuilder, foldedEqual, type PackedZone } from './zone-pack.js';
import type { SourceLocation, ZoneIssue } from './zone-file.js';

export interface ZoneCheck {
  /** The records to serve: in-zone, duplicates merged, one TTL per RRset, file order kept. */
  records: RR[];
  errors: ZoneIssue[];
  warnings: ZoneIssue[];
}

export interface CheckZoneOptions {
  /** File named in whole-zone issues (line 0). */
  file?: string;
  /** Where each record came from, parallel to `records` (as parseZoneFile returns it). */
  sources?: readonly SourceLocation[];
}

/**
 * Types that may share a name with a CNAME: RRSIG and NSEC (RFC 4035 §2.5), and their
 * predecessors KEY and NXT (RFC 2535 §2.3.5), as BIND allows.
 */
const BESIDE_CNAME: ReadonlySet<number> = new Set([TYPE.RRSIG, TYPE.NSEC, 25, 30]);

/** Offset just past the wire name at `pos` of `b` (clamped to b's length). */
function nameEnd(b: Uint8Array, pos: number): number {
  while (pos < b.length && b[pos] !== 0) pos += b[pos]! + 1;
  return Math.min(pos + 1, b.length);
}

/**
 * RDATA equal with the names it holds compared without case (RFC 4034 §6.2's canonical
 * form) where we know the type's layout; other bytes exactly.
 */
function canonicalEqual(type: number, a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const layout = DECOMPRESS_ON_READ.get(type);
  let pos = 0;
  if (layout) {
    for (const f of layout) {
      if (f === 'n') {
        const end = nameEnd(a, pos);
        if (nameEnd(b, pos) !== end || !foldedEqual(a, pos, b, pos, end - pos)) return false;
        pos = end;
      } else if (f === 'rest') {
        break;
      } else {
        const end = Math.min(pos + f, a.length);
        for (let i = pos; i < end; i++) if (a[i] !== b[i]) return false;
        pos = end;
      }
    }
  }
  for (let i = pos; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * isSubdomain without the view it makes: the check runs on every record of the zone.
 * True when `name` is `origin` or below it (RFC 4343 §3 case folding).
 */
function inZone(name: Uint8Array, origin: Uint8Array): boolean {
  const start = name.length - origin.length;
  if (start < 0 || !foldedEqual(name, start, origin, 0, origin.length)) return false;
  let i = 0;
  while (i < start) i += name[i]! + 1;
  return i === start;
}

/** The single name of an NS/CNAME RDATA, or the name after a fixed prefix (MX, SRV). */
function targetAt(rdata: Uint8Array, offset: number): Uint8Array | undefined {
  let pos = offset;
  while (pos < rdata.length && rdata[pos] !== 0) pos += rdata[pos]! + 1;
  return pos < rdata.length ? rdata.subarray(offset, pos + 1) : undefined;
}

/**
 * RRsets past this many records keep a set of their records' canonical keys for the
 * duplicate check, so a huge RRset is not compared record by record (quadratic); smaller
 * ones are scanned. 16 is where the scan stops being the cheaper one.
 */
const SCAN_LIMIT = 16;

function latin1(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

/** RDATA with the names it holds case-folded (RFC 4034 §6.2), as a string key. */
function canonicalRdataKey(type: number, rdata: Uint8Array): string {
  const layout = DECOMPRESS_ON_READ.get(type);
  if (!layout) return latin1(rdata);
  let pos = 0;
  let s = '';
  for (const f of layout) {
    if (f === 'n') {
      const end = nameEnd(rdata, pos);
      s += nameKey(rdata.subarray(pos, end));
      pos = end;
    } else if (f === 'rest') {
      break;
    } else {
      s += latin1(rdata.subarray(pos, pos + f));
      pos += f;
    }
  }
  return s + latin1(rdata.subarray(Math.min(pos, rdata.length)));
}

// Per-name state of the second pass, one byte per node.
const CNAME_ONE = 1;
const CNAME_MORE = 2;
const DNAME_ONE = 4;
const DNAME_MORE = 8;
const OTHER = 16;
const REPORTED = 32;

/**
 * Checks a zone record by record while building its packed form; see the module header for
 * the rules. `add()` takes each record as parsed, `finish()` runs the whole-zone checks.
 * Never throws on bad data.
 */
export class ZoneChecker {
  readonly builder: ZoneBuilder;
  private readonly zoneName: string;
  private readonly outOfZone: ZoneIssue[] = [];
  private readonly perName: ZoneIssue[] = [];
  private readonly ttlWarnings: ZoneIssue[] = [];
  /**
   * Source file of the kept records, as runs: record `fileRuns[i].from` on comes from
   * `fileRuns[i].file` (the line is the record's tag in the builder).
   */
  private readonly fileRuns: { from: number; file: string }[] = [];
  /** Canonical keys of the RRsets past SCAN_LIMIT records. */
  private readonly bigSets = new Map<number, Set<string>>();
  private apexSoa = 0;
  private apexNs = 0;

  /** `expected`: a guess of the zone's records, to size the arrays once (see ZoneBuilder). */
  constructor(
    readonly origin: Uint8Array,
    private readonly zoneFile: string,
    expected = 0,
  ) {
    this.builder = new ZoneBuilder(origin, expected);
    this.zoneName = nameToText(origin);
  }

  /** Records kept so far (in-zone, not duplicates). */
  get recordCount(): number {
    return this.builder.recordCount;
  }

  /** Check one record and keep it unless it is out of zone or a duplicate. */
  add(
    owner: Uint8Array,
    type: number,
    klass: number,
    ttl: number,
    rdata: Uint8Array,
    file: string,
    line: number,
  ): void {
    // Pass 1: drop out-of-zone records, merge duplicates, unify RRset TTLs.
    if (!inZone(owner, this.origin)) {
      this.outOfZone.push({
        file,
        line,
        message: `${nameToText(owner)}: out of zone (not at or below ${this.zoneName})`,
      });
      return;
    }
    const b = this.builder;
    const node = b.intern(owner);
    const set = b.findSet(node, type);
    let keptTtl = ttl;
    if (set !== NO_SET) {
      if (this.isDuplicate(set, type, rdata)) return; // merged silently, as BIND does
      keptTtl = b.setTtlOf(set);
      if (ttl !== keptTtl) {
        // RFC 2181 §5.2: "the TTLs of all RRs in an RRSet must be the same"; BIND keeps the
        // first and warns "TTL set to prior TTL".
        this.ttlWarnings.push({
          file,
          line,
          message: `${nameToText(owner)} ${typeToText(type)}: TTL ${ttl} differs from the RRset's; set to prior TTL (${keptTtl})`,
        });
      }
    }
    const k = b.addRecord(node, set, type, klass, keptTtl, rdata, line);
    const big = this.bigSets.get(set);
    if (big) big.add(canonicalRdataKey(type, rdata));
    if (this.fileRuns[this.fileRuns.length - 1]?.file !== file)
      this.fileRuns.push({ from: k, file });
    this.perNameRules(node, owner, type, file, line);
  }

  private isDuplicate(set: number, type: number, rdata: Uint8Array): boolean {
    const b = this.builder;
    let big = this.bigSets.get(set);
    if (!big && b.setSize(set) >= SCAN_LIMIT) {
      big = new Set();
      for (const k of b.recordsOf(set)) big.add(canonicalRdataKey(type, b.recordRdata(k)));
      this.bigSets.set(set, big);
    }
    if (big) return big.has(canonicalRdataKey(type, rdata));
    for (const k of b.recordsOf(set))
      if (canonicalEqual(type, b.recordRdata(k), rdata)) return true;
    return false;
  }

  /** The file record `k` came from. */
  private fileOf(k: number): string {
    const runs = this.fileRuns;
    let lo = 0;
    let hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (runs[mid]!.from <= k) lo = mid;
      else hi = mid - 1;
    }
    return runs[lo]?.file ?? this.zoneFile;
  }

  /** Pass 2, in kept-record order: SOA placement, CNAME and DNAME rules. */
  private perNameRules(
    node: number,
    owner: Uint8Array,
    type: number,
    file: string,
    line: number,
  ): void {
    const flags = this.builder.nodeTag.a;
    const issue = (message: string): void => {
      this.perName.push({ file, line, message: `${nameToText(owner)}: ${message}` });
    };
    if (type === TYPE.SOA) {
      if (!nameEquals(owner, this.origin)) {
        issue(`SOA record not at the top of the zone ${this.zoneName}`);
      } else if (++this.apexSoa > 1) {
        // RFC 1035 §5.2: "Exactly one SOA RR should be present at the top of the zone."
        issue('more than one SOA record (RFC 1035 §5.2: exactly one)');
      }
    }
    if (type === TYPE.NS && nameEquals(owner, this.origin)) this.apexNs++;
    let f = flags[node]!;
    if (type === TYPE.CNAME) {
      // RFC 2181 §10.1: "there may be only one such RR" (one CNAME per name).
      if (f & CNAME_ONE && !(f & CNAME_MORE)) {
        f |= CNAME_MORE;
        issue('more than one CNAME record (RFC 2181 §10.1)');
      }
      f |= CNAME_ONE;
    } else if (type === TYPE.DNAME) {
      // RFC 6672 §2.4: "There MUST NOT be more than one DNAME RR per owner."
      if (f & DNAME_ONE && !(f & DNAME_MORE)) {
        f |= DNAME_MORE;
        issue('more than one DNAME record (RFC 6672 §2.4)');
      }
      f |= DNAME_ONE | OTHER;
    } else if (!BESIDE_CNAME.has(type)) {
      f |= OTHER;
    }
    // RFC 1034 §3.6.2: "If a CNAME RR is present at a node, no other data should be
    // present; this ensures that the data for a canonical name and its aliases cannot be
    // different."
    if (f & CNAME_ONE && f & OTHER && !(f & REPORTED)) {
      f |= REPORTED;
      issue('CNAME and other data (RFC 1034 §3.6.2)');
    }
    flags[node] = f;
  }

  /**
   * The whole-zone checks (SOA and NS at the apex; NS/MX/SRV targets) and every issue;
   * `packed` is the zone to serve when there are no errors (and `build` is not false).
   */
  finish(build = true): {
    errors: ZoneIssue[];
    warnings: ZoneIssue[];
    packed: PackedZone | undefined;
  } {
    const errors = [...this.outOfZone, ...this.perName];
    const warnings = [...this.ttlWarnings];
    const zoneIssue = (message: string): void => {
      errors.push({ file: this.zoneFile, line: 0, message });
    };
    const zoneName = this.zoneName;
    if (this.apexSoa === 0)
      zoneIssue(`zone ${zoneName}: no SOA record at the top of the zone (RFC 1035 §5.2)`);
    if (this.apexNs === 0)
      zoneIssue(`zone ${zoneName}: has no NS records at the top of the zone (RFC 1034 §4.2.1)`);

    // Pass 3: targets inside the zone (RFC 2181 §10.3: "MX and NS records must not point
    // to an alias"; RFC 2782 says the same of SRV targets).
    const b = this.builder;
    const checked = new Set<string>();
    const n = b.recordCount;
    for (let k = 0; k < n; k++) {
      const type = b.recordType(k);
      const offset = type === TYPE.NS ? 0 : type === TYPE.MX ? 2 : type === TYPE.SRV ? 6 : -1;
      if (offset < 0) continue;
      const target = targetAt(b.recordRdata(k), offset);
      if (!target || !inZone(target, this.origin)) continue;
      const once = `${type}/${nameKey(target)}`;
      if (checked.has(once)) continue;
      checked.add(once);
      const at = b.find(target);
      const has = (t: number): boolean => at >= 0 && b.findSet(at, t) !== NO_SET;
      const where = { file: this.fileOf(k), line: b.recTag.a[k]! };
      const t = nameToText(target);
      if (has(TYPE.CNAME)) {
        if (type === TYPE.NS)
          errors.push({ ...where, message: `NS '${t}' is a CNAME (illegal, RFC 2181 §10.3)` });
        else
          warnings.push({
            ...where,
            message: `${typeToText(type)} '${t}' is a CNAME (RFC 2181 §10.3)`,
          });
      } else if (type === TYPE.NS && !has(TYPE.A) && !has(TYPE.AAAA)) {
        errors.push({ ...where, message: `NS '${t}' has no address records (A or AAAA)` });
      }
    }
    return { errors, warnings, packed: build && errors.length === 0 ? b.finish() : undefined };
  }
}

/** Check a parsed zone; see the module header for the rules. Never throws. */
export function checkZone(
  records: readonly RR[],
  origin: Uint8Array,
  opts: CheckZoneOptions = {},
): ZoneCheck {
  const zoneFile = opts.file ?? opts.sources?.[0]?.file ?? '<zone>';
  const c = new ZoneChecker(origin, zoneFile);
  const kept: RR[] = [];
  records.forEach((rr, i) => {
    const w = opts.sources?.[i] ?? { file: zoneFile, line: 0 };
    const before = c.recordCount;
    c.add(rr.owner, rr.type, rr.class, rr.ttl, rr.rdata, w.file, w.line);
    if (c.recordCount === before) return; // out of zone or a duplicate
    const set = c.builder.findSet(c.builder.find(rr.owner), rr.type);
    const ttl = c.builder.setTtlOf(set);
    kept.push(ttl === rr.ttl ? rr : { ...rr, ttl });
  });
  const r = c.finish(false);
  return { records: kept, errors: r.errors, warnings: r.warnings };
}
