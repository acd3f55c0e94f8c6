/**
 * Subnets as the core uses them: the config compiled once into integer ranges, prebuilt
 * option bytes and reservation maps, plus subnet selection (RFC 2131 §4.3.1: the server
 * chooses "from the subnet from which the message was received (if 'giaddr' is 0) or on
 * the address of the relay agent that forwarded the message ('giaddr' when not 0)"; Kea's
 * selectSubnet4 adds ciaddr for a unicast renewal without a relay).
 *
 * Leaves out: shared networks (several subnets on one link), client classes.
 */
import type { DhcpConfig, DhcpOptionsConfig, SubnetConfig } from './config.js';
import { parseNetwork, ipFromText, inNetwork, broadcastOf, type Ipv4Network } from './ipv4.js';
import {
  OPT,
  hexOption,
  ipListOption,
  ipOption,
  sipServersOption,
  textOption,
  type OptionBytes,
} from './options.js';

export interface Pool {
  readonly start: number;
  readonly end: number;
  readonly size: number;
}

export interface LeaseTimes {
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export interface Reservation {
  readonly mac: string;
  readonly address: number;
  readonly hostname: string | undefined;
}

export interface Subnet {
  /** The CIDR text; also the subnet's id in leases and metrics. */
  readonly id: string;
  readonly net: Ipv4Network;
  readonly interface: string | undefined;
  readonly serverId: number | undefined;
  readonly pools: readonly Pool[];
  /** Options by code, already encoded. */
  readonly options: ReadonlyMap<number, OptionBytes>;
  /** Codes sent even when not requested (Kea's always-send and basic options). */
  readonly always: readonly number[];
  readonly leaseTime: LeaseTimes;
  readonly reservationByMac: ReadonlyMap<string, Reservation>;
  readonly reservedAddresses: ReadonlyMap<number, Reservation>;
}

function compileOptions(
  o: DhcpOptionsConfig,
  net: Ipv4Network,
): { options: Map<number, OptionBytes>; always: number[] } {
  const options = new Map<number, OptionBytes>();
  const always: number[] = [];
  options.set(OPT.SUBNET_MASK, ipOption(o.subnetMask ? ipFromText(o.subnetMask) : net.mask));
  // Kea's appendBasicOptions: subnet mask, routers, DNS servers, domain name go out even
  // when option 55 omits them; dhcpd behaves the same for configured options.
  always.push(OPT.SUBNET_MASK);
  if (o.routers?.length)
    (options.set(OPT.ROUTERS, ipListOption(o.routers)), always.push(OPT.ROUTERS));
  if (o.dnsServers?.length)
    (options.set(OPT.DNS_SERVERS, ipListOption(o.dnsServers)), always.push(OPT.DNS_SERVERS));
  if (o.domainName)
    (options.set(OPT.DOMAIN_NAME, textOption(o.domainName)), always.push(OPT.DOMAIN_NAME));
  options.set(
    OPT.BROADCAST_ADDRESS,
    ipOption(o.broadcastAddress ? ipFromText(o.broadcastAddress) : broadcastOf(net)),
  );
  if (o.ntpServers?.length) options.set(OPT.NTP_SERVERS, ipListOption(o.ntpServers));
  if (o.tftpServerName) options.set(OPT.TFTP_SERVER_NAME, textOption(o.tftpServerName));
  if (o.bootfileName) options.set(OPT.BOOTFILE_NAME, textOption(o.bootfileName));
  if (o.tftpServerAddress?.length)
    options.set(OPT.TFTP_SERVER_ADDRESS, ipListOption(o.tftpServerAddress));
  if (o.sipServers?.length) options.set(OPT.SIP_SERVERS, sipServersOption(o.sipServers));
  for (const r of o.raw ?? []) {
    options.set(r.code, hexOption(r.hex));
    if (r.always) always.push(r.code);
  }
  return { options, always };
}

/** Merge global and subnet options: a key set on the subnet replaces the global one. */
function mergeOptions(
  g: DhcpOptionsConfig | undefined,
  s: DhcpOptionsConfig | undefined,
): DhcpOptionsConfig {
  const raw = new Map<number, NonNullable<DhcpOptionsConfig['raw']>[number]>();
  for (const r of g?.raw ?? []) raw.set(r.code, r);
  for (const r of s?.raw ?? []) raw.set(r.code, r);
  return { ...g, ...s, raw: [...raw.values()] };
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ':');
}

export function compileSubnet(cfg: DhcpConfig, s: SubnetConfig): Subnet {
  const net = parseNetwork(s.subnet);
  const { options, always } = compileOptions(mergeOptions(cfg.options, s.options), net);
  const reservationByMac = new Map<string, Reservation>();
  const reservedAddresses = new Map<number, Reservation>();
  for (const r of s.reservations) {
    const res: Reservation = {
      mac: normalizeMac(r.mac),
      address: ipFromText(r.address),
      hostname: r.hostname,
    };
    reservationByMac.set(res.mac, res);
    reservedAddresses.set(res.address, res);
  }
  return {
    id: `${s.subnet.split('/')[0]}/${net.prefix}`,
    net,
    interface: s.interface,
    serverId: s.serverId !== undefined ? ipFromText(s.serverId) : undefined,
    pools: s.pools.map((p) => {
      const start = ipFromText(p.start);
      const end = ipFromText(p.end);
      return { start, end, size: end - start + 1 };
    }),
    options,
    always,
    leaseTime: { ...cfg.leaseTime, ...s.leaseTime },
    reservationByMac,
    reservedAddresses,
  };
}

export function compileSubnets(cfg: DhcpConfig): Subnet[] {
  return cfg.subnets.map((s) => compileSubnet(cfg, s));
}

export function inPool(s: Subnet, ip: number): boolean {
  for (const p of s.pools) if (ip >= p.start && ip <= p.end) return true;
  return false;
}

/** Where a packet came from, as far as subnet selection needs it. */
export interface Arrival {
  /** Interface a direct (non-relayed) packet arrived on, with its IPv4 address(es). */
  readonly iface?: { readonly name: string; readonly addresses: readonly number[] };
}

export class SubnetSet {
  constructor(readonly subnets: readonly Subnet[]) {}

  containing(ip: number): Subnet | undefined {
    for (const s of this.subnets) if (inNetwork(ip, s.net)) return s;
    return undefined;
  }

  /** The subnet directly attached to an interface: named for it, or holding its address. */
  forInterface(name: string, addresses: readonly number[]): Subnet | undefined {
    for (const s of this.subnets) if (s.interface === name) return s;
    for (const s of this.subnets) {
      if (s.interface === undefined && addresses.some((a) => inNetwork(a, s.net))) return s;
    }
    return undefined;
  }

  /** RFC 2131 §4.3.1 subnet selection; Kea's order: giaddr, then interface, then ciaddr. */
  select(giaddr: number, ciaddr: number, arrival: Arrival): Subnet | undefined {
    if (giaddr !== 0) return this.containing(giaddr);
    if (arrival.iface) return this.forInterface(arrival.iface.name, arrival.iface.addresses);
    if (ciaddr !== 0) return this.containing(ciaddr);
    return undefined;
  }
}
