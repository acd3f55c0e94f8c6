/**
 * DHCP under attack (issue 18's DHCP rows), against `netsvc dhcp` at its default log level
 * (info) with a 50-address loopback pool reached through a "relay" (giaddr 127.0.0.2, whose
 * replies this script receives on relayPort):
 *
 * - 320,000 DISCOVERs with random MACs at 8,000/s (before: one log line per packet and a
 *   "no free leases" warning per DISCOVER, 112 MB of log): log bytes written, offers made;
 * - 1,000 DISCOVERs with hlen=0 and no client-id (before: ACKed and stored with an empty
 *   MAC under one shared key): how many were answered.
 * Between the two floods a real client (DISCOVER/OFFER from a fresh MAC) is not expected to
 * succeed (the pool is exhausted by design), so the legitimate column is "-".
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from '../../services/dhcp/codec.js';
import { clientMessage } from '../../services/dhcp/client-messages.js';
import { ipFromText } from '../../services/dhcp/ipv4.js';
import { MSG } from '../../services/dhcp/options.js';
import { freePorts } from '../../src/testing/daemon.js';
import { sample, sendAtRate, sleep, startService, type AttackRow } from './common.js';

const FLOOD = 320_000;
const RATE = 8000;

async function blast(
  sock: Socket,
  port: number,
  count: number,
  make: (i: number) => Uint8Array,
): Promise<void> {
  await sendAtRate(sock, port, count, RATE, make);
  await sleep(1000);
}

export async function dhcpAttacks(work: string): Promise<AttackRow[]> {
  const [port, relayPort] = await freePorts(2);
  const cfgDir = join(work, 'dhcp-config');
  mkdirSync(cfgDir, { recursive: true });
  writeFileSync(
    join(cfgDir, 'dhcp.yaml'),
    JSON.stringify({
      enabled: true,
      listen: [{ address: '127.0.0.1', port, relayPort }],
      authoritative: true,
      leaseTime: { default: 120, min: 60, max: 3600 },
      subnets: [
        {
          subnet: '127.0.0.0/8',
          serverId: '127.0.0.1',
          pools: [{ start: '127.16.0.1', end: '127.16.0.50' }],
          options: { routers: ['127.0.0.1'] },
        },
      ],
    }),
  );
  writeFileSync(
    join(cfgDir, 'netsvc.yaml'),
    `admin: {enabled: true, address: 127.0.0.1, port: 0}\nlog: {level: info, format: json}\n`,
  );
  const svc = await startService('dhcp', join(work, 'dhcp'), {}, cfgDir);
  const relay = createSocket('udp4');
  await new Promise<void>((ok) => relay.bind(relayPort, '127.0.0.2', ok));
  let replies = 0;
  relay.on('message', () => replies++);
  const giaddr = ipFromText('127.0.0.2');
  try {
    svc.resetPeak();
    const log0 = svc.logBytes();
    const mac = new Uint8Array(6);
    await blast(relay, port!, FLOOD, (i) => {
      mac[0] = 0x02;
      mac[2] = (i >>> 24) & 0xff;
      mac[3] = (i >>> 16) & 0xff;
      mac[4] = (i >>> 8) & 0xff;
      mac[5] = i & 0xff;
      return encode(clientMessage(MSG.DISCOVER, { mac }, { xid: i, giaddr })).bytes;
    });
    const logBytes = svc.logBytes() - log0;
    const offers = replies;
    const m1 = await svc.metrics();
    const peak = svc.rss().peakMb;
    const after = svc.rss().nowMb;

    replies = 0;
    const dropped0 = sample(m1, 'dhcp_dropped_total', { reason: 'bad-hardware-address' });
    await blast(relay, port!, 1000, (i) => {
      const p = clientMessage(
        MSG.DISCOVER,
        { mac: new Uint8Array(6) },
        { xid: 0x7000_0000 + i, giaddr },
      );
      return encode({ ...p, hlen: 0, chaddr: new Uint8Array(16) }).bytes;
    });
    const m2 = await svc.metrics();
    const dropped = sample(m2, 'dhcp_dropped_total', { reason: 'bad-hardware-address' }) - dropped0;
    return [
      {
        service: 'dhcp',
        attack: `${FLOOD} DISCOVERs, random MACs, ${RATE}/s, 50-address pool`,
        attackerGot: `${(logBytes / 1024).toFixed(0)} KiB of log (${(logBytes / FLOOD).toFixed(2)} bytes/packet)`,
        legit: '-',
        rssPeakMb: peak,
        rssAfterMb: after,
        notes:
          `${offers} offers; received ${sample(m1, 'dhcp_packets_received_total')}, ` +
          `pool exhausted ${sample(m1, 'dhcp_pool_exhausted_total')}, ` +
          `log lines suppressed ${sample(m1, 'dhcp_dropped_total', { reason: 'log-suppressed' })}`,
      },
      {
        service: 'dhcp',
        attack: '1,000 DISCOVERs with hlen=0, no client-id',
        attackerGot: `${replies} answered`,
        legit: '-',
        rssPeakMb: null,
        rssAfterMb: null,
        notes: `${dropped} dropped as bad-hardware-address`,
      },
    ];
  } finally {
    relay.close();
    await svc.daemon.stop();
  }
}
