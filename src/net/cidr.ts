/**
 * Address-prefix lists (CIDR, RFC 4632; IPv6 RFC 4291 §2.3) for access control lists:
 * BIND's `allow-transfer`, the forwarder's client networks, FTP/HTTP allow lists.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket reports) match
 * IPv4 prefixes. A bare address means a host prefix (/32 or /128).
 */
import { isIPv4, isIPv6 } from 'node:net';

export class CidrError extends Error {
  readonly code = 'ERR_NET_CIDR';
}

interface Prefix {
  readonly v6: boolean;
  readonly bytes: Uint8Array;
  readonly bits: number;
}

function v4bytes(a: string): Uint8Array {
  return Uint8Array.from(a.split('.').map(Number));
}

function v6bytes(a: string): Uint8Array {
  let s = a;
  const out = new Uint8Array(16);
  // Embedded IPv4 tail (::ffff:1.2.3.4).
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: Uint8Array | undefined;
  if (m) {
    tail = v4bytes(m[2]!);
    s = m[1] + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >>> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

export function parsePrefix(text: string): Prefix {
  const parts = text.trim().split('/');
  const [addr, len] = parts as [string, string | undefined];
  const v6 = isIPv6(addr);
  if (parts.length > 2 || (!v6 && !isIPv4(addr)))
    throw new CidrError(`"${text}" is not an IPv4 or IPv6 address or prefix`);
  const max = v6 ? 128 : 32;
  const bits = len === undefined ? max : Number(len);
  if (
    !Number.isInteger(bits) ||
    bits < 0 ||
    bits > max ||
    (len !== undefined && !/^\d+$/.test(len))
  ) {
    throw new CidrError(`"${text}": prefix length must be 0-${max}`);
  }
  return { v6, bytes: v6 ? v6bytes(addr) : v4bytes(addr), bits };
}

function matches(p: Prefix, bytes: Uint8Array): boolean {
  let bits = p.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p.bytes[i]! & mask) !== (bytes[i]! & mask)) return false;
  }
  return true;
}

export class CidrList {
  private readonly prefixes: Prefix[];

  constructor(entries: readonly string[]) {
    this.prefixes = entries.map(parsePrefix);
  }

  get empty(): boolean {
    return this.prefixes.length === 0;
  }

  has(address: string): boolean {
    if (this.prefixes.length === 0) return false;
    let v6 = isIPv6(address);
    let bytes: Uint8Array;
    if (v6) {
      bytes = v6bytes(address.split('%')[0]!);
      // IPv4-mapped: compare as IPv4.
      if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
        bytes = bytes.slice(12);
        v6 = false;
      }
    } else if (isIPv4(address)) bytes = v4bytes(address);
    else return false;
    for (const p of this.prefixes) if (p.v6 === v6 && matches(p, bytes)) return true;
    return false;
  }
}

/** Validate a list for config checks: returns one message per bad entry. */
export function checkCidrs(entries: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    try {
      parsePrefix(e);
    } catch (err) {
      out.push((err as Error).message);
    }
  }
  return out;
}
