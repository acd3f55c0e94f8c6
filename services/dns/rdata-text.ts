/**
 * RDATA in presentation format ↔ canonical wire RDATA (RFC 1035 §3.3, §5.1; RFC 3597 §5).
 *
 * `rdataFromText` takes the rdata fields of one record as the master-file tokenizer split
 * them (zone-file.ts). A token keeps its raw text: backslash escapes are still in it, and a
 * quoted string keeps its surrounding double quotes, which is how TXT and the other
 * character-string fields know it was quoted. Relative names are completed with `origin`.
 * `rdataToText` prints BIND/dig style: absolute names, quoted character-strings, numbers in
 * decimal, hex in upper case as BIND prints it; it never throws: RDATA that does not decode
 * as its type is printed in the RFC 3597 generic form `\# <len> <hex>`.
 *
 * Types with a presentation format here: A, NS, CNAME, SOA, PTR, HINFO, MX, TXT, AAAA, SRV
 * (RFC 2782), NAPTR (RFC 3403 §4.1), DS (RFC 4034 §5.3), SSHFP (RFC 4255 §3.2), DNAME
 * (RFC 6672), TLSA (RFC 6698 §2.2), SPF (RFC 7208 §3.1, TXT's format) and CAA (RFC 8659
 * §4.1.1). Every type, known or not, is also accepted in the generic form (RFC 3597 §5).
 *
 * Left out: the other types' own formats (RRSIG, NSEC, DNSKEY, SVCB, WKS, ...; they are
 * written and printed in the generic form), DNSSEC algorithm mnemonics in DS (numbers only),
 * and NAPTR's flag/regexp syntax checks (BIND checks them; here they are opaque strings).
 */

import { NameError, nameFromText, nameToText, MAX_NAME } from './name.js';
import { classToText, TYPE, typeToText, type RR } from './rr.js';

export class RdataError extends Error {
  readonly code = 'ERR_DNS_RDATA';
  /** Index of the rdata token to blame; undefined when a token is missing. */
  readonly token: number | undefined;
  constructor(message: string, token?: number) {
    super(message);
    this.token = token;
  }
}

/** RDLENGTH is 16 bits (RFC 1035 §3.2.1). */
export const MAX_RDATA = 0xffff;
/** A <character-string> is one length octet then at most 255 octets (RFC 1035 §3.3). */
export const MAX_CHARACTER_STRING = 255;

// ---------------------------------------------------------------------------------------
// Text → wire

/** A cursor over one record's rdata tokens that names the field in every error. */
class Fields {
  private i = 0;
  constructor(
    private readonly tokens: readonly string[],
    readonly type: string,
  ) {}

  next(what: string): string {
    const t = this.tokens[this.i];
    if (t === undefined) throw new RdataError(`missing ${what}`);
    this.i++;
    return t;
  }

  /** Throw an error about the token just read. */
  fail(message: string): never {
    throw new RdataError(message, this.i - 1);
  }

  more(): boolean {
    return this.i < this.tokens.length;
  }

  /** Index of the next token (for errors about a run of tokens). */
  get index(): number {
    return this.i;
  }

  done(): void {
    const t = this.tokens[this.i];
    if (t !== undefined) throw new RdataError(`extra text '${t}' after ${this.type} rdata`, this.i);
  }
}

class Bytes {
  private readonly parts: number[] = [];
  u8(v: number): void {
    this.parts.push(v & 0xff);
  }
  u16(v: number): void {
    this.parts.push((v >>> 8) & 0xff, v & 0xff);
  }
  u32(v: number): void {
    this.parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.parts.push(x);
  }
  get length(): number {
    return this.parts.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function isQuoted(t: string): boolean {
  return t.startsWith('"');
}

function uint(f: Fields, what: string, max: number): number {
  const t = f.next(what);
  if (!/^[0-9]+$/.test(t)) f.fail(`bad ${what} '${t}'`);
  const v = Number(t);
  if (v > max) f.fail(`${what} out of range: ${t} (0-${max})`);
  return v;
}

/**
 * A TTL or SOA timer: a decimal number of seconds, or BIND's unit form (`1w2d3h4m5s`, units
 * in either case, in any order, each a multiple of seconds; a bare number may not follow a
 * unit), as BIND's dns_ttl_fromtext. Returns undefined on bad syntax; the value may exceed
 * 32 bits, the caller checks the range it needs.
 */
export function ttlFromText(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text);
  if (!/^([0-9]+[wdhmsWDHMS])+$/.test(text)) return undefined;
  const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)([wdhmsWDHMS])/g)) {
    total += Number(m[1]) * unit[m[2]!.toLowerCase()]!;
  }
  return total;
}

