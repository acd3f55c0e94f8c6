/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by its
 * length as a 2-byte big-endian integer. The framer accepts bytes in any split (one byte
 * at a time, several messages per chunk) and yields whole messages. Its buffer never
 * holds more than one partial message plus one incoming chunk.
 *
 * It also notes when the partial message it holds began arriving (`partialSince`), for the
 * adapter's message deadline: RFC 7766 §6.2.3 lets a server close connections that are slow
 * to send, and a deadline counted from a message's first byte is what bytes trickling in
 * cannot extend (BIND's tcp-initial-timeout bounds a connection's first message the same
 * way). Time comes in as `now`; the framer keeps no clock.
 */
export class TcpFramer {
  private pending: Uint8Array = new Uint8Array(0);
  private since: number | undefined;

  /** Feed bytes received at `now`; returns the complete messages now available, in order. */
  push(chunk: Uint8Array, now = 0): Uint8Array[] {
    const held = this.pending.length > 0;
    let buf: Uint8Array;
    if (this.pending.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    const out: Uint8Array[] = [];
    let pos = 0;
    while (buf.length - pos >= 2) {
      const len = (buf[pos]! << 8) | buf[pos + 1]!;
      if (buf.length - pos - 2 < len) break;
      out.push(buf.subarray(pos + 2, pos + 2 + len));
      pos += 2 + len;
    }
    this.pending = pos === buf.length ? new Uint8Array(0) : buf.slice(pos);
    // A partial message left after a complete one began in this chunk; one that was held
    // already and is still incomplete keeps its start.
    if (this.pending.length === 0) this.since = undefined;
    else if (out.length > 0 || !held) this.since = now;
    return out;
  }

  /** When the first byte of the incomplete message held arrived; undefined when none is. */
  get partialSince(): number | undefined {
    return this.since;
  }

  /** Bytes held of an incomplete message. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** Prefix a message with its 2-byte length. */
export function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  out.set(msg, 2);
  return out;
}
