/**
 * The forwarder's pure part: a bounded, TTL-bound cache of upstream answers and the
 * rendering of a client reply from an upstream message.
 *
 * Entries are keyed by (qname case-folded, qtype, qclass). TTLs count down from the time of
 * storing (RFC 1035 §3.2.1; RFC 2308 §5 for negative answers, whose lifetime is the SOA's
 * negative TTL). Entries live at most `maxTtl` seconds (BIND's max-cache-ttl is a week;
 * a small site's forwarder keeps an hour) and SERVFAIL is never cached.
 * Eviction: first in, first out, bounded by entry count.
 */
import { nameKey } from './name.js';
import { TYPE, type RR } from './rr.js';
import { MessageWriter, responseFlags, RCODE, EDNS_DO, type Message } from './message.js';

export interface CachedAnswer {
  readonly rcode: number;
  readonly answers: readonly RR[];
  readonly authorities: readonly RR[];
  /** Milliseconds since the epoch when stored and when it expires. */
  readonly storedAt: number;
  readonly expiresAt: number;
}

export const MAX_CACHE_TTL = 3600;

export function cacheKey(qname: Uint8Array, qtype: number, qclass: number): string {
  return `${nameKey(qname)}/${qtype}/${qclass}`;
}

/** Lifetime in seconds of an upstream answer, or 0 when it must not be cached. */
export function answerTtl(m: Message, maxTtl = MAX_CACHE_TTL): number {
  if (m.rcode !== RCODE.NOERROR && m.rcode !== RCODE.NXDOMAIN) return 0;
  let ttl = maxTtl;
  if (m.answers.length > 0 && m.rcode === RCODE.NOERROR) {
    for (const rr of m.answers) ttl = Math.min(ttl, rr.ttl);
    return ttl;
  }
  // Negative: RFC 2308 §5: min(SOA TTL, SOA MINIMUM); without an SOA, do not cache.
  const soa = m.authorities.find((rr) => rr.type === TYPE.SOA);
  if (!soa || soa.rdata.length < 20) return 0;
  const min = new DataView(soa.rdata.buffer, soa.rdata.byteOffset, soa.rdata.byteLength).getUint32(
    soa.rdata.length - 4,
  );
  return Math.min(ttl, soa.ttl, min);
}

export class ForwardCache {
  private readonly map = new Map<string, CachedAnswer>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string, now: number): CachedAnswer | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  put(key: string, m: Message, now: number): void {
    if (this.maxEntries === 0) return;
    const ttl = answerTtl(m);
    if (ttl <= 0) return;
    if (this.map.size >= this.maxEntries && !this.map.has(key)) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, {
      rcode: m.rcode,
      answers: m.answers,
      authorities: m.authorities,
      storedAt: now,
      expiresAt: now + ttl * 1000,
    });
  }
}

/**
 * The client's reply from an answer: the client's ID, question (its case) and RD; RA set
 * (this client may recurse); AA clear; TTLs reduced by the time spent in the cache.
 * Answers that do not fit the client's limit are truncated to the question (TC).
 */
export function renderForwarded(
  query: Message,
  a: { rcode: number; answers: readonly RR[]; authorities: readonly RR[] },
  elapsedS: number,
  limit: number,
  udpSize: number,
): Uint8Array {
  const q = query.questions[0]!;
  const edns = query.edns;
  const body = edns ? limit - 11 : limit;
  const ttl = (t: number): number => Math.max(0, t - elapsedS);
  let w = new MessageWriter(body);
  w.addQuestion(q);
  let tc = false;
  for (const rr of a.answers) if (!w.tryAddRR(1, rr, undefined, ttl(rr.ttl))) tc = true;
  if (!tc)
    for (const rr of a.authorities) if (!w.tryAddRR(2, rr, undefined, ttl(rr.ttl))) tc = true;
  if (tc) {
    w = new MessageWriter(body);
    w.addQuestion(q);
  }
  if (edns) w.addOpt(udpSize, 0, edns.flags & EDNS_DO);
  return w.finish(query.id, responseFlags(query.flags, { ra: true, tc, rcode: a.rcode & 0xf }));
}
