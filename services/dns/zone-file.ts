/**
 * Master-file parser (RFC 1035 §5; $TTL from RFC 2308 §4; RFC 3597 §5 for unknown types).
 *
 * Text in, records and every problem out: the parser does no I/O ($INCLUDE reads through an
 * injected callback) and never throws on bad input; each problem is reported with its file
 * and line and the parser carries on with the next entry, so one run lists all of them, as
 * named-checkzone does. Owner names keep the case written in the file.
 *
 * Syntax handled: `$ORIGIN`, `$TTL` (with BIND's unit suffixes), `$INCLUDE <file> [origin]`,
 * `@`, relative names, owner inherited by a line that starts with a blank, TTL and class in
 * either order and both optional, parentheses across lines, `;` comments, backslash
 * escapes, quoted strings. Missing TTLs follow BIND (see `resolveTtl`).
 *
 * Left out: `$GENERATE` and the other BIND-only directives (reported as errors), classes
 * other than the zone's (IN by default), and zone semantics: zone-check.ts checks those.
 */

import { MAX_LABEL, MAX_NAME, NameError, nameFromText } from './name.js';
import { RdataError, rdataFromText, ttlFromText, textBytes } from './rdata-text.js';
import {
  CLASS,
  classFromText,
  classToText,
  TYPE,
  typeFromText,
  typeToText,
  type RR,
} from './rr.js';

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

/** One problem, reported by the runtime as `file:line: message`. Line 0 is the zone as a whole. */
export interface ZoneIssue extends SourceLocation {
  readonly message: string;
}

export interface ParseZoneOptions {
  /** The zone's origin: the initial `$ORIGIN` and what `@` means. */
  origin: Uint8Array;
  /** The file's name as it is to appear in issues. */
  file: string;
  /** Returns the text of an `$INCLUDE`d file (resolve the path as you see fit); may throw. */
  readInclude?: (path: string) => string;
  /**
   * Stop with an error past this many records. Unlimited by default, as BIND's
   * `max-records` (default 0, no limit).
   */
  maxRecords?: number;
  /** The zone's class (default IN); a record of another class is an error, as in BIND. */
  zoneClass?: number;
  /**
   * Hand each record to this as it is parsed instead of collecting `records` and
   * `sources`: a big zone is then never held as one object per record (zone-store.ts
   * feeds the checker and the packed zone this way).
   */
  onRecord?: RecordSink;
}

/** Receives each record as it is parsed (owner and RDATA in uncompressed wire form). */
export type RecordSink = (
  owner: Uint8Array,
  type: number,
  klass: number,
  ttl: number,
  rdata: Uint8Array,
  file: string,
  line: number,
) => void;

export interface ParsedZone {
  /** The records, in file order (empty when `onRecord` was given). */
  records: RR[];
  /** Where each record came from, parallel to `records`. */
  sources: SourceLocation[];
  errors: ZoneIssue[];
  warnings: ZoneIssue[];
}

export class ZoneFileError extends Error {
  readonly code = 'ERR_DNS_ZONE_FILE';
}

/**
 * `$INCLUDE` nesting limit. BIND has none (it stops at the open-file limit); 16 levels is
 * far beyond any real zone, and a file that includes itself is caught separately.
 */
export const MAX_INCLUDE_DEPTH = 16;

/** TTLs are "a 32 bit unsigned integer" whose top bit must be clear (RFC 2181 §8). */
export const MAX_TTL = 0x7fffffff;

// ---------------------------------------------------------------------------------------
// Tokenizer

interface Token {
  /** Raw text: escapes kept; a quoted string keeps its quotes (what rdataFromText expects). */
  readonly text: string;
  readonly line: number;
}

interface Entry {
  /** Line the entry starts on. */
  readonly line: number;
  /** The entry's first line starts with a blank: the owner is the previous one. */
  readonly blank: boolean;
  readonly tokens: Token[];
  bad: boolean;
}

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const SEMI = 0x3b;
const OPEN = 0x28;
const CLOSE = 0x29;
const QUOTE = 0x22;
const BSLASH = 0x5c;

/**
 * Split a master file into entries, handing each to `each` as soon as it is complete (false:
 * stop), so a big zone is never held as tokens (RFC 1035 §5.1): "Entries are predominantly
 * line-oriented, though parentheses can be used to continue a list of items across a line
 * boundary"; "Semicolon is used to start a comment; the remainder of the line is ignored";
 * `\X` quotes X, so `\;`, `\(`, `\"` and `\ ` are ordinary characters.
 */
