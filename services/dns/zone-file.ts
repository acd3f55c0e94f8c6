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

import { NameError, nameFromText } from './name.js';
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
}

export interface ParsedZone {
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

/**
 * Split a master file into entries (RFC 1035 §5.1): "Entries are predominantly
 * line-oriented, though parentheses can be used to continue a list of items across a line
 * boundary"; "Semicolon is used to start a comment; the remainder of the line is ignored";
 * `\X` quotes X, so `\;`, `\(`, `\"` and `\ ` are ordinary characters.
 */
function tokenize(text: string, file: string, errors: ZoneIssue[]): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let depth = 0;
  let openedAt = 0;
  let lineStart = true;
  let cur: Entry = { line: 1, blank: false, tokens: [], bad: false };
  const err = (at: number, message: string): void => {
    errors.push({ file, line: at, message });
    cur.bad = true;
  };
  const finish = (): void => {
    if (cur.tokens.length > 0 && !cur.bad) entries.push(cur);
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (lineStart) {
      lineStart = false;
      if (depth === 0) {
        finish();
        cur = { line, blank: c === ' ' || c === '\t', tokens: [], bad: false };
      }
    }
    if (c === '\n') {
      line++;
      lineStart = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth === 0) openedAt = line;
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) err(line, "unbalanced ')'");
      else depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"' && text[j] !== '\n') {
        j += text[j] === '\\' && j + 1 < n && text[j + 1] !== '\n' ? 2 : 1;
      }
      if (j >= n || text[j] !== '"') {
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
      const d = text[j]!;
      if (d === '\\') {
        if (j + 1 < n && text[j + 1] !== '\n') {
          j += 2;
          continue;
        }
        err(line, 'backslash at the end of a line');
        j++;
        break;
      }
      if (
        d === ' ' ||
        d === '\t' ||
        d === '\r' ||
        d === '\n' ||
        d === ';' ||
        d === '(' ||
        d === ')' ||
        d === '"'
      )
        break;
      j++;
    }
    if (j > i) cur.tokens.push({ text: text.slice(i, j), line });
    i = j;
  }
  if (depth > 0) err(openedAt, "unbalanced parentheses: '(' is never closed");
  finish();
  return entries;
}

// ---------------------------------------------------------------------------------------
// Parser

/**
 * Load state shared by a file and the files it includes. As in BIND, the TTL state and the
 * last class carry across `$INCLUDE`; the origin and the current owner do not (RFC 1035
 * §5.1: "a $INCLUDE entry never changes the relative origin of the parent file").
 */
interface LoadState {
  readonly out: ParsedZone;
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

function newState(opts: ParseZoneOptions): LoadState {
  return {
    out: { records: [], sources: [], errors: [], warnings: [] },
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

function parseName(tok: Token, origin: Uint8Array, what: string): Uint8Array {
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
    st.out.warnings.push({
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
    while (next < syntax.length && syntax[next]!.line < before) st.out.errors.push(syntax[next++]!);
  };
  const entries = tokenize(text, file, syntax);
  syntax.sort((a, b) => a.line - b.line);
  for (const e of entries) {
    flushSyntax(e.line);
    if (st.stopped) return;
    try {
      const first = e.tokens[0]!;
      if (!e.blank && first.text.startsWith('$')) {
        origin = directive(e, first, file, origin, st);
        continue;
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
      if (x instanceof EntryError) st.out.errors.push({ file, line: x.line, message: x.message });
      else throw x;
    }
  }
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
    } else if (ttl === undefined && /^[0-9]/.test(t.text)) {
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
  let rdata: Uint8Array;
  try {
    rdata = rdataFromText(
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
  ttl = resolveTtl(ttl, type, rdata, e, file, st);
  if (st.out.records.length >= st.maxRecords) {
    st.stopped = true;
    throw new EntryError(
      `too many records (max-records ${st.maxRecords}); the rest of the zone is ignored`,
      e.line,
    );
  }
  st.out.records.push({ owner, type, class: klass, ttl, rdata });
  st.out.sources.push({ file, line: e.line });
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
      st.out.warnings.push({
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
    st.out.warnings.push({
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
  const st = newState(opts);
  parseText(text, opts.file, opts.origin, st);
  return st.out;
}

/**
 * One record from one zone-file line with its owner written out (a test convenience).
 * `defaultTtl` plays `$TTL`. Throws ZoneFileError (ERR_DNS_ZONE_FILE) with the first error.
 */
export function rrFromText(line: string, origin: Uint8Array, defaultTtl?: number): RR {
  const st = newState({ origin, file: '<rr>' });
  if (defaultTtl !== undefined) {
    st.defaultTtl = defaultTtl;
    st.ttlDirective = true;
  }
  parseText(line, '<rr>', origin, st);
  const err = st.out.errors[0];
  if (err) throw new ZoneFileError(err.message);
  const rr = st.out.records[0];
  if (!rr || st.out.records.length !== 1) {
    throw new ZoneFileError(`expected one record, got ${st.out.records.length}`);
  }
  return rr;
}
