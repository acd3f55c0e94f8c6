import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { DhcpConfig, checkDhcpConfig } from './config.js';
import { compileSubnets, SubnetSet } from './subnet.js';
import { LeaseTable } from './lease.js';
import { Allocator } from './allocator.js';
import {
  processPacket,
  reclaimExpired,
  type Arrival,
  type Outcome,
  type PacketContext,
} from './process-packet.js';
import { decode, encode, FLAG_BROADCAST, type DhcpPacket } from './codec.js';
import {
  clientMessage,
  macFromText,
  type ClientFields,
  type ClientIdentity,
} from './client-messages.js';
import { MSG, OPT, readIp, readU32, readText } from './options.js';
import { ipFromText as ip, ipToText } from './ipv4.js';

function core(partial: Record<string, unknown>) {
  const cfg = Value.Default(DhcpConfig, Value.Clone(partial)) as DhcpConfig;
  const issues = [...Value.Errors(DhcpConfig, cfg)].map((e) => `${e.path}: ${e.message}`);
  issues.push(...checkDhcpConfig(cfg));
  if (issues.length) throw new Error(issues.join('\n'));
  const leases = new LeaseTable();
  const subnets = new SubnetSet(compileSubnets(cfg));
  const clock = { now: 1_700_000_000_000 };
  const own = new Set<number>([ip('192.168.1.1'), ip('192.168.2.1')]);
  const allocator = new Allocator(cfg.allocation, leases);
  const ctx = (): PacketContext => ({
    now: clock.now,
    policy: {
      authoritative: cfg.authoritative,
      offerHoldMs: cfg.offerHoldSeconds * 1000,
      declineHoldMs: cfg.declineHoldSeconds * 1000,
      renewPercent: cfg.renewPercent,
      rebindPercent: cfg.rebindPercent,
      clientPort: 68,
      relayPort: 67,
    },
    subnets,
    leases,
    allocator,
    ownAddresses: own,
  });
  const eth1: Arrival = {
    iface: { name: 'eth1', addresses: [ip('192.168.1.1')] },
    localAddress: ip('192.168.1.1'),
    source: { address: 0, port: 68 },
  };
  const eth2: Arrival = {
    iface: { name: 'eth2', addresses: [ip('192.168.2.1')] },
    localAddress: ip('192.168.2.1'),
    source: { address: 0, port: 68 },
  };
  const relay: Arrival = {
    localAddress: ip('127.0.0.1'),
    source: { address: ip('10.9.9.9'), port: 67 },
  };
  /** Send a client message through the codec and the core; the reply decoded. */
  const run = (
    type: number,
    id: ClientIdentity,
    f: ClientFields,
    arrival: Arrival = eth1,
  ): { out: Outcome; reply: DhcpPacket | undefined } => {
    const packet = decode(encode(clientMessage(type, id, f)).bytes);
    const out = processPacket({ packet, arrival }, ctx());
    const reply = out.reply
      ? decode(encode(out.reply.packet, out.reply.maxLength).bytes)
      : undefined;
    return { out, reply };
  };
  const reclaim = () => reclaimExpired(ctx());
  return { cfg, leases, clock, run, reclaim, eth1, eth2, relay, ctx };
}

const LAN = {
  subnets: [
    {
      subnet: '192.168.1.0/24',
      pools: [{ start: '192.168.1.10', end: '192.168.1.100' }],
      options: {
        routers: ['192.168.1.1'],
        dnsServers: ['192.168.0.2', '1.1.1.1', '8.8.8.8'],
        domainName: 'TIC2023.com',
      },
      reservations: [{ mac: '02:00:00:00:00:99', address: '192.168.1.200', hostname: 'printer' }],
    },
    {
      subnet: '192.168.2.0/24',
      pools: [{ start: '192.168.2.10', end: '192.168.2.100' }],
      options: { routers: ['192.168.2.1'], dnsServers: ['192.168.0.2'] },
    },
    {
      subnet: '10.20.0.0/16',
      serverId: '10.20.0.1',
      pools: [{ start: '10.20.1.1', end: '10.20.1.3' }],
    },
  ],
};

const A: ClientIdentity = {
  mac: macFromText('52:54:00:00:00:01'),
  hostname: 'alice',
  prl: [1, 3, 6, 15, 51, 54],
};
const B: ClientIdentity = { mac: macFromText('52:54:00:00:00:02'), prl: [6, 3, 1] };
const type = (p: DhcpPacket | undefined) => p?.options.get(OPT.MESSAGE_TYPE)?.[0];

