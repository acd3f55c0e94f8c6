/**
 * SIP message codec (RFC 3261 §7, §8.1.1, §18.3, §20, §25): bytes → a checked request or
 * response, and header lists → bytes.
 *
 * Decoding: leading CRLFs are skipped (§7.5 "Implementations processing SIP messages over
 * stream-oriented transports MUST ignore any CRLF appearing before the start-line"),
 * folded lines are unfolded (§7.3.1), compact header names are expanded (§7.3.3), and the
 * headers every element relies on are parsed and checked: Via, From, To, Call-ID, CSeq,
 * Max-Forwards, Content-Length, and Date/Expires when present (RFC 4475 §3.1.2). Single-
 * valued headers appearing twice are an error (RFC 4475 multi01, mcl01). The head is read
 * as latin1, so every byte survives a round trip (UTF-8 display names stay UTF-8).
 *
 * A bad request is returned with what can still be answered (its head, when the request
 * line and a Via parsed) and the status to answer with: 400, or 505 for another SIP
 * version (§21.5.6). A bad response is dropped (§18.1.2). Nothing here
 * throws on peer input.
 *
 * Limits: a message is at most 65 535 bytes (Kamailio's BUF_SIZE; a UDP datagram cannot be
 * larger), at most 256 header lines (our own bound against header floods; no peer setting
 * to cite, Kamailio bounds only the total size).
 *
 * Leaves out: multipart bodies (kept opaque), S/MIME, header values beyond the ones above
 * (they are kept as text), the Content-Encoding of bodies.
 */
import { Buffer } from 'node:buffer';
import { parseNameAddr, isToken, splitList, type NameAddr } from './name-addr.js';
import { parseUri, type Uri } from './uri.js';
import { parseViaList, type Via } from './via.js';

export const MAX_MESSAGE_BYTES = 65535;
export const MAX_HEADER_LINES = 256;

export interface Header {
  /** Lower-case long form (compact forms expanded): "via", "call-id", "x-foo". */
  readonly name: string;
  readonly value: string;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

interface MessageBase {
  readonly headers: readonly Header[];
  readonly body: Uint8Array;
  /** All Via values, top first. */
  readonly via: readonly Via[];
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly callId: string;
  readonly cseq: CSeq;
}

export interface SipRequest extends MessageBase {
  readonly type: 'request';
  readonly method: string;
  readonly uri: string;
  readonly requestUri: Uri;
  /** undefined when absent (RFC 2543 peers; RFC 4475 inv2543). */
  readonly maxForwards: number | undefined;
}

export interface SipResponse extends MessageBase {
  readonly type: 'response';
  readonly status: number;
  readonly reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** What a bad request still offers for a stateless error response. */
export interface RequestHead {
  readonly method: string;
  readonly headers: readonly Header[];
  readonly via: readonly Via[];
}

export type DecodeResult =
  | { readonly ok: true; readonly message: SipMessage }
  | {
      readonly ok: false;
      readonly reason: string;
      /** Status to answer a request with; undefined = drop silently. */
      readonly status: 400 | 505 | undefined;
      readonly head: RequestHead | undefined;
    };

/** §7.3.3 compact forms, and RFC 3265/3515/3892/4028 ones seen in the wild. */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
};

/** Headers that RFC 3261 §25.1 does not allow as lists; a second occurrence is an error. */
const SINGLE = new Set([
  'call-id',
  'cseq',
  'from',
  'to',
  'max-forwards',
  'content-length',
  'content-type',
  'expires',
  'date',
]);

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'min-expires': 'Min-Expires',
  'max-forwards': 'Max-Forwards',
  'user-agent': 'User-Agent',
};

/** "content-length" → "Content-Length", with the few irregular spellings of §20. */
export function displayName(name: string): string {
  return (
    CANONICAL[name] ??
    name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())
  );
}

export function headerName(raw: string): string {
  const l = raw.toLowerCase();
  return COMPACT[l] ?? l;
}

