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
 * Left out: DNSSEC (no RRSIG/NSEC), DNS cookies (RFC 7873), TSIG on queries and
 * transfers. UPDATE and NOTIFY are the server's (dynamic-zones.ts, server.ts); IXFR comes
 * from the journal when `policy.journal` reaches the client's serial, else AXFR form.
 */
import { ixfrAnswer } from './ixfr.js';
import type { JournalEntry } from './journal-store.js';
import {
  nameKey,
  nameEquals,
  nameFromText,
  prependLabel,
  isSubdomain,
  nameToText,
} from './name.js';
import { soaSerialOf, TYPE, CLASS, type RR } from './rr.js';
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
  /**
   * TSIG keys (lower-case names, trailing dot) whose signed transfer requests are allowed
   * from any address (BIND's `allow-transfer { key k; }`).
   */
  readonly transferKeys?: ReadonlySet<string>;
  /** Clients whose out-of-zone queries are forwarded; undefined: no forwarding. */
  readonly forwardNetworks: CidrList | undefined;
  /** A dynamic zone's UPDATE journal, oldest first, for IXFR (RFC 1995); else AXFR form. */
  readonly journal?: (origin: Uint8Array) => readonly JournalEntry[];
}

export interface QueryContext {
  readonly transport: 'udp' | 'tcp';
  /** Client IP address as the socket reports it. */
  readonly client: string;
  /** The TSIG key the request was verified with (tsig-request.ts), if it was signed. */
  readonly tsigKey?: string;
  /** Bytes to leave free in a UDP answer for the TSIG the adapter adds. */
  readonly reserve?: number;
}

