/**
 * SDP (RFC 4566) as the media relay needs it: parse an offer or answer (RFC 3264), read
 * where each stream wants to receive, and rewrite it so that the peer sends RTP and RTCP
 * to the relay instead.
 *
 * Byte-exact: the body is kept as a list of lines with their own line ends (read as latin1,
 * so every byte survives). A rewrite replaces only the fields it must: the address of c=
 * lines (session and media level), the port of m= lines, the port (and address) of
 * a=rtcp (RFC 3605), optionally the o= address; every other line — rtpmap/fmtp of PCMU,
 * PCMA, telephone-event or anything else, ptime, direction attributes — passes through
 * unchanged, so the relay is codec-transparent.
 *
 * ICE attributes (RFC 8839 candidate, ice-ufrag, ice-pwd, …) are removed by default: the
 * relay does not answer connectivity checks, and candidates would let the phones try to
 * reach each other around it (rtpengine's `ICE=remove` does the same).
 *
 * Hold: a c= with the unspecified address (0.0.0.0, the RFC 2543 hold that RFC 3264 §8.4
 * still asks answerers to understand) is kept as is, so the other side sees the hold too;
 * direction attributes pass through. A rejected stream (m= port 0, RFC 3264 §6) keeps
 * port 0 and gets no relay ports.
 *
 * Nothing here throws on peer input: `parseSdp` returns `{ ok: false, error }` with an
 * `ERR_SDP_*` code and the 1-based line. Leaves out: multicast (TTL suffixes are kept but
 * not interpreted), multiple addresses (`/n`), bandwidth and timing semantics.
 */
import { Buffer } from 'node:buffer';

/** Largest body accepted: a SIP message over UDP cannot be larger (message.ts). */
export const MAX_SDP_BYTES = 65535;

export type SdpErrorCode =
  | 'ERR_SDP_TOO_LONG'
  | 'ERR_SDP_EMPTY'
  | 'ERR_SDP_VERSION'
  | 'ERR_SDP_SYNTAX'
  | 'ERR_SDP_CONNECTION'
  | 'ERR_SDP_MEDIA'
  | 'ERR_SDP_NO_CONNECTION'
  | 'ERR_SDP_RTCP';

export interface SdpError {
  readonly code: SdpErrorCode;
  readonly message: string;
  /** 1-based line number, when one line is at fault. */
  readonly line?: number;
}

export interface SdpLine {
  /** One character ("v", "o", "c", "m", "a", …); "" for an empty line, "?" for a line
   * that is not <type>=<value> (its text is in value; parseSdp refuses it). */
  readonly type: string;
  readonly value: string;
  /** The line end as received: "\r\n", "\n", "\r" or "" (last line without one). */
  readonly eol: string;
}

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpConnection {
  readonly addrType: 'IP4' | 'IP6';
  /** Address without any /ttl suffix. */
  readonly address: string;
  /** 0.0.0.0 or :: — the RFC 2543 way of saying "do not send to me". */
  readonly unspecified: boolean;
  readonly line: number;
}

export interface SdpRtpMap {
  readonly payloadType: number;
  readonly encoding: string;
  readonly clockRate: number;
  readonly channels: number | undefined;
}

export interface SdpMedia {
  readonly media: string;
  readonly port: number;
  readonly portCount: number;
  readonly proto: string;
  readonly formats: readonly string[];
  /** Numeric formats, when proto is an RTP profile. */
  readonly payloadTypes: readonly number[];
  readonly rtpmap: readonly SdpRtpMap[];
  /** Media-level c=. */
  readonly connection: SdpConnection | undefined;
  /** a=rtcp (RFC 3605). */
  readonly rtcp:
    | { readonly port: number; readonly address: string | undefined; readonly line: number }
    | undefined;
  /** a=rtcp-mux (RFC 5761). */
  readonly rtcpMux: boolean;
  /** Media-level direction attribute, else the session's, else sendrecv (RFC 3264 §5.1). */
  readonly direction: SdpDirection;
  /** Index of the m= line and one past the last line of this section, in `lines`. */
  readonly start: number;
  readonly end: number;
}