export function getHeader(msg: { headers: readonly Header[] }, name: string): string | undefined {
  for (const h of msg.headers) if (h.name === name) return h.value;
  return undefined;
}

export function getHeaders(msg: { headers: readonly Header[] }, name: string): string[] {
  const out: string[] = [];
  for (const h of msg.headers) if (h.name === name) out.push(h.value);
  return out;
}

const DATE_RE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const VERSION_RE = /^SIP\/(\d+)\.(\d+)$/i;

function fail(reason: string, status: 400 | 505 | undefined, head?: RequestHead): DecodeResult {
  return { ok: false, reason, status, head };
}

/** Index just past the empty line ending the head, and where the head ends; -1 if none. */
function findHeadEnd(
  buf: Uint8Array,
  from: number,
): { headEnd: number; bodyStart: number } | undefined {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    // "\n\n" or "\n\r\n"
    if (buf[i + 1] === 0x0a) return { headEnd: i, bodyStart: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { headEnd: i, bodyStart: i + 3 };
  }
  return undefined;
}

/** Skip CRLFs before the start line (§7.5); returns the offset of the start line. */
export function skipLeadingCrlf(buf: Uint8Array, from = 0): number {
  let i = from;
  while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
  return i;
}

/**
 * Decode one message. The bytes are one UDP datagram, or one message cut by the TCP framer.
 * §18.3: "If a message is received with a Content-Length larger than the body, it is
 * an error (400)"—for a datagram, "the Content-Length ... would indicate ... larger than
 * the datagram, the message MUST be discarded" for responses and answered 400 for
 * requests (RFC 4475 clerr); bytes past Content-Length are ignored ("additional bytes in
 * the transport packet beyond the end of the body ... MUST be discarded", RFC 4475 dblreq).
 */
export function decode(buf: Uint8Array): DecodeResult {
  try {
    return decodeInner(buf);
  } catch (err) {
    // A bug, not a peer error: the tests assert this never happens.
    return fail(`internal decoder error: ${(err as Error).message}`, undefined);
  }
}

