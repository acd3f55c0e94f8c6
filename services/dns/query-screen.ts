/**
 * A cheap screen of a query's raw bytes before the answer cache and the decoder see it: no
 * allocation, one pass over the header (RFC 1035 §4.1.1) and, when that passes, a walk over
 * the sections with the decoder's own structural rules (names per RFC 1035 §4.1.4, record
 * headers and RDLENGTH, the OPT rules of RFC 6891 §6.1.1, no trailing bytes).
 *
 * Why: a malformed query used to pay for an answer-cache key, a decode that allocates names
 * and records, and a thrown FormatError (a stack trace), many times the cost of a valid
 * query answered from the cache. The screen gives each case the outcome the handler gives
 * it, so replies do not change (BIND's, which the differential test pins):
 *   - shorter than a header, or QR set (a response): dropped, no reply;
 *   - QDCOUNT other than 1 with ARCOUNT 0: FORMERR, a bare header (with no additional
 *     record there can be no OPT to echo, so the handler's reply is the bare header too);
 *   - a structural fault anywhere: FORMERR, a bare header (what the handler answers when
 *     decodeMessage throws).
 * Everything else is passed on. The screen may pass a message the decoder then rejects (an
 * OPT owner given by a compression pointer, left to the decoder), never the other way round:
 * query-screen.test.ts checks both directions against decodeMessage on random and mutated
 * input. Opcodes are not screened: unknown ones get NOTIMP from the handler, as BIND does.
 */
import { HEADER_SIZE, FLAG } from './message.js';
import { skipName } from './name.js';
import { DECOMPRESS_ON_READ, TYPE } from './rr.js';
import { TYPE_TSIG } from './tsig.js';

export type Screen = 'pass' | 'short' | 'response' | 'formerr';

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/**
 * What to do with `msg` before decoding it. `seen.signed` is set when the walk met a TSIG
 * record anywhere (tsig-request.ts then checks it is last, RFC 8945 §5.1), so a signed
 * request is found without a second walk over the message.
 */
export function screenQuery(msg: Uint8Array, seen?: { signed: boolean }): Screen {
  if (seen) seen.signed = false;
  // RFC 1035 §4.1.1: shorter than a header, or a response: nothing to answer.
  if (msg.length < HEADER_SIZE) return 'short';
  if (u16(msg, 2) & FLAG.QR) return 'response';
  const qdcount = u16(msg, 4);
  // RFC 9619: a query carries exactly one question. Without an additional section there is
  // no OPT, so the FORMERR is a bare header whether or not the rest parses.
  if (qdcount !== 1 && u16(msg, 10) === 0) return 'formerr';
  const tsig = wellFormed(msg, qdcount);
  if (tsig < 0) return 'formerr';
  if (seen) seen.signed = tsig === 1;
  return 'pass';
}

/** RDATA of a type with names inside fits its layout exactly (message.ts readRdata). */
function rdataFits(msg: Uint8Array, type: number, start: number, len: number): boolean {
  const layout = DECOMPRESS_ON_READ.get(type);
  if (!layout) return true;
  const end = start + len;
  let pos = start;
  for (const field of layout) {
    if (field === 'n') {
      const next = skipName(msg, pos);
      if (next < 0 || next > end) return false;
      pos = next;
    } else if (field === 'rest') {
      pos = end;
    } else {
      if (pos + field > end) return false;
      pos += field;
    }
  }
  return pos === end;
}

/**
 * The structural checks of decodeMessage, without building anything: -1 when they fail,
 * else 1 when a TSIG record is anywhere in the message, 0 when none is.
 */
function wellFormed(msg: Uint8Array, qdcount: number): number {
  const length = msg.length;
  let pos = HEADER_SIZE;
  for (let i = 0; i < qdcount; i++) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 4 > length) return -1;
    pos += 4;
  }
  let opt = false;
  let tsig = 0;
  for (let s = 0; s < 3; s++) {
    const count = u16(msg, 6 + s * 2);
    for (let i = 0; i < count; i++) {
      const owner = pos;
      pos = skipName(msg, pos);
      if (pos < 0 || pos + 10 > length) return -1;
      const type = u16(msg, pos);
      const rdlen = u16(msg, pos + 8);
      const rdStart = pos + 10;
      const end = rdStart + rdlen;
      if (end > length) return -1;
      if (type === TYPE.OPT) {
        // RFC 6891 §6.1.1: only in the additional section, at most once, owner the root. An
        // owner written in place as a label is not the root; one behind a pointer is left
        // to the decoder.
        if (s !== 2 || opt) return -1;
        opt = true;
        const first = msg[owner]!;
        if (first !== 0 && (first & 0xc0) === 0) return -1;
        for (let o = rdStart; o < end;) {
          if (o + 4 > end) return -1;
          const next = o + 4 + u16(msg, o + 2);
          if (next > end) return -1;
          o = next;
        }
      } else if (!rdataFits(msg, type, rdStart, rdlen)) return -1;
      pos = end;
      if (type === TYPE_TSIG) tsig = 1;
    }
  }
  return pos === length ? tsig : -1;
}