t.test('DORA on a manual clock, then renew, rebind, release, and stickiness', async (t) => {
  const c = core(LAN);
  const d = c.run(MSG.DISCOVER, A, { xid: 1 });
  t.equal(type(d.reply), MSG.OFFER);
  t.equal(ipToText(d.reply!.yiaddr), '192.168.1.10', 'lowest address of the pool');
  t.equal(d.out.changes.length, 0, 'an OFFER commits nothing');
  t.equal(d.out.reply!.broadcast, true, 'no ciaddr, no ARP: broadcast (Kea UDP mode)');
  t.equal(
    ipToText(readIp(d.reply!.options.get(OPT.SERVER_ID))!),
    '192.168.1.1',
    'server id = interface address',
  );
  t.equal(readU32(d.reply!.options.get(OPT.LEASE_TIME)), 120, 'reference default lease');
  t.equal(readU32(d.reply!.options.get(OPT.RENEWAL_TIME)), 60);
  t.equal(readU32(d.reply!.options.get(OPT.REBINDING_TIME)), 105);
  t.same(
    [...d.reply!.options.keys()].slice(0, 7),
    [53, 1, 3, 6, 15, 51, 54],
    'option 55 order after 53',
  );
  t.same(
    d.reply!.options.get(OPT.DNS_SERVERS),
    Uint8Array.of(192, 168, 0, 2, 1, 1, 1, 1, 8, 8, 8, 8),
  );

  const r = c.run(MSG.REQUEST, A, {
    xid: 2,
    requested: d.reply!.yiaddr,
    serverId: ip('192.168.1.1'),
  });
  t.equal(type(r.reply), MSG.ACK);
  t.equal(r.out.changes.length, 1, 'the ACK carries its lease to commit first');
  t.equal(c.leases.byAddress(ip('192.168.1.10'))?.hostname, 'alice');

  // Second client gets the next address; option 55 order 6, 3, 1 honoured.
  const d2 = c.run(MSG.DISCOVER, B, { xid: 3 });
  t.equal(ipToText(d2.reply!.yiaddr), '192.168.1.11');
  t.same([...d2.reply!.options.keys()].slice(0, 4), [53, 6, 3, 1]);

  // RENEWING at T1: unicast to ciaddr.
  c.clock.now += 60_000;
  const renew = c.run(MSG.REQUEST, A, { xid: 4, ciaddr: ip('192.168.1.10') });
  t.equal(type(renew.reply), MSG.ACK);
  t.equal(renew.out.reply!.broadcast, false);
  t.equal(ipToText(renew.out.reply!.address), '192.168.1.10');
  t.equal(renew.reply!.ciaddr, ip('192.168.1.10'));

  // Lease ran out and was reclaimed; the client comes back with a DISCOVER: same address.
  c.clock.now += 10 * 60_000;
  c.reclaim();
  t.equal(c.leases.byAddress(ip('192.168.1.10'))?.state, 'expired');
  const again = c.run(MSG.DISCOVER, A, { xid: 5 });
  t.equal(
    ipToText(again.reply!.yiaddr),
    '192.168.1.10',
    'previous address, RFC 2131 §4.3.1 step 2',
  );

  // RELEASE frees it; no reply.
  c.run(MSG.REQUEST, A, { xid: 6, requested: ip('192.168.1.10'), serverId: ip('192.168.1.1') });
  const rel = c.run(MSG.RELEASE, A, {
    xid: 7,
    ciaddr: ip('192.168.1.10'),
    serverId: ip('192.168.1.1'),
  });
  t.equal(rel.reply, undefined);
  t.equal(c.leases.byAddress(ip('192.168.1.10'))?.state, 'released');
});

t.test('REQUEST for another server forgets our offer silently', async (t) => {
  const c = core(LAN);
  const d = c.run(MSG.DISCOVER, A, { xid: 1 });
  const r = c.run(MSG.REQUEST, A, {
    xid: 1,
    requested: ip('192.168.1.50'),
    serverId: ip('192.168.1.254'),
  });
  t.equal(r.reply, undefined);
  t.equal(r.out.drop, 'other-server');
  t.equal(c.leases.offerAt(d.reply!.yiaddr), undefined, 'offer forgotten');
  t.equal(
    ipToText(c.run(MSG.DISCOVER, B, { xid: 2 }).reply!.yiaddr),
    '192.168.1.10',
    'address free again',
  );
});

