/**
 * Golden client messages (testdata/README.md says where each came from): each decodes,
 * every prefix fails cleanly, each DISCOVER gets an OFFER whose options follow the
 * client's option 55, and each REQUEST gets an ACK.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { DhcpConfig } from './config.js';
import { compileSubnets, SubnetSet } from './subnet.js';
import { LeaseTable } from './lease.js';
import { Allocator } from './allocator.js';
import { processPacket, type PacketContext } from './process-packet.js';
import { decode, encode, hwText, DhcpDecodeError } from './codec.js';
import { MSG, OPT, readText } from './options.js';
import { ipFromText as ip } from './ipv4.js';

function hexFile(name: string): Uint8Array {
  const text = readFileSync(new URL(`./testdata/${name}.hex`, import.meta.url), 'utf8');
  return Buffer.from(
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('')
      .replace(/\s/g, ''),
    'hex',
  );
}

const cfg = Value.Default(DhcpConfig, {
  subnets: [
    {
      subnet: '10.77.1.0/24',
      pools: [{ start: '10.77.1.10', end: '10.77.1.100' }],
      options: { routers: ['10.77.1.1'], dnsServers: ['10.77.1.2'] },
    },
    {
      subnet: '192.168.1.0/24',
      pools: [{ start: '192.168.1.10', end: '192.168.1.100' }],
      options: {
        routers: ['192.168.1.1'],
        dnsServers: ['192.168.0.2', '1.1.1.1', '8.8.8.8'],
        domainName: 'TIC2023.com',
      },
    },
  ],
}) as DhcpConfig;

const CLIENTS = [
  { name: 'dhclient', server: '10.77.1.1', hostname: 'vm' }, // Debian's dhclient.conf sends gethostname()
  { name: 'udhcpc', server: '10.77.1.1', hostname: undefined },
  { name: 'dhcpcd', server: '10.77.1.1', hostname: undefined },
  { name: 'windows10', server: '192.168.1.1', hostname: 'DESKTOP-4G7K2QH' },
  { name: 'android', server: '192.168.1.1', hostname: 'Pixel-6' },
];

for (const c of CLIENTS) {
  t.test(c.name, async (t) => {
    const leases = new LeaseTable();
    const ctx: PacketContext = {
      now: 1_700_000_000_000,
      policy: {
        authoritative: true,
        offerHoldMs: 60_000,
        declineHoldMs: 86_400_000,
        renewPercent: 50,
        rebindPercent: 87.5,
        clientPort: 68,
        relayPort: 67,
      },
      subnets: new SubnetSet(compileSubnets(cfg)),
      leases,
      allocator: new Allocator('lowest', leases),
      ownAddresses: new Set([ip(c.server)]),
    };
    const arrival = {
      iface: { name: 'eth1', addresses: [ip(c.server)] },
      localAddress: ip(c.server),
      source: { address: 0, port: 68 },
    };
    const discover = decode(hexFile(`${c.name}-discover`));
    const request = decode(hexFile(`${c.name}-request`));
    t.equal(discover.options.get(OPT.MESSAGE_TYPE)?.[0], MSG.DISCOVER);
    t.equal(request.options.get(OPT.MESSAGE_TYPE)?.[0], MSG.REQUEST);
    t.equal(hwText(discover), hwText(request));
    t.equal(readText(request.options.get(OPT.HOSTNAME)), c.hostname);

    for (const name of [`${c.name}-discover`, `${c.name}-request`]) {
      const bytes = hexFile(name);
      for (let n = 0; n < bytes.length; n++) {
        try {
          decode(bytes.subarray(0, n));
        } catch (e) {
          if (!(e instanceof DhcpDecodeError)) throw e;
        }
      }
      const d = decode(bytes);
      t.same(
        [...decode(encode({ ...d, options: [...d.options] }).bytes).options],
        [...d.options],
        `${name} round trip`,
      );
    }

    const offer = processPacket({ packet: discover, arrival }, ctx);
    t.equal(offer.reply?.messageType, MSG.OFFER);
    const o = decode(encode(offer.reply!.packet, offer.reply!.maxLength).bytes);
    const prl = [...(discover.options.get(OPT.PARAMETER_REQUEST_LIST) ?? [])];
    const sent = [...o.options.keys()].filter((k) => prl.includes(k));
    t.same(
      sent,
      prl.filter((k) => o.options.has(k)),
      "options asked for come in the client's order",
    );
    t.ok(
      o.options.has(OPT.ROUTERS) &&
        o.options.has(OPT.DNS_SERVERS) &&
        o.options.has(OPT.SUBNET_MASK),
    );

    const ack = processPacket({ packet: request, arrival }, ctx);
    t.equal(ack.reply?.messageType, MSG.ACK, ack.events.map((e) => e.msg).join('; '));
    t.equal(ack.changes.length, 1);
  });
}