export interface SessionDescription {
  readonly lines: readonly SdpLine[];
  readonly connection: SdpConnection | undefined;
  readonly direction: SdpDirection | undefined;
  /** Index of the o= line, if any. */
  readonly originLine: number | undefined;
  readonly media: readonly SdpMedia[];
}

export type SdpParseResult =
  | { readonly ok: true; readonly sdp: SessionDescription }
  | { readonly ok: false; readonly error: SdpError };

/** RFC 3551 table 4: static audio payload types and their RTP clock rates. */
export const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, { encoding: string; clockRate: number }> =
  new Map([
    [0, { encoding: 'PCMU', clockRate: 8000 }],
    [3, { encoding: 'GSM', clockRate: 8000 }],
    [4, { encoding: 'G723', clockRate: 8000 }],
    [8, { encoding: 'PCMA', clockRate: 8000 }],
    [9, { encoding: 'G722', clockRate: 8000 }],
    [18, { encoding: 'G729', clockRate: 8000 }],
  ]);

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const ICE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'candidate',
  'ice-ufrag',
  'ice-pwd',
  'ice-options',
  'ice-lite',
  'ice-mismatch',
  'ice-pacing',
  'remote-candidates',
  'end-of-candidates',
]);

const IP4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IP6_RE = /^[0-9A-Fa-f:.]{2,45}$/;
const PORT_RE = /^\d{1,5}$/;
const TOKEN_RE = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

const err = (
  code: SdpErrorCode,
  message: string,
  line?: number,
): { ok: false; error: SdpError } => ({
  ok: false,
  error: line === undefined ? { code, message } : { code, message, line },
});

function splitLines(text: string): SdpLine[] {
  const lines: SdpLine[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let j = i;
    while (j < n && text.charCodeAt(j) !== 10 && text.charCodeAt(j) !== 13) j++;
    let eol = '';
    if (j < n) eol = text[j] === '\r' && text[j + 1] === '\n' ? '\r\n' : text[j]!;
    const raw = text.slice(i, j);
    const eq = raw.indexOf('=');
    lines.push(
      raw === ''
        ? { type: '', value: '', eol }
        : eq === 1
          ? { type: raw[0]!, value: raw.slice(2), eol }
          : { type: '?', value: raw, eol },
    );
    i = j + eol.length;
  }
  return lines;
}

function parseConnection(value: string, line: number): SdpConnection | SdpError {
  // RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address>
  const parts = value.split(' ');
  if (parts.length !== 3 || parts[0] !== 'IN' || (parts[1] !== 'IP4' && parts[1] !== 'IP6')) {
    return { code: 'ERR_SDP_CONNECTION', message: `bad c= "${value}"`, line };
  }
  const addrType = parts[1];
  const address = parts[2]!.split('/')[0]!;
  const ok =
    addrType === 'IP4' ? IP4_RE.test(address) : IP6_RE.test(address) && address.includes(':');
  if (!ok)
    return { code: 'ERR_SDP_CONNECTION', message: `bad ${addrType} address "${address}"`, line };
  const unspecified = addrType === 'IP4' ? address === '0.0.0.0' : /^[0:]+$/.test(address);
  return { addrType, address, unspecified, line };
}

const isError = (x: object): x is SdpError => 'code' in x;