function tokenize(
  text: string,
  file: string,
  errors: ZoneIssue[],
  each: (e: Entry) => boolean,
): void {
  let line = 1;
  let stop = false;
  let depth = 0;
  let openedAt = 0;
  let lineStart = true;
  let cur: Entry = { line: 1, blank: false, tokens: [], bad: false };
  const err = (at: number, message: string): void => {
    errors.push({ file, line: at, message });
    cur.bad = true;
  };
  const finish = (): void => {
    if (cur.tokens.length > 0 && !cur.bad && !stop) stop = !each(cur);
  };
  // Character codes, not one-character strings: this loop sees every byte of the zone.
  let i = 0;
  const n = text.length;
  while (i < n && !stop) {
    const c = text.charCodeAt(i);
    if (lineStart) {
      lineStart = false;
      if (depth === 0) {
        finish();
        cur = { line, blank: c === SP || c === TAB, tokens: [], bad: false };
      }
    }
    if (c === LF) {
      line++;
      lineStart = true;
      i++;
      continue;
    }
    if (c === SP || c === TAB || c === CR) {
      i++;
      continue;
    }
    if (c === SEMI) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (c === OPEN) {
      if (depth === 0) openedAt = line;
      depth++;
      i++;
      continue;
    }
    if (c === CLOSE) {
      if (depth === 0) err(line, "unbalanced ')'");
      else depth--;
      i++;
      continue;
    }
    if (c === QUOTE) {
      let j = i + 1;
      for (;;) {
        if (j >= n) break;
        const d = text.charCodeAt(j);
        if (d === QUOTE || d === LF) break;
        j += d === BSLASH && j + 1 < n && text.charCodeAt(j + 1) !== LF ? 2 : 1;
      }
      if (j >= n || text.charCodeAt(j) !== QUOTE) {
        // BIND's lexer does not let a quoted string span lines in a master file either.
        err(line, 'unterminated quoted string');
        i = j;
        continue;
      }
      cur.tokens.push({ text: text.slice(i, j + 1), line });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === BSLASH) {
        if (j + 1 < n && text.charCodeAt(j + 1) !== LF) {
          j += 2;
          continue;
        }
        err(line, 'backslash at the end of a line');
        j++;
        break;
      }
      if (
        d === SP ||
        d === TAB ||
        d === CR ||
        d === LF ||
        d === SEMI ||
        d === OPEN ||
        d === CLOSE ||
        d === QUOTE
      )
        break;
      j++;
    }
    if (j > i) cur.tokens.push({ text: text.slice(i, j), line });
    i = j;
  }
  if (stop) return;
  if (depth > 0) err(openedAt, "unbalanced parentheses: '(' is never closed");
  finish();
}

// ---------------------------------------------------------------------------------------
// Parser

/**
 * Load state shared by a file and the files it includes. As in BIND, the TTL state and the
 * last class carry across `$INCLUDE`; the origin and the current owner do not (RFC 1035
 * §5.1: "a $INCLUDE entry never changes the relative origin of the parent file").
 */
interface LoadState {
  readonly errors: ZoneIssue[];
  readonly warnings: ZoneIssue[];
  readonly onRecord: RecordSink;
  /** Records handed to onRecord. */
  count: number;
  readonly readInclude: ((path: string) => string) | undefined;
  readonly maxRecords: number;
  readonly zoneClass: number;
  readonly includes: string[];
  /** The $TTL value, or (without $TTL) the last explicit TTL. */
  defaultTtl: number | undefined;
  ttlDirective: boolean;
  warnedRfc1035: boolean;
  lastClass: number | undefined;
  stopped: boolean;
}

class EntryError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

function newState(opts: ParseZoneOptions, out: ParsedZone): LoadState {
  return {
    errors: out.errors,
    warnings: out.warnings,
    onRecord:
      opts.onRecord ??
      ((owner, type, klass, ttl, rdata, file, line) => {
        out.records.push({ owner, type, class: klass, ttl, rdata });
        out.sources.push({ file, line });
      }),
    count: 0,
    readInclude: opts.readInclude,
    maxRecords: opts.maxRecords ?? Infinity,
    zoneClass: opts.zoneClass ?? CLASS.IN,
    includes: [opts.file],
    defaultTtl: undefined,
    ttlDirective: false,
    warnedRfc1035: false,
    lastClass: undefined,
    stopped: false,
  };
}

