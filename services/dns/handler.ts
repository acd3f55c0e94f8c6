/**
 * The pure core of the DNS service: query bytes in, an outcome out (DESIGN.md rule 1).
 *
 * Implements the authoritative part of RFC 1034 §4.3.2 (zone choice, referral, CNAME
 * restart, wildcard), RFC 2308 negative answers (SOA in authority with the negative TTL),
 * RFC 6891 EDNS(0) (OPT echoed, BADVERS, payload size), RFC 2181 §9 truncation, RFC 8482
 * is NOT applied: ANY is answered fully, as BIND 9.18 does with `minimal-any no`.
 * The authority/additional policy follows BIND's `minimal-responses`, default
 * `no-auth-recursive`: NS in authority only for queries without RD.
 *
 * Malformed queries get a bare FORMERR header; responses and runts are dropped.
 * Forwarding and zone transfer produce outcomes that the adapter carries out.
 * Left out: DNSSEC (no RRSIG/NSEC), DNS cookies (RFC 7873), TSIG, IXFR journals
 * (IXFR is answered with a full AXFR-style transfer, RFC 1995 §4), NOTIFY, UPDATE.
 */
import { nameKey, nameEquals, nameFromText, prependLabel } from './name.js';
import { TYPE, CLASS, type RR } from './rr.js';
import {
  decodeMessage,
  bareReply,
  responseFlags,
  FormatError,
  MessageWriter,
  OPCODE,
  RCODE,
  FLAG,
  EDNS_DO,
  HEADER_SIZE,
  type Message,
  type Question,
} from './message.js';
import type { ZoneSet } from './zone-set.js';
import type { Zone } from './zone.js';
import type { CidrList } from '../../src/net/cidr.js';

export type MinimalResponses = 'no' | 'yes' | 'no-auth' | 'no-auth-recursive';

export interface DnsPolicy {
  /** Largest UDP payload we send and advertise (RFC 6891 §6.2.5; DNS Flag Day 2020: 1232). */
  readonly udpSize: number;
  /** Text for `version.bind`/`version.server` CH TXT; null hides it (REFUSED). */
  readonly version: string | null;
  /** Text for `hostname.bind`/`id.server` CH TXT; null hides it. */
  readonly hostname: string | null;
  readonly minimalResponses: MinimalResponses;
  /** Who may AXFR/IXFR. Empty: nobody (BIND's `allow-transfer { none; }`). */
  readonly transferAllow: CidrList;
  /** Clients whose out-of-zone queries are forwarded; undefined: no forwarding. */
  readonly forwardNetworks: CidrList | undefined;
}

export interface QueryContext {
  readonly transport: 'udp' | 'tcp';
  /** Client IP address as the socket reports it. */
  readonly client: string;
}

export type Outcome =
  | {
      kind: 'reply';
      bytes: Uint8Array;
      qtype: number;
      rcode: number;
      /** True when the reply depends only on the query bytes and the zones (answer cache). */
      cacheable: boolean;
      truncated: boolean;
    }
  | { kind: 'drop'; reason: 'short' | 'response' }
  | { kind: 'transfer'; messages: Uint8Array[]; qtype: number; rcode: 0; records: number; zone: string }
  | { kind: 'forward'; query: Message; qtype: number };

/** BIND's max-restarts is 11 (9.18); a chain longer than that stops where it is. */
const MAX_CHAIN = 11;
/** RFC 1035 §4.2.1: 512 bytes without EDNS. */
const CLASSIC_UDP = 512;
/** Bytes of an OPT record without options. */
const OPT_SIZE = 11;
/** AXFR messages are packed up to this size (BIND's default limit per message is 64 KiB). */
const TRANSFER_MESSAGE_SIZE = 16384;

/**
 * BIND's built-in CHAOS zones. A hidden value answers NODATA with the zone's SOA, exactly as
 * BIND does with `version none;` (its SOA: version.bind. hostmaster.version.bind. 0 28800
 * 7200 604800 86400, TTL 86400); other CHAOS names are REFUSED.
 */
const CHAOS_ZONES: readonly { name: Uint8Array; value: 'version' | 'hostname' }[] = [
  { name: nameFromText('version.bind.'), value: 'version' },
  { name: nameFromText('version.server.'), value: 'version' },
  { name: nameFromText('hostname.bind.'), value: 'hostname' },
  { name: nameFromText('id.server.'), value: 'hostname' },
];