function timer(f: Fields, what: string): number {
  const t = f.next(what);
  const v = ttlFromText(t);
  if (v === undefined) f.fail(`bad ${what} '${t}'`);
  if (v > 0xffffffff) f.fail(`${what} out of range: ${t} (0-4294967295)`);
  return v;
}

function name(f: Fields, what: string, origin: Uint8Array): Uint8Array {
  const t = f.next(what);
  if (isQuoted(t)) f.fail(`bad ${what} ${t}: a name is not quoted`);
  try {
    return nameFromText(t, origin);
  } catch (e) {
    if (e instanceof NameError) f.fail(`bad ${what} '${t}': ${e.message}`);
    throw e;
  }
}

const utf8 = new TextEncoder();

/**
 * The bytes a character-string token stands for: quotes stripped, `\X` is X and `\DDD` the
 * octet DDD (RFC 1035 §5.1); other characters are taken as UTF-8, as the file was read.
 */
export function textBytes(token: string): Uint8Array {
  let s = token;
  if (isQuoted(token)) {
    if (token.length < 2 || !token.endsWith('"'))
      throw new RdataError(`unterminated quoted string ${token}`);
    s = token.slice(1, -1);
  }
  const out: number[] = [];
  let run = '';
  const flush = (): void => {
    if (run) for (const b of utf8.encode(run)) out.push(b);
    run = '';
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '\\') {
      run += ch;
      continue;
    }
    flush();
    const d = s.slice(i + 1, i + 4);
    if (/^[0-9]{3}$/.test(d)) {
      const v = Number(d);
      if (v > 255) throw new RdataError(`bad escape \\${d} in ${token} (max \\255)`);
      out.push(v);
      i += 3;
    } else if (i + 1 < s.length) {
      // `\X`: X itself; a following surrogate pair stays whole.
      const cp = s.codePointAt(i + 1)!;
      for (const b of utf8.encode(String.fromCodePoint(cp))) out.push(b);
      i += cp > 0xffff ? 2 : 1;
    } else {
      throw new RdataError(`dangling backslash in ${token}`);
    }
  }
  flush();
  return Uint8Array.from(out);
}

function charString(f: Fields, what: string): Uint8Array {
  const t = f.next(what);
  let b: Uint8Array;
  try {
    b = textBytes(t);
  } catch (e) {
    if (e instanceof RdataError) f.fail(e.message);
    throw e;
  }
  // RFC 1035 §3.3: "<character-string> is a single length octet followed by that number
  // of characters", so at most 255.
  if (b.length > MAX_CHARACTER_STRING) {
    f.fail(
      `${what} longer than ${MAX_CHARACTER_STRING} bytes (${b.length}); split it into several quoted strings`,
    );
  }
  return b;
}

function putCharString(out: Bytes, b: Uint8Array): void {
  out.u8(b.length);
  out.bytes(b);
}