t.test('authoritative NAKs', async (t) => {
  const c = core(LAN);
  c.run(MSG.DISCOVER, A, { xid: 1 });
  c.run(MSG.REQUEST, A, { xid: 1, requested: ip('192.168.1.10'), serverId: ip('192.168.1.1') });
  // INIT-REBOOT with an address of another network (a laptop moved from eth2's LAN).
  const wrong = c.run(MSG.REQUEST, B, { xid: 2, requested: ip('192.168.2.33') });
  t.equal(type(wrong.reply), MSG.NAK);
  t.equal(wrong.out.reply!.broadcast, true, 'NAK broadcast when giaddr is 0 (RFC 2131 §4.1)');
  t.equal(wrong.reply!.yiaddr, 0);
  t.notOk(wrong.reply!.options.has(OPT.LEASE_TIME), 'Table 3: no lease time in a NAK');
  t.match(readText(wrong.reply!.options.get(OPT.MESSAGE)), /not on this network/);
  // INIT-REBOOT for an address leased to another client.
  const taken = c.run(MSG.REQUEST, B, { xid: 3, requested: ip('192.168.1.10') });
  t.equal(type(taken.reply), MSG.NAK);
  t.match(readText(taken.reply!.options.get(OPT.MESSAGE)), /another client/);
  // RENEWING someone else's address.
  const renew = c.run(MSG.REQUEST, B, { xid: 4, ciaddr: ip('192.168.1.10') });
  t.equal(type(renew.reply), MSG.NAK);
  // INIT-REBOOT, client known with another address.
  const other = c.run(MSG.REQUEST, A, { xid: 5, requested: ip('192.168.1.20') });
  t.equal(type(other.reply), MSG.NAK);
  // INIT-REBOOT, unknown client, free address in the pool: authoritative ACK (dhcpd).
  const fresh = c.run(MSG.REQUEST, B, { xid: 6, requested: ip('192.168.1.42') });
  t.equal(type(fresh.reply), MSG.ACK);
  t.equal(ipToText(fresh.reply!.yiaddr), '192.168.1.42');
  // INIT-REBOOT for an address outside the pools.
  const out = c.run(
    MSG.REQUEST,
    { mac: macFromText('52:54:00:00:00:03') },
    { xid: 7, requested: ip('192.168.1.150') },
  );
  t.equal(type(out.reply), MSG.NAK);
});

t.test('not authoritative: silent where RFC 2131 §4.3.2 says so', async (t) => {
  const c = core({ ...LAN, authoritative: false });
  const r = c.run(MSG.REQUEST, B, { xid: 1, requested: ip('192.168.2.33') });
  t.equal(r.reply, undefined);
  const unknown = c.run(MSG.REQUEST, B, { xid: 2, requested: ip('192.168.1.42') });
  t.equal(unknown.reply, undefined);
});

t.test('requested address honoured when free; reservations; lease time clamps', async (t) => {
  const c = core(LAN);
  const d = c.run(MSG.DISCOVER, A, { xid: 1, requested: ip('192.168.1.77'), leaseTime: 100000 });
  t.equal(ipToText(d.reply!.yiaddr), '192.168.1.77');
  t.equal(readU32(d.reply!.options.get(OPT.LEASE_TIME)), 3600, 'max-lease-time');
  const short = c.run(MSG.DISCOVER, B, { xid: 2, leaseTime: 5 });
  t.equal(readU32(short.reply!.options.get(OPT.LEASE_TIME)), 60, 'min-lease-time');
  const printer = { mac: macFromText('02:00:00:00:00:99') };
  const p = c.run(MSG.DISCOVER, printer, { xid: 3 });
  t.equal(ipToText(p.reply!.yiaddr), '192.168.1.200');
  t.equal(readText(p.reply!.options.get(OPT.HOSTNAME)), 'printer');
  const stolen = c.run(
    MSG.DISCOVER,
    { mac: macFromText('52:54:00:00:00:05') },
    { xid: 4, requested: ip('192.168.1.200') },
  );
  t.not(
    ipToText(stolen.reply!.yiaddr),
    '192.168.1.200',
    'reserved address not given to another MAC',
  );
});

