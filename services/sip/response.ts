/**
 * Building responses (RFC 3261 §8.2.6) and the stateless error answer for requests that
 * failed to parse.
 *
 * §8.2.6.2: "The From field of the response MUST equal the From header field of the
 * request. The Call-ID header field of the response MUST equal the Call-ID header field of
 * the request. The CSeq header field of the response MUST equal the CSeq field of the
 * request. The Via header field values in the response MUST equal the Via header field
 * values in the request and MUST maintain the same ordering." and "If a request contained
 * a To tag in the request, the To header field in the response MUST equal that of the
 * request. However, if the To header field in the request did not contain a tag, the UAS
 * MUST add a tag for the To header field in the response" (100 Trying excepted).
 *
 * Leaves out: Record-Route copying (§12.1.1, for dialog-creating responses in the calls
 * stage), Timestamp (§8.2.6.1).
 */
import { Buffer } from 'node:buffer';
import { encode, getHeader, type Header, type SipRequest, type RequestHead } from './message.js';
import { paramValue } from './name-addr.js';
import { formatVia, type Via } from './via.js';

export const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'Version Not Supported',
  600: 'Busy Everywhere',
  603: 'Decline',
};

export interface ResponseSpec {
  readonly status: number;
  readonly reason?: string;
  /** Extra header lines, in order, after the copied ones. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
}

/** Whether a To value already carries a tag parameter. */
function toHasTag(toValue: string, parsedTag: string | undefined | null): boolean {
  if (parsedTag !== null) return true;
  return /;\s*tag\s*=/i.test(toValue);
}

/**
 * The response to `req` (a decoded request, or the head of one that failed to parse).
 * `vias` are the request's Vias with the top one stamped (received/rport).
 */
export function buildResponse(
  req: Pick<SipRequest, 'headers'> & { to?: SipRequest['to'] },
  vias: readonly Via[],
  spec: ResponseSpec,
  toTag: string,
): Buffer {
  const reason = spec.reason ?? REASONS[spec.status] ?? 'Unknown';
  const lines: [string, string][] = [];
  for (const v of vias) lines.push(['Via', formatVia(v)]);
  const from = getHeader(req, 'from');
  if (from !== undefined) lines.push(['From', from]);
  const to = getHeader(req, 'to');
  if (to !== undefined) {
    const tagged = toHasTag(to, req.to ? paramValue(req.to.params, 'tag') : null);
    lines.push(['To', tagged || spec.status === 100 ? to : `${to};tag=${toTag}`]);
  }
  const callId = getHeader(req, 'call-id');
  if (callId !== undefined) lines.push(['Call-ID', callId]);
  const cseq = getHeader(req, 'cseq');
  if (cseq !== undefined) lines.push(['CSeq', cseq]);
  for (const h of spec.headers ?? []) lines.push([h[0], h[1]]);
  return encode(`SIP/2.0 ${spec.status} ${reason}`, lines, spec.body);
}

/** The stateless 400/505 for a request that failed to decode (§8.2.2, §21.5.6). */
export function buildErrorResponse(
  head: RequestHead,
  stampedVias: readonly Via[],
  status: 400 | 505,
  reason: string,
  toTag: string,
): Buffer {
  // The reason phrase says what was wrong, as Kamailio's sl_reply_error does; keep it to
  // printable ASCII.
  const phrase = `${status === 400 ? 'Bad Request' : 'Version Not Supported'} (${reason.replace(/[^\x20-\x7e]/g, '?')})`;
  return buildResponse(
    { headers: head.headers as Header[] },
    stampedVias,
    { status, reason: phrase },
    toTag,
  );
}
