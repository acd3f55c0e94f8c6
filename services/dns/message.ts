/**
 * DNS message codec (RFC 1035 §4.1; EDNS(0) OPT per RFC 6891 §6.1).
 *
 * decodeMessage(): strict parse of a whole message. Every structural fault throws a
 * FormatError (code ERR_DNS_FORMAT) that the handler answers with FORMERR, the way BIND's
 * dns_message_parse() does: truncated header fields, question or record; a name over 255
 * bytes or a bad pointer; an OPT whose owner is not the root, a second OPT, an OPT outside
 * the additional section; bytes left over after the last record.
 *
 * MessageWriter: builds a response with name compression (RFC 1035 §4.1.4). Compression is
 * case-sensitive (a suffix is reused only when its bytes match exactly), which is BIND's
 * default: owner names keep the zone's case and the question keeps the client's case.
 * Names inside RDATA are compressed only for the types RFC 3597 §4 lists (rr.ts).
 * The writer works against a size limit: `tryAddRR()` reports whether a record fit so the
 * caller can set TC or drop optional additional data (RFC 2181 §9).
 */
import { readName, NameError, nameExactKey, nameKey } from './name.js';
import { CLASS, COMPRESSIBLE, DECOMPRESS_ON_READ, TYPE, type RR } from './rr.js';

export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  // RFC 2136 §2.2, for UPDATE.
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;

const RCODE_NAMES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
];

/** Mnemonic of an (extended) rcode, RFC 6895 §2.3; `RCODEn` when unnamed. */
export function rcodeToText(rcode: number): string {
  return rcode === RCODE.BADVERS ? 'BADVERS' : (RCODE_NAMES[rcode] ?? `RCODE${rcode}`);
}

export const FLAG = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;
/** EDNS flag: DNSSEC OK (RFC 3225). */
export const EDNS_DO = 0x8000;

export class FormatError extends Error {
  readonly code = 'ERR_DNS_FORMAT';
}

export interface Question {
  /** Uncompressed wire name, in the case the client sent. */
  readonly qname: Uint8Array;
  readonly qtype: number;
  readonly qclass: number;
}

export interface Edns {
  readonly udpSize: number;
  readonly extendedRcode: number;
  readonly version: number;
  readonly flags: number;
  readonly options: readonly { code: number; data: Uint8Array }[];
}

export interface Message {
  readonly id: number;
  /** The 16-bit flags word: QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode. */
  readonly flags: number;
  readonly opcode: number;
  /** Header rcode combined with the OPT's extended rcode when present. */
  readonly rcode: number;
  readonly questions: readonly Question[];
  readonly answers: readonly RR[];
  readonly authorities: readonly RR[];
  readonly additionals: readonly RR[];
  readonly edns: Edns | undefined;
}

export const HEADER_SIZE = 12;

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

function name(msg: Uint8Array, offset: number): { name: Uint8Array; next: number } {
  try {
    return readName(msg, offset);
  } catch (e) {
    if (e instanceof NameError) throw new FormatError(e.message);
    throw e;
  }
}

