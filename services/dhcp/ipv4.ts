/**
 * IPv4 addresses as unsigned 32-bit numbers (network byte order read as a big-endian
 * integer), the form the DHCP header carries them in (RFC 2131 §2, 'ciaddr' … 'giaddr'):
 * comparisons, pool ranges and subnet tests become integer arithmetic.
 *
 * Leaves out: IPv6, zone ids, and the shorthand forms inet_aton accepts ("10.1", octal).
 */

export class Ipv4Error extends Error {
  readonly code = 'ERR_DHCP_IPV4';
}

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return DOTTED.test(text);
}

export function ipFromText(text: string): number {
  if (!DOTTED.test(text)) throw new Ipv4Error(`"${text}" is not a dotted-quad IPv4 address`);
  const p = text.split('.').map(Number) as [number, number, number, number];
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

export function ipToText(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

export function ipToBytes(ip: number): Uint8Array {
  return Uint8Array.of(ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff);
}

/** Read 4 bytes at `at` as an address; caller checks the length. */
export function ipFromBytes(b: Uint8Array, at = 0): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

/** Prefix length → mask (24 → 0xffffff00). */
export function maskFromPrefix(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Mask → prefix length, or -1 when the mask is not contiguous ones then zeros. */
export function prefixFromMask(mask: number): number {
  let bits = 0;
  while (bits < 32 && (mask & (0x80000000 >>> bits)) !== 0) bits++;
  return maskFromPrefix(bits) === mask >>> 0 ? bits : -1;
}

export interface Ipv4Network {
  readonly network: number;
  readonly mask: number;
  readonly prefix: number;
}

/** "192.168.1.0/24" → network; the host bits must be zero. */
export function parseNetwork(text: string): Ipv4Network {
  const [addr, len] = text.trim().split('/') as [string, string | undefined];
  const prefix = len === undefined ? NaN : Number(len);
  if (!/^\d{1,2}$/.test(len ?? '') || !(prefix >= 0 && prefix <= 32)) {
    throw new Ipv4Error(`"${text}": expected address/prefix with a prefix of 0-32`);
  }
  const ip = ipFromText(addr);
  const mask = maskFromPrefix(prefix);
  if ((ip & ~mask) >>> 0 !== 0) {
    throw new Ipv4Error(
      `"${text}": host bits are set; the network is ${ipToText((ip & mask) >>> 0)}/${prefix}`,
    );
  }
  return { network: ip, mask, prefix };
}

export function inNetwork(ip: number, net: Ipv4Network): boolean {
  return (ip & net.mask) >>> 0 === net.network;
}

export function broadcastOf(net: Ipv4Network): number {
  return (net.network | ~net.mask) >>> 0;
}
