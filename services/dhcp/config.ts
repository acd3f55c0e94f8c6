/**
 * Schema of `dhcp.yaml`: every default lives here, with a description per field.
 * Semantic checks (addresses parse, pools inside their subnet and disjoint, reservations,
 * raw option codes) are in `checkDhcpConfig`; the reference deployment's environment
 * variables are mapped in reference-env.ts.
 *
 * Defaults follow the reference deployment (reference-deployment.md "DHCP"): lease times
 * 120/60/3600 s, authoritative, addresses from the bottom of the pool.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TSIG_ALGORITHMS } from '../dns/tsig.js';
import { readTsigSecret } from '../dns/tsig-secret.js';
import { isIpv4, parseNetwork, ipFromText, inNetwork, ipToText } from './ipv4.js';
import { hexOption, OPT } from './options.js';

const Ipv4 = (description: string) =>
  Type.String({ description, pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+$' });

const Listen = Type.Object(
  {
    interface: Type.Optional(
      Type.String({
        description:
          'Network device to serve directly attached clients on (SO_BINDTODEVICE, needs the native addon and ' +
          'CAP_NET_RAW); broadcasts arriving there are answered from that interface. Omit for a plain socket ' +
          'that serves relayed (giaddr) and unicast requests only.',
      }),
    ),
    address: Type.String({
      default: '0.0.0.0',
      description:
        'Address to bind; with `interface`, keep 0.0.0.0 to receive 255.255.255.255 broadcasts',
    }),
    port: Type.Integer({
      default: 67,
      minimum: 0,
      maximum: 65535,
      description: 'Server port (RFC 2131 §4.1: 67); 0 picks a free one (tests)',
    }),
    clientPort: Type.Integer({
      default: 68,
      minimum: 1,
      maximum: 65535,
      description: 'Port replies to clients go to (RFC 2131 §4.1: 68)',
    }),
    relayPort: Type.Integer({
      default: 67,
      minimum: 1,
      maximum: 65535,
      description:
        "Port replies to a relay (giaddr) go to (RFC 2131 §4.1: the relay's server port, 67)",
    }),
  },
  { additionalProperties: false },
);

const RawOption = Type.Object(
  {
    code: Type.Integer({ minimum: 1, maximum: 254, description: 'Option code' }),
    hex: Type.String({ description: 'Value as hex bytes ("0a000001", "0a:00:00:01")' }),
    always: Type.Boolean({
      default: false,
      description: "Send even when the client's option 55 does not ask for it (Kea's always-send)",
    }),
  },
  { additionalProperties: false },
);

const Options = Type.Object(
  {
    subnetMask: Type.Optional(Ipv4('Option 1; default: the mask of the subnet')),
    routers: Type.Optional(
      Type.Array(Type.String(), { description: 'Option 3, in order of preference' }),
    ),
    dnsServers: Type.Optional(
      Type.Array(Type.String(), { description: 'Option 6, in order of preference' }),
    ),
    domainName: Type.Optional(Type.String({ description: 'Option 15' })),
    broadcastAddress: Type.Optional(
      Ipv4('Option 28; default: the broadcast address of the subnet, sent when asked for'),
    ),
    ntpServers: Type.Optional(Type.Array(Type.String(), { description: 'Option 42' })),
    tftpServerName: Type.Optional(Type.String({ description: 'Option 66 (RFC 2132 §9.4)' })),
    bootfileName: Type.Optional(Type.String({ description: 'Option 67 (RFC 2132 §9.5)' })),
    tftpServerAddress: Type.Optional(
      Type.Array(Type.String(), { description: 'Option 150 (RFC 5859), IPv4 addresses' }),
    ),
    sipServers: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Option 120 (RFC 3361): all IPv4 addresses or all domain names',
      }),
    ),
    raw: Type.Optional(Type.Array(RawOption, { description: 'Any other option by code, as hex' })),
  },
  { additionalProperties: false },
);
export type DhcpOptionsConfig = Static<typeof Options>;

const LeaseTime = Type.Object(
  {
    default: Type.Integer({
      default: 120,
      minimum: 1,
      description:
        "Seconds, when the client asks for none (reference: 120; dhcpd's default-lease-time)",
    }),
    min: Type.Integer({
      default: 60,
      minimum: 1,
      description: "Shortest lease granted, seconds (reference: 60; dhcpd's min-lease-time)",
    }),
    max: Type.Integer({
      default: 3600,
      minimum: 1,
      description: "Longest lease granted, seconds (reference: 3600; dhcpd's max-lease-time)",
    }),
  },
  { additionalProperties: false },
);

const Pool = Type.Object(
  {
    start: Ipv4('First address of the range'),
    end: Ipv4('Last address of the range (inclusive)'),
  },
  { additionalProperties: false },
);

const Reservation = Type.Object(
  {
    mac: Type.String({ description: 'Hardware address "aa:bb:cc:dd:ee:ff"' }),
    address: Ipv4('Address always given to this MAC; inside the subnet, inside or outside a pool'),
    hostname: Type.Optional(Type.String({ description: 'Option 12 sent to this client' })),
  },
  { additionalProperties: false },
);

const Subnet = Type.Object(
  {
    subnet: Type.String({ description: 'Network in CIDR form, e.g. 192.168.1.0/24' }),
    reverseZone: Type.Optional(
      Type.String({
        description:
          'DDNS: zone of the PTR records of this subnet; default the in-addr.arpa zone of its octet boundary (1.168.192.in-addr.arpa for a /24)',
      }),
    ),
    interface: Type.Optional(
      Type.String({
        description:
          'Device whose direct clients this subnet serves; default: the device whose address is inside the subnet',
      }),
    ),
    serverId: Type.Optional(
      Ipv4(
        'Server identifier (option 54) for this subnet; default: the address of the interface the request came in on, else the listen address',
      ),
    ),
    pools: Type.Array(Pool, { default: [], description: 'Dynamic ranges; several allowed' }),
    reservations: Type.Array(Reservation, { default: [], description: 'Static addresses by MAC' }),
    options: Type.Optional(Options),
    leaseTime: Type.Optional(Type.Partial(LeaseTime)),
  },
  { additionalProperties: false },
);
export type SubnetConfig = Static<typeof Subnet>;

export const DhcpConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Run this service when no service is named',
    }),
    listen: Type.Array(Listen, {
      default: [{ address: '0.0.0.0', port: 67, clientPort: 68, relayPort: 67 }],
      description: 'Sockets: one per served interface, or a plain socket for relayed requests',
    }),
    authoritative: Type.Boolean({
      default: true,
      description:
        "NAK requests for addresses of another network or owned by another client, and answer INIT-REBOOT for unknown clients (dhcpd's `authoritative;`, as the reference ran)",
    }),
    allocation: Type.Union([Type.Literal('lowest'), Type.Literal('iterative')], {
      default: 'lowest',
      description:
        "lowest: lowest free address first (dhcpd, the reference); iterative: the next after the last one given (Kea's default)",
    }),
    leaseTime: Type.Object(LeaseTime.properties, {
      default: {},
      additionalProperties: false,
      description: 'Lease times; a subnet may override',
    }),
    renewPercent: Type.Number({
      default: 50,
      exclusiveMinimum: 0,
      maximum: 100,
      description: 'T1 (option 58) as % of the lease (RFC 2131 §4.4.5: 0.5)',
    }),
    rebindPercent: Type.Number({
      default: 87.5,
      exclusiveMinimum: 0,
      maximum: 100,
      description: 'T2 (option 59) as % of the lease (RFC 2131 §4.4.5: 0.875)',
    }),
    offerHoldSeconds: Type.Integer({
      default: 60,
      minimum: 0,
      description:
        "How long an offered address is kept from other clients (Kea 2.6's offer-lifetime; RFC 2131 §4.4.1 clients retry within ~64 s)",
    }),
    declineHoldSeconds: Type.Integer({
      default: 86400,
      minimum: 0,
      description:
        "How long a DECLINEd address stays unusable (Kea's decline-probation-period, 86400 s)",
    }),
    reclaimIntervalSeconds: Type.Integer({
      default: 10,
      minimum: 1,
      description: "How often expired leases are reclaimed (Kea's reclaim-timer-wait-time, 10 s)",
    }),
    interfaceRetrySeconds: Type.Integer({
      default: 5,
      minimum: 1,
      description:
        'Retry period while an interface is missing or has no IPv4 address yet (logged, never a crash loop)',
    }),
    options: Type.Optional(Options),
    subnets: Type.Array(Subnet, {
      default: [],
      description: 'Subnets served; each its pools, options and reservations',
    }),
    storeFile: Type.String({
      default: 'dhcp.sqlite',
      description: 'Lease database, relative to the data dir',
    }),
    logPackets: Type.Boolean({
      default: true,
      description: 'One info line per packet in the dhcpd habit (DHCPDISCOVER from … via …)',
    }),
    ddns: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: "Publish clients' names in DNS (RFC 4703 via RFC 2136 UPDATE with TSIG)",
        }),
        server: Type.Object(
          {
            address: Type.String({ default: '127.0.0.1', description: 'DNS primary (IPv4)' }),
            port: Type.Integer({ default: 53, minimum: 1, maximum: 65535 }),
          },
          { default: {}, additionalProperties: false },
        ),
        forwardZone: Type.String({
          default: '',
          description: 'Names are <host label>.<forwardZone> (Kea ddns-qualifying-suffix)',
        }),
        reverse: Type.Boolean({
          default: true,
          description:
            "Also set PTR records, in each subnet's reverseZone or the in-addr.arpa zone of its octet boundary",
        }),
        ttl: Type.Integer({
          default: 300,
          minimum: 0,
          description: 'TTL of the records (dhcpd ddns-ttl; short, as the names follow leases)',
        }),
        key: Type.Object(
          {
            name: Type.String({ default: '', description: 'TSIG key name, as on the DNS server' }),
            algorithm: Type.String({ default: 'hmac-sha256' }),
            secretFile: Type.Optional(
              Type.String({
                description:
                  'File holding the base64 secret or a BIND key file (tsig-keygen output); relative to the config dir',
              }),
            ),
            secretEnv: Type.Optional(
              Type.String({ description: 'Environment variable holding the base64 secret' }),
            ),
          },
          { default: {}, additionalProperties: false },
        ),
        timeoutMs: Type.Integer({ default: 2000, minimum: 100, description: 'Per UPDATE attempt' }),
        maxAttempts: Type.Integer({
          default: 8,
          minimum: 1,
          description: 'Attempts per UPDATE, 1 s apart doubling to 60 s, before it is dropped',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type DhcpConfig = Static<typeof DhcpConfig>;

/** The DDNS key's secret (tsig-secret.ts: a compose secret file or a variable). */
export function readDdnsSecret(
  key: DhcpConfig['ddns']['key'],
  configDir: string,
  env: NodeJS.ProcessEnv,
): { secret?: string; error?: string } {
  return readTsigSecret(key, configDir, env);
}

