/**
 * DHCP option codes and their value formats (RFC 2132 §3-§9, RFC 3046 §2, RFC 3361 §3,
 * RFC 4702 §2, RFC 5859 §3), plus the conversions between config values and option bytes.
 *
 * Options are kept on the wire as raw bytes in an ordered map (codec.ts); this file knows
 * how to read the few the server interprets (50, 51, 53, 54, 55, 57, 61, 12, 81) and how to
 * build the ones it hands out from config. Any other option is configured as raw hex by code.
 *
 * Leaves out: vendor-specific sub-option parsing (43), classless static routes (121) as a
 * typed value (configure them as hex), option 81 encoding (no DDNS, RFC 4702 §4 lets a
 * server that does not update DNS ignore the option).
 */
import { ipFromBytes, ipToBytes, ipFromText } from './ipv4.js';

export const OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTERS: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST_ADDRESS: 28,
  NTP_SERVERS: 42,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS_ID: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  CLIENT_FQDN: 81,
  RELAY_AGENT_INFO: 82,
  SIP_SERVERS: 120,
  TFTP_SERVER_ADDRESS: 150,
  END: 255,
} as const;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const MSG = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

const MSG_NAMES = [
  '',
  'DISCOVER',
  'OFFER',
  'REQUEST',
  'DECLINE',
  'ACK',
  'NAK',
  'RELEASE',
  'INFORM',
];

export function messageTypeName(t: number | undefined): string {
  return t === undefined ? 'BOOTP' : (MSG_NAMES[t] ?? `TYPE${t}`);
}

/** An option's value for the reply, already encoded. */
export type OptionBytes = Uint8Array;

export function u8Option(v: number): OptionBytes {
  return Uint8Array.of(v & 0xff);
}

export function u16Option(v: number): OptionBytes {
  return Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
}

export function u32Option(v: number): OptionBytes {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function ipOption(ip: number): OptionBytes {
  return ipToBytes(ip);
}

export function ipListOption(ips: readonly string[]): OptionBytes {
  const out = new Uint8Array(ips.length * 4);
  ips.forEach((t, i) => out.set(ipToBytes(ipFromText(t)), i * 4));
  return out;
}

export function textOption(s: string): OptionBytes {
  return new TextEncoder().encode(s);
}

/** Hex like "01:02:0a", "01020a" or "01 02 0a" → bytes; throws on anything else. */
export function hexOption(hex: string): OptionBytes {
  const clean = hex.replace(/[\s:.-]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean))
    throw new Error(`"${hex}" is not an even number of hex digits`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Option 120, SIP servers (RFC 3361 §3): encoding byte 0 then DNS names (§3.1) or 1 then
 * IPv4 addresses (§3.2); "the two encodings MUST NOT be mixed".
 */
export function sipServersOption(servers: readonly string[]): OptionBytes {
  const allIp = servers.every((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s));
  if (allIp) {
    const ips = ipListOption(servers);
    const out = new Uint8Array(1 + ips.length);
    out[0] = 1;
    out.set(ips, 1);
    return out;
  }
  const parts: number[] = [0];
  for (const name of servers) {
    for (const label of name.replace(/\.$/, '').split('.')) {
      const b = new TextEncoder().encode(label);
      if (b.length === 0 || b.length > 63)
        throw new Error(`SIP server name "${name}" has a bad label`);
      parts.push(b.length, ...b);
    }
    parts.push(0);
  }
  return Uint8Array.from(parts);
}

// ---------------------------------------------------------------------------------------
// Reading what a client sent. Each returns undefined for an absent or malformed option: a
// malformed option is treated as absent (RFC 2131 §4.1 does not say more; Kea drops the
// packet only for malformed options it needs, e.g. a 53 of the wrong length).

export function readU8(v: Uint8Array | undefined): number | undefined {
  return v && v.length === 1 ? v[0] : undefined;
}

export function readU16(v: Uint8Array | undefined): number | undefined {
  return v && v.length === 2 ? (v[0]! << 8) | v[1]! : undefined;
}

export function readU32(v: Uint8Array | undefined): number | undefined {
  return v && v.length === 4 ? ipFromBytes(v) : undefined;
}

export function readIp(v: Uint8Array | undefined): number | undefined {
  return readU32(v);
}

/** Text options (12, 15, 56, 60): RFC 2132 says NVT ASCII and "not null terminated", but
 * Windows and some embedded clients append a NUL; strip trailing NULs. */
export function readText(v: Uint8Array | undefined): string | undefined {
  if (!v || v.length === 0) return undefined;
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  let s = '';
  for (let i = 0; i < end; i++) {
    const c = v[i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}

/**
 * Client FQDN (RFC 4702 §2): flags, RCODE1, RCODE2, then the name, canonical wire form
 * when flag E is set, else ASCII (deprecated). Returns the first label as a hostname.
 */
export function readFqdnHost(v: Uint8Array | undefined): string | undefined {
  if (!v || v.length < 4) return undefined;
  const flags = v[0]!;
  if (flags & 0x04) {
    const len = v[3]!;
    if (len === 0 || len > 63 || 4 + len > v.length) return undefined;
    return readText(v.subarray(4, 4 + len));
  }
  return readText(v.subarray(3))?.split('.')[0];
}