function chaosSoa(zone: Uint8Array): RR {
  const rname = prependLabel(new TextEncoder().encode('hostmaster'), zone);
  const rdata = new Uint8Array(zone.length + rname.length + 20);
  rdata.set(zone, 0);
  rdata.set(rname, zone.length);
  const dv = new DataView(rdata.buffer, zone.length + rname.length);
  [0, 28800, 7200, 604800, 86400].forEach((v, i) => dv.setUint32(i * 4, v));
  return { owner: zone, type: TYPE.SOA, class: CLASS.CH, ttl: 86400, rdata };
}

interface Built {
  answers: { rr: RR; owner?: Uint8Array; ttl?: number }[];
  authority: { rr: RR; ttl?: number }[];
  /** Additional RRsets: optional unless `required`. */
  additional: { rrs: RR[]; required: boolean }[];
  rcode: number;
  aa: boolean;
  /** The authority section is required (negative answer, referral): truncate if it does not fit. */
  authorityRequired: boolean;
}

function isMetaType(t: number): boolean {
  return t === TYPE.OPT || (t >= 128 && t <= 255 && t !== TYPE.ANY && t !== TYPE.AXFR && t !== TYPE.IXFR);
}

/** Write a reply: question, sections, OPT; TC with the question only if the answer does not fit. */
function render(
  q: Message,
  question: Question | undefined,
  built: Built | undefined,
  rcode: number,
  aa: boolean,
  ra: boolean,
  limit: number,
  udpSize: number,
): { bytes: Uint8Array; truncated: boolean } {
  const edns = q.edns;
  const body = edns ? limit - OPT_SIZE : limit;
  let w = new MessageWriter(body, 512);
  let tc = false;
  if (question) w.addQuestion(question);
  if (built) {
    let ok = true;
    for (const a of built.answers) if (!w.tryAddRR(1, a.rr, a.owner, a.ttl)) ok = false;
    if (ok) {
      for (const a of built.authority) {
        if (!w.tryAddRR(2, a.rr, undefined, a.ttl) && built.authorityRequired) ok = false;
      }
    }
    if (ok) {
      for (const set of built.additional) {
        if (!w.tryAddRRset(3, set.rrs) && set.required) ok = false;
      }
    }
    if (!ok) {
      // RFC 2181 §9 / RFC 1035 §7.4: set TC; the client retries over TCP. Question only.
      tc = true;
      w = new MessageWriter(body, 64);
      if (question) w.addQuestion(question);
    }
  }
  let ext = 0;
  if (edns) {
    ext = rcode >>> 4;
    w.addOpt(udpSize, ext, edns.flags & EDNS_DO);
  }
  return { bytes: w.finish(q.id, responseFlags(q.flags, { aa, tc, ra, rcode: rcode & 0xf })), truncated: tc };
}

function chaos(q: Message, question: Question, policy: DnsPolicy, limit: number): Uint8Array {
  const zone = CHAOS_ZONES.find((z) => nameEquals(z.name, question.qname));
  if (!zone) return render(q, question, undefined, RCODE.REFUSED, false, false, limit, policy.udpSize).bytes;
  const text = zone.value === 'version' ? policy.version : policy.hostname;
  const built: Built = { answers: [], authority: [], additional: [], rcode: 0, aa: true, authorityRequired: true };
  if (text === null || (question.qtype !== TYPE.TXT && question.qtype !== TYPE.ANY)) {
    built.authority.push({ rr: chaosSoa(zone.name) });
  } else {
    const bytes = new TextEncoder().encode(text).subarray(0, 255);
    const rdata = new Uint8Array(bytes.length + 1);
    rdata[0] = bytes.length;
    rdata.set(bytes, 1);
    built.answers.push({ rr: { owner: zone.name, type: TYPE.TXT, class: CLASS.CH, ttl: 0, rdata } });
  }
  return render(q, question, built, RCODE.NOERROR, true, false, limit, policy.udpSize).bytes;
}

/** Target names that get A/AAAA in the additional section (RFC 1035 §3.3.9, §3.3.11; RFC 2782). */
function additionalTarget(rr: RR): Uint8Array | undefined {
  switch (rr.type) {
    case TYPE.NS:
      return rr.rdata;
    case TYPE.MX:
      return rr.rdata.subarray(2);
    case TYPE.SRV:
      return rr.rdata.length > 7 && !(rr.rdata[6] === 0) ? rr.rdata.subarray(6) : undefined;
    default:
      return undefined;
  }
}