/** All remaining tokens as one hex string ("whitespace is allowed within the hexadecimal text", RFC 4034 §5.3). */
function hexRest(f: Fields, what: string, allowEmpty: boolean): Uint8Array {
  const first = f.index;
  let hex = '';
  while (f.more()) {
    const t = f.next(what);
    if (!/^[0-9a-fA-F]+$/.test(t)) f.fail(`bad hex in ${what} '${t}'`);
    hex += t;
  }
  if (hex.length === 0 && !allowEmpty) throw new RdataError(`missing ${what}`);
  if (hex.length % 2 !== 0) throw new RdataError(`odd number of hex digits in ${what}`, first);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Dotted quad, four decimal octets without leading zeros (as inet_pton, which BIND uses). */
export function ipv4FromText(t: string): Uint8Array | undefined {
  const parts = t.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** RFC 4291 §2.2 text forms: eight groups, one `::`, an optional dotted-quad tail. */
export function ipv6FromText(t: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(t)) return undefined;
  const groups = (s: string, v4Allowed: boolean): number[] | undefined => {
    if (s === '') return [];
    const g = s.split(':');
    const out: number[] = [];
    for (let i = 0; i < g.length; i++) {
      const p = g[i]!;
      if (v4Allowed && i === g.length - 1 && p.includes('.')) {
        const v4 = ipv4FromText(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const dbl = t.indexOf('::');
  let words: number[];
  if (dbl < 0) {
    const g = groups(t, true);
    if (!g || g.length !== 8) return undefined;
    words = g;
  } else {
    if (t.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = groups(t.slice(0, dbl), false);
    const tail = groups(t.slice(dbl + 2), true);
    // "::" stands for one or more groups of zeros (RFC 4291 §2.2, form 2).
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Parse one type's rdata fields into `out`. */
type Parser = (f: Fields, out: Bytes, origin: Uint8Array) => void;

function singleName(what: string): Parser {
  return (f, out, origin) => out.bytes(name(f, what, origin));
}

function txtParser(f: Fields, out: Bytes): void {
  // RFC 1035 §3.3.14: TXT-DATA is "One or more <character-string>s".
  if (!f.more()) f.next('text');
  while (f.more()) putCharString(out, charString(f, 'TXT string'));
}

const PARSERS = new Map<number, Parser>([
  [
    TYPE.A,
    (f, out) => {
      const t = f.next('IPv4 address');
      const a = ipv4FromText(t);
      if (!a) return f.fail(`bad IPv4 address '${t}'`);
      out.bytes(a);
    },
  ],
  [
    TYPE.AAAA,
    (f, out) => {
      const t = f.next('IPv6 address');
      const a = ipv6FromText(t);
      if (!a) return f.fail(`bad IPv6 address '${t}'`);
      out.bytes(a);
    },
  ],
  [TYPE.NS, singleName('NS name server')],
  [TYPE.CNAME, singleName('CNAME target')],
  [TYPE.PTR, singleName('PTR target')],
  [TYPE.DNAME, singleName('DNAME target')],
  [
    TYPE.MX,
    (f, out, origin) => {
      out.u16(uint(f, 'MX preference', 0xffff));
      out.bytes(name(f, 'MX exchange', origin));
    },
  ],
  [
    TYPE.SOA,
    (f, out, origin) => {
      out.bytes(name(f, 'SOA mname', origin));
      out.bytes(name(f, 'SOA rname', origin));
      // RFC 1035 §3.3.13: SERIAL is an unsigned 32-bit version number; the four timers are
      // 32-bit second counts, which BIND also accepts with units (1w, 2d...).
      out.u32(uint(f, 'SOA serial', 0xffffffff));
      out.u32(timer(f, 'SOA refresh'));
      out.u32(timer(f, 'SOA retry'));
      out.u32(timer(f, 'SOA expire'));
      out.u32(timer(f, 'SOA minimum'));
    },
  ],
  [TYPE.TXT, txtParser],
  [TYPE.SPF, txtParser],
  [
    TYPE.HINFO,
    (f, out) => {
      putCharString(out, charString(f, 'HINFO cpu'));
      putCharString(out, charString(f, 'HINFO os'));
    },
  ],
  [
    TYPE.SRV,
    (f, out, origin) => {
      // RFC 2782: "_Service._Proto.Name TTL Class SRV Priority Weight Port Target".
      out.u16(uint(f, 'SRV priority', 0xffff));
      out.u16(uint(f, 'SRV weight', 0xffff));
      out.u16(uint(f, 'SRV port', 0xffff));
      out.bytes(name(f, 'SRV target', origin));
    },
  ],
  [
    TYPE.NAPTR,
    (f, out, origin) => {
      out.u16(uint(f, 'NAPTR order', 0xffff));
      out.u16(uint(f, 'NAPTR preference', 0xffff));
      putCharString(out, charString(f, 'NAPTR flags'));
      putCharString(out, charString(f, 'NAPTR services'));
      putCharString(out, charString(f, 'NAPTR regexp'));
      out.bytes(name(f, 'NAPTR replacement', origin));
    },
  ],
  [
    TYPE.CAA,
    (f, out) => {
      out.u8(uint(f, 'CAA flags', 0xff));
      const tag = f.next('CAA tag');
      // RFC 8659 §4.1.1: "Tags MAY contain ASCII characters "a" through "z", "A" through
      // "Z", and the numbers 0 through 9. Tags MUST NOT contain any other characters."
      // The tag length "MUST be at least 1"; the one-octet length field caps it at 255
      // (the "SHOULD be no more than 15" is not enforced, as BIND).
      if (!/^[A-Za-z0-9]{1,255}$/.test(tag)) f.fail(`bad CAA tag '${tag}'`);
      out.u8(tag.length);
      out.bytes(utf8.encode(tag));
      // The value is not a <character-string>: it runs to the end of the RDATA, so it may
      // be longer than 255 bytes.
      const v = f.next('CAA value');
      try {
        out.bytes(textBytes(v));
      } catch (e) {
        if (e instanceof RdataError) f.fail(e.message);
        throw e;
      }
    },
  ],
  [
    TYPE.SSHFP,
    (f, out) => {
      out.u8(uint(f, 'SSHFP algorithm', 0xff));
      const fp = uint(f, 'SSHFP fingerprint type', 0xff);
      out.u8(fp);
      const at = f.index;
      const hash = hexRest(f, 'SSHFP fingerprint', false);
      // RFC 4255 §3.1.2 (SHA-1) and RFC 6594 §3 (SHA-256) fix the fingerprint sizes; BIND
      // checks them too.
      const size = fp === 1 ? 20 : fp === 2 ? 32 : undefined;
      if (size !== undefined && hash.length !== size) {
        throw new RdataError(
          `SSHFP fingerprint type ${fp} needs ${size} bytes, got ${hash.length}`,
          at,
        );
      }
      out.bytes(hash);
    },
  ],
  [
    TYPE.TLSA,
    (f, out) => {
      out.u8(uint(f, 'TLSA certificate usage', 0xff));
      out.u8(uint(f, 'TLSA selector', 0xff));
      out.u8(uint(f, 'TLSA matching type', 0xff));
      out.bytes(hexRest(f, 'TLSA certificate association data', false));
    },
  ],
  [
    TYPE.DS,
    (f, out) => {
      out.u16(uint(f, 'DS key tag', 0xffff));
      out.u8(uint(f, 'DS algorithm', 0xff));
      const dt = uint(f, 'DS digest type', 0xff);
      out.u8(dt);
      const at = f.index;
      const digest = hexRest(f, 'DS digest', false);
      // Digest sizes: SHA-1 (RFC 4034 §5.1.4), SHA-256 (RFC 4509 §2.2), SHA-384 (RFC 6605 §4).
      const size = dt === 1 ? 20 : dt === 2 ? 32 : dt === 4 ? 48 : undefined;
      if (size !== undefined && digest.length !== size) {
        throw new RdataError(`DS digest type ${dt} needs ${size} bytes, got ${digest.length}`, at);
      }
      out.bytes(digest);
    },
  ],
]);

/**
 * Wire RDATA from presentation tokens. `origin` completes relative names. Throws RdataError
 * (ERR_DNS_RDATA) naming the field and, in `token`, the index of the token to blame.
 */
export function rdataFromText(
  type: number,
  tokens: readonly string[],
  origin: Uint8Array,
): Uint8Array {
  const f = new Fields(tokens, typeToText(type));
  if (tokens[0] === '\\#') {
    f.next('\\#');
    // RFC 3597 §5: "\# <length> <hex>...", where "the hex data ... may be split into any
    // number of white space separated segments".
    const len = uint(f, 'generic RDATA length', MAX_RDATA);
    const data = hexRest(f, 'generic RDATA', true);
    if (data.length !== len) {
      throw new RdataError(
        `generic RDATA length ${len} does not match the ${data.length} bytes given`,
        1,
      );
    }
    // RFC 3597 §5: a known type given in the generic form must still be valid RDATA of
    // that type; BIND checks it by decoding, as we do.
    const printer = PRINTERS.get(type);
    if (printer && decodeWith(printer, data) === undefined) {
      throw new RdataError(`generic RDATA is not valid ${typeToText(type)} RDATA`, 1);
    }
    return data;
  }
  const parse = PARSERS.get(type);
  if (!parse) {
    throw new RdataError(
      `no presentation format for ${typeToText(type)} here; write it as '\\# <length> <hex>' (RFC 3597)`,
      0,
    );
  }
  const out = new Bytes();
  parse(f, out, origin);
  f.done();
  if (out.length > MAX_RDATA)
    throw new RdataError(`RDATA longer than ${MAX_RDATA} bytes (${out.length})`);
  return out.done();
}

// ---------------------------------------------------------------------------------------
// Wire → text

class Truncated extends Error {}

/** A bounds-checked reader over one RDATA; any overrun throws Truncated. */
class Reader {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new Truncated();
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u32(): number {
    return this.u16() * 0x10000 + this.u16();
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  rest(): Uint8Array {
    return this.bytes(this.b.length - this.pos);
  }
  more(): boolean {
    return this.pos < this.b.length;
  }
  /** An uncompressed name (RDATA is held uncompressed: a pointer here is malformed). */
  name(): string {
    const start = this.pos;
    for (;;) {
      const len = this.u8();
      if (len === 0) break;
      if (len > 63) throw new Truncated();
      this.bytes(len);
      if (this.pos - start > MAX_NAME) throw new Truncated();
    }
    return nameToText(this.b.subarray(start, this.pos));
  }
  charString(): string {
    return quoteText(this.bytes(this.u8()));
  }
  end(): void {
    if (this.pos !== this.b.length) throw new Truncated();
  }
}

/** A quoted character-string: `"` and `\` escaped, non-printable octets as `\DDD` (RFC 1035 §5.1). */
export function quoteText(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c >= 0x7f) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s + '"';
}

function hexUpper(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s.toUpperCase();
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function ipv6ToText(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted-quad tail.
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let best = -1;
  let bestLen = 1; // "MUST NOT be used to shorten just one 16-bit 0 field" (§4.2.2)
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      // strictly longer: the first of equal runs wins (§4.2.3)
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

type Printer = (r: Reader) => string;

const nameOnly: Printer = (r) => r.name();

function txtPrinter(r: Reader): string {
  const parts: string[] = [];
  do parts.push(r.charString());
  while (r.more());
  return parts.join(' ');
}

const PRINTERS = new Map<number, Printer>([
  [TYPE.A, (r) => Array.from(r.bytes(4)).join('.')],
  [TYPE.AAAA, (r) => ipv6ToText(r.bytes(16))],
  [TYPE.NS, nameOnly],
  [TYPE.CNAME, nameOnly],
  [TYPE.PTR, nameOnly],
  [TYPE.DNAME, nameOnly],
  [TYPE.MX, (r) => `${r.u16()} ${r.name()}`],
  [TYPE.SOA, (r) => [r.name(), r.name(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32()].join(' ')],
  [TYPE.TXT, txtPrinter],
  [TYPE.SPF, txtPrinter],
  [TYPE.HINFO, (r) => `${r.charString()} ${r.charString()}`],
  [TYPE.SRV, (r) => `${r.u16()} ${r.u16()} ${r.u16()} ${r.name()}`],
  [
    TYPE.NAPTR,
    (r) => [r.u16(), r.u16(), r.charString(), r.charString(), r.charString(), r.name()].join(' '),
  ],
  [
    TYPE.CAA,
    (r) => {
      const flags = r.u8();
      const tagBytes = r.bytes(r.u8());
      if (
        tagBytes.length === 0 ||
        !tagBytes.every((c) => /[A-Za-z0-9]/.test(String.fromCharCode(c)))
      ) {
        throw new Truncated();
      }
      return `${flags} ${String.fromCharCode(...tagBytes)} ${quoteText(r.rest())}`;
    },
  ],
  [TYPE.SSHFP, (r) => `${r.u8()} ${r.u8()} ${hexUpper(nonEmpty(r.rest()))}`],
  [TYPE.TLSA, (r) => `${r.u8()} ${r.u8()} ${r.u8()} ${hexUpper(nonEmpty(r.rest()))}`],
  [TYPE.DS, (r) => `${r.u16()} ${r.u8()} ${r.u8()} ${hexUpper(nonEmpty(r.rest()))}`],
]);

function nonEmpty(b: Uint8Array): Uint8Array {
  if (b.length === 0) throw new Truncated();
  return b;
}

function decodeWith(p: Printer, rdata: Uint8Array): string | undefined {
  try {
    const r = new Reader(rdata);
    const s = p(r);
    r.end();
    return s;
  } catch (e) {
    if (e instanceof Truncated) return undefined;
    throw e;
  }
}

/** RFC 3597 §5 generic form: `\# <length> <hex>` (`\# 0` for empty RDATA). */
export function genericRdataToText(rdata: Uint8Array): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${hexUpper(rdata)}`;
}

/** Presentation form of RDATA; never throws (falls back to the generic form). */
export function rdataToText(type: number, rdata: Uint8Array): string {
  const p = PRINTERS.get(type);
  return (p && decodeWith(p, rdata)) ?? genericRdataToText(rdata);
}

/** True when `type` has its own presentation format here (not only `\#`). */
export function hasTextFormat(type: number): boolean {
  return PARSERS.has(type);
}

/** One record as dig prints it: `owner TTL CLASS TYPE rdata`, tab-separated. */
export function rrToText(rr: RR): string {
  return [
    nameToText(rr.owner),
    String(rr.ttl),
    classToText(rr.class),
    typeToText(rr.type),
    rdataToText(rr.type, rr.rdata),
  ].join('\t');
}
