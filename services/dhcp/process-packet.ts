/**
 * The DHCPv4 server core: `processPacket(query, ctx) → outcome`, a reply to send (or none:
 * a drop, as Kea's processPacket), the lease changes to commit before sending it, and log
 * events. Pure: time comes in as `ctx.now`, leases live in the LeaseTable the adapter
 * loaded from the store, no socket or file is touched.
 *
 * RFC 2131 §4.3 server behaviour: DISCOVER → OFFER (§4.3.1); REQUEST in SELECTING,
 * INIT-REBOOT, RENEWING and REBINDING → ACK or NAK (§4.3.2); DECLINE (§4.3.3); RELEASE
 * (§4.3.4); INFORM (§4.3.5). Reply fields per §4.3.1 Table 3, destinations per §4.1,
 * options per RFC 2132, relay agent information echoed per RFC 3046 §2.2.
 *
 * "Authoritative" is dhcpd's: NAK a REQUEST for an address on another network or held by
 * another client, and ACK an INIT-REBOOT/RENEWING client we have no record of when its
 * address is free (so a lost lease file does not strand clients). Not authoritative: remain
 * silent in those cases, as RFC 2131 §4.3.2 says for a server without a record.
 *
 * RENEWING (unicast) and REBINDING (broadcast) are answered alike: RFC 2131 §4.1 sends both
 * ACKs to 'ciaddr', and the adapter cannot see the destination address of a datagram
 * (Node's dgram has no IP_PKTINFO), so the log calls the state RENEWING/REBINDING.
 *
 * Leaves out: BOOTP (RFC 951) clients, client classes, DDNS (option 81 is read for the
 * hostname only), RFC 3011 subnet selection, RFC 6842 client-id echo, lease queries.
 */
import {
  BOOTREPLY,
  BOOTREQUEST,
  DEFAULT_MAX_LENGTH,
  FLAG_BROADCAST,
  hwText,
  type DhcpPacket,
  type EncodeInput,
} from './codec.js';
import { ipToText, inNetwork } from './ipv4.js';
import { clientKeyOf, type Lease, type LeaseChange, type LeaseTable } from './lease.js';
import type { Allocator, Client, Unusable } from './allocator.js';
import type { Subnet, SubnetSet } from './subnet.js';
import {
  MSG,
  OPT,
  messageTypeName,
  readFqdnHost,
  readIp,
  readText,
  readU16,
  readU32,
  readU8,
  textOption,
  u32Option,
  ipOption,
  u8Option,
} from './options.js';

const BROADCAST_ADDRESS = 0xffffffff;
const EMPTY_SNAME = new Uint8Array(64);
const EMPTY_FILE = new Uint8Array(128);

export interface DhcpPolicy {
  readonly authoritative: boolean;
  readonly offerHoldMs: number;
  readonly declineHoldMs: number;
  readonly renewPercent: number;
  readonly rebindPercent: number;
  readonly clientPort: number;
  readonly relayPort: number;
}

export interface PacketContext {
  readonly now: number;
  readonly policy: DhcpPolicy;
  readonly subnets: SubnetSet;
  readonly leases: LeaseTable;
  readonly allocator: Allocator;
  /** Every address of ours a client may name in option 54 (interface addresses, server ids). */
  readonly ownAddresses: ReadonlySet<number>;
}

export interface Arrival {
  /** Interface a packet arrived on (socket bound to that device), with its IPv4 addresses. */
  readonly iface?: { readonly name: string; readonly addresses: readonly number[] };
  /** Address the socket is bound to (0 for any). */
  readonly localAddress: number;
  readonly source: { readonly address: number; readonly port: number };
}

export interface Query {
  readonly packet: DhcpPacket;
  readonly arrival: Arrival;
}

export interface Reply {
  readonly packet: EncodeInput;
  readonly messageType: number;
  /** Largest message the client accepts (option 57, RFC 2132 §9.10), else 548. */
  readonly maxLength: number;
  readonly address: number;
  readonly port: number;
  /** Sent to 255.255.255.255. */
  readonly broadcast: boolean;
}

