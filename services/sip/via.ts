/**
 * The Via header (RFC 3261 §20.42, §18.2.1, §18.2.2) with RFC 3581 rport.
 *
 * `SIP / 2.0 / UDP sent-by *(;via-params)`, comma lists and several Via lines, LWS around
 * "/" (RFC 4475 wsinv). The server side stamps `received` and `rport` (§18.2.1, RFC 3581
 * §4) and picks where a response goes (§18.2.2, RFC 3581 §4).
 *
 * Leaves out: maddr and multicast responses (§18.2.2 "maddr"), ttl, SCTP/TLS sending.
 */
import { parseParams, paramValue, splitList, type Params } from './name-addr.js';

export const MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  readonly protocol: string; // "SIP/2.0"
  readonly transport: string; // upper case: UDP, TCP, TLS, SCTP, …
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
  /** Branch value, undefined when absent (RFC 2543 peers). */
  readonly branch: string | undefined;
}

const VIA_RE =
  /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+([^;]+?)[ \t]*((?:;.*)?)$/s;
const HOST_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/;

/** Parse one Via header value (possibly a comma list); undefined when any element is bad. */
export function parseViaList(value: string): Via[] | undefined {
  const out: Via[] = [];
  for (const el of splitList(value)) {
    const v = parseVia(el);
    if (!v) return undefined;
    out.push(v);
  }
  return out;
}

export function parseVia(el: string): Via | undefined {
  const m = VIA_RE.exec(el);
  if (!m) return undefined;
  const sentBy = m[4]!.replace(/[ \t]+/g, '');
  const h = HOST_RE.exec(sentBy);
  if (!h) return undefined;
  const port = h[2] !== undefined ? Number(h[2]) : undefined;
  if (port !== undefined && port > 65535) return undefined;
  const params = parseParams(m[5]!);
  if (!params) return undefined;
  const branch = paramValue(params, 'branch');
  if (branch === undefined) return undefined; // "branch" without a value
  return {
    protocol: `${m[1]!.toUpperCase()}/${m[2]!}`,
    transport: m[3]!.toUpperCase(),
    host: h[1]!,
    port,
    params,
    branch: branch ?? undefined,
  };
}

export function formatVia(v: Via): string {
  let s = `${v.protocol}/${v.transport} ${v.host}${v.port !== undefined ? ':' + v.port : ''}`;
  for (const [k, val] of v.params) s += ';' + k + (val !== undefined ? '=' + val : '');
  return s;
}

/**
 * §18.2.1: "When the server transport receives a request over any transport, it MUST
 * examine the value of the "sent-by" parameter in the top Via header field value. If the
 * host portion of the "sent-by" parameter contains a domain name, or if it contains an IP
 * address that differs from the packet source address, the server MUST add a "received"
 * parameter to that Via header field value."
 * RFC 3581 §4: with an empty rport, "the server MUST insert a "received" parameter
 * containing the source IP address that the request came from, even if it is identical
 * to the value of the "sent-by" component" and set rport to the source port.
 */
export function stampVia(v: Via, srcAddress: string, srcPort: number): Via {
  const rport = paramValue(v.params, 'rport');
  const wantsRport = rport === undefined; // present without a value
  if (!wantsRport && v.host === srcAddress) return v;
  const params: [string, string | undefined][] = [];
  for (const [k, val] of v.params) {
    const l = k.toLowerCase();
    if (l === 'received') continue;
    if (l === 'rport' && wantsRport) {
      params.push([k, String(srcPort)]);
      continue;
    }
    params.push([k, val]);
  }
  params.push(['received', srcAddress.includes(':') ? `[${srcAddress}]` : srcAddress]);
  return { ...v, params };
}

/**
 * Where a response to a request with this (stamped) top Via goes over an unreliable
 * transport. §18.2.2: "Otherwise, if it is not receiver-tagged, the response MUST be sent
 * to the address indicated by the "sent-by" value"; with received, to that address and the
 * sent-by port (default 5060). RFC 3581 §4: "the response MUST be sent to the IP address
 * listed in the "received" parameter, and the port in the "rport" parameter."
 */
export function responseTarget(v: Via): { address: string; port: number } {
  const received = paramValue(v.params, 'received');
  const rport = paramValue(v.params, 'rport');
  const address =
    typeof received === 'string'
      ? received.replace(/^\[|\]$/g, '')
      : v.host.replace(/^\[|\]$/g, '');
  const rp = typeof rport === 'string' && /^\d+$/.test(rport) ? Number(rport) : undefined;
  return { address, port: rp ?? v.port ?? 5060 };
}