/**
 * The wire form of a name written in plain LDH-style characters (letters, digits, `-`,
 * `_`, `*`), or undefined for anything else (escapes, `@`, errors), which nameFromText
 * handles: most owner names of a big zone are plain, and this skips its per-label arrays.
 */
function plainName(text: string, origin: Uint8Array): Uint8Array | undefined {
  const n = text.length;
  if (n === 0 || n > MAX_NAME) return undefined;
  const absolute = text.charCodeAt(n - 1) === 0x2e;
  const end = absolute ? n - 1 : n;
  const size = end + 1 + (absolute ? 1 : origin.length);
  if (end === 0 || size > MAX_NAME) return undefined;
  const out = new Uint8Array(size);
  let lenAt = 0;
  let o = 1;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      const len = o - lenAt - 1;
      if (len === 0 || len > MAX_LABEL) return undefined;
      out[lenAt] = len;
      lenAt = o++;
      continue;
    }
    if (!(
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2d ||
      c === 0x5f ||
      c === 0x2a
    ))
      return undefined;
    out[o++] = c;
  }
  const len = o - lenAt - 1;
  if (len === 0 || len > MAX_LABEL) return undefined;
  out[lenAt] = len;
  if (absolute) out[o] = 0;
  else out.set(origin, o);
  return out;
}

function parseName(tok: Token, origin: Uint8Array, what: string): Uint8Array {
  const plain = plainName(tok.text, origin);
  if (plain) return plain;
  if (tok.text.startsWith('"'))
    throw new EntryError(`bad ${what} ${tok.text}: a name is not quoted`, tok.line);
  try {
    return nameFromText(tok.text, origin);
  } catch (e) {
    if (e instanceof NameError) throw new EntryError(`bad ${what}: ${e.message}`, tok.line);
    throw e;
  }
}

/** A TTL token; values over 2^31-1 become 0 with a warning (RFC 2181 §8, as BIND). */
function parseTtl(tok: Token, st: LoadState, file: string, what: string): number {
  const v = ttlFromText(tok.text);
  if (v === undefined) throw new EntryError(`bad ${what} '${tok.text}'`, tok.line);
  if (v > 0xffffffff) throw new EntryError(`${what} out of range: ${tok.text}`, tok.line);
  if (v > MAX_TTL) {
    // RFC 2181 §8: "Implementations should treat TTL values received with the most
    // significant bit set as if the entire value received was zero."
    st.warnings.push({
      file,
      line: tok.line,
      message: `${what} ${v} > ${MAX_TTL}, set to 0 (RFC 2181 §8)`,
    });
    return 0;
  }
  return v;
}

/** RFC 6895 §3.1: 128-255 are QTYPEs and meta-types; OPT (41) is a pseudo-RR; 0 is reserved. */
function isMetaType(t: number): boolean {
  return t === 0 || t === TYPE.OPT || (t >= 128 && t <= 255);
}

function parseText(text: string, file: string, origin0: Uint8Array, st: LoadState): void {
  let origin = origin0;
  let owner: Uint8Array | undefined;
  // Syntax errors found by the tokenizer go out in line order with the entries' errors.
  const syntax: ZoneIssue[] = [];
  let next = 0;
  const flushSyntax = (before: number): void => {
    while (next < syntax.length && syntax[next]!.line < before) st.errors.push(syntax[next++]!);
  };
  const entry = (e: Entry): boolean => {
    flushSyntax(e.line);
    if (st.stopped) return false;
    try {
      const first = e.tokens[0]!;
      if (!e.blank && first.text.startsWith('$')) {
        origin = directive(e, first, file, origin, st);
        return true;
      }
      let k = 0;
      if (e.blank) {
        // RFC 1035 §5.1: "If an RR begins with a blank, then the RR is assumed to be owned
        // by the last stated owner."
        if (!owner)
          throw new EntryError('no owner name: no earlier record to take it from', e.line);
      } else {
        owner = parseName(first, origin, 'owner name');
        k = 1;
      }
      record(e, k, owner, file, origin, st);
    } catch (x) {
      if (x instanceof EntryError) st.errors.push({ file, line: x.line, message: x.message });
      else throw x;
    }
    return true;
  };
  tokenize(text, file, syntax, entry);
  // The tokenizer's errors come in line order but for an unclosed '(' reported at the end.
  const rest = syntax.splice(next).sort((a, b) => a.line - b.line);
  syntax.push(...rest);
  if (!st.stopped) flushSyntax(Infinity);
}

