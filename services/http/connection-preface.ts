/**
 * Which protocol a plain-TCP connection speaks, decided from its first bytes: HTTP/2 "with
 * prior knowledge" (RFC 9113 §3.3) starts with the 24-octet client connection preface of
 * §3.4, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`; anything else is HTTP/1.1 (RFC 9112). Both are
 * served on one port, as nginx ≥ 1.25.1 does with `http2 on;` on a plain listener.
 *
 * Pure: bytes in, a decision out; server.ts buffers the bytes and hands the socket on.
 * Left out: the HTTP/1.1 `Upgrade: h2c` dance (RFC 7540 §3.2, removed by RFC 9113 §3.1:
 * "the 'h2c' upgrade token … is deprecated").
 */

/** RFC 9113 §3.4: "the string PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (24 octets). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type PrefaceDecision = 'h2' | 'http1' | 'more';

/**
 * 'h2' once the whole preface is there, 'http1' as soon as a byte differs from it, 'more'
 * while the bytes so far are a strict prefix of it (a client may send the preface in
 * pieces; §3.4 sets no rule on segmentation).
 */
export function classifyPreface(bytes: Uint8Array): PrefaceDecision {
  const n = Math.min(bytes.length, CLIENT_PREFACE.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== CLIENT_PREFACE[i]) return 'http1';
  return bytes.length >= CLIENT_PREFACE.length ? 'h2' : 'more';
}