/** Parse an SDP body. Accepts CRLF (RFC 4566 §5) and, leniently, bare LF line ends. */
export function parseSdp(body: Uint8Array | string): SdpParseResult {
  if (body.length > MAX_SDP_BYTES) return err('ERR_SDP_TOO_LONG', `SDP of ${body.length} bytes`);
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1');
  const lines = splitLines(text);
  const first = lines.findIndex((l) => l.type !== '');
  if (first === -1) return err('ERR_SDP_EMPTY', 'empty SDP');
  // §5.1: "v=0"; §5: "An SDP session description consists of ... v= (protocol version)" first.
  if (lines[first]!.type !== 'v' || lines[first]!.value !== '0') {
    return err('ERR_SDP_VERSION', 'SDP must start with v=0', first + 1);
  }

  let connection: SdpConnection | undefined;
  let direction: SdpDirection | undefined;
  let originLine: number | undefined;
  const media: SdpMedia[] = [];
  // The media section being read.
  let cur:
    | {
        media: string;
        port: number;
        portCount: number;
        proto: string;
        formats: string[];
        rtpmap: SdpRtpMap[];
        connection: SdpConnection | undefined;
        rtcp: SdpMedia['rtcp'];
        rtcpMux: boolean;
        direction: SdpDirection | undefined;
        start: number;
      }
    | undefined;
  const close = (end: number): void => {
    if (!cur) return;
    const rtp = cur.proto.includes('RTP/');
    media.push({
      media: cur.media,
      port: cur.port,
      portCount: cur.portCount,
      proto: cur.proto,
      formats: cur.formats,
      payloadTypes: rtp
        ? cur.formats.filter((f) => /^\d{1,3}$/.test(f) && Number(f) < 128).map(Number)
        : [],
      rtpmap: cur.rtpmap,
      connection: cur.connection,
      rtcp: cur.rtcp,
      rtcpMux: cur.rtcpMux,
      direction: cur.direction ?? direction ?? 'sendrecv',
      start: cur.start,
      end,
    });
    cur = undefined;
  };

  for (let i = first; i < lines.length; i++) {
    const l = lines[i]!;
    const lineNo = i + 1;
    if (l.type === '') continue;
    if (!/^[a-z]$/.test(l.type)) {
      return err('ERR_SDP_SYNTAX', `line is not <type>=<value>`, lineNo);
    }
    switch (l.type) {
      case 'o':
        if (originLine === undefined && !cur) originLine = i;
        break;
      case 'c': {
        const c = parseConnection(l.value, lineNo);
        if (isError(c)) return { ok: false, error: c };
        if (cur) cur.connection = c;
        else connection = c;
        break;
      }
      case 'm': {
        close(i);
        // §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
        const parts = l.value.split(' ');
        const [mediaType, portField, proto] = parts;
        const [portText, countText] = (portField ?? '').split('/');
        if (
          parts.length < 4 ||
          !TOKEN_RE.test(mediaType ?? '') ||
          !PORT_RE.test(portText ?? '') ||
          Number(portText) > 65535 ||
          (countText !== undefined && (!/^\d{1,5}$/.test(countText) || Number(countText) < 1)) ||
          !/^[A-Za-z0-9/._-]+$/.test(proto ?? '') ||
          parts.slice(3).some((f) => f === '')
        ) {
          return err('ERR_SDP_MEDIA', `bad m= "${l.value}"`, lineNo);
        }
        cur = {
          media: mediaType!,
          port: Number(portText),
          portCount: countText === undefined ? 1 : Number(countText),
          proto: proto!,
          formats: parts.slice(3),
          rtpmap: [],
          connection: undefined,
          rtcp: undefined,
          rtcpMux: false,
          direction: undefined,
          start: i,
        };
        break;
      }
      case 'a': {
        const colon = l.value.indexOf(':');
        const name = colon === -1 ? l.value : l.value.slice(0, colon);
        const arg = colon === -1 ? '' : l.value.slice(colon + 1);
        if (DIRECTIONS.has(name)) {
          if (cur) cur.direction = name as SdpDirection;
          else direction = name as SdpDirection;
        } else if (cur && name === 'rtcp-mux') {
          cur.rtcpMux = true;
        } else if (cur && name === 'rtcp') {
          // RFC 3605 §2.1: "rtcp-attribute = "a=rtcp:" port [nettype space addrtype space
          // connection-address] CRLF"
          const p = arg.split(' ');
          if (
            !PORT_RE.test(p[0] ?? '') ||
            Number(p[0]) > 65535 ||
            (p.length !== 1 && p.length !== 4)
          ) {
            return err('ERR_SDP_RTCP', `bad a=rtcp "${arg}"`, lineNo);
          }
          let address: string | undefined;
          if (p.length === 4) {
            const c = parseConnection(p.slice(1).join(' '), lineNo);
            if (isError(c)) return err('ERR_SDP_RTCP', `bad a=rtcp address "${arg}"`, lineNo);
            address = c.address;
          }
          cur.rtcp = { port: Number(p[0]), address, line: i };
        } else if (cur && name === 'rtpmap') {
          // RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<params>]
          const m = /^(\d{1,3}) ([^/ ]+)\/(\d{1,9})(?:\/(\d{1,3}))?$/.exec(arg);
          if (m && Number(m[1]) < 128) {
            cur.rtpmap.push({
              payloadType: Number(m[1]),
              encoding: m[2]!,
              clockRate: Number(m[3]),
              channels: m[4] === undefined ? undefined : Number(m[4]),
            });
          }
          // A malformed rtpmap is passed through: it is the other phone's business.
        }
        break;
      }
      default:
        break;
    }
  }
  close(lines.length);

  // §5.7: "A session description MUST contain either at least one "c=" field in each media
  // description or a single "c=" field at the session level."
  for (const m of media) {
    if (m.port !== 0 && !m.connection && !connection) {
      return err(
        'ERR_SDP_NO_CONNECTION',
        `m=${m.media} has no c= and the session none`,
        m.start + 1,
      );
    }
  }
  return { ok: true, sdp: { lines, connection, direction, originLine, media } };
}