function decodeInner(buf: Uint8Array): DecodeResult {
  if (buf.length > MAX_MESSAGE_BYTES) return fail('message too large', undefined);
  const start = skipLeadingCrlf(buf);
  if (start >= buf.length) return fail('empty', undefined);
  const ends = findHeadEnd(buf, start);
  const headEnd = ends ? ends.headEnd : buf.length;
  const bodyStart = ends ? ends.bodyStart : buf.length;
  const headText = Buffer.from(buf.buffer, buf.byteOffset + start, headEnd - start).toString(
    'latin1',
  );
  const rawLines = headText.split(/\r?\n/);
  if (rawLines.length > 0 && rawLines[rawLines.length - 1] === '') rawLines.pop();
  const startLine = (rawLines[0] ?? '').replace(/\r$/, '');

  // --- Start line
  let kind: 'request' | 'response';
  let method = '';
  let uriText = '';
  let status = 0;
  let reason = '';
  let versionOk = true;
  let lineError: string | undefined;
  if (startLine.startsWith('SIP/') || /^SIP\//i.test(startLine)) {
    kind = 'response';
    const m =
      /^(SIP\/\d+\.\d+) (\d{3}) ([^\r\n]*)$/i.exec(startLine) ??
      /^(SIP\/\d+\.\d+) (\d{3})$/i.exec(startLine);
    if (!m) return fail('bad status line', undefined);
    if (m[1]!.toUpperCase() !== 'SIP/2.0')
      return fail('unsupported SIP version in response', undefined);
    status = Number(m[2]);
    if (status < 100 || status > 699) return fail('status code out of range', undefined);
    reason = m[3] ?? '';
  } else {
    kind = 'request';
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF: single spaces, no
    // trailing whitespace (RFC 4475 lwsstart, lwsruri, trws).
    // A bad request line still gets a 400 when the headers let us answer.
    const parts = startLine.split(' ');
    method = parts[0] ?? '';
    if (!isToken(method)) return fail('bad method', undefined);
    if (parts.length !== 3) {
      lineError = 'bad request line (spaces)';
    } else {
      uriText = parts[1]!;
      const vm = VERSION_RE.exec(parts[2]!);
      if (!vm) lineError = 'bad SIP version';
      else versionOk = vm[1] === '2' && vm[2] === '0';
    }
  }

  // --- Header lines (unfold §7.3.1: "a header field value [can be folded] onto multiple
  // lines if the continuation line begins with a space or horizontal tab").
  const headers: Header[] = [];
  let bad: string | undefined;
  for (let i = 1; i < rawLines.length; i++) {
    const line = rawLines[i]!.replace(/\r$/, '');
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const prev = headers.pop();
      if (!prev) {
        bad ??= 'continuation line before any header';
        continue;
      }
      headers.push({ name: prev.name, value: (prev.value + ' ' + line.trim()).trim() });
      continue;
    }
    if (headers.length >= MAX_HEADER_LINES) return fail('too many headers', undefined);
    const colon = line.indexOf(':');
    if (colon <= 0) {
      bad ??= 'header line without a name and colon';
      continue;
    }
    const rawName = line.slice(0, colon).replace(/[ \t]+$/, '');
    if (!isToken(rawName)) {
      bad ??= 'bad header name';
      continue;
    }
    const value = line.slice(colon + 1).trim();
    headers.push({ name: headerName(rawName), value });
  }

  // Via first: a request whose Via parses can be answered even when the rest is bad.
  const viaValues = headers.filter((h) => h.name === 'via');
  const via: Via[] = [];
  let viaBad = viaValues.length === 0;
  for (const h of viaValues) {
    const list = parseViaList(h.value);
    if (!list) {
      viaBad = true;
      break;
    }
    via.push(...list);
  }
  const head: RequestHead | undefined =
    kind === 'request' && !viaBad ? { method, headers, via } : undefined;
  const reject = (why: string): DecodeResult =>
    fail(why, kind === 'request' ? 400 : undefined, head);

  if (!ends) return reject('no empty line after the headers');
  if (lineError) return reject(lineError);
  if (kind === 'request' && !versionOk) {
    // §21.5.6 505 Version Not Supported (RFC 4475 badvers).
    return fail('SIP version not supported', 505, head);
  }
  if (viaBad) return fail(viaValues.length === 0 ? 'missing Via' : 'bad Via', undefined);
  if (bad) return reject(bad);

  const seen = new Set<string>();
  for (const h of headers) {
    if (SINGLE.has(h.name)) {
      if (seen.has(h.name)) return reject(`more than one ${displayName(h.name)}`);
      seen.add(h.name);
    }
  }

  // --- Mandatory headers, §8.1.1: To, From, CSeq, Call-ID, Max-Forwards, Via.
  const fromText = getHeader({ headers }, 'from');
  const toText = getHeader({ headers }, 'to');
  const callId = getHeader({ headers }, 'call-id');
  const cseqText = getHeader({ headers }, 'cseq');
  if (
    fromText === undefined ||
    toText === undefined ||
    callId === undefined ||
    cseqText === undefined
  ) {
    return reject('missing a mandatory header (From, To, Call-ID, CSeq)'); // RFC 4475 insuf
  }
  const from = parseNameAddr(fromText);
  if (!from) return reject('bad From');
  const to = parseNameAddr(toText);
  if (!to) return reject('bad To');
  // callid = word [ "@" word ]: no whitespace, not empty.
  if (callId === '' || /[\s]/.test(callId)) return reject('bad Call-ID');
  const cm = /^(\d+)[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(cseqText);
  if (!cm) return reject('bad CSeq');
  // §8.1.1.5 "The sequence number MUST be expressible as a 32-bit unsigned integer and
  // MUST be less than 2**31" (RFC 4475 scalar02, scalarlg).
  if (cm[1]!.length > 10 || Number(cm[1]) >= 2 ** 31) return reject('CSeq number too large');
  const cseq: CSeq = { seq: Number(cm[1]), method: cm[2]! };

  let maxForwards: number | undefined;
  const mf = getHeader({ headers }, 'max-forwards');
  if (mf !== undefined) {
    // Max-Forwards = 1*DIGIT, "an integer in the range 0-255" (§20.22; RFC 4475 scalar02).
    if (!/^\d{1,10}$/.test(mf) || Number(mf) > 255) return reject('bad Max-Forwards');
    maxForwards = Number(mf);
  }
  const exp = getHeader({ headers }, 'expires');
  if (exp !== undefined && !/^\d+$/.test(exp)) return reject('bad Expires');
  const date = getHeader({ headers }, 'date');
  // SIP-date = rfc1123-date, always GMT (§20.17; RFC 4475 baddate).
  if (date !== undefined && !DATE_RE.test(date)) return reject('bad Date');

  // Contact values must parse (§20.10; RFC 4475 regbadct), "*" alone excepted.
  for (const h of headers) {
    if (h.name !== 'contact') continue;
    for (const el of splitList(h.value)) {
      if (el === '*') continue;
      if (!parseNameAddr(el)) return reject('bad Contact');
    }
  }

  // --- Body and Content-Length (§18.3, §20.14)
  let body: Uint8Array = buf.subarray(bodyStart);
  const cl = getHeader({ headers }, 'content-length');
  if (cl !== undefined) {
    if (!/^\d{1,10}$/.test(cl)) return reject('bad Content-Length'); // RFC 4475 ncl
    const n = Number(cl);
    if (n > body.length) return reject('Content-Length larger than the body'); // RFC 4475 clerr
    body = body.subarray(0, n);
  }

  if (kind === 'response') {
    return {
      ok: true,
      message: { type: 'response', status, reason, headers, body, via, from, to, callId, cseq },
    };
  }
  const requestUri = parseUri(uriText);
  if (!requestUri) return reject('bad Request-URI'); // RFC 4475 ltgtruri
  // §19.1.1 table: headers are not allowed in a Request-URI (RFC 4475 escruri).
  if (requestUri.kind === 'sip' && requestUri.uri.headers !== undefined)
    return reject('headers in the Request-URI');
  // §8.1.1.5 "The method MUST match that of the request" (RFC 4475 mismatch01/02).
  if (cseq.method !== method) return reject('CSeq method does not match the request method');
  return {
    ok: true,
    message: {
      type: 'request',
      method,
      uri: uriText,
      requestUri,
      maxForwards,
      headers,
      body,
      via,
      from,
      to,
      callId,
      cseq,
    },
  };
}

