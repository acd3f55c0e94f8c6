/**
 * Message framing on stream transports (RFC 3261 §18.3): "In the case of stream-oriented
 * transports such as TCP, the Content-Length header field indicates the size of the body.
 * All stream-oriented transports MUST use Content-Length." The framer cuts a byte stream
 * into whole messages; CRLFs between messages are skipped (§7.5, and the RFC 5626 §3.5.1
 * double-CRLF keepalive, whose single-CRLF pong is reported so the adapter can send it).
 *
 * Limits: a message (head + body) is at most MAX_MESSAGE_BYTES (65 535, Kamailio's
 * BUF_SIZE); a longer head or a declared body past it is a framing error and the adapter
 * closes the connection (there is no way to resynchronise a stream).
 * Leaves out: WebSocket framing (RFC 7118).
 */
import { Buffer } from 'node:buffer';
import { MAX_MESSAGE_BYTES } from './message.js';

export type FrameResult =
  | { readonly type: 'message'; readonly bytes: Uint8Array }
  | { readonly type: 'ping' }
  | { readonly type: 'error'; readonly reason: string };

const CL_RE = /^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$/im;

export class TcpFramer {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;

  /** Feed bytes; returns every complete message (and pings), then at most one error. */
  push(chunk: Uint8Array): FrameResult[] {
    if (this.failed) return [];
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: FrameResult[] = [];
    for (;;) {
      let i = 0;
      while (i < this.buf.length && (this.buf[i] === 0x0d || this.buf[i] === 0x0a)) i++;
      if (i > 0) {
        // "\r\n\r\n" is a keepalive ping (RFC 5626 §3.5.1); answer once per ping.
        if (i >= 4 && this.buf.subarray(0, 4).toString('latin1') === '\r\n\r\n')
          out.push({ type: 'ping' });
        if (i === this.buf.length) {
          // Keep a lone "\r" in case a "\n" follows; drop the rest.
          this.buf = this.buf[i - 1] === 0x0d ? Buffer.from([0x0d]) : Buffer.alloc(0);
          return out;
        }
        this.buf = this.buf.subarray(i);
      }
      const end = this.headEnd();
      if (end === undefined) {
        if (this.buf.length > MAX_MESSAGE_BYTES) return this.fail(out, 'header section too large');
        return out;
      }
      const head = this.buf.subarray(0, end.headEnd).toString('latin1');
      const m = CL_RE.exec(head);
      let len = 0;
      if (m) {
        if (!/^\d{1,10}$/.test(m[1]!)) return this.fail(out, 'bad Content-Length');
        len = Number(m[1]);
      }
      const total = end.bodyStart + len;
      if (total > MAX_MESSAGE_BYTES) return this.fail(out, 'message too large');
      if (this.buf.length < total) return out;
      out.push({ type: 'message', bytes: Buffer.from(this.buf.subarray(0, total)) });
      this.buf = this.buf.subarray(total);
    }
  }

  /** Bytes held while waiting for the rest of a message. */
  get pending(): number {
    return this.buf.length;
  }

  private fail(out: FrameResult[], reason: string): FrameResult[] {
    this.failed = true;
    this.buf = Buffer.alloc(0);
    out.push({ type: 'error', reason });
    return out;
  }

  private headEnd(): { headEnd: number; bodyStart: number } | undefined {
    const b = this.buf;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== 0x0a) continue;
      if (b[i + 1] === 0x0a) return { headEnd: i, bodyStart: i + 2 };
      if (b[i + 1] === 0x0d && b[i + 2] === 0x0a) return { headEnd: i, bodyStart: i + 3 };
    }
    return undefined;
  }
}