t.test('client identifier (61) is the identity, not chaddr', async (t) => {
  const c = core(LAN);
  const id = Uint8Array.of(0xff, 1, 2, 3, 4);
  const d = c.run(
    MSG.DISCOVER,
    { mac: macFromText('52:54:00:00:00:07'), clientId: id },
    { xid: 1 },
  );
  c.run(
    MSG.REQUEST,
    { mac: macFromText('52:54:00:00:00:07'), clientId: id },
    { xid: 1, requested: d.reply!.yiaddr, serverId: ip('192.168.1.1') },
  );
  // Same client id, new NIC: same lease.
  const again = c.run(
    MSG.DISCOVER,
    { mac: macFromText('52:54:00:00:00:08'), clientId: id },
    { xid: 2 },
  );
  t.equal(again.reply!.yiaddr, d.reply!.yiaddr);
});

t.test('two interfaces: each answers from its own subnet', async (t) => {
  const c = core(LAN);
  const on1 = c.run(MSG.DISCOVER, A, { xid: 1 }, c.eth1);
  const on2 = c.run(MSG.DISCOVER, A, { xid: 1 }, c.eth2);
  t.equal(ipToText(on1.reply!.yiaddr), '192.168.1.10');
  t.equal(ipToText(on2.reply!.yiaddr), '192.168.2.10');
  t.equal(ipToText(readIp(on2.reply!.options.get(OPT.ROUTERS))!), '192.168.2.1');
  t.equal(ipToText(readIp(on2.reply!.options.get(OPT.SERVER_ID))!), '192.168.2.1');
});

t.test(
  'relayed: subnet by giaddr, reply to the relay port 67, option 82 echoed last',
  async (t) => {
    const c = core(LAN);
    const rai = Uint8Array.of(1, 4, 0, 0, 0, 7, 2, 2, 0xab, 0xcd);
    const d = c.run(
      MSG.DISCOVER,
      A,
      { xid: 9, giaddr: ip('10.20.0.254'), extra: [[OPT.RELAY_AGENT_INFO, rai]] },
      c.relay,
    );
    t.equal(ipToText(d.reply!.yiaddr), '10.20.1.1');
    t.equal(ipToText(d.out.reply!.address), '10.20.0.254');
    t.equal(d.out.reply!.port, 67);
    t.equal(d.reply!.giaddr, ip('10.20.0.254'));
    const keys = [...d.reply!.options.keys()];
    t.equal(keys[keys.length - 1], OPT.RELAY_AGENT_INFO);
    t.same(d.reply!.options.get(OPT.RELAY_AGENT_INFO), rai);
    t.equal(ipToText(readIp(d.reply!.options.get(OPT.SERVER_ID))!), '10.20.0.1');
    const nak = c.run(
      MSG.REQUEST,
      B,
      { xid: 10, giaddr: ip('10.20.0.254'), requested: ip('192.168.9.9') },
      c.relay,
    );
    t.equal(type(nak.reply), MSG.NAK);
    t.equal(
      nak.reply!.flags & FLAG_BROADCAST,
      FLAG_BROADCAST,
      'relayed NAK sets the broadcast bit',
    );
    t.equal(ipToText(nak.out.reply!.address), '10.20.0.254');
  },
);

t.test('pool exhaustion: no reply, a drop reason, a warning; never a throw', async (t) => {
  const c = core(LAN);
  for (let i = 0; i < 3; i++) {
    const id = { mac: Uint8Array.of(2, 0, 0, 0, 1, i) };
    const d = c.run(MSG.DISCOVER, id, { xid: i, giaddr: ip('10.20.0.254') }, c.relay);
    c.run(
      MSG.REQUEST,
      id,
      { xid: i, giaddr: ip('10.20.0.254'), requested: d.reply!.yiaddr, serverId: ip('10.20.0.1') },
      c.relay,
    );
  }
  const d = c.run(MSG.DISCOVER, A, { xid: 99, giaddr: ip('10.20.0.254') }, c.relay);
  t.equal(d.reply, undefined);
  t.equal(d.out.drop, 'pool-exhausted');
  t.ok(d.out.events.some((e) => e.level === 'warn' && /no free leases/.test(e.msg)));
  // After expiry and reclaim, the pool has room again.
  c.clock.now += 3601_000;
  c.reclaim();
  const later = c.run(MSG.DISCOVER, A, { xid: 100, giaddr: ip('10.20.0.254') }, c.relay);
  t.equal(type(later.reply), MSG.OFFER);
});