/** Expand compressed names inside RDATA for the types that may carry them. */
function readRdata(msg: Uint8Array, type: number, start: number, len: number): Uint8Array {
  const layout = DECOMPRESS_ON_READ.get(type);
  const end = start + len;
  if (!layout) return msg.slice(start, end);
  const parts: Uint8Array[] = [];
  let pos = start;
  for (const field of layout) {
    if (field === 'n') {
      const r = name(msg, pos);
      if (r.next > end) throw new FormatError('name in RDATA runs past RDLENGTH');
      parts.push(r.name);
      pos = r.next;
    } else if (field === 'rest') {
      parts.push(msg.slice(pos, end));
      pos = end;
    } else {
      if (pos + field > end) throw new FormatError('RDATA shorter than its type requires');
      parts.push(msg.slice(pos, pos + field));
      pos += field;
    }
  }
  if (pos !== end) throw new FormatError('RDATA longer than its type allows');
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Strict decode. Throws FormatError; the caller must already know the header is present. */
export function decodeMessage(msg: Uint8Array): Message {
  if (msg.length < HEADER_SIZE) throw new FormatError('message shorter than a header');
  const id = u16(msg, 0);
  const flags = u16(msg, 2);
  const counts = [u16(msg, 4), u16(msg, 6), u16(msg, 8), u16(msg, 10)] as const;
  let pos = HEADER_SIZE;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const r = name(msg, pos);
    if (r.next + 4 > msg.length) throw new FormatError('truncated question');
    questions.push({ qname: r.name, qtype: u16(msg, r.next), qclass: u16(msg, r.next + 2) });
    pos = r.next + 4;
  }
  const sections: RR[][] = [[], [], []];
  let edns: Edns | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const r = name(msg, pos);
      if (r.next + 10 > msg.length) throw new FormatError('truncated resource record');
      const type = u16(msg, r.next);
      const klass = u16(msg, r.next + 2);
      const ttl = u32(msg, r.next + 4);
      const rdlen = u16(msg, r.next + 8);
      const rdStart = r.next + 10;
      if (rdStart + rdlen > msg.length) throw new FormatError('truncated RDATA');
      if (type === TYPE.OPT) {
        // RFC 6891 §6.1.1: OPT only in the additional section, at most once, owner root.
        if (s !== 2) throw new FormatError('OPT record outside the additional section');
        if (edns) throw new FormatError('more than one OPT record');
        if (r.name.length !== 1) throw new FormatError('OPT owner name is not the root');
        const options: { code: number; data: Uint8Array }[] = [];
        let o = rdStart;
        while (o < rdStart + rdlen) {
          if (o + 4 > rdStart + rdlen) throw new FormatError('truncated EDNS option');
          const code = u16(msg, o);
          const olen = u16(msg, o + 2);
          if (o + 4 + olen > rdStart + rdlen)
            throw new FormatError('EDNS option runs past RDLENGTH');
          options.push({ code, data: msg.slice(o + 4, o + 4 + olen) });
          o += 4 + olen;
        }
        edns = {
          udpSize: klass,
          extendedRcode: ttl >>> 24,
          version: (ttl >>> 16) & 0xff,
          flags: ttl & 0xffff,
          options,
        };
      } else {
        sections[s]!.push({
          owner: r.name,
          type,
          class: klass,
          ttl,
          // RFC 2136 §2.4/§2.5: prerequisites and deletes of class ANY or NONE carry no
          // RDATA whatever the type (BIND's parser makes the same exception).
          rdata:
            rdlen === 0 && (klass === CLASS.ANY || klass === CLASS.NONE)
              ? new Uint8Array(0)
              : readRdata(msg, type, rdStart, rdlen),
        });
      }
      pos = rdStart + rdlen;
    }
  }
  if (pos !== msg.length) throw new FormatError(`${msg.length - pos} bytes of trailing garbage`);
  return {
    id,
    flags,
    opcode: (flags >>> 11) & 0xf,
    rcode: (flags & 0xf) | ((edns?.extendedRcode ?? 0) << 4),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    edns,
  };
}

/** Build a response header flags word. */
export function responseFlags(
  queryFlags: number,
  opts: { aa?: boolean; tc?: boolean; ra?: boolean; rcode: number },
): number {
  // Keep opcode (bits 11-14), RD and CD from the query (RFC 1035 §4.1.1; RFC 4035 §3.1.6).
  let f = FLAG.QR | (queryFlags & (0x7800 | FLAG.RD | FLAG.CD)) | (opts.rcode & 0xf);
  if (opts.aa) f |= FLAG.AA;
  if (opts.tc) f |= FLAG.TC;
  if (opts.ra) f |= FLAG.RA;
  return f;
}

/** A bare reply: header only, all counts zero (BIND's answer to a malformed query). */
export function bareReply(query: Uint8Array, rcode: number): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  out[0] = query[0]!;
  out[1] = query[1]!;
  const f = responseFlags(u16(query, 2), { rcode });
  out[2] = f >>> 8;
  out[3] = f & 0xff;
  return out;
}

export class SizeExceeded extends Error {}

/**
 * Response builder with compression and a size limit. Sections are written in order:
 * question, answer, authority, additional. `mark()`/`rollback()` undo a partial record.
 */
export class MessageWriter {
  private buf: Uint8Array;
  private len = HEADER_SIZE;
  private readonly names = new Map<string, { offset: number; exact: string }[]>();
  private entries = 0;
  private readonly counts = [0, 0, 0, 0];

  constructor(
    private readonly limit: number,
    initial = 512,
  ) {
    this.buf = new Uint8Array(Math.min(Math.max(initial, 64), 65535));
  }