function addAddresses(
  built: Built,
  zones: ZoneSet,
  names: Iterable<Uint8Array>,
  required: (name: Uint8Array) => boolean,
): void {
  const seen = new Set<string>();
  for (const a of built.answers) if (a.rr.type === TYPE.A || a.rr.type === TYPE.AAAA) seen.add(nameKey(a.owner ?? a.rr.owner));
  for (const n of names) {
    const k = nameKey(n);
    if (seen.has(k)) continue;
    seen.add(k);
    const z = zones.find(n, k);
    if (!z) continue;
    const node = z.node(n);
    if (!node) continue;
    const req = required(n);
    const a = node.sets.get(TYPE.A);
    const aaaa = node.sets.get(TYPE.AAAA);
    if (a) built.additional.push({ rrs: a, required: req });
    if (aaaa) built.additional.push({ rrs: aaaa, required: false });
  }
}

/** Answer from our zones: RFC 1034 §4.3.2 with CNAME restarts. */
function resolve(zones: ZoneSet, first: Zone, question: Question, rd: boolean, policy: DnsPolicy): Built {
  const built: Built = { answers: [], authority: [], additional: [], rcode: RCODE.NOERROR, aa: true, authorityRequired: false };
  const qtype = question.qtype;
  let name = question.qname;
  let zone: Zone | undefined = first;
  const visited = new Set<string>();
  let finalZone: Zone = first;
  let positive = false;
  for (let hop = 0; hop <= MAX_CHAIN && zone; hop++) {
    finalZone = zone;
    const r = zone.lookup(name, qtype);
    if (r.kind === 'answer') {
      for (const rr of r.rrs) built.answers.push(r.synthesized ? { rr, owner: name } : { rr });
      positive = true;
      break;
    }
    if (r.kind === 'cname') {
      built.answers.push(r.synthesized ? { rr: r.rr, owner: name } : { rr: r.rr });
      visited.add(nameKey(name));
      name = r.target;
      if (visited.has(nameKey(name))) break; // a loop: stop with what we have (BIND does)
      zone = zones.find(name);
      positive = true;
      continue;
    }
    if (r.kind === 'nodata' || r.kind === 'nxdomain') {
      // RFC 2308 §3 / §2.2: SOA in authority with TTL min(SOA TTL, MINIMUM).
      if (r.kind === 'nxdomain') built.rcode = RCODE.NXDOMAIN;
      built.authority.push({ rr: zone.soa, ttl: zone.negativeTtl });
      built.authorityRequired = true;
      return built;
    }
    // Delegation: a referral (RFC 1034 §4.3.2 step 3b) — not authoritative when it is the
    // first step; after a CNAME, the chain's authoritative part stays.
    if (hop === 0) built.aa = false;
    for (const rr of r.ns) built.authority.push({ rr });
    built.authorityRequired = true;
    // Glue for servers inside the delegated space is required (RFC 9471 §3).
    addAddresses(
      built,
      zones,
      r.ns.map((rr) => rr.rdata),
      (n) => {
        const ck = nameKey(r.cut);
        const nk = nameKey(n);
        return nk.endsWith(ck);
      },
    );
    return built;
  }
  if (!positive) return built;
  // Additional data for the answer's targets (MX, NS, SRV), as BIND does at every
  // minimal-responses setting except `yes`.
  const minimal = policy.minimalResponses;
  if (minimal !== 'yes') {
    const targets: Uint8Array[] = [];
    for (const a of built.answers) {
      const t = additionalTarget(a.rr);
      if (t) targets.push(t);
    }
    const withAuthority = minimal === 'no' || (minimal === 'no-auth-recursive' && !rd);
    if (withAuthority && !(qtype === TYPE.NS && nameEquals(name, finalZone.origin))) {
      const ns = finalZone.apexNs();
      for (const rr of ns) {
        built.authority.push({ rr });
        targets.push(rr.rdata);
      }
    }
    addAddresses(built, zones, targets, () => false);
  }
  return built;
}