export function encodeSdp(lines: readonly SdpLine[]): Uint8Array {
  return new Uint8Array(Buffer.from(sdpText(lines), 'latin1'));
}

export function sdpText(lines: readonly SdpLine[]): string {
  let s = '';
  for (const l of lines)
    s += (l.type === '?' ? l.value : l.type === '' ? '' : `${l.type}=${l.value}`) + l.eol;
  return s;
}

// ---------------------------------------------------------------------------------------
// What the relay reads

export interface MediaEndpoint {
  /** Index of the m= section. */
  readonly index: number;
  readonly media: string;
  /** Port 0: the stream is rejected or disabled (RFC 3264 §6, §8.2). */
  readonly rejected: boolean;
  /** Where the party wants RTP; undefined when it signalled the unspecified address (hold). */
  readonly address: string | undefined;
  readonly rtpPort: number;
  /** a=rtcp when present (RFC 3605), else RTP port + 1 (RFC 3550 §11); RTP port with rtcp-mux. */
  readonly rtcpAddress: string | undefined;
  readonly rtcpPort: number;
  readonly rtcpMux: boolean;
  readonly direction: SdpDirection;
  readonly payloadTypes: readonly number[];
  /** Payload type → RTP clock rate (rtpmap, else RFC 3551 static). */
  readonly clockRates: ReadonlyMap<number, number>;
  /** Payload types of telephone-event (RFC 4733). */
  readonly telephoneEvents: ReadonlySet<number>;
}

/** The receive endpoint of every m= section. */
export function mediaEndpoints(sdp: SessionDescription): MediaEndpoint[] {
  return sdp.media.map((m, index) => {
    const c = m.connection ?? sdp.connection;
    const address = c && !c.unspecified ? c.address : undefined;
    const clockRates = new Map<number, number>();
    const telephoneEvents = new Set<number>();
    for (const pt of m.payloadTypes) {
      const st = STATIC_PAYLOAD_TYPES.get(pt);
      if (st) clockRates.set(pt, st.clockRate);
    }
    for (const r of m.rtpmap) {
      clockRates.set(r.payloadType, r.clockRate);
      if (r.encoding.toLowerCase() === 'telephone-event') telephoneEvents.add(r.payloadType);
    }
    const rtcpPort = m.rtcpMux ? m.port : (m.rtcp?.port ?? m.port + 1);
    return {
      index,
      media: m.media,
      rejected: m.port === 0,
      address,
      rtpPort: m.port,
      rtcpAddress: m.rtcp?.address !== undefined && !m.rtcpMux ? m.rtcp.address : address,
      rtcpPort,
      rtcpMux: m.rtcpMux,
      direction: m.direction,
      payloadTypes: m.payloadTypes,
      clockRates,
      telephoneEvents,
    };
  });
}

