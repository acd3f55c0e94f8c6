/**
 * DHCPv4 message codec: the BOOTP header (RFC 2131 §2, Figure 1) followed by the magic
 * cookie and options (RFC 2132 §2-§3), with `decode`, `encode` and `encodingLength` in the
 * style of dns-packet.
 *
 * Decoding is bounds-checked (src/bytes/reader.ts) and throws only DhcpDecodeError
 * (ERR_DHCP_DECODE), which the caller turns into a drop. It follows:
 *  - option overload (RFC 2132 §9.3): "the 'file' field MUST be interpreted next … followed
 *    by the 'sname' field" when option 52 says so;
 *  - long options (RFC 3396 §7): several instances of one code are concatenated in order;
 *  - a missing END option is tolerated (Kea and dhcpd both accept it), a truncated option
 *    is not.
 * Encoding writes the options in the order given, splits values over 255 bytes into
 * several instances (RFC 3396 §5), ends with END, pads to the 300-byte BOOTP minimum
 * (RFC 1542 §2.1: "the IP datagram containing the BOOTP message … at least 300 octets";
 * dhcpd and Kea pad likewise), and never writes past `maxLength`: the options that do not
 * fit are left out and listed, for the caller to log.
 *
 * Leaves out: BOOTP (RFC 951) messages without the magic cookie (refused, as Kea does by
 * default), encoding with overload (the reply options we send fit in 548 bytes).
 */
import { Reader, TruncatedError } from '../../src/bytes/reader.js';
import { Writer } from '../../src/bytes/writer.js';
import { OPT } from './options.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const HEADER_LENGTH = 236;
export const MAGIC_COOKIE = 0x63825363;
/** Fixed part plus cookie: where options start. */
export const OPTIONS_OFFSET = HEADER_LENGTH + 4;
/** RFC 1542 §2.1: smallest BOOTP message a relay must accept. */
export const MIN_BOOTP_LENGTH = 300;
/** RFC 2131 §2: "a DHCP client must be prepared to receive … options field of at least
 * length 312 octets", so 236 + 312 = 548 (576-byte IP datagram less IP and UDP headers). */
export const DEFAULT_MAX_LENGTH = 548;
/** BROADCAST bit of 'flags' (RFC 2131 §2, Figure 2). */
export const FLAG_BROADCAST = 0x8000;

/** Options in wire order; one entry per code (RFC 3396 concatenation already applied). */
export type DhcpOptions = Map<number, Uint8Array>;

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** 16 bytes as on the wire; the hardware address is the first `hlen`. */
  chaddr: Uint8Array;
  /** 64 bytes; all zero unless it carries a server name (or overloaded options). */
  sname: Uint8Array;
  /** 128 bytes; boot file name (or overloaded options). */
  file: Uint8Array;
  options: DhcpOptions;
}

export class DhcpDecodeError extends Error {
  readonly code = 'ERR_DHCP_DECODE';
  override readonly name = 'DhcpDecodeError';
}

/** Parse options from `buf`; appends to `out` with RFC 3396 concatenation. */
function readOptions(buf: Uint8Array, out: DhcpOptions, where: string): void {
  let i = 0;
  while (i < buf.length) {
    const code = buf[i]!;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (code === OPT.END) return;
    if (i + 1 >= buf.length)
      throw new DhcpDecodeError(`option ${code} in ${where} has no length byte`);
    const len = buf[i + 1]!;
    const start = i + 2;
    if (start + len > buf.length) {
      throw new DhcpDecodeError(
        `option ${code} in ${where} needs ${len} bytes, ${buf.length - start} left`,
      );
    }
    const value = buf.subarray(start, start + len);
    const prev = out.get(code);
    if (prev) {
      // RFC 3396 §7: "the receiving agent … MUST concatenate the values".
      const joined = new Uint8Array(prev.length + len);
      joined.set(prev);
      joined.set(value, prev.length);
      out.set(code, joined);
    } else out.set(code, value);
    i = start + len;
  }
}

