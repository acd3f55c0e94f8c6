/**
 * Bounds-checked big-endian reader over a Uint8Array: network byte order as every protocol
 * here uses it (RFC 1700 "Data Notations", RFC 1035 §2.3.2, RFC 2131 §2).
 *
 * Every read checks the remaining length first and throws a `TruncatedError`
 * (ERR_BYTES_TRUNCATED) instead of returning `undefined` or reading zeros, so a codec can
 * wrap a whole decode in one try/catch and turn a short packet into FORMERR or a drop
 * (DESIGN.md rule 2). Reads use manual shifts on the array, not a DataView, to avoid
 * allocating a view per packet.
 *
 * Leaves out: little-endian reads, signed integers, 64-bit values and text decoding; no
 * protocol here needs them on the wire.
 */

export class TruncatedError extends Error {
  readonly code = 'ERR_BYTES_TRUNCATED';
  constructor(
    /** Bytes the read needed. */
    readonly need: number,
    /** Offset the read started at. */
    readonly at: number,
    /** Length of the whole buffer. */
    readonly length: number,
  ) {
    super(`truncated: need ${need} byte(s) at offset ${at}, buffer has ${length}`);
    this.name = 'TruncatedError';
  }
}

/** A negative or fractional count or offset: a bug in the caller, not bad input. */
export class ByteRangeError extends RangeError {
  readonly code = 'ERR_BYTES_RANGE';
  constructor(message: string) {
    super(message);
    this.name = 'ByteRangeError';
  }
}

export class Reader {
  readonly #buf: Uint8Array;
  #pos: number;

  constructor(buf: Uint8Array, offset = 0) {
    if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) {
      throw new ByteRangeError(`offset ${offset} outside 0..${buf.length}`);
    }
    this.#buf = buf;
    this.#pos = offset;
  }

  /** Offset of the next byte to read. */
  get offset(): number {
    return this.#pos;
  }

  /** Bytes left after the offset. */
  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Length of the whole buffer. */
  get length(): number {
    return this.#buf.length;
  }

  /** The whole underlying buffer (e.g. for DNS compression pointers, RFC 1035 §4.1.4). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  u8(): number {
    const p = this.#pos;
    if (p >= this.#buf.length) throw new TruncatedError(1, p, this.#buf.length);
    this.#pos = p + 1;
    return this.#buf[p]!;
  }

  u16(): number {
    const p = this.#pos;
    const b = this.#buf;
    if (p + 2 > b.length) throw new TruncatedError(2, p, b.length);
    this.#pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(): number {
    const p = this.#pos;
    const b = this.#buf;
    if (p + 4 > b.length) throw new TruncatedError(4, p, b.length);
    this.#pos = p + 4;
    // Multiply the top byte rather than shift it: `<< 24` would go negative above 2^31.
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /** The next n bytes as a view sharing memory with the buffer (no copy). */
  bytes(n: number): Uint8Array {
    const p = this.#pos;
    this.#check(n, p);
    this.#pos = p + n;
    return this.#buf.subarray(p, p + n);
  }

  skip(n: number): void {
    this.#check(n, this.#pos);
    this.#pos += n;
  }

  /** Move to an absolute offset (0..length inclusive). */
  seek(offset: number): void {
    if (!Number.isInteger(offset) || offset < 0) {
      throw new ByteRangeError(`bad offset ${offset}`);
    }
    if (offset > this.#buf.length) {
      throw new TruncatedError(offset - this.#buf.length, this.#buf.length, this.#buf.length);
    }
    this.#pos = offset;
  }

  #check(n: number, p: number): void {
    if (!Number.isInteger(n) || n < 0) throw new ByteRangeError(`bad byte count ${n}`);
    if (p + n > this.#buf.length) throw new TruncatedError(n, p, this.#buf.length);
  }
}