/** Handle one `$` directive; returns the origin in force after it. */
function directive(
  e: Entry,
  first: Token,
  file: string,
  origin: Uint8Array,
  st: LoadState,
): Uint8Array {
  const name = first.text.toUpperCase();
  const args = e.tokens.slice(1);
  const arity = (min: number, max: number, usage: string): void => {
    const extra = args[max];
    if (extra) throw new EntryError(`extra text '${extra.text}' after ${usage}`, extra.line);
    if (args.length < min) throw new EntryError(`${name} needs ${usage}`, first.line);
  };
  switch (name) {
    case '$ORIGIN': {
      // RFC 1035 §5.1: "$ORIGIN <domain-name> [<comment>]" changes the origin; a relative
      // name is completed with the current one.
      arity(1, 1, '$ORIGIN <domain-name>');
      return parseName(args[0]!, origin, '$ORIGIN name');
    }
    case '$TTL': {
      // RFC 2308 §4: "$TTL <TTL> [comment]" gives the TTL of records without one.
      arity(1, 1, '$TTL <ttl>');
      st.defaultTtl = parseTtl(args[0]!, st, file, '$TTL');
      st.ttlDirective = true;
      return origin;
    }
    case '$INCLUDE': {
      // RFC 1035 §5.1: "$INCLUDE <file-name> [<domain-name>] [<comment>]".
      arity(1, 2, '$INCLUDE <file-name> [<domain-name>]');
      const pathTok = args[0]!;
      let path: string;
      try {
        path = new TextDecoder().decode(textBytes(pathTok.text));
      } catch (x) {
        if (x instanceof RdataError)
          throw new EntryError(`bad $INCLUDE file name: ${x.message}`, pathTok.line);
        throw x;
      }
      const incOrigin = args[1] ? parseName(args[1], origin, '$INCLUDE origin') : origin;
      if (!st.readInclude)
        throw new EntryError(`$INCLUDE '${path}': no include reader was given`, first.line);
      if (st.includes.includes(path))
        throw new EntryError(`$INCLUDE loop: '${path}' is already being read`, first.line);
      if (st.includes.length > MAX_INCLUDE_DEPTH) {
        throw new EntryError(`$INCLUDE nested more than ${MAX_INCLUDE_DEPTH} deep`, first.line);
      }
      let text: string;
      try {
        text = st.readInclude(path);
      } catch (x) {
        const why = x instanceof Error ? x.message : String(x);
        throw new EntryError(`cannot read $INCLUDE file '${path}': ${why}`, first.line);
      }
      st.includes.push(path);
      parseText(text, path, incOrigin, st);
      st.includes.pop();
      return origin;
    }
    case '$GENERATE':
      throw new EntryError('$GENERATE is not supported; write the records out', first.line);
    default:
      throw new EntryError(`unknown directive '${first.text}'`, first.line);
  }
}

/**
 * A dotted quad of four decimal octets without leading zeros, the only IPv4 form BIND
 * accepts (inet_pton), parsed by hand; undefined sends it to ipv4FromText.
 */
function plainIpv4(t: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= t.length; i++) {
    const c = i < t.length ? t.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && v === 0) return undefined; // a leading zero
      v = v * 10 + (c - 0x30);
      if (++digits > 3 || v > 255) return undefined;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

/** Colon-separated groups of 1-4 hex digits into `out`; false for anything else. */
function hexGroups(s: string, out: number[]): boolean {
  if (s === '') return true;
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x3a;
    if (c === 0x3a) {
      if (digits === 0) return false;
      out.push(v);
      v = 0;
      digits = 0;
      continue;
    }
    const l = c | 0x20;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
    if (d < 0 || ++digits > 4) return false;
    v = v * 16 + d;
  }
  return true;
}

/**
 * An IPv6 address in the RFC 4291 §2.2 forms 1 and 2 (eight groups, or one `::` standing
 * for one or more zero groups), parsed by hand; undefined (a dotted-quad tail, an error)
 * sends it to ipv6FromText.
 */