const MAC = /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/;
/** Options the server builds itself; configuring them raw would contradict the protocol. */
const SERVER_OWNED = new Set<number>([
  OPT.PAD,
  OPT.REQUESTED_IP,
  OPT.LEASE_TIME,
  OPT.OVERLOAD,
  OPT.MESSAGE_TYPE,
  OPT.SERVER_ID,
  OPT.PARAMETER_REQUEST_LIST,
  OPT.MAX_MESSAGE_SIZE,
  OPT.RENEWAL_TIME,
  OPT.REBINDING_TIME,
  OPT.CLIENT_ID,
  OPT.RELAY_AGENT_INFO,
  OPT.END,
]);

function checkOptions(o: DhcpOptionsConfig | undefined, path: string, out: string[]): void {
  if (!o) return;
  for (const key of ['routers', 'dnsServers', 'ntpServers', 'tftpServerAddress'] as const) {
    (o[key] ?? []).forEach((a, i) => {
      if (!isIpv4(a)) out.push(`${path}/${key}/${i}: "${a}" is not an IPv4 address`);
    });
  }
  const sip = o.sipServers ?? [];
  const ips = sip.filter(isIpv4).length;
  if (ips !== 0 && ips !== sip.length)
    out.push(`${path}/sipServers: RFC 3361 §3 forbids mixing addresses and names`);
  (o.raw ?? []).forEach((r, i) => {
    if (SERVER_OWNED.has(r.code))
      out.push(`${path}/raw/${i}/code: option ${r.code} is set by the server itself`);
    try {
      hexOption(r.hex);
    } catch (e) {
      out.push(`${path}/raw/${i}/hex: ${(e as Error).message}`);
    }
  });
}

