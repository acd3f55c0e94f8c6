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
 * Left out: BIND's check-names (host name syntax), check-sibling, check-wildcard, and
 * checks of data below a delegation or a DNAME (occluded data is kept, as BIND keeps it).
 */

import { isSubdomain, nameEquals, nameKey, nameToText } from './name.js';
import { DECOMPRESS_ON_READ, TYPE, typeToText, type RR } from './rr.js';
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

function latin1(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

/** RDATA compared with the names it holds case-folded (RFC 4034 §6.2) where we know them. */
function canonicalRdataKey(type: number, rdata: Uint8Array): string {
  const layout = DECOMPRESS_ON_READ.get(type);
  if (!layout) return latin1(rdata);
  let pos = 0;
  let s = '';
  for (const f of layout) {
    if (f === 'n') {
      const start = pos;
      while (pos < rdata.length && rdata[pos] !== 0) pos += rdata[pos]! + 1;
      pos++;
      s += nameKey(rdata.subarray(start, Math.min(pos, rdata.length)));
    } else if (f === 'rest') {
      break;
    } else {
      s += latin1(rdata.subarray(pos, pos + f));
      pos += f;
    }
  }
  return s + latin1(rdata.subarray(Math.min(pos, rdata.length)));
}

/** The single name of an NS/CNAME RDATA, or the name after a fixed prefix (MX, SRV). */
function targetAt(rdata: Uint8Array, offset: number): Uint8Array | undefined {
  let pos = offset;
  while (pos < rdata.length && rdata[pos] !== 0) pos += rdata[pos]! + 1;
  return pos < rdata.length ? rdata.subarray(offset, pos + 1) : undefined;
}

/** Check a parsed zone; see the module header for the rules. Never throws. */
export function checkZone(
  records: readonly RR[],
  origin: Uint8Array,
  opts: CheckZoneOptions = {},
): ZoneCheck {
  const errors: ZoneIssue[] = [];
  const warnings: ZoneIssue[] = [];
  const zoneFile = opts.file ?? opts.sources?.[0]?.file ?? '<zone>';
  const where = (i: number): SourceLocation => opts.sources?.[i] ?? { file: zoneFile, line: 0 };
  const issue = (list: ZoneIssue[], i: number, message: string): void => {
    const w = where(i);
    list.push({ file: w.file, line: w.line, message });
  };
  const zoneIssue = (message: string): void => {
    errors.push({ file: zoneFile, line: 0, message });
  };
  const zoneName = nameToText(origin);

  // Pass 1: drop out-of-zone records, merge duplicates, unify RRset TTLs.
  const kept: RR[] = [];
  const keptAt: number[] = [];
  const rrsets = new Map<string, { ttl: number; rdata: Set<string> }>();
  records.forEach((rr, i) => {
    if (!isSubdomain(rr.owner, origin)) {
      issue(errors, i, `${nameToText(rr.owner)}: out of zone (not at or below ${zoneName})`);
      return;
    }
    const key = `${nameKey(rr.owner)}/${rr.type}/${rr.class}`;
    let set = rrsets.get(key);
    const rdataKey = canonicalRdataKey(rr.type, rr.rdata);
    if (!set) {
      set = { ttl: rr.ttl, rdata: new Set() };
      rrsets.set(key, set);
    } else if (set.rdata.has(rdataKey)) {
      return; // an identical record: merged silently, as BIND does
    }
    set.rdata.add(rdataKey);
    let out = rr;
    if (rr.ttl !== set.ttl) {
      // RFC 2181 §5.2: "the TTLs of all RRs in an RRSet must be the same"; BIND keeps the
      // first and warns "TTL set to prior TTL".
      issue(
        warnings,
        i,
        `${nameToText(rr.owner)} ${typeToText(rr.type)}: TTL ${rr.ttl} differs from the RRset's; set to prior TTL (${set.ttl})`,
      );
      out = { ...rr, ttl: set.ttl };
    }
    kept.push(out);
    keptAt.push(i);
  });

  // Pass 2: per-name rules.
  const nodes = new Map<
    string,
    { cname: number; dname: number; other: boolean; reported: boolean }
  >();
  let apexSoa = 0;
  let apexNs = 0;
  kept.forEach((rr, j) => {
    const i = keptAt[j]!;
    const owner = nameToText(rr.owner);
    const k = nameKey(rr.owner);
    let node = nodes.get(k);
    if (!node) {
      node = { cname: 0, dname: 0, other: false, reported: false };
      nodes.set(k, node);
    }
    if (rr.type === TYPE.SOA) {
      if (!nameEquals(rr.owner, origin)) {
        issue(errors, i, `${owner}: SOA record not at the top of the zone ${zoneName}`);
      } else if (++apexSoa > 1) {
        // RFC 1035 §5.2: "Exactly one SOA RR should be present at the top of the zone."
        issue(errors, i, `${owner}: more than one SOA record (RFC 1035 §5.2: exactly one)`);
      }
    }
    if (rr.type === TYPE.NS && nameEquals(rr.owner, origin)) apexNs++;
    if (rr.type === TYPE.CNAME) {
      // RFC 2181 §10.1: "there may be only one such RR" (one CNAME per name).
      if (++node.cname === 2)
        issue(errors, i, `${owner}: more than one CNAME record (RFC 2181 §10.1)`);
    } else if (rr.type === TYPE.DNAME) {
      // RFC 6672 §2.4: "There MUST NOT be more than one DNAME RR per owner."
      if (++node.dname === 2)
        issue(errors, i, `${owner}: more than one DNAME record (RFC 6672 §2.4)`);
      node.other = true;
    } else if (!BESIDE_CNAME.has(rr.type)) {
      node.other = true;
    }
    // RFC 1034 §3.6.2: "If a CNAME RR is present at a node, no other data should be
    // present; this ensures that the data for a canonical name and its aliases cannot be
    // different."
    if (node.cname > 0 && node.other && !node.reported) {
      node.reported = true;
      issue(errors, i, `${owner}: CNAME and other data (RFC 1034 §3.6.2)`);
    }
  });
  if (apexSoa === 0)
    zoneIssue(`zone ${zoneName}: no SOA record at the top of the zone (RFC 1035 §5.2)`);
  if (apexNs === 0)
    zoneIssue(`zone ${zoneName}: has no NS records at the top of the zone (RFC 1034 §4.2.1)`);

  // Pass 3: targets inside the zone (RFC 2181 §10.3: "MX and NS records must not point
  // to an alias"; RFC 2782 says the same of SRV targets).
  const typesAt = new Map<string, Set<number>>();
  for (const rr of kept) {
    const k = nameKey(rr.owner);
    let s = typesAt.get(k);
    if (!s) typesAt.set(k, (s = new Set()));
    s.add(rr.type);
  }
  const checked = new Set<string>();
  kept.forEach((rr, j) => {
    const i = keptAt[j]!;
    const offset =
      rr.type === TYPE.NS ? 0 : rr.type === TYPE.MX ? 2 : rr.type === TYPE.SRV ? 6 : -1;
    if (offset < 0) return;
    const target = targetAt(rr.rdata, offset);
    if (!target || !isSubdomain(target, origin)) return;
    const once = `${rr.type}/${nameKey(target)}`;
    if (checked.has(once)) return;
    checked.add(once);
    const types = typesAt.get(nameKey(target));
    const t = nameToText(target);
    if (types?.has(TYPE.CNAME)) {
      if (rr.type === TYPE.NS) issue(errors, i, `NS '${t}' is a CNAME (illegal, RFC 2181 §10.3)`);
      else issue(warnings, i, `${typeToText(rr.type)} '${t}' is a CNAME (RFC 2181 §10.3)`);
    } else if (rr.type === TYPE.NS && !types?.has(TYPE.A) && !types?.has(TYPE.AAAA)) {
      issue(errors, i, `NS '${t}' has no address records (A or AAAA)`);
    }
  });

  return { records: kept, errors, warnings };
}