/** Header lines to write: [name as written on the wire, value]. */
export type HeaderLines = readonly (readonly [string, string])[];

/** Serialize a start line, header lines and body; Content-Length is added. */
export function encode(
  startLine: string,
  headers: HeaderLines,
  body: Uint8Array = new Uint8Array(0),
): Buffer {
  let head = startLine + '\r\n';
  for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
  head += `Content-Length: ${body.length}\r\n\r\n`;
  const h = Buffer.from(head, 'latin1');
  return body.length === 0 ? h : Buffer.concat([h, body]);
}

/** Re-encode a decoded message (round-trip tests, relaying later). Vias are written one per line. */
export function encodeMessage(msg: SipMessage, formatViaFn: (v: Via) => string): Buffer {
  const start =
    msg.type === 'request'
      ? `${msg.method} ${msg.uri} SIP/2.0`
      : `SIP/2.0 ${msg.status} ${msg.reason}`;
  const lines: [string, string][] = [];
  let viaDone = false;
  for (const h of msg.headers) {
    if (h.name === 'content-length') continue;
    if (h.name === 'via') {
      if (!viaDone) for (const v of msg.via) lines.push(['Via', formatViaFn(v)]);
      viaDone = true;
      continue;
    }
    lines.push([displayName(h.name), h.value]);
  }
  return encode(start, lines, msg.body);
}

/** A fresh request-with-no-head type guard for callers. */
export function isRequest(m: SipMessage): m is SipRequest {
  return m.type === 'request';
}

export type { Uri };