export type DropReason =
  | 'not-request'
  | 'bootp'
  | 'unknown-type'
  | 'no-subnet'
  | 'no-server-id'
  | 'pool-exhausted'
  | 'other-server'
  | 'malformed'
  | 'not-ours'
  | 'no-reply'
  | 'bad-hardware-address';

export interface DhcpEvent {
  readonly level: 'debug' | 'info' | 'warn';
  readonly msg: string;
  /**
   * What repeats in a flood: level, query and reply type, never the client's MAC or
   * address (the text has those, so 320,000 forged DISCOVERs are 320,000 distinct texts).
   * The log rate limit counts lines per key (server.ts).
   */
  readonly key: string;
  readonly fields: Readonly<Record<string, string | number | undefined>>;
}

export interface Outcome {
  /** Option 53 name of the query ("DISCOVER"), for metrics. */
  readonly queryType: string;
  readonly reply?: Reply;
  /** Commit these, durably, before sending the reply (RFC 2131 §4.3.2, DESIGN.md rule 4). */
  readonly changes: readonly LeaseChange[];
  /** Set when nothing is sent and that is not the protocol's normal silence. */
  readonly drop?: DropReason;
  /** Set for a NAK: why. */
  readonly nakReason?: string;
  readonly subnet?: string;
  readonly events: readonly DhcpEvent[];
}

interface Exchange {
  readonly q: DhcpPacket;
  readonly ctx: PacketContext;
  readonly arrival: Arrival;
  readonly client: Client;
  readonly type: number;
  readonly typeName: string;
  readonly mac: string;
  readonly hostname: string | undefined;
  readonly via: string;
  readonly events: DhcpEvent[];
  readonly changes: LeaseChange[];
}