  get size(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n > this.limit) throw new SizeExceeded();
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(Math.min(cap, 65535));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  private u16(v: number): void {
    this.ensure(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }

  private u32(v: number): void {
    this.ensure(4);
    this.buf[this.len++] = (v >>> 24) & 0xff;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }

  private raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /**
   * Write a name, reusing an earlier suffix. The longest suffix already written is found
   * ignoring case; it is reused only when its case matches too, and otherwise the rest of
   * the name is written out in full. That is what BIND 9.18 does (its golden answers in
   * testdata show `web1.TIC2023.com` written whole after a question `WEB1.tic2023.com`).
   */
  writeName(wire: Uint8Array, compress = true): void {
    let i = 0;
    let searching = compress;
    const added: [string, number, string][] = [];
    while (wire[i] !== 0 && i < wire.length) {
      const suffix = wire.subarray(i);
      const folded = nameKey(suffix);
      const exact = nameExactKey(suffix);
      if (searching) {
        const seen = this.names.get(folded);
        const hit = seen?.find((e) => e.exact === exact);
        if (hit) {
          this.u16(0xc000 | hit.offset);
          this.register(added);
          return;
        }
        // Found only in another case: stop looking for shorter suffixes (BIND 9.18).
        if (seen) searching = false;
      }
      if (compress && this.len < 0x4000) added.push([folded, this.len, exact]);
      const l = wire[i]!;
      this.raw(wire.subarray(i, i + l + 1));
      i += l + 1;
    }
    this.u8(0);
    // Register suffixes only once the whole name is written (a rollback then drops none).
    this.register(added);
  }

  private register(added: readonly [string, number, string][]): void {
    for (const [k, offset, exact] of added) {
      const list = this.names.get(k);
      if (!list) this.names.set(k, [{ offset, exact }]);
      else if (!list.some((e) => e.exact === exact)) list.push({ offset, exact });
      else continue;
      this.entries++;
    }
  }

  /** Everything written so far, for rollback of a record that did not fit. */
  mark(): { len: number; names: number } {
    return { len: this.len, names: this.entries };
  }

  rollback(m: { len: number; names: number }): void {
    this.len = m.len;
    // Drop suffixes registered past the mark (they point into discarded bytes).
    if (this.entries !== m.names) {
      for (const [k, v] of this.names) {
        const keep = v.filter((e) => e.offset < m.len);
        if (keep.length === 0) this.names.delete(k);
        else if (keep.length !== v.length) this.names.set(k, keep);
      }
      this.entries = m.names;
    }
  }

  addQuestion(q: Question): void {
    this.writeName(q.qname);
    this.u16(q.qtype);
    this.u16(q.qclass);
    this.counts[0]!++;
  }

  /** Append an RR to section 1 (answer), 2 (authority) or 3 (additional). */
  addRR(section: 1 | 2 | 3, rr: RR, ownerOverride?: Uint8Array, ttlOverride?: number): void {
    this.writeName(ownerOverride ?? rr.owner);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(ttlOverride ?? rr.ttl);
    const rdlenAt = this.len;
    this.u16(0);
    const layout = COMPRESSIBLE.get(rr.type);
    // Empty RDATA (an UPDATE's delete of an RRset, RFC 2136 §2.5.2) has no names to write.
    if (!layout || rr.rdata.length === 0) {
      this.raw(rr.rdata);
    } else {
      let p = 0;
      for (const field of layout) {
        if (field === 'n') {
          let e = p;
          while (e < rr.rdata.length && rr.rdata[e] !== 0) e += rr.rdata[e]! + 1;
          this.writeName(rr.rdata.subarray(p, e + 1));
          p = e + 1;
        } else {
          this.raw(rr.rdata.subarray(p, p + field));
          p += field;
        }
      }
      if (p < rr.rdata.length) this.raw(rr.rdata.subarray(p));
    }
    const rdlen = this.len - rdlenAt - 2;
    this.buf[rdlenAt] = rdlen >>> 8;
    this.buf[rdlenAt + 1] = rdlen & 0xff;
    this.counts[section]!++;
  }

  /** Add an RR if it fits; false (and nothing written) if it does not. */
  tryAddRR(section: 1 | 2 | 3, rr: RR, ownerOverride?: Uint8Array, ttlOverride?: number): boolean {
    const m = this.mark();
    try {
      this.addRR(section, rr, ownerOverride, ttlOverride);
      return true;
    } catch (e) {
      if (!(e instanceof SizeExceeded)) throw e;
      this.rollback(m);
      return false;
    }
  }

  /** Add a whole RRset or nothing. */
  tryAddRRset(section: 1 | 2 | 3, rrs: readonly RR[], ownerOverride?: Uint8Array): boolean {
    const m = this.mark();
    const before = this.counts[section]!;
    try {
      for (const rr of rrs) this.addRR(section, rr, ownerOverride);
      return true;
    } catch (e) {
      if (!(e instanceof SizeExceeded)) throw e;
      this.rollback(m);
      this.counts[section] = before;
      return false;
    }
  }

  /** The OPT pseudo-record (RFC 6891 §6.1.2). Always call last. */
  addOpt(
    udpSize: number,
    extendedRcode: number,
    flags: number,
    options: readonly { code: number; data: Uint8Array }[] = [],
  ): void {
    this.u8(0);
    this.u16(TYPE.OPT);
    this.u16(udpSize);
    this.u32(((extendedRcode & 0xff) << 24) | (flags & 0xffff));
    let rdlen = 0;
    for (const o of options) rdlen += 4 + o.data.length;
    this.u16(rdlen);
    for (const o of options) {
      this.u16(o.code);
      this.u16(o.data.length);
      this.raw(o.data);
    }
    this.counts[3]!++;
  }

  count(section: 0 | 1 | 2 | 3): number {
    return this.counts[section]!;
  }

  /** Header + body. */
  finish(id: number, flags: number): Uint8Array {
    const b = this.buf;
    b[0] = id >>> 8;
    b[1] = id & 0xff;
    b[2] = flags >>> 8;
    b[3] = flags & 0xff;
    for (let i = 0; i < 4; i++) {
      b[4 + i * 2] = this.counts[i]! >>> 8;
      b[5 + i * 2] = this.counts[i]! & 0xff;
    }
    return b.slice(0, this.len);
  }
}
