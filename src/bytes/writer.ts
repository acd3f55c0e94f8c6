/**
 * Growable big-endian writer (network byte order, RFC 1700 "Data Notations").
 *
 * The buffer doubles when full, so encoding a message costs O(log n) copies. An optional
 * `max` caps the output: a write that would pass it throws `OverflowError`
 * (ERR_BYTES_OVERFLOW) and leaves the writer as it was before that write, so an encoder can
 * catch it, `truncate()` back to the last whole record and set a truncation flag (the DNS
 * 512-byte UDP limit and TC bit, RFC 1035 §4.2.1; RFC 6891 §6.2.5 for EDNS sizes). Values
 * out of range for the field throw ERR_BYTES_RANGE rather than being masked silently.
 *
 * Leaves out: little-endian and signed writes, 64-bit values, text encoding.
 */
import { ByteRangeError } from './reader.js';

export class OverflowError extends Error {
  readonly code = 'ERR_BYTES_OVERFLOW';
  constructor(
    /** Length the write would have reached. */
    readonly need: number,
    readonly max: number,
  ) {
    super(`overflow: writing would reach ${need} byte(s), limit is ${max}`);
    this.name = 'OverflowError';
  }
}

export interface WriterOptions {
  /** Initial capacity in bytes; default 512, the classic DNS UDP payload (RFC 1035 §2.3.4). */
  initial?: number;
  /** Largest output allowed; default unlimited. */
  max?: number;
}

export class Writer {
  #buf: Uint8Array;
  #len = 0;
  readonly #max: number;

  constructor(opts: WriterOptions = {}) {
    const max = opts.max ?? Infinity;
    if (!(max >= 0)) throw new ByteRangeError(`bad max ${max}`);
    this.#max = max;
    this.#buf = new Uint8Array(Math.max(1, Math.min(opts.initial ?? 512, max)));
  }

  /** Bytes written so far; also the offset of the next write. */
  get length(): number {
    return this.#len;
  }

  u8(v: number): this {
    if (!(v >= 0 && v <= 0xff && Number.isInteger(v))) throw badValue('u8', v);
    const p = this.#reserve(1);
    this.#buf[p] = v;
    return this;
  }

  u16(v: number): this {
    if (!(v >= 0 && v <= 0xffff && Number.isInteger(v))) throw badValue('u16', v);
    const p = this.#reserve(2);
    const b = this.#buf;
    b[p] = v >>> 8;
    b[p + 1] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v))) throw badValue('u32', v);
    const p = this.#reserve(4);
    const b = this.#buf;
    b[p] = v >>> 24;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    return this;
  }

  bytes(src: Uint8Array): this {
    const p = this.#reserve(src.length);
    this.#buf.set(src, p);
    return this;
  }

  /** Overwrite a u16 already written at `offset` (lengths and counts known only later). */
  patchU16(offset: number, v: number): this {
    if (!(v >= 0 && v <= 0xffff && Number.isInteger(v))) throw badValue('u16', v);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + 2 <= this.#len)) {
      throw new ByteRangeError(`patch at ${offset} outside the ${this.#len} byte(s) written`);
    }
    this.#buf[offset] = v >>> 8;
    this.#buf[offset + 1] = v & 0xff;
    return this;
  }

  /** Drop everything after `length` (roll back to a mark taken from `.length`). */
  truncate(length: number): this {
    if (!(Number.isInteger(length) && length >= 0 && length <= this.#len)) {
      throw new ByteRangeError(`truncate to ${length} outside 0..${this.#len}`);
    }
    this.#len = length;
    return this;
  }

  /**
   * The bytes written, as a view over the internal buffer (no copy). Later writes do not
   * change it, but `patchU16` and `truncate` followed by writes would: finish last.
   */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** Make room for n more bytes; returns the offset to write them at. */
  #reserve(n: number): number {
    const p = this.#len;
    const end = p + n;
    if (end > this.#max) throw new OverflowError(end, this.#max);
    if (end > this.#buf.length) {
      let cap = this.#buf.length * 2;
      while (cap < end) cap *= 2;
      const next = new Uint8Array(Math.min(cap, this.#max));
      next.set(this.#buf.subarray(0, p));
      this.#buf = next;
    }
    this.#len = end;
    return p;
  }
}

function badValue(kind: string, v: number): ByteRangeError {
  return new ByteRangeError(`${kind} value out of range: ${v}`);
}
