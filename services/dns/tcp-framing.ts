/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by its
 * length as a 2-byte big-endian integer. The framer accepts bytes in any split (one byte
 * at a time, several messages per chunk) and yields whole messages. Its buffer never
 * holds more than one partial message plus one incoming chunk.
 */
export class TcpFramer {
  private pending: Uint8Array = new Uint8Array(0);

  /** Feed bytes; returns the complete messages now available, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
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
    return out;
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