t.test('DECLINE holds the address; the client gets another one', async (t) => {
  const c = core(LAN);
  const d = c.run(MSG.DISCOVER, A, { xid: 1 });
  c.run(MSG.REQUEST, A, { xid: 1, requested: d.reply!.yiaddr, serverId: ip('192.168.1.1') });
  const dec = c.run(MSG.DECLINE, A, {
    xid: 2,
    requested: d.reply!.yiaddr,
    serverId: ip('192.168.1.1'),
  });
  t.equal(dec.reply, undefined);
  t.equal(dec.out.changes.length, 1);
  t.equal(c.leases.byAddress(d.reply!.yiaddr)?.state, 'declined');
  const next = c.run(MSG.DISCOVER, A, { xid: 3 });
  t.not(next.reply!.yiaddr, d.reply!.yiaddr);
  const other = c.run(MSG.DISCOVER, B, { xid: 4, requested: d.reply!.yiaddr });
  t.not(other.reply!.yiaddr, d.reply!.yiaddr, 'declined address not handed out during probation');
  c.clock.now += 86400_000;
  c.reclaim();
  t.equal(c.leases.byAddress(d.reply!.yiaddr), undefined, 'probation over');
});

t.test('INFORM: ACK with options, no lease, to ciaddr', async (t) => {
  const c = core(LAN);
  const r = c.run(MSG.INFORM, A, { xid: 1, ciaddr: ip('192.168.1.150') });
  t.equal(type(r.reply), MSG.ACK);
  t.equal(r.reply!.yiaddr, 0);
  t.notOk(r.reply!.options.has(OPT.LEASE_TIME));
  t.ok(r.reply!.options.has(OPT.ROUTERS));
  t.equal(ipToText(r.out.reply!.address), '192.168.1.150');
  t.equal(r.out.changes.length, 0);
});

t.test('non-requests, BOOTP and unknown types are dropped', async (t) => {
  const c = core(LAN);
  const off = c.run(MSG.OFFER, A, { xid: 1 });
  t.equal(off.out.drop, 'unknown-type');
  const p = decode(encode({ ...clientMessage(MSG.DISCOVER, A, { xid: 1 }), op: 2 }).bytes);
  const o = processPacket({ packet: p, arrival: c.eth1 }, { now: 0 } as never);
  t.equal(o.drop, 'not-request');
});

t.test('iterative allocation continues after the last address', async (t) => {
  const c = core({ ...LAN, allocation: 'iterative' });
  const a = c.run(MSG.DISCOVER, A, { xid: 1 });
  c.run(MSG.RELEASE, A, { xid: 1, ciaddr: a.reply!.yiaddr });
  c.leases.dropOffer('192.168.1.0/24', 'hw:01525400000001');
  const b = c.run(MSG.DISCOVER, B, { xid: 2 });
  t.equal(ipToText(b.reply!.yiaddr), '192.168.1.11');
});

t.test('invalid hlen/htype combinations are dropped, not leased under a shared key', async (t) => {
  const c = core(LAN);
  const send = (hlen: number, htype: number, clientId?: Uint8Array) => {
    const input = {
      ...clientMessage(
        MSG.DISCOVER,
        { mac: Uint8Array.of(2, 0, 0, 0, 9, 9), ...(clientId ? { clientId } : {}) },
        {
          xid: 5,
          giaddr: ip('10.20.0.254'),
        },
      ),
      hlen,
      htype,
    };
    return processPacket({ packet: decode(encode(input).bytes), arrival: c.relay }, c.ctx());
  };
  t.equal(send(0, 1).drop, 'bad-hardware-address', 'hlen 0, no client-id');
  t.equal(send(5, 1).drop, 'bad-hardware-address', 'Ethernet with a 5-byte address');
  t.equal(send(16, 1).drop, 'bad-hardware-address', 'Ethernet with a 16-byte address');
  t.equal(
    send(0, 1, Uint8Array.of(0, 1, 2, 3)).drop,
    'bad-hardware-address',
    'Ethernet must still say 6',
  );
  t.ok(
    send(0, 32, Uint8Array.of(0xff, 1, 2, 3, 4)).reply,
    'hlen 0 with a client-id (InfiniBand, RFC 4390) is served',
  );
  t.ok(send(6, 1).reply, 'a normal Ethernet client is served');
});
