/**
 * SIP and SIPS URIs (RFC 3261 §19.1): parse, compare and format.
 *
 * `sip:user:password@host:port;uri-parameters?headers`. The userinfo runs to the first "@"
 * (the user part may hold ";", "?", "/" and "," as user-unreserved characters: RFC 4475
 * intmeth, semiuri); hostport, parameters and headers follow. Components are checked against
 * the §25.1 character classes; escapes stay escaped (comparison decodes them, §19.1.4).
 * Other schemes (tel:, isbn:, http:) parse as `AbsoluteUri` with only the scheme checked,
 * so the caller can answer 416 Unsupported URI Scheme (§8.2.2.1).
 *
 * Leaves out: tel: URI semantics (RFC 3966), user=phone comparison rules, IPv6 address
 * validation beyond the characters allowed inside brackets.
 */

export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** As written (case kept); compare with `uriKey()`. */
  readonly host: string;
  readonly port: number | undefined;
  /** uri-parameters in order; a parameter without "=" has value undefined. */
  readonly params: readonly (readonly [string, string | undefined])[];
  /** The headers component after "?", undefined when absent. */
  readonly headers: string | undefined;
}

export interface AbsoluteUri {
  readonly scheme: string;
  readonly opaque: string;
}

export type Uri =
  | { readonly kind: 'sip'; readonly uri: SipUri }
  | { readonly kind: 'other'; readonly uri: AbsoluteUri };

const ESC = '%[0-9A-Fa-f]{2}';
const USER_RE = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()&=+$,;?/]|${ESC})+$`);
const PASSWORD_RE = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()&=+$,]|${ESC})*$`);
const PARAMCHAR_RE = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()\\[\\]/:&+$]|${ESC})+$`);
const HEADERS_RE = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()\\[\\]/?:+$=&]|${ESC})*$`);
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// §25.1 hostname; "_" tolerated as many deployed hostnames carry it.
const HOSTNAME_RE =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\.?$/;
const IPV6REF_RE = /^\[[0-9A-Fa-f:.]+\]$/;
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+\-.]*$/;

/** Parse any absolute URI; undefined when it is not one. */
export function parseUri(text: string): Uri | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  const scheme = text.slice(0, colon);
  if (!SCHEME_RE.test(scheme)) return undefined;
  const lower = scheme.toLowerCase();
  if (lower === 'sip' || lower === 'sips') {
    const uri = parseSipUri(text);
    return uri ? { kind: 'sip', uri } : undefined;
  }
  const opaque = text.slice(colon + 1);
  // absoluteURI: no whitespace or controls, non-empty.
  if (opaque.length === 0 || /[\x00-\x20\x7f<>"]/.test(opaque)) return undefined;
  return { kind: 'other', uri: { scheme, opaque } };
}

/** Parse a sip:/sips: URI; undefined when any component breaks §25.1. */
export function parseSipUri(text: string): SipUri | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return undefined;
  let rest = text.slice(colon + 1);
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    // user may contain ";" and "?" but not ":"; the first ":" starts the password.
    const pc = userinfo.indexOf(':');
    user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (!USER_RE.test(user)) return undefined;
    if (password !== undefined && !PASSWORD_RE.test(password)) return undefined;
  }
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
    if (!HEADERS_RE.test(headers)) return undefined;
  }
  const parts = rest.split(';');
  const hostport = parts[0] ?? '';
  let host: string;
  let port: number | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return undefined;
    host = hostport.slice(0, close + 1);
    const after = hostport.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return undefined;
      port = parsePort(after.slice(1));
      if (port === undefined) return undefined;
    }
    if (!IPV6REF_RE.test(host)) return undefined;
  } else {
    const pc = hostport.indexOf(':');
    host = pc >= 0 ? hostport.slice(0, pc) : hostport;
    if (pc >= 0) {
      port = parsePort(hostport.slice(pc + 1));
      if (port === undefined) return undefined;
    }
    if (!IPV4_RE.test(host) && !HOSTNAME_RE.test(host)) return undefined;
  }
  const params: [string, string | undefined][] = [];
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    const name = eq >= 0 ? p.slice(0, eq) : p;
    const value = eq >= 0 ? p.slice(eq + 1) : undefined;
    // uri-parameter needs a pname of 1*paramchar (";;" is not a parameter).
    if (!PARAMCHAR_RE.test(name)) return undefined;
    if (value !== undefined && !PARAMCHAR_RE.test(value)) return undefined;
    params.push([name, value]);
  }
  return { scheme, user, password, host, port, params, headers };
}

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

export function formatSipUri(u: SipUri): string {
  let s = `${u.scheme}:`;
  if (u.user !== undefined) s += u.user + (u.password !== undefined ? ':' + u.password : '') + '@';
  s += u.host;
  if (u.port !== undefined) s += ':' + u.port;
  for (const [k, v] of u.params) s += ';' + k + (v !== undefined ? '=' + v : '');
  if (u.headers !== undefined) s += '?' + u.headers;
  return s;
}

export function uriParam(u: SipUri, name: string): string | undefined | null {
  const lname = name.toLowerCase();
  for (const [k, v] of u.params) if (k.toLowerCase() === lname) return v;
  return null;
}

/** Decode %XX escapes (for comparison and for the user part as an extension). */
export function unescapeUri(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * A string equal for URIs that §19.1.4 calls equivalent, in the cases a registrar meets:
 * scheme and host case-insensitive, userinfo case-sensitive after unescaping, parameters
 * compared by name (case-insensitive) in any order. Simplified: a parameter present on
 * only one side makes the URIs differ (the RFC ignores some of those).
 */
export function uriKey(u: SipUri): string {
  const user = u.user !== undefined ? unescapeUri(u.user) : '';
  const pw = u.password !== undefined ? ':' + unescapeUri(u.password) : '';
  const params = u.params
    .map(([k, v]) => k.toLowerCase() + (v !== undefined ? '=' + unescapeUri(v).toLowerCase() : ''))
    .sort()
    .join(';');
  return `${u.scheme}:${user}${pw}@${u.host.toLowerCase()}:${u.port ?? ''};${params}`;
}
