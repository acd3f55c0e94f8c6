/**
 * The DNS changes a lease makes (RFC 4703), as RFC 2136 UPDATE requests for the DDNS
 * client to send: pure, one function per step of the RFC's conflict resolution.
 *
 * Forward (A + DHCID at the client's name), §5.3.1 and §5.3.2:
 *   1. claim: prerequisite "name not in use"; add A and DHCID;
 *   2. on YXDOMAIN, update: prerequisite "DHCID is ours"; replace the A RRset;
 *   on NXRRSET at step 2 the name belongs to another client: leave it (§5.3.2, no steal).
 * Reverse (PTR), §5.4: the server owns the address, so replace the PTR RRset outright.
 * Removal, §5.5: prerequisite "DHCID is ours"; delete our A record, then the DHCID (no
 * AAAA is ever ours: this is a DHCPv4 server).
 *
 * Names come from option 81 (client FQDN, RFC 4702) or option 12 (host name), reduced to
 * one DNS label (hostLabel) and put under the configured forward zone.
 */
import { nameFromText } from '../dns/name.js';
import { CLASS, TYPE, type RR } from '../dns/rr.js';
import type { UpdateRequest } from '../dns/update.js';
import { DHCID_TYPE } from './dhcid.js';

export interface LeaseName {
  /** Absolute name, e.g. "pc1.tic2023.com.". */
  readonly fqdn: string;
  readonly forwardZone: string;
  readonly address: number;
  readonly reverseZone: string;
  readonly dhcid: Uint8Array;
  readonly ttl: number;
}

/**
 * A host name as one DNS label (RFC 1123 §2.1 letters, digits, hyphen; at most 63): other
 * characters become '-', leading and trailing hyphens go, the result is lower case. An
 * option 81 FQDN contributes its first label only (the zone is ours, not the client's;
 * Kea's ddns-replace-client-name "never" plus the qualifying suffix does the same).
 * Undefined when nothing usable is left.
 */
export function hostLabel(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const first = name.split('.')[0] ?? '';
  const label = first
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return label === '' ? undefined : label;
}

const abs = (n: string): string => (n.endsWith('.') ? n : n + '.');
const ip4 = (a: number): Uint8Array =>
  Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);

/** in-addr.arpa name of an address (RFC 1035 §3.5). */
export function reverseName(address: number): string {
  const b = ip4(address);
  return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.in-addr.arpa.`;
}

const rr = (owner: string, type: number, klass: number, ttl: number, rdata: Uint8Array): RR => ({
  owner: nameFromText(abs(owner)),
  type,
  class: klass,
  ttl,
  rdata,
});
const none = new Uint8Array(0);
const zoneOf = (z: string) => [{ qname: nameFromText(abs(z)), qtype: TYPE.SOA, qclass: CLASS.IN }];

/** §5.3.1: claim a name nobody uses. */
export function claimForward(l: LeaseName): UpdateRequest {
  return {
    zone: zoneOf(l.forwardZone),
    prerequisites: [rr(l.fqdn, TYPE.ANY, CLASS.NONE, 0, none)],
    updates: [
      rr(l.fqdn, TYPE.A, CLASS.IN, l.ttl, ip4(l.address)),
      rr(l.fqdn, DHCID_TYPE, CLASS.IN, l.ttl, l.dhcid),
    ],
  };
}

/** §5.3.2: the name exists; take it only if its DHCID says it is this client's. */
export function updateOwnForward(l: LeaseName): UpdateRequest {
  return {
    zone: zoneOf(l.forwardZone),
    prerequisites: [rr(l.fqdn, DHCID_TYPE, CLASS.IN, 0, l.dhcid)],
    updates: [
      rr(l.fqdn, TYPE.A, CLASS.ANY, 0, none),
      rr(l.fqdn, TYPE.A, CLASS.IN, l.ttl, ip4(l.address)),
    ],
  };
}

/** §5.4: the PTR of a leased address is the server's to set. */
export function setReverse(l: LeaseName): UpdateRequest {
  const owner = reverseName(l.address);
  return {
    zone: zoneOf(l.reverseZone),
    prerequisites: [],
    updates: [
      rr(owner, TYPE.PTR, CLASS.ANY, 0, none),
      rr(owner, TYPE.PTR, CLASS.IN, l.ttl, nameFromText(abs(l.fqdn))),
    ],
  };
}

/** §5.5: on release or expiry, remove our A and the DHCID, only while the DHCID is ours. */
export function removeForward(l: LeaseName): UpdateRequest {
  return {
    zone: zoneOf(l.forwardZone),
    prerequisites: [rr(l.fqdn, DHCID_TYPE, CLASS.IN, 0, l.dhcid)],
    updates: [
      rr(l.fqdn, TYPE.A, CLASS.NONE, 0, ip4(l.address)),
      rr(l.fqdn, DHCID_TYPE, CLASS.ANY, 0, none),
    ],
  };
}

export function removeReverse(l: LeaseName): UpdateRequest {
  const owner = reverseName(l.address);
  return {
    zone: zoneOf(l.reverseZone),
    prerequisites: [],
    updates: [rr(owner, TYPE.PTR, CLASS.NONE, 0, nameFromText(abs(l.fqdn)))],
  };
}