// ---------------------------------------------------------------------------------------
// Rewriting

export interface SdpRewrite {
  /** The relay's advertised address (IPv4 or IPv6). */
  readonly address: string;
  /**
   * Relay ports per m= section, by index. A section with port 0 stays rejected; a section
   * without ports here (undefined) is disabled with port 0 (the relay will not carry it).
   */
  readonly ports: readonly ({ readonly rtp: number; readonly rtcp: number } | undefined)[];
  /** Also put the relay address in o= (topology hiding; rtpengine's replace-origin). */
  readonly replaceOrigin?: boolean;
  /** Remove ICE attributes (default true). */
  readonly stripIce?: boolean;
}

const addrTypeOf = (address: string): 'IP4' | 'IP6' => (address.includes(':') ? 'IP6' : 'IP4');

/** Rewrite a parsed SDP so that the peer sends its media to the relay. */
export function rewriteSdp(sdp: SessionDescription, rw: SdpRewrite): SdpLine[] {
  const at = addrTypeOf(rw.address);
  const out: SdpLine[] = [];
  const stripIce = rw.stripIce ?? true;
  const sectionOf = new Map<number, number>(); // line index → media index
  sdp.media.forEach((m, k) => {
    for (let i = m.start; i < m.end; i++) sectionOf.set(i, k);
  });
  sdp.lines.forEach((l, i) => {
    const k = sectionOf.get(i);
    const m = k === undefined ? undefined : sdp.media[k];
    const ports = k === undefined ? undefined : rw.ports[k];
    if (l.type === 'c') {
      const c = parseConnection(l.value, i + 1);
      // RFC 2543 hold (0.0.0.0) passes through so the far end sees it too.
      if (!isError(c) && c.unspecified) out.push(l);
      else out.push({ type: 'c', value: `IN ${at} ${rw.address}`, eol: l.eol });
      return;
    }
    if (l.type === 'm' && m) {
      if (m.port === 0) {
        out.push(l);
        return;
      }
      const sp = l.value.indexOf(' ');
      const rest = l.value.slice(sp + 1);
      const port = ports ? ports.rtp : 0;
      // Only the port changes. A "/<number of ports>" suffix (§5.14, layered encodings) is
      // dropped: the relay carries one RTP/RTCP pair per stream.
      const tail = rest.slice(rest.indexOf(' '));
      out.push({ type: 'm', value: `${l.value.slice(0, sp)} ${port}${tail}`, eol: l.eol });
      return;
    }
    if (l.type === 'a') {
      const name = l.value.split(':', 1)[0]!;
      if (stripIce && ICE_ATTRIBUTES.has(name)) return;
      if (name === 'rtcp' && m && m.rtcp?.line === i && ports) {
        const hasAddr = l.value.split(' ').length === 4;
        out.push({
          type: 'a',
          value: hasAddr ? `rtcp:${ports.rtcp} IN ${at} ${rw.address}` : `rtcp:${ports.rtcp}`,
          eol: l.eol,
        });
        return;
      }
    }
    if (l.type === 'o' && rw.replaceOrigin && i === sdp.originLine) {
      // §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
      const p = l.value.split(' ');
      if (p.length === 6) {
        out.push({
          type: 'o',
          value: `${p.slice(0, 4).join(' ')} ${at} ${rw.address}`,
          eol: l.eol,
        });
        return;
      }
    }
    out.push(l);
  });
  return out;
}

export type SdpRewriteResult =
  | { readonly ok: true; readonly sdp: SessionDescription; readonly body: Uint8Array }
  | { readonly ok: false; readonly error: SdpError };

/** parseSdp + rewriteSdp + encodeSdp: what the B2BUA calls on a body it relays. */
export function rewriteSdpBody(body: Uint8Array | string, rw: SdpRewrite): SdpRewriteResult {
  const parsed = parseSdp(body);
  if (!parsed.ok) return parsed;
  return { ok: true, sdp: parsed.sdp, body: encodeSdp(rewriteSdp(parsed.sdp, rw)) };
}