function checkLeaseTime(
  lt: { default?: number; min?: number; max?: number },
  path: string,
  out: string[],
): void {
  if (lt.min !== undefined && lt.max !== undefined && lt.min > lt.max)
    out.push(`${path}: min ${lt.min} is above max ${lt.max}`);
}

/** Semantic checks beyond the schema: `/path: message` strings. */
export function checkDhcpConfig(cfg: DhcpConfig): string[] {
  const out: string[] = [];
  if (cfg.ddns.enabled) {
    if (cfg.ddns.forwardZone === '')
      out.push('/ddns/forwardZone: required when ddns is enabled (e.g. TIC2023.com)');
    if (cfg.ddns.key.name === '')
      out.push(
        '/ddns/key/name: required when ddns is enabled (the TSIG key the DNS server grants)',
      );
    if (!TSIG_ALGORITHMS.includes(cfg.ddns.key.algorithm.toLowerCase()))
      out.push(
        `/ddns/key/algorithm: "${cfg.ddns.key.algorithm}" is not one of ${TSIG_ALGORITHMS.join(', ')}`,
      );
    if ((cfg.ddns.key.secretFile === undefined) === (cfg.ddns.key.secretEnv === undefined))
      out.push('/ddns/key: give exactly one of secretFile, secretEnv');
    if (!isIpv4(cfg.ddns.server.address))
      out.push(`/ddns/server/address: "${cfg.ddns.server.address}" is not an IPv4 address`);
  }
  cfg.listen.forEach((l, i) => {
    if (!isIpv4(l.address)) out.push(`/listen/${i}/address: "${l.address}" is not an IPv4 address`);
  });
  checkOptions(cfg.options, '/options', out);
  checkLeaseTime(cfg.leaseTime, '/leaseTime', out);
  const ranges: { s: number; e: number; where: string }[] = [];
  cfg.subnets.forEach((s, i) => {
    const p = `/subnets/${i}`;
    let net;
    try {
      net = parseNetwork(s.subnet);
    } catch (e) {
      out.push(`${p}/subnet: ${(e as Error).message}`);
      return;
    }
    checkOptions(s.options, `${p}/options`, out);
    if (s.leaseTime) checkLeaseTime({ ...cfg.leaseTime, ...s.leaseTime }, `${p}/leaseTime`, out);
    if (s.serverId !== undefined && !isIpv4(s.serverId))
      out.push(`${p}/serverId: not an IPv4 address`);
    s.pools.forEach((pool, j) => {
      if (!isIpv4(pool.start) || !isIpv4(pool.end)) {
        out.push(`${p}/pools/${j}: start and end must be IPv4 addresses`);
        return;
      }
      const a = ipFromText(pool.start);
      const b = ipFromText(pool.end);
      if (a > b) out.push(`${p}/pools/${j}: start ${pool.start} is above end ${pool.end}`);
      if (!inNetwork(a, net) || !inNetwork(b, net))
        out.push(`${p}/pools/${j}: range ${pool.start}-${pool.end} is not inside ${s.subnet}`);
      for (const r of ranges) {
        if (a <= r.e && b >= r.s)
          out.push(`${p}/pools/${j}: range ${pool.start}-${pool.end} overlaps ${r.where}`);
      }
      ranges.push({ s: a, e: b, where: `${p}/pools/${j}` });
    });
    const macs = new Set<string>();
    const addrs = new Set<number>();
    s.reservations.forEach((r, j) => {
      if (!MAC.test(r.mac))
        out.push(
          `${p}/reservations/${j}/mac: "${r.mac}" is not a MAC address like aa:bb:cc:dd:ee:ff`,
        );
      else if (macs.has(r.mac.toLowerCase().replace(/-/g, ':')))
        out.push(`${p}/reservations/${j}/mac: ${r.mac} is reserved twice`);
      macs.add(r.mac.toLowerCase().replace(/-/g, ':'));
      if (!isIpv4(r.address)) {
        out.push(`${p}/reservations/${j}/address: not an IPv4 address`);
        return;
      }
      const a = ipFromText(r.address);
      if (!inNetwork(a, net))
        out.push(`${p}/reservations/${j}/address: ${r.address} is not inside ${s.subnet}`);
      if (addrs.has(a))
        out.push(`${p}/reservations/${j}/address: ${ipToText(a)} is reserved twice`);
      addrs.add(a);
    });
  });
  return out;
}