/** RFC 5936 §6, RFC 8945 §1: a transfer is allowed by address or by the key it was signed with. */
function transferAllowed(policy: DnsPolicy, ctx: QueryContext): boolean {
  return (
    policy.transferAllow.has(ctx.client) ||
    (ctx.tsigKey !== undefined && policy.transferKeys?.has(ctx.tsigKey) === true)
  );
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
  | {
      kind: 'transfer';
      messages: Uint8Array[];
      qtype: number;
      rcode: 0;
      /** Records sent (the SOA twice in AXFR form). */
      records: number;
      /** IXFR deltas from the journal (else the whole zone). */
      incremental: boolean;
      /** The zone's name in text, for the log. */
      zone: string;
    }
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
const CHAOS_ZONES: readonly { name: Uint8Array; value: 'version' | 'hostname' | 'authors' }[] = [
  { name: nameFromText('version.bind.'), value: 'version' },
  { name: nameFromText('hostname.bind.'), value: 'hostname' },
  { name: nameFromText('id.server.'), value: 'hostname' },
  { name: nameFromText('authors.bind.'), value: 'authors' },
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
  return (
    t === TYPE.OPT || (t >= 128 && t <= 255 && t !== TYPE.ANY && t !== TYPE.AXFR && t !== TYPE.IXFR)
  );
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
  return {
    bytes: w.finish(q.id, responseFlags(q.flags, { aa, tc, ra, rcode: rcode & 0xf })),
    truncated: tc,
  };
}

/** A CHAOS-class answer with its real rcode (counted and cached by it). */
function chaos(
  q: Message,
  question: Question,
  policy: DnsPolicy,
  limit: number,
): { bytes: Uint8Array; rcode: number } {
  const zone = CHAOS_ZONES.find((z) => nameEquals(z.name, question.qname));
  if (!zone) {
    const r = render(q, question, undefined, RCODE.REFUSED, false, false, limit, policy.udpSize);
    return { bytes: r.bytes, rcode: RCODE.REFUSED };
  }
  const text =
    zone.value === 'version' ? policy.version : zone.value === 'hostname' ? policy.hostname : null;
  const built: Built = {
    answers: [],
    authority: [],
    additional: [],
    rcode: 0,
    aa: true,
    authorityRequired: true,
  };
  if (text === null || (question.qtype !== TYPE.TXT && question.qtype !== TYPE.ANY)) {
    built.authority.push({ rr: chaosSoa(zone.name) });
  } else {
    const bytes = new TextEncoder().encode(text).subarray(0, 255);
    const rdata = new Uint8Array(bytes.length + 1);
    rdata[0] = bytes.length;
    rdata.set(bytes, 1);
    built.answers.push({
      rr: { owner: zone.name, type: TYPE.TXT, class: CLASS.CH, ttl: 0, rdata },
    });
  }
  const r = render(q, question, built, RCODE.NOERROR, true, false, limit, policy.udpSize);
  return { bytes: r.bytes, rcode: RCODE.NOERROR };
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

/**
 * A and AAAA of `names` from `zone` into the additional section. Only the zone's own data,
 * as BIND does (the differential test showed it leaves out addresses held in another of
 * its zones), and not an RRset the answer section already holds.
 */
function addAddresses(
  built: Built,
  zone: Zone,
  names: Iterable<Uint8Array>,
  required: (name: Uint8Array) => boolean,
): void {
  const inAnswer = new Set<string>();
  for (const a of built.answers) {
    if (a.rr.type === TYPE.A || a.rr.type === TYPE.AAAA)
      inAnswer.add(`${nameKey(a.owner ?? a.rr.owner)}/${a.rr.type}`);
  }
  const seen = new Set<string>();
  for (const n of names) {
    const k = nameKey(n);
    if (seen.has(k)) continue;
    seen.add(k);
    if (!isSubdomain(n, zone.origin)) continue;
    const node = zone.node(n);
    if (!node) continue;
    const a = node.sets.get(TYPE.A);
    const aaaa = node.sets.get(TYPE.AAAA);
    if (a && !inAnswer.has(`${k}/${TYPE.A}`))
      built.additional.push({ rrs: a, required: required(n) });
    if (aaaa && !inAnswer.has(`${k}/${TYPE.AAAA}`))
      built.additional.push({ rrs: aaaa, required: false });
  }
}

/** A wildcard-synthesized owner: the query name in lower case, as BIND writes it. */
function foldCase(name: Uint8Array): Uint8Array {
  const out = Uint8Array.from(name);
  let i = 0;
  while (i < out.length && out[i] !== 0) {
    const len = out[i]!;
    for (let j = i + 1; j <= i + len; j++)
      if (out[j]! >= 0x41 && out[j]! <= 0x5a) out[j] = out[j]! | 0x20;
    i += len + 1;
  }
  return out;
}

/** Answer from our zones: RFC 1034 §4.3.2 with CNAME restarts. */
function resolve(
  zones: ZoneSet,
  first: Zone,
  question: Question,
  rd: boolean,
  policy: DnsPolicy,
): Built {
  const built: Built = {
    answers: [],
    authority: [],
    additional: [],
    rcode: RCODE.NOERROR,
    aa: true,
    authorityRequired: false,
  };
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
      const owner = r.synthesized ? foldCase(name) : undefined;
      for (const rr of r.rrs) built.answers.push(owner ? { rr, owner } : { rr });
      positive = true;
      break;
    }
    if (r.kind === 'cname') {
      built.answers.push(r.synthesized ? { rr: r.rr, owner: foldCase(name) } : { rr: r.rr });
      visited.add(nameKey(name));
      name = r.target;
      positive = true;
      if (visited.has(nameKey(name)) || hop === MAX_CHAIN) {
        // A loop or a chain past BIND's max-restarts: BIND answers SERVFAIL with the
        // CNAMEs it collected and nothing else.
        built.rcode = RCODE.SERVFAIL;
        return built;
      }
      // The chain is followed inside this zone only; a target elsewhere ends the answer
      // with the CNAME (what BIND, authoritative only, returns: the differential test).
      if (!isSubdomain(name, zone.origin) || zones.find(name) !== zone) return built;
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
      zone,
      r.ns.map((rr) => rr.rdata),
      (n) => isSubdomain(n, r.cut),
    );
    return built;
  }
  if (!positive) return built;
  // Additional data for the answer's targets (MX, NS, SRV), as BIND does at every
  // minimal-responses setting except `yes`.
  const minimal = policy.minimalResponses;
  if (minimal !== 'yes') {
    const targets: Uint8Array[] = [];
    // ANY gets no additional data for its records (BIND 9.18), but the authority NS as
    // any other answer.
    if (qtype !== TYPE.ANY) {
      for (const a of built.answers) {
        const t = additionalTarget(a.rr);
        if (t) targets.push(t);
      }
    }
    const withAuthority = minimal === 'no' || (minimal === 'no-auth-recursive' && !rd);
    // Not when the answer already holds the apex NS RRset (NS or ANY at the apex).
    if (
      withAuthority &&
      !((qtype === TYPE.NS || qtype === TYPE.ANY) && nameEquals(name, finalZone.origin))
    ) {
      const ns = finalZone.apexNs();
      for (const rr of ns) {
        built.authority.push({ rr });
        if (qtype !== TYPE.ANY) targets.push(rr.rdata);
      }
    }
    addAddresses(built, finalZone, targets, () => false);
  }
  return built;
}

