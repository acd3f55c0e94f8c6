/**
 * Address header values (RFC 3261 §20.10 Contact, §20.20 From, §20.39 To; grammar §25.1):
 * `[display-name] <URI> *(;generic-param)` or a bare addr-spec, and the generic-param and
 * comma-list rules every structured header shares.
 *
 * "The Contact, From, and To header fields contain a URI. If the URI contains a comma,
 * question mark or semicolon, the URI MUST be enclosed in angle brackets (< and >). Any
 * URI parameters are contained within these brackets. If the URI is not enclosed in angle
 * brackets, any semicolon-delimited parameters are header-parameters, not URI parameters."
 * (§20). LWS is allowed around ";" and "=" (§25.1 SEMI, EQUAL), not inside <> (RFC 4475
 * badaspec). Quoted strings keep their escapes as written.
 *
 * Leaves out: RFC 2822 comments, the `*` of Contact handled by the caller.
 */
import { parseUri, type Uri } from './uri.js';

export type Params = readonly (readonly [string, string | undefined])[];

export interface NameAddr {
  /** Display name as written (quotes and escapes kept), undefined when absent. */
  readonly display: string | undefined;
  /** The URI text between <> or the addr-spec. */
  readonly uriText: string;
  readonly uri: Uri;
  /** Whether the value used <> (name-addr) or was a bare addr-spec. */
  readonly bracketed: boolean;
  readonly params: Params;
}

const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;

export function isToken(s: string): boolean {
  return /^[A-Za-z0-9\-.!%*_+`'~]+$/.test(s);
}

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** A tiny cursor over one header value. */
class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  peek(): string | undefined {
    return this.s[this.pos];
  }
  eof(): boolean {
    return this.pos >= this.s.length;
  }
  skipWs(): void {
    while (isWs(this.s[this.pos])) this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (this.pos < this.s.length && TOKEN_CHAR.test(this.s[this.pos]!)) this.pos++;
    return this.s.slice(start, this.pos);
  }
  /** A quoted-string starting at '"'; undefined when unterminated or holding a bare control. */
  quoted(): string | undefined {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x5c) {
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        const n = this.s.charCodeAt(this.pos + 1);
        if (Number.isNaN(n) || n === 0x0a || n === 0x0d || n > 0x7f) return undefined;
        this.pos += 2;
        continue;
      }
      if (c === 0x22) {
        this.pos++;
        return this.s.slice(start, this.pos);
      }
      // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
      if (c < 0x20 && c !== 0x09) return undefined;
      if (c === 0x7f) return undefined;
      this.pos++;
    }
    return undefined;
  }
}

/**
 * `*( SEMI generic-param )` from the cursor to the end of the value.
 * generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string.
 */
function parseParamsAt(c: Cursor): [string, string | undefined][] | undefined {
  const out: [string, string | undefined][] = [];
  c.skipWs();
  while (!c.eof()) {
    if (c.peek() !== ';') return undefined;
    c.pos++;
    c.skipWs();
    const name = c.token();
    if (name === '') return undefined; // ";;" or ";," (RFC 4475 badinv01)
    c.skipWs();
    let value: string | undefined;
    if (c.peek() === '=') {
      c.pos++;
      c.skipWs();
      if (c.peek() === '"') {
        value = c.quoted();
        if (value === undefined) return undefined;
      } else {
        const start = c.pos;
        while (c.pos < c.s.length && /[A-Za-z0-9\-.!%*_+`'~:[\]]/.test(c.s[c.pos]!)) c.pos++;
        value = c.s.slice(start, c.pos);
        if (value === '') return undefined;
      }
      c.skipWs();
    }
    out.push([name, value]);
  }
  return out;
}

/** Parse a whole `*(;generic-param)` string (which may be empty). */
export function parseParams(s: string): Params | undefined {
  return parseParamsAt(new Cursor(s));
}

export function paramValue(params: Params, name: string): string | undefined | null {
  const l = name.toLowerCase();
  for (const [k, v] of params) if (k.toLowerCase() === l) return v;
  return null;
}

/** Parse one From/To/Contact/Route value. */
export function parseNameAddr(value: string): NameAddr | undefined {
  const c = new Cursor(value.trim());
  let display: string | undefined;
  if (c.peek() === '"') {
    display = c.quoted();
    if (display === undefined) return undefined; // RFC 4475 quotbal
    c.skipWs();
    if (c.peek() !== '<') return undefined;
  } else if (c.peek() !== '<') {
    // *(token LWS) then "<", or an addr-spec.
    const start = c.pos;
    for (;;) {
      const tok = c.token();
      if (tok === '') break;
      c.skipWs();
    }
    if (c.peek() === '<') {
      const d = value.trim().slice(start, c.pos).trim();
      display = d === '' ? undefined : d;
    } else {
      c.pos = start;
      return addrSpec(c);
    }
  }
  // c at "<"
  c.pos++;
  const close = c.s.indexOf('>', c.pos);
  if (close < 0) return undefined;
  const uriText = c.s.slice(c.pos, close);
  if (/[\s<]/.test(uriText)) return undefined; // no LWS inside <> (RFC 4475 badaspec)
  const uri = parseUri(uriText);
  if (!uri) return undefined;
  c.pos = close + 1;
  const params = parseParamsAt(c);
  if (!params) return undefined;
  return { display, uriText, uri, bracketed: true, params };
}

function addrSpec(c: Cursor): NameAddr | undefined {
  const start = c.pos;
  while (c.pos < c.s.length && c.s[c.pos] !== ';' && !isWs(c.s[c.pos])) c.pos++;
  const uriText = c.s.slice(start, c.pos);
  // §20: a URI holding ",", "?" or ";" must be bracketed (RFC 4475 regbadct).
  if (/[,?<>"]/.test(uriText)) return undefined;
  const uri = parseUri(uriText);
  if (!uri) return undefined;
  const params = parseParamsAt(c);
  if (!params) return undefined;
  return { display: undefined, uriText, uri, bracketed: false, params };
}

/**
 * Split a header value on the commas that separate list elements (§7.3.1), not those
 * inside quoted strings or <>. Elements are trimmed; empty ones are kept so the caller can
 * reject them.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

/** Format a NameAddr back to text, always bracketing the URI. */
export function formatNameAddr(na: {
  display?: string | undefined;
  uriText: string;
  params?: Params;
}): string {
  let s = na.display !== undefined ? `${na.display} <${na.uriText}>` : `<${na.uriText}>`;
  for (const [k, v] of na.params ?? []) s += ';' + k + (v !== undefined ? '=' + v : '');
  return s;
}