function transfer(q: Message, question: Question, zone: Zone): Uint8Array[] {
  const out: Uint8Array[] = [];
  const flags = responseFlags(q.flags, { aa: true, rcode: RCODE.NOERROR });
  let w = new MessageWriter(TRANSFER_MESSAGE_SIZE);
  w.addQuestion(question);
  let n = 0;
  const all = [...zone.records(), zone.soa];
  for (const rr of all) {
    if (!w.tryAddRR(1, rr)) {
      out.push(w.finish(q.id, flags));
      // RFC 5936 §2.2: later messages may carry the question or not; we leave it out.
      w = new MessageWriter(TRANSFER_MESSAGE_SIZE);
      w.addRR(1, rr);
    }
    n++;
  }
  void n;
  out.push(w.finish(q.id, flags));
  return out;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Handle one query. Never throws for any input (the fuzz tests hold it to that). */
export function handleQuery(bytes: Uint8Array, zones: ZoneSet, policy: DnsPolicy, ctx: QueryContext): Outcome {
  // RFC 1035 §4.1.1: shorter than a header, or a response: nothing to answer.
  if (bytes.length < HEADER_SIZE) return { kind: 'drop', reason: 'short' };
  const flags = u16(bytes, 2);
  if (flags & FLAG.QR) return { kind: 'drop', reason: 'response' };
  let q: Message;
  try {
    q = decodeMessage(bytes);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return { kind: 'reply', bytes: bareReply(bytes, RCODE.FORMERR), qtype: -1, rcode: RCODE.FORMERR, cacheable: false, truncated: false };
  }
  if (q.questions.length !== 1) {
    // A query carries exactly one question (RFC 9619); BIND answers others with FORMERR.
    return { kind: 'reply', bytes: bareReply(bytes, RCODE.FORMERR), qtype: -1, rcode: RCODE.FORMERR, cacheable: false, truncated: false };
  }
  const question = q.questions[0]!;
  const qtype = question.qtype;
  const udpSize = policy.udpSize;
  // RFC 6891 §6.2.3/§6.2.5: payload sizes below 512 are treated as 512; we send at most ours.
  const limit =
    ctx.transport === 'tcp' ? 65535 : q.edns ? Math.min(Math.max(q.edns.udpSize, CLASSIC_UDP), udpSize) : CLASSIC_UDP;
  const reply = (rcode: number, built?: Built, cacheable = true): Outcome => {
    const r = render(q, question, built, rcode, built?.aa ?? false, false, limit, udpSize);
    return { kind: 'reply', bytes: r.bytes, qtype, rcode, cacheable, truncated: r.truncated };
  };
  if (q.edns && q.edns.version > 0) {
    // RFC 6891 §6.1.3: unknown version → BADVERS, with an OPT of the version we speak.
    return reply(RCODE.BADVERS);
  }
  if (q.opcode !== OPCODE.QUERY) return reply(RCODE.NOTIMP);
  if (qtype === TYPE.OPT) return reply(RCODE.FORMERR, undefined, false);
  if (question.qclass === CLASS.CH) {
    return { kind: 'reply', bytes: chaos(q, question, policy, limit), qtype, rcode: 0, cacheable: true, truncated: false };
  }
  if (question.qclass !== CLASS.IN && question.qclass !== CLASS.ANY) return reply(RCODE.REFUSED);

  if (qtype === TYPE.AXFR || qtype === TYPE.IXFR) {
    // RFC 5936 §4.2: AXFR only over TCP.
    if (ctx.transport === 'udp' && qtype === TYPE.AXFR) return reply(RCODE.FORMERR, undefined, false);
    const zone = zones.get(question.qname);
    if (!zone || !policy.transferAllow.has(ctx.client)) {
      const r = render(q, question, undefined, zone ? RCODE.REFUSED : RCODE.NOTAUTH, false, false, limit, udpSize);
      return { kind: 'reply', bytes: r.bytes, qtype, rcode: zone ? RCODE.REFUSED : RCODE.NOTAUTH, cacheable: false, truncated: false };
    }
    if (ctx.transport === 'udp') {
      // RFC 1995 §2: an IXFR over UDP that does not fit gets the SOA alone: "come over TCP".
      const built: Built = { answers: [{ rr: zone.soa }], authority: [], additional: [], rcode: 0, aa: true, authorityRequired: false };
      return reply(RCODE.NOERROR, built, false);
    }
    const messages = transfer(q, question, zone);
    return { kind: 'transfer', messages, qtype, rcode: 0, records: zone.recordCount + 1, zone: zone.originKey };
  }
  if (isMetaType(qtype)) return reply(RCODE.NOTIMP, undefined, false);

  const zone = zones.find(question.qname);
  if (!zone) {
    if (policy.forwardNetworks?.has(ctx.client)) return { kind: 'forward', query: q, qtype };
    // Not ours and no recursion for this client: REFUSED (RFC 1034 §4.3.1; BIND's answer).
    return reply(RCODE.REFUSED, undefined, policy.forwardNetworks === undefined);
  }
  const built = resolve(zones, zone, question, (q.flags & FLAG.RD) !== 0, policy);
  return reply(built.rcode, built, true);
}