function plainIpv6(t: string): Uint8Array | undefined {
  const head: number[] = [];
  const tail: number[] = [];
  const dbl = t.indexOf('::');
  if (dbl < 0) {
    if (!hexGroups(t, head) || head.length !== 8) return undefined;
  } else if (
    t.indexOf('::', dbl + 1) >= 0 ||
    !hexGroups(t.slice(0, dbl), head) ||
    !hexGroups(t.slice(dbl + 2), tail) ||
    head.length + tail.length > 7
  ) {
    return undefined;
  }
  const out = new Uint8Array(16);
  head.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  const from = 8 - tail.length;
  tail.forEach((w, i) => {
    out[2 * (from + i)] = w >> 8;
    out[2 * (from + i) + 1] = w & 0xff;
  });
  return out;
}

/**
 * TXT RDATA (RFC 1035 §3.3.14: one or more <character-string>s) when every token is
 * printable ASCII without escapes and at most 255 bytes: each is a length byte and its
 * bytes, quotes dropped. Undefined for anything else (rdataFromText handles escapes,
 * UTF-8 and the errors).
 */
function plainTxt(rd: readonly Token[]): Uint8Array | undefined {
  if (rd.length === 0) return undefined;
  let size = 0;
  for (const t of rd) {
    const s = t.text;
    const quoted = s.charCodeAt(0) === QUOTE;
    const len = quoted ? s.length - 2 : s.length;
    if (len < 0 || len > 255) return undefined;
    size += 1 + len;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const t of rd) {
    const s = t.text;
    const quoted = s.charCodeAt(0) === QUOTE;
    const from = quoted ? 1 : 0;
    const to = quoted ? s.length - 1 : s.length;
    if (quoted && (s.length < 2 || s.charCodeAt(to) !== QUOTE)) return undefined;
    out[o++] = to - from;
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === BSLASH) return undefined;
      out[o++] = c;
    }
  }
  return out;
}

/** RDATA from its tokens by rdataFromText, its errors placed on the token at fault. */
function generalRdata(
  type: number,
  rd: readonly Token[],
  origin: Uint8Array,
  toks: readonly Token[],
): Uint8Array {
  try {
    return rdataFromText(
      type,
      rd.map((t) => t.text),
      origin,
    );
  } catch (x) {
    if (x instanceof RdataError) {
      const at = x.token !== undefined ? rd[x.token] : undefined;
      throw new EntryError(
        `${typeToText(type)}: ${x.message}`,
        (at ?? toks[toks.length - 1]!).line,
      );
    }
    throw x;
  }
}

/** Parse `[<TTL>] [<class>] <type> <RDATA>` (either order of TTL and class) and add the record. */
function record(
  e: Entry,
  start: number,
  owner: Uint8Array,
  file: string,
  origin: Uint8Array,
  st: LoadState,
): void {
  const toks = e.tokens;
  let k = start;
  let ttl: number | undefined;
  let cls: number | undefined;
  // RFC 1035 §5.1: "<domain-name> [<TTL>] [<class>] <type> <RDATA>" or
  // "[<class>] [<TTL>] <type> <RDATA>": "The RR begins with optional TTL and class fields".
  for (let n = 0; n < 2; n++) {
    const t = toks[k];
    if (!t || t.text.startsWith('"')) break;
    const c = cls === undefined ? classFromText(t.text) : undefined;
    if (c !== undefined) {
      cls = c;
      k++;
    } else if (ttl === undefined && t.text.charCodeAt(0) >= 0x30 && t.text.charCodeAt(0) <= 0x39) {
      ttl = parseTtl(t, st, file, 'TTL');
      k++;
    } else {
      break;
    }
  }
  const typeTok = toks[k];
  if (!typeTok) throw new EntryError('missing RR type', toks[toks.length - 1]!.line);
  const type = typeTok.text.startsWith('"') ? undefined : typeFromText(typeTok.text);
  if (type === undefined) throw new EntryError(`unknown RR type '${typeTok.text}'`, typeTok.line);
  if (isMetaType(type)) {
    throw new EntryError(
      `${typeToText(type)} is a meta-type, not allowed in zone data (RFC 6895 §3.1)`,
      typeTok.line,
    );
  }
  // RFC 1035 §5.1: "If ... the class [is] omitted, ... the last explicitly stated value
  // is used"; RFC 1035 §5.2: "All RRs in the file should have the same class".
  if (cls !== undefined) st.lastClass = cls;
  const klass = cls ?? st.lastClass ?? st.zoneClass;
  if (klass !== st.zoneClass) {
    throw new EntryError(
      `class ${classToText(klass)} does not match the zone's class ${classToText(st.zoneClass)}`,
      (cls !== undefined ? toks[start] : typeTok)?.line ?? e.line,
    );
  }
  const rd = toks.slice(k + 1);
  // A, AAAA and TXT, most of a big zone, take a short way for their plain forms; anything
  // else, and any error, goes the general way (rdataFromText), which reports it.
  let rdata: Uint8Array | undefined =
    type === TYPE.TXT
      ? plainTxt(rd)
      : rd.length !== 1
        ? undefined
        : type === TYPE.A
          ? plainIpv4(rd[0]!.text)
          : type === TYPE.AAAA
            ? plainIpv6(rd[0]!.text)
            : undefined;
  if (!rdata) rdata = generalRdata(type, rd, origin, toks);
  ttl = resolveTtl(ttl, type, rdata, e, file, st);
  if (st.count >= st.maxRecords) {
    st.stopped = true;
    throw new EntryError(
      `too many records (max-records ${st.maxRecords}); the rest of the zone is ignored`,
      e.line,
    );
  }
  st.count++;
  st.onRecord(owner, type, klass, ttl, rdata, file, e.line);
}