export function processPacket(query: Query, ctx: PacketContext): Outcome {
  const q = query.packet;
  // RFC 2131 §4.1: a server handles BOOTREQUEST (op 1) messages only.
  if (q.op !== BOOTREQUEST)
    return { queryType: 'BOOTREPLY', changes: [], drop: 'not-request', events: [] };
  const type = readU8(q.options.get(OPT.MESSAGE_TYPE));
  if (type === undefined) return { queryType: 'BOOTP', changes: [], drop: 'bootp', events: [] };
  // A client is known by its client-id or its hardware address (RFC 2131 §4.2). Without
  // either it has no key of its own: hlen 0 and no option 61 would make every such client
  // share one lease. Ethernet (htype 1, RFC 1700 ARP hardware types) has 6-byte addresses;
  // any other hlen there is forged. Kea likewise refuses a query it cannot identify.
  const hasClientId = (q.options.get(OPT.CLIENT_ID)?.length ?? 0) > 0;
  if ((q.hlen === 0 && !hasClientId) || (q.htype === 1 && q.hlen !== 6))
    return {
      queryType: messageTypeName(type),
      changes: [],
      drop: 'bad-hardware-address',
      events: [],
    };
  const mac = hwText(q);
  const hostname =
    readText(q.options.get(OPT.HOSTNAME)) ?? readFqdnHost(q.options.get(OPT.CLIENT_FQDN));
  const x: Exchange = {
    q,
    ctx,
    arrival: query.arrival,
    client: {
      key: clientKeyOf(
        q.options.get(OPT.CLIENT_ID),
        q.htype,
        q.chaddr.subarray(0, Math.min(q.hlen, 16)),
      ),
      mac,
    },
    type,
    typeName: messageTypeName(type),
    mac,
    hostname,
    via:
      q.giaddr !== 0
        ? ipToText(q.giaddr)
        : (query.arrival.iface?.name ?? ipToText(query.arrival.localAddress)),
    events: [],
    changes: [],
  };
  switch (type) {
    case MSG.DISCOVER:
      return discover(x);
    case MSG.REQUEST:
      return request(x);
    case MSG.DECLINE:
      return decline(x);
    case MSG.RELEASE:
      return release(x);
    case MSG.INFORM:
      return inform(x);
    default:
      // OFFER, ACK, NAK come from servers; unknown types are for other protocols.
      return { queryType: x.typeName, changes: [], drop: 'unknown-type', events: [] };
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

function who(x: Exchange): string {
  return x.hostname ? `${x.mac} (${x.hostname})` : x.mac;
}

function event(
  x: Exchange,
  level: DhcpEvent['level'],
  msg: string,
  fields: Record<string, string | number | undefined> = {},
): void {
  x.events.push({
    level,
    msg,
    key: `${level} DHCP${x.typeName} ${fields.reply ?? ''}`,
    fields: {
      event: 'DHCP' + x.typeName,
      chaddr: x.mac,
      hostname: x.hostname,
      via: x.via,
      xid: x.q.xid,
      ...fields,
    },
  });
}

function dropped(x: Exchange, drop: DropReason, subnet?: Subnet): Outcome {
  return { queryType: x.typeName, changes: x.changes, drop, subnet: subnet?.id, events: x.events };
}

function silent(x: Exchange, subnet?: Subnet): Outcome {
  return { queryType: x.typeName, changes: x.changes, subnet: subnet?.id, events: x.events };
}

/** Server identifier for replies on this subnet (reference: the interface's address). */
function serverIdFor(x: Exchange, subnet: Subnet): number | undefined {
  if (subnet.serverId !== undefined) return subnet.serverId;
  const addrs = x.arrival.iface?.addresses ?? [];
  return (
    addrs.find((a) => inNetwork(a, subnet.net)) ?? addrs[0] ?? (x.arrival.localAddress || undefined)
  );
}

function isOurs(x: Exchange, sid: number, subnet: Subnet | undefined): boolean {
  return x.ctx.ownAddresses.has(sid) || (subnet !== undefined && serverIdFor(x, subnet) === sid);
}

function leaseSeconds(x: Exchange, subnet: Subnet): number {
  // RFC 2131 §4.3.1: "If the client has requested a specific lease time (option 51), the
  // server MAY grant it"; within min/max like dhcpd's min-lease-time/max-lease-time.
  const lt = subnet.leaseTime;
  const asked = readU32(x.q.options.get(OPT.LEASE_TIME));
  if (asked === undefined) return Math.min(Math.max(lt.default, lt.min), lt.max);
  return Math.min(Math.max(asked, lt.min), lt.max);
}

function maxLength(q: DhcpPacket): number {
  // RFC 2132 §9.10: "the maximum length DHCP message that it is willing to accept. …
  // The minimum legal value is 576 octets." dhcpd counts the IP and UDP headers in it.
  const m = readU16(q.options.get(OPT.MAX_MESSAGE_SIZE));
  if (m === undefined || m < 576) return DEFAULT_MAX_LENGTH;
  return Math.min(m - 28, 1472);
}

/**
 * Options of an OFFER/ACK: 53 first; then what option 55 asks for, in the client's order
 * (RFC 2131 §4.3.1: "the server MUST supply as many of the requested parameters as
 * possible"); then what the server must or always sends; 82 last (RFC 3046 §2.2: servers
 * "SHOULD copy the Relay Agent Information option as the last DHCP option").
 */
function replyOptions(
  x: Exchange,
  messageType: number,
  subnet: Subnet | undefined,
  serverId: number,
  lease: { seconds: number } | undefined,
  hostname: string | undefined,
): [number, Uint8Array][] {
  const avail = new Map<number, Uint8Array>(subnet?.options ?? []);
  const must: number[] = [OPT.SERVER_ID];
  avail.set(OPT.SERVER_ID, ipOption(serverId));
  if (lease) {
    const p = x.ctx.policy;
    avail.set(OPT.LEASE_TIME, u32Option(lease.seconds));
    // RFC 2131 §4.4.5: T1 defaults to 0.5 × lease, T2 to 0.875 × lease.
    avail.set(OPT.RENEWAL_TIME, u32Option(Math.floor((lease.seconds * p.renewPercent) / 100)));
    avail.set(OPT.REBINDING_TIME, u32Option(Math.floor((lease.seconds * p.rebindPercent) / 100)));
    must.push(OPT.LEASE_TIME, OPT.RENEWAL_TIME, OPT.REBINDING_TIME);
  }
  if (hostname) {
    avail.set(OPT.HOSTNAME, textOption(hostname));
    must.push(OPT.HOSTNAME);
  }
  const out: [number, Uint8Array][] = [[OPT.MESSAGE_TYPE, u8Option(messageType)]];
  const done = new Set<number>([OPT.MESSAGE_TYPE]);
  const add = (code: number): void => {
    if (done.has(code)) return;
    const v = avail.get(code);
    if (v === undefined) return;
    done.add(code);
    out.push([code, v]);
  };
  for (const code of x.q.options.get(OPT.PARAMETER_REQUEST_LIST) ?? []) add(code);
  for (const code of must) add(code);
  for (const code of subnet?.always ?? []) add(code);
  const rai = x.q.options.get(OPT.RELAY_AGENT_INFO);
  if (rai) out.push([OPT.RELAY_AGENT_INFO, rai]);
  return out;
}

function header(
  x: Exchange,
  ciaddr: number,
  yiaddr: number,
  flags: number,
): Omit<EncodeInput, 'options'> {
  const q = x.q;
  return {
    op: BOOTREPLY,
    htype: q.htype,
    hlen: q.hlen,
    hops: 0,
    xid: q.xid,
    secs: 0,
    flags,
    ciaddr,
    yiaddr,
    siaddr: 0,
    giaddr: q.giaddr,
    chaddr: q.chaddr,
    sname: EMPTY_SNAME,
    file: EMPTY_FILE,
  };
}

/**
 * RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a client is non-zero, the
 * server sends any return messages to the 'DHCP server' port on the BOOTP relay agent
 * whose address appears in 'giaddr'. If the 'giaddr' field is zero and the 'ciaddr' field
 * is nonzero, then the server unicasts DHCPOFFER and DHCPACK messages to the address in
 * 'ciaddr'. If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then
 * the server broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff. If the broadcast bit
 * is not set and 'giaddr' is zero and 'ciaddr' is zero, then the server unicasts DHCPOFFER
 * and DHCPACK messages to the client's hardware address and 'yiaddr' address." That last
 * case needs an ARP entry the server cannot add without CAP_NET_ADMIN, so it broadcasts
 * instead, as Kea does on UDP sockets ("dhcp-socket-type": "udp"); every client listens to
 * broadcasts while it has no address. "In all cases, when 'giaddr' is zero, the server
 * broadcasts any DHCPNAK messages to 0xffffffff."
 */
function destination(
  x: Exchange,
  messageType: number,
): { address: number; port: number; broadcast: boolean } {
  const q = x.q;
  const p = x.ctx.policy;
  if (q.giaddr !== 0) return { address: q.giaddr, port: p.relayPort, broadcast: false };
  if (messageType === MSG.NAK)
    return { address: BROADCAST_ADDRESS, port: p.clientPort, broadcast: true };
  if (q.ciaddr !== 0) return { address: q.ciaddr, port: p.clientPort, broadcast: false };
  return { address: BROADCAST_ADDRESS, port: p.clientPort, broadcast: true };
}

function reply(
  x: Exchange,
  messageType: number,
  fields: { ciaddr: number; yiaddr: number },
  options: [number, Uint8Array][],
): Reply {
  // RFC 2131 §4.1: when giaddr is set and the reply is a NAK, "the server … SHOULD set the
  // broadcast bit in the DHCPNAK" so the relay broadcasts it to the client.
  const flags =
    messageType === MSG.NAK && x.q.giaddr !== 0 ? x.q.flags | FLAG_BROADCAST : x.q.flags;
  const to = destination(x, messageType);
  return {
    packet: { ...header(x, fields.ciaddr, fields.yiaddr, flags), options },
    messageType,
    maxLength: maxLength(x.q),
    ...to,
  };
}

function nak(
  x: Exchange,
  subnet: Subnet | undefined,
  serverId: number,
  ip: number,
  reason: string,
): Outcome {
  // RFC 2131 Table 3: a DHCPNAK carries 53, 54 and SHOULD carry a message (56); 'ciaddr',
  // 'yiaddr', 'siaddr' are 0; every other option MUST NOT appear (82 is echoed, RFC 3046).
  const options: [number, Uint8Array][] = [
    [OPT.MESSAGE_TYPE, u8Option(MSG.NAK)],
    [OPT.SERVER_ID, ipOption(serverId)],
    [OPT.MESSAGE, textOption(reason)],
  ];
  const rai = x.q.options.get(OPT.RELAY_AGENT_INFO);
  if (rai) options.push([OPT.RELAY_AGENT_INFO, rai]);
  event(x, 'info', `DHCPNAK on ${ipToText(ip)} to ${x.mac} via ${x.via}: ${reason}`, {
    reply: 'DHCPNAK',
    address: ipToText(ip),
    reason,
    subnet: subnet?.id,
  });
  return {
    queryType: x.typeName,
    reply: reply(x, MSG.NAK, { ciaddr: 0, yiaddr: 0 }, options),
    changes: x.changes,
    nakReason: reason,
    subnet: subnet?.id,
    events: x.events,
  };
}

const UNUSABLE_TEXT: Record<Unusable, string> = {
  'not-in-subnet': 'address is not on this network',
  'not-in-pool': 'address is not in a pool of this network',
  reserved: 'address is reserved for another client',
  taken: 'address is leased to another client',
};

// ---------------------------------------------------------------------------------------
// Messages

function discover(x: Exchange): Outcome {
  const q = x.q;
  event(x, 'info', `DHCPDISCOVER from ${who(x)} via ${x.via}`);
  const subnet = x.ctx.subnets.select(q.giaddr, q.ciaddr, x.arrival);
  if (!subnet) {
    event(
      x,
      'info',
      `DHCPDISCOVER from ${x.mac} via ${x.via}: no subnet configured for this network`,
    );
    return dropped(x, 'no-subnet');
  }
  const sid = serverIdFor(x, subnet);
  if (sid === undefined) return dropped(x, 'no-server-id', subnet);
  const requested = readIp(q.options.get(OPT.REQUESTED_IP));
  const ip = x.ctx.allocator.choose(subnet, x.client, requested, x.ctx.now);
  if (ip === undefined) {
    // dhcpd: "DHCPDISCOVER from … via eth1: network 192.168.1.0/24: no free leases".
    event(
      x,
      'warn',
      `DHCPDISCOVER from ${x.mac} via ${x.via}: network ${subnet.id}: no free leases`,
      {
        subnet: subnet.id,
      },
    );
    return dropped(x, 'pool-exhausted', subnet);
  }
  x.ctx.leases.putOffer({
    address: ip,
    subnet: subnet.id,
    clientKey: x.client.key,
    ends: x.ctx.now + x.ctx.policy.offerHoldMs,
  });
  const seconds = leaseSeconds(x, subnet);
  const hostname = subnet.reservationByMac.get(x.mac)?.hostname;
  return grant(x, MSG.OFFER, 0, ip, subnet, sid, seconds, hostname);
}

/** An OFFER or an ACK of `ip` for `seconds`: the dhcpd-style log event and the reply. */
function grant(
  x: Exchange,
  type: typeof MSG.OFFER | typeof MSG.ACK,
  ciaddr: number,
  ip: number,
  subnet: Subnet,
  sid: number,
  seconds: number,
  hostname: string | undefined,
): Outcome {
  const name = type === MSG.OFFER ? 'DHCPOFFER' : 'DHCPACK';
  event(x, 'info', `${name} on ${ipToText(ip)} to ${who(x)} via ${x.via}`, {
    reply: name,
    address: ipToText(ip),
    subnet: subnet.id,
    leaseSeconds: seconds,
  });
  return {
    queryType: x.typeName,
    reply: reply(
      x,
      type,
      { ciaddr, yiaddr: ip },
      replyOptions(x, type, subnet, sid, { seconds }, hostname),
    ),
    changes: x.changes,
    subnet: subnet.id,
    events: x.events,
  };
}

function request(x: Exchange): Outcome {
  const q = x.q;
  const ctx = x.ctx;
  const sidOpt = readIp(q.options.get(OPT.SERVER_ID));
  const requested = readIp(q.options.get(OPT.REQUESTED_IP));
  const subnet = ctx.subnets.select(q.giaddr, q.ciaddr, x.arrival);
  const state =
    sidOpt !== undefined
      ? 'SELECTING'
      : requested !== undefined && q.ciaddr === 0
        ? 'INIT-REBOOT'
        : q.ciaddr !== 0
          ? 'RENEWING/REBINDING'
          : 'unknown';
  const ip = requested ?? q.ciaddr;
  event(
    x,
    'info',
    `DHCPREQUEST for ${ipToText(ip)}${sidOpt !== undefined ? ` (${ipToText(sidOpt)})` : ''} from ${who(x)} via ${x.via}`,
    { state, address: ipToText(ip) },
  );
  if (state === 'unknown') return dropped(x, 'malformed', subnet);

  if (state === 'SELECTING') {
    // RFC 2131 §4.3.2: "If the DHCPREQUEST message contains a 'server identifier' option,
    // the message is in response to a DHCPOFFER message. Otherwise, the message is a
    // request to verify or extend an existing lease." … "servers not selected by the
    // DHCPREQUEST message use the message as notification that the client has declined
    // that server's offer."
    if (!isOurs(x, sidOpt!, subnet)) {
      if (subnet) {
        const o = ctx.leases.dropOffer(subnet.id, x.client.key);
        if (o) ctx.allocator.release(subnet, o.address);
      }
      event(
        x,
        'debug',
        `DHCPREQUEST for ${ipToText(ip)} from ${x.mac} via ${x.via}: for server ${ipToText(sidOpt!)}, not us`,
      );
      return dropped(x, 'other-server', subnet);
    }
    if (!subnet) return dropped(x, 'no-subnet');
    if (requested === undefined) return dropped(x, 'malformed', subnet);
    // Our server id: the client chose us; a NAK is due if the address cannot be had,
    // whatever `authoritative` says (Kea does the same).
    return assign(x, subnet, requested, true);
  }

  if (!subnet) {
    event(
      x,
      'debug',
      `DHCPREQUEST from ${x.mac} via ${x.via}: no subnet configured for this network`,
    );
    return dropped(x, 'no-subnet');
  }
  const sid = serverIdFor(x, subnet);
  if (sid === undefined) return dropped(x, 'no-server-id', subnet);

  if (state === 'INIT-REBOOT') {
    // RFC 2131 §4.3.2 INIT-REBOOT: "If the requested address is incorrect, or is on the
    // wrong network, the server SHOULD send a DHCPNAK … If the DHCP server has no record of
    // this client, then it MUST remain silent" (dhcpd, authoritative, answers when free).
    if (!inNetwork(requested!, subnet.net)) {
      return ctx.policy.authoritative
        ? nak(x, subnet, sid, requested!, 'requested address is not on this network')
        : silent(x, subnet);
    }
    const own = ctx.leases.byClient(subnet.id, x.client.key);
    if (own && own.state === 'bound' && own.ends > ctx.now && own.address !== requested) {
      // We do have a record of this client, and it says another address.
      return nak(x, subnet, sid, requested!, `client's lease is for ${ipToText(own.address)}`);
    }
    if (!own || own.address !== requested) {
      const u = ctx.allocator.check(subnet, requested!, x.client, ctx.now);
      if (!ctx.policy.authoritative) return silent(x, subnet);
      if (u) return nak(x, subnet, sid, requested!, UNUSABLE_TEXT[u]);
    }
    return assign(x, subnet, requested!, ctx.policy.authoritative);
  }

  // RENEWING / REBINDING: RFC 2131 §4.3.2, "'ciaddr' MUST be filled in with client's IP
  // address"; the server checks the lease and extends it.
  if (!inNetwork(q.ciaddr, subnet.net)) {
    return ctx.policy.authoritative
      ? nak(x, subnet, sid, q.ciaddr, 'address is not on this network')
      : silent(x, subnet);
  }
  const lease = ctx.leases.byAddress(q.ciaddr);
  const mine =
    lease !== undefined && lease.clientKey === x.client.key && lease.state !== 'declined';
  if (!mine && !ctx.policy.authoritative) return silent(x, subnet);
  return assign(x, subnet, q.ciaddr, ctx.policy.authoritative);
}

/** ACK `ip` to the client if it can have it, else NAK (or silence when not `mayNak`). */
function assign(x: Exchange, subnet: Subnet, ip: number, mayNak: boolean): Outcome {
  const ctx = x.ctx;
  const sid = serverIdFor(x, subnet);
  if (sid === undefined) return dropped(x, 'no-server-id', subnet);
  const own = subnet.reservationByMac.get(x.mac);
  const u: Unusable | undefined =
    own && own.address !== ip && ctx.leases.holder(own.address, ctx.now) === undefined
      ? 'reserved' // the client has a reservation elsewhere: steer it there
      : ctx.allocator.check(subnet, ip, x.client, ctx.now);
  if (u)
    return mayNak
      ? nak(
          x,
          subnet,
          sid,
          ip,
          own && u === 'reserved'
            ? `client is reserved ${ipToText(own.address)}`
            : UNUSABLE_TEXT[u],
        )
      : silent(x, subnet);

  const seconds = leaseSeconds(x, subnet);
  const prev = ctx.leases.byClient(subnet.id, x.client.key);
  if (prev && prev.address !== ip && prev.state === 'bound') {
    // A client holds one address per subnet: the old one goes back to the pool.
    const freed: Lease = { ...prev, state: 'released', ends: ctx.now };
    ctx.leases.put(freed);
    x.changes.push({ put: freed });
    ctx.allocator.release(subnet, prev.address);
  }
  const offer = ctx.leases.dropOffer(subnet.id, x.client.key);
  if (offer && offer.address !== ip) ctx.allocator.release(subnet, offer.address);
  const hostname = own?.hostname ?? x.hostname ?? null;
  const lease: Lease = {
    address: ip,
    subnet: subnet.id,
    clientKey: x.client.key,
    chaddr: x.mac,
    hostname,
    state: 'bound',
    starts: ctx.now,
    ends: ctx.now + seconds * 1000,
  };
  ctx.leases.put(lease);
  x.changes.push({ put: lease });
  // Table 3: 'ciaddr' of a DHCPACK is "'ciaddr' from DHCPREQUEST or 0".
  return grant(x, MSG.ACK, x.q.ciaddr, ip, subnet, sid, seconds, own?.hostname);
}

function decline(x: Exchange): Outcome {
  const q = x.q;
  const ctx = x.ctx;
  const ip = readIp(q.options.get(OPT.REQUESTED_IP));
  const sid = readIp(q.options.get(OPT.SERVER_ID));
  const subnet =
    ip !== undefined
      ? (ctx.subnets.select(q.giaddr, 0, x.arrival) ?? ctx.subnets.containing(ip))
      : undefined;
  if (ip === undefined) {
    event(x, 'info', `DHCPDECLINE from ${x.mac} via ${x.via}: no requested address (option 50)`);
    return dropped(x, 'malformed');
  }
  // RFC 2131 §4.3.3: "If the server receives a DHCPDECLINE message, the client has
  // discovered through some other means that the suggested network address is already in
  // use. The server MUST mark the network address as not available and SHOULD notify the
  // local system administrator of a possible configuration problem."
  if (sid !== undefined && !isOurs(x, sid, subnet)) return dropped(x, 'other-server', subnet);
  const lease = ctx.leases.byAddress(ip);
  if (!subnet || !lease || lease.clientKey !== x.client.key || lease.state !== 'bound') {
    event(
      x,
      'info',
      `DHCPDECLINE of ${ipToText(ip)} from ${x.mac} via ${x.via}: not a lease of this client`,
    );
    return dropped(x, 'not-ours', subnet);
  }
  const declined: Lease = {
    address: ip,
    subnet: lease.subnet,
    clientKey: '',
    chaddr: '',
    hostname: null,
    state: 'declined',
    starts: ctx.now,
    ends: ctx.now + ctx.policy.declineHoldMs,
  };
  ctx.leases.put(declined);
  x.changes.push({ put: declined });
  event(
    x,
    'warn',
    `DHCPDECLINE of ${ipToText(ip)} from ${who(x)} via ${x.via}: abandoned (in use on the network?)`,
    {
      address: ipToText(ip),
      subnet: subnet.id,
      holdSeconds: ctx.policy.declineHoldMs / 1000,
    },
  );
  return silent(x, subnet);
}

function release(x: Exchange): Outcome {
  const q = x.q;
  const ctx = x.ctx;
  // RFC 2131 §4.3.4: "Upon receipt of a DHCPRELEASE message, the server marks the network
  // address as not allocated. The server SHOULD retain a record of the client's
  // initialization parameters for possible reuse in response to subsequent requests."
  const lease = ctx.leases.byAddress(q.ciaddr);
  const subnet = ctx.subnets.containing(q.ciaddr);
  if (!subnet || !lease || lease.clientKey !== x.client.key || lease.state !== 'bound') {
    event(
      x,
      'info',
      `DHCPRELEASE of ${ipToText(q.ciaddr)} from ${who(x)} via ${x.via} (not found)`,
    );
    return dropped(x, 'not-ours', subnet);
  }
  const released: Lease = { ...lease, state: 'released', ends: ctx.now };
  ctx.leases.put(released);
  x.changes.push({ put: released });
  ctx.allocator.release(subnet, q.ciaddr);
  event(x, 'info', `DHCPRELEASE of ${ipToText(q.ciaddr)} from ${who(x)} via ${x.via} (found)`, {
    address: ipToText(q.ciaddr),
    subnet: subnet.id,
  });
  return silent(x, subnet);
}

function inform(x: Exchange): Outcome {
  const q = x.q;
  const ctx = x.ctx;
  event(x, 'info', `DHCPINFORM from ${ipToText(q.ciaddr)} via ${x.via}`);
  // RFC 2131 §4.3.5: "The server responds to a DHCPINFORM message by sending a DHCPACK
  // message directly to the address given in the 'ciaddr' field … The server MUST NOT send
  // a lease expiration time to the client and SHOULD NOT fill in 'yiaddr'."
  const subnet =
    q.giaddr !== 0
      ? ctx.subnets.containing(q.giaddr)
      : ((q.ciaddr !== 0 ? ctx.subnets.containing(q.ciaddr) : undefined) ??
        ctx.subnets.select(0, 0, x.arrival));
  if (!subnet) return dropped(x, 'no-subnet');
  const sid = serverIdFor(x, subnet);
  if (sid === undefined) return dropped(x, 'no-server-id', subnet);
  const r = reply(
    x,
    MSG.ACK,
    { ciaddr: q.ciaddr, yiaddr: 0 },
    replyOptions(x, MSG.ACK, subnet, sid, undefined, undefined),
  );
  // A broken client without ciaddr: answer where it came from (Kea does the same).
  const to =
    q.giaddr === 0 && q.ciaddr === 0 && x.arrival.source.address !== 0
      ? { ...r, address: x.arrival.source.address, broadcast: false }
      : r;
  event(x, 'info', `DHCPACK to ${ipToText(q.ciaddr)} (${x.mac}) via ${x.via}`, {
    reply: 'DHCPACK',
    subnet: subnet.id,
  });
  return {
    queryType: x.typeName,
    reply: to,
    changes: x.changes,
    subnet: subnet.id,
    events: x.events,
  };
}

/**
 * Lease reclamation (Kea's reclaim timer, dhcpd's lease expiry): expired leases, ended
 * declines and stale offers are reclaimed and their addresses handed back to the
 * allocator. Returns the changes to commit.
 */
export function reclaimExpired(
  ctx: Pick<PacketContext, 'now' | 'leases' | 'subnets' | 'allocator'>,
): LeaseChange[] {
  const { changes, freed } = ctx.leases.reclaim(ctx.now);
  for (const a of freed) {
    const s = ctx.subnets.containing(a);
    if (s) ctx.allocator.release(s, a);
  }
  return changes;
}