function transfer(
  q: Message,
  question: Question,
  zone: Zone,
  policy: DnsPolicy,
): { messages: Uint8Array[]; records: number; incremental: boolean } {
  // RFC 1995 §4: an IXFR whose client serial the journal reaches gets the deltas; any
  // other (or no journal) the whole zone in AXFR form.
  const clientSoa = q.authorities.find((r) => r.type === TYPE.SOA);
  const incremental =
    question.qtype === TYPE.IXFR && clientSoa && policy.journal
      ? ixfrAnswer(zone.soa, policy.journal(zone.origin), soaSerialOf(clientSoa))
      : 'axfr';
  const records = incremental === 'axfr' ? [...zone.records(), zone.soa] : incremental;
  const out: Uint8Array[] = [];
  const flags = responseFlags(q.flags, { aa: true, rcode: RCODE.NOERROR });
  let w = new MessageWriter(TRANSFER_MESSAGE_SIZE);
  w.addQuestion(question);
  for (const rr of records) {
    if (!w.tryAddRR(1, rr)) {
      out.push(w.finish(q.id, flags));
      // RFC 5936 §2.2: later messages may carry the question or not; we leave it out.
      w = new MessageWriter(TRANSFER_MESSAGE_SIZE);
      w.addRR(1, rr);
    }
  }
  out.push(w.finish(q.id, flags));
  return { messages: out, records: records.length, incremental: incremental !== 'axfr' };
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Handle one query. Never throws for any input (the fuzz tests hold it to that). */
export function handleQuery(
  bytes: Uint8Array,
  zones: ZoneSet,
  policy: DnsPolicy,
  ctx: QueryContext,
): Outcome {
  // RFC 1035 §4.1.1: shorter than a header, or a response: nothing to answer.
  if (bytes.length < HEADER_SIZE) return { kind: 'drop', reason: 'short' };
  const flags = u16(bytes, 2);
  if (flags & FLAG.QR) return { kind: 'drop', reason: 'response' };
  let q: Message;
  try {
    q = decodeMessage(bytes);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return {
      kind: 'reply',
      bytes: bareReply(bytes, RCODE.FORMERR),
      qtype: -1,
      rcode: RCODE.FORMERR,
      cacheable: false,
      truncated: false,
    };
  }
  if (q.questions.length !== 1) {
    // A query carries exactly one question (RFC 9619); BIND answers others with FORMERR,
    // keeping the OPT when the message itself parsed (RFC 6891 §7).
    const r = render(
      q,
      undefined,
      undefined,
      RCODE.FORMERR,
      false,
      false,
      CLASSIC_UDP,
      policy.udpSize,
    );
    return {
      kind: 'reply',
      bytes: r.bytes,
      qtype: -1,
      rcode: RCODE.FORMERR,
      cacheable: false,
      truncated: false,
    };
  }
  const question = q.questions[0]!;
  const qtype = question.qtype;
  const udpSize = policy.udpSize;
  // RFC 6891 §6.2.3/§6.2.5: payload sizes below 512 are treated as 512; we send at most ours.
  const limit =
    (ctx.transport === 'tcp'
      ? 65535
      : q.edns
        ? Math.min(Math.max(q.edns.udpSize, CLASSIC_UDP), udpSize)
        : CLASSIC_UDP) - (ctx.reserve ?? 0);
  const reply = (rcode: number, built?: Built, cacheable = true): Outcome => {
    const r = render(q, question, built, rcode, built?.aa ?? false, false, limit, udpSize);
    return { kind: 'reply', bytes: r.bytes, qtype, rcode, cacheable, truncated: r.truncated };
  };
  if (q.edns && q.edns.version > 0) {
    // RFC 6891 §6.1.3: unknown version → BADVERS, with an OPT of the version we speak.
    return reply(RCODE.BADVERS);
  }
  if (q.opcode === OPCODE.NOTIFY || q.opcode === OPCODE.UPDATE) {
    // We are the primary: a NOTIFY for one of our zones is acknowledged and needs no action
    // (RFC 1996 §3.7, §4.7); dynamic updates are not permitted (RFC 2136 §3.3: REFUSED).
    // Both as BIND answers them, question echoed.
    const ours = q.opcode === OPCODE.NOTIFY && zones.get(question.qname) !== undefined;
    const built: Built = {
      answers: [],
      authority: [],
      additional: [],
      rcode: 0,
      aa: ours,
      authorityRequired: false,
    };
    return reply(ours ? RCODE.NOERROR : RCODE.REFUSED, built, false);
  }
  if (q.opcode !== OPCODE.QUERY) {
    // BIND answers other opcodes NOTIMP without echoing the question.
    const r = render(q, undefined, undefined, RCODE.NOTIMP, false, false, limit, udpSize);
    return {
      kind: 'reply',
      bytes: r.bytes,
      qtype,
      rcode: RCODE.NOTIMP,
      cacheable: false,
      truncated: false,
    };
  }
  if (qtype === TYPE.OPT) return reply(RCODE.FORMERR, undefined, false);
  if (question.qclass === CLASS.CH) {
    const c = chaos(q, question, policy, limit);
    // Counted by its real rcode; a REFUSED is not cached (as the handler's other refusals).
    return {
      kind: 'reply',
      bytes: c.bytes,
      qtype,
      rcode: c.rcode,
      cacheable: c.rcode === RCODE.NOERROR,
      truncated: false,
    };
  }
  // Query classes as BIND answers them: the meta classes NONE and ANY and class 0 are
  // FORMERR in a query, HS has no data here (REFUSED), others are not implemented.
  if (question.qclass === 0 || question.qclass === CLASS.NONE || question.qclass === CLASS.ANY) {
    return reply(RCODE.FORMERR, undefined, false);
  }
  if (question.qclass === CLASS.HS) return reply(RCODE.REFUSED);
  if (question.qclass !== CLASS.IN) return reply(RCODE.NOTIMP);

  if (qtype === TYPE.AXFR || qtype === TYPE.IXFR) {
    const zone = zones.get(question.qname);
    // The transfer ACL is checked first (BIND answers REFUSED to AXFR over UDP too).
    const allowed = transferAllowed(policy, ctx);
    if (zone && allowed && ctx.transport === 'udp' && qtype === TYPE.AXFR) {
      // RFC 5936 §4.2: AXFR only over TCP.
      return reply(RCODE.FORMERR, undefined, false);
    }
    if (!zone && zones.unavailable(question.qname))
      // A secondary zone not (or no longer) loaded: BIND answers SERVFAIL.
      return reply(RCODE.SERVFAIL, undefined, false);
    if (!zone || !allowed) {
      const r = render(
        q,
        question,
        undefined,
        zone ? RCODE.REFUSED : RCODE.NOTAUTH,
        false,
        false,
        limit,
        udpSize,
      );
      return {
        kind: 'reply',
        bytes: r.bytes,
        qtype,
        rcode: zone ? RCODE.REFUSED : RCODE.NOTAUTH,
        cacheable: false,
        truncated: false,
      };
    }
    if (ctx.transport === 'udp') {
      // RFC 1995 §2: an IXFR over UDP that does not fit gets the SOA alone: "come over TCP".
      const built: Built = {
        answers: [{ rr: zone.soa }],
        authority: [],
        additional: [],
        rcode: 0,
        aa: true,
        authorityRequired: false,
      };
      return reply(RCODE.NOERROR, built, false);
    }
    const sent = transfer(q, question, zone, policy);
    return {
      kind: 'transfer',
      qtype,
      rcode: 0,
      messages: sent.messages,
      records: sent.records,
      incremental: sent.incremental,
      zone: nameToText(zone.origin),
    };
  }
  if (isMetaType(qtype)) return reply(RCODE.NOTIMP, undefined, false);

  const zone = zones.find(question.qname);
  if (zone === 'unavailable')
    // RFC 1034 §4.3.5: an expired secondary copy (or one never transferred) is not served;
    // BIND answers SERVFAIL. Not cached: the zone may come back at any moment.
    return reply(RCODE.SERVFAIL, undefined, false);
  if (!zone) {
    if (policy.forwardNetworks?.has(ctx.client)) return { kind: 'forward', query: q, qtype };
    // Not ours and no recursion for this client: REFUSED (RFC 1034 §4.3.1; BIND's answer).
    return reply(RCODE.REFUSED, undefined, policy.forwardNetworks === undefined);
  }
  // BIND leaves out the optional authority and additional data when the client advertises
  // an EDNS buffer of 512 bytes or less (seen in the differential test); without EDNS it
  // keeps them. We do the same.
  const effective: DnsPolicy =
    q.edns && q.edns.udpSize <= CLASSIC_UDP && ctx.transport === 'udp'
      ? { ...policy, minimalResponses: 'yes' }
      : policy;
  const built = resolve(zones, zone, question, (q.flags & FLAG.RD) !== 0, effective);
  return reply(built.rcode, built, true);
}