/**
 * The TTL of a record, as BIND's loader decides it:
 * - an explicit TTL is used; without `$TTL` it also becomes the default for later records
 *   (RFC 1035 §5.1: "the last explicitly stated value is used"; BIND warns once, "using
 *   RFC1035 TTL semantics");
 * - otherwise `$TTL` (RFC 2308 §4), else the last explicit TTL;
 * - otherwise, for the SOA itself, its MINIMUM field with a warning ("no TTL specified;
 *   using SOA MINTTL instead"), which then becomes the default;
 * - otherwise an error: BIND rejects the zone ("no TTL specified; zone rejected").
 */
function resolveTtl(
  explicit: number | undefined,
  type: number,
  rdata: Uint8Array,
  e: Entry,
  file: string,
  st: LoadState,
): number {
  if (explicit !== undefined) {
    if (!st.ttlDirective) st.defaultTtl = explicit;
    return explicit;
  }
  if (st.defaultTtl !== undefined) {
    if (!st.ttlDirective && !st.warnedRfc1035) {
      st.warnedRfc1035 = true;
      st.warnings.push({
        file,
        line: e.line,
        message: 'no $TTL: using the last explicit TTL (RFC 1035 semantics)',
      });
    }
    return st.defaultTtl;
  }
  if (type === TYPE.SOA && rdata.length >= 4) {
    const v = new DataView(rdata.buffer, rdata.byteOffset, rdata.byteLength).getUint32(
      rdata.length - 4,
    );
    const ttl = v > MAX_TTL ? 0 : v;
    st.warnings.push({
      file,
      line: e.line,
      message: `no TTL specified; using SOA MINTTL (${ttl}) instead`,
    });
    st.defaultTtl = ttl;
    return ttl;
  }
  throw new EntryError(
    'no TTL specified and no $TTL or earlier TTL to use (BIND rejects the zone)',
    e.line,
  );
}

/**
 * Parse a whole master file. Never throws on bad input: every problem is in `errors` (and
 * recoverable oddities in `warnings`), each with its file and line.
 */
export function parseZoneFile(text: string, opts: ParseZoneOptions): ParsedZone {
  const out: ParsedZone = { records: [], sources: [], errors: [], warnings: [] };
  parseText(text, opts.file, opts.origin, newState(opts, out));
  return out;
}

/**
 * One record from one zone-file line with its owner written out (a test convenience).
 * `defaultTtl` plays `$TTL`. Throws ZoneFileError (ERR_DNS_ZONE_FILE) with the first error.
 */
export function rrFromText(line: string, origin: Uint8Array, defaultTtl?: number): RR {
  const out: ParsedZone = { records: [], sources: [], errors: [], warnings: [] };
  const st = newState({ origin, file: '<rr>' }, out);
  if (defaultTtl !== undefined) {
    st.defaultTtl = defaultTtl;
    st.ttlDirective = true;
  }
  parseText(line, '<rr>', origin, st);
  const err = out.errors[0];
  if (err) throw new ZoneFileError(err.message);
  const rr = out.records[0];
  if (!rr || out.records.length !== 1) {
    throw new ZoneFileError(`expected one record, got ${out.records.length}`);
  }
  return rr;
}