export function decode(buf: Uint8Array): DhcpPacket {
  if (buf.length < OPTIONS_OFFSET) {
    throw new DhcpDecodeError(
      `message of ${buf.length} bytes is shorter than the ${OPTIONS_OFFSET}-byte header and cookie`,
    );
  }
  try {
    const r = new Reader(buf);
    const op = r.u8();
    const htype = r.u8();
    const hlen = r.u8();
    const hops = r.u8();
    const xid = r.u32();
    const secs = r.u16();
    const flags = r.u16();
    const ciaddr = r.u32();
    const yiaddr = r.u32();
    const siaddr = r.u32();
    const giaddr = r.u32();
    const chaddr = r.bytes(16);
    const sname = r.bytes(64);
    const file = r.bytes(128);
    if (hlen > 16) throw new DhcpDecodeError(`hlen ${hlen} exceeds the 16-byte chaddr field`);
    if (r.u32() !== MAGIC_COOKIE)
      throw new DhcpDecodeError('no DHCP magic cookie (BOOTP is not served)');
    const options: DhcpOptions = new Map();
    readOptions(r.bytes(r.remaining), options, 'options');
    // RFC 2132 §9.3: 1 = 'file' holds options, 2 = 'sname', 3 = both; 'file' first.
    const overload = options.get(OPT.OVERLOAD);
    if (overload && overload.length === 1) {
      const v = overload[0]!;
      if (v === 1 || v === 3) readOptions(file, options, 'file');
      if (v === 2 || v === 3) readOptions(sname, options, 'sname');
    }
    return {
      op,
      htype,
      hlen,
      hops,
      xid,
      secs,
      flags,
      ciaddr,
      yiaddr,
      siaddr,
      giaddr,
      chaddr,
      sname,
      file,
      options,
    };
  } catch (e) {
    if (e instanceof DhcpDecodeError) throw e;
    if (e instanceof TruncatedError) throw new DhcpDecodeError(e.message);
    throw e;
  }
}

/** One option to send, in order. */
export type OptionList = readonly (readonly [code: number, value: Uint8Array])[];

export interface EncodeInput extends Omit<DhcpPacket, 'options'> {
  options: OptionList;
}

function optionLength(len: number): number {
  // RFC 3396 §5: split into 255-byte pieces, each with its own code and length.
  if (len === 0) return 2;
  return len + 2 * Math.ceil(len / 255);
}

export function encodingLength(p: EncodeInput): number {
  let n = OPTIONS_OFFSET + 1;
  for (const [, v] of p.options) n += optionLength(v.length);
  return Math.max(n, MIN_BOOTP_LENGTH);
}

function fixed(w: Writer, b: Uint8Array, size: number): void {
  const out = new Uint8Array(size);
  out.set(b.subarray(0, size));
  w.bytes(out);
}

export interface Encoded {
  bytes: Uint8Array;
  /** Option codes left out because the message would have exceeded maxLength. */
  omitted: number[];
}

/** Encode; `maxLength` (≥ 300) bounds the whole message (option 57 less headers, or 548). */
export function encode(p: EncodeInput, maxLength = DEFAULT_MAX_LENGTH): Encoded {
  const max = Math.max(maxLength, MIN_BOOTP_LENGTH);
  const w = new Writer({ initial: max });
  w.u8(p.op).u8(p.htype).u8(p.hlen).u8(p.hops).u32(p.xid).u16(p.secs).u16(p.flags);
  w.u32(p.ciaddr).u32(p.yiaddr).u32(p.siaddr).u32(p.giaddr);
  fixed(w, p.chaddr, 16);
  fixed(w, p.sname, 64);
  fixed(w, p.file, 128);
  w.u32(MAGIC_COOKIE);
  const omitted: number[] = [];
  for (const [code, value] of p.options) {
    // Keep one byte for END.
    if (w.length + optionLength(value.length) + 1 > max) {
      omitted.push(code);
      continue;
    }
    if (value.length === 0) w.u8(code).u8(0);
    for (let at = 0; at < value.length; at += 255) {
      const piece = value.subarray(at, Math.min(at + 255, value.length));
      w.u8(code).u8(piece.length).bytes(piece);
    }
  }
  w.u8(OPT.END);
  while (w.length < MIN_BOOTP_LENGTH) w.u8(OPT.PAD);
  return { bytes: w.finish().slice(), omitted };
}

/** chaddr as "aa:bb:cc:dd:ee:ff" (first hlen bytes). */
export function hwText(p: Pick<DhcpPacket, 'chaddr' | 'hlen'>): string {
  const n = Math.min(p.hlen, 16);
  let s = '';
  for (let i = 0; i < n; i++) s += (i ? ':' : '') + p.chaddr[i]!.toString(16).padStart(2, '0');
  return s;
}

export function hexText(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
