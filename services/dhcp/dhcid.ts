/**
 * The DHCID record (RFC 4701) that RFC 4703 uses to tell whose a DNS name is: an
 * identifier type, digest type 1 (SHA-256), and SHA-256(identifier ‖ FQDN in canonical
 * wire form). The identifier is the DHCPv4 client identifier (option 61) when the client
 * sent one (type 0x0001), else its htype and chaddr (type 0x0000); DUIDs (0x0002) are
 * DHCPv6's and DHCPv4 clients that send RFC 4361 identifiers use 0x0001 with them too.
 */
import { createHash } from 'node:crypto';

export const DHCID_TYPE = 49;

/** Lower-case ASCII letters of a wire name (RFC 4701 §3.5: "canonical wire format"). */
function canonicalWire(fqdn: string): Uint8Array {
  const labels = fqdn
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '');
  const parts: number[] = [];
  for (const l of labels) {
    const b = Buffer.from(l.toLowerCase(), 'latin1');
    if (b.length === 0 || b.length > 63) throw new Error(`bad label in ${fqdn}`);
    parts.push(b.length, ...b);
  }
  parts.push(0);
  if (parts.length > 255) throw new Error(`name too long: ${fqdn}`);
  return Uint8Array.from(parts);
}

export type DhcidIdentity =
  { readonly clientId: Uint8Array } | { readonly htype: number; readonly chaddr: Uint8Array };

/** The DHCID RDATA for a client and the name it is given (§3.3, §3.5). */
export function dhcidRdata(who: DhcidIdentity, fqdn: string): Uint8Array {
  const [type, identifier] =
    'clientId' in who ? [1, who.clientId] : [0, Uint8Array.of(who.htype, ...who.chaddr)];
  const digest = createHash('sha256').update(identifier).update(canonicalWire(fqdn)).digest();
  return Uint8Array.of(type >>> 8, type & 0xff, 1, ...digest);
}
