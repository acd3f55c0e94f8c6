/**
 * DNS under attack (issue 18's DNS rows), against `netsvc dns` on config/dev:
 *
 * - 150 TCP connections from 127.0.0.2, each announcing a 64-byte message and then sending
 *   one byte a second, reconnecting when closed, for 15 s (before: all 150 slots held, dig
 *   over TCP failing throughout): `dig +tcp` from 127.0.0.1 once a second meanwhile;
 * - the CPU a query costs the server (utime + stime from /proc over 40,000 queries sent at
 *   8,000/s): a valid query, a QDCOUNT=2 query (FORMERR) and 40 random bytes (dropped). Before:
 *   a malformed query cost ~3x a valid one.
 */
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePorts } from '../../src/testing/daemon.js';
import {
  has,
  probeWhile,
  run,
  sample,
  sendAtRate,
  sleep,
  startService,
  type AttackRow,
} from './common.js';

const TRICKLE_SECONDS = 15;
const CPU_QUERIES = 40_000;
const CPU_RATE = 8000;
/** USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux (proc(5)). */
const TICK_US = 10_000;

function query(id: number, qdcount = 1): Buffer {
  // ns.TIC2023.com A, RD clear.
  const name = Buffer.from([2, 0x6e, 0x73, 7, ...Buffer.from('TIC2023'), 3, 0x63, 0x6f, 0x6d, 0]);
  const header = Buffer.from([id >> 8, id & 0xff, 0, 0, 0, qdcount, 0, 0, 0, 0, 0, 0]);
  const q = Buffer.concat([name, Buffer.from([0, 1, 0, 1])]);
  return Buffer.concat(qdcount === 2 ? [header, q, q] : [header, q]);
}

async function trickle(port: number): Promise<Omit<AttackRow, 'rssPeakMb' | 'rssAfterMb'>> {
  const sockets = new Set<Socket>();
  let closedByServer = 0;
  let stop = false;
  const open = (): void => {
    if (stop) return;
    const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    sockets.add(s);
    let tick: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      s.write(Uint8Array.of(0x00, 0x40));
      tick = setInterval(() => s.write(Uint8Array.of(0)), 1000);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(tick);
      sockets.delete(s);
      if (!stop) {
        closedByServer++;
        setTimeout(open, 50);
      }
    });
  };
  for (let i = 0; i < 150; i++) open();
  await sleep(1000);
  const t0 = Date.now();
  const dig = async (): Promise<boolean> => {
    const r = await run(
      'dig',
      ['@127.0.0.1', '-p', String(port), '+tcp', '+time=2', '+tries=1', 'TIC2023.com.', 'SOA'],
      10_000,
    );
    return /status: NOERROR/.test(r.output);
  };
  const legit = await probeWhile(dig, () => Date.now() - t0 >= (TRICKLE_SECONDS - 1) * 1000, 1000);
  stop = true;
  for (const s of sockets) s.destroy();
  return {
    service: 'dns',
    attack: `150 TCP connections trickling 1 byte/s, ${TRICKLE_SECONDS} s`,
    attackerGot: `${closedByServer} of its connections closed by the server`,
    legit: `${legit.ok}/${legit.tries}`,
    notes: '',
  };
}

/** Server CPU per packet, µs, for CPU_QUERIES copies of `make(i)` at CPU_RATE/s. */
async function cpuPerPacket(
  port: number,
  cpu: () => number,
  make: (i: number) => Buffer,
): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.3', ok));
  sock.on('message', () => undefined);
  await sleep(300);
  const c0 = cpu();
  await sendAtRate(sock, port, CPU_QUERIES, CPU_RATE, make);
  await sleep(500);
  sock.close();
  return ((cpu() - c0) * TICK_US) / CPU_QUERIES;
}

export async function dnsAttacks(work: string): Promise<AttackRow[]> {
  const [port] = await freePorts(1);
  const svc = await startService('dns', join(work, 'dns'), {
    NETSVC_DNS__LISTEN__0__PORT: String(port),
  });
  const rows: AttackRow[] = [];
  try {
    if (await has('dig')) {
      svc.resetPeak();
      const r = await trickle(port!);
      const peak = svc.rss().peakMb;
      const m = await svc.metrics();
      await sleep(3000);
      rows.push({
        ...r,
        rssPeakMb: peak,
        rssAfterMb: svc.rss().nowMb,
        notes:
          `closed: message_timeout ${sample(m, 'dns_tcp_closed_total', { reason: 'message_timeout' })}, ` +
          `per_source_limit ${sample(m, 'dns_tcp_closed_total', { reason: 'per_source_limit' })}`,
      });
    } else {
      rows.push({
        service: 'dns',
        attack: 'TCP trickle',
        attackerGot: '-',
        legit: '-',
        rssPeakMb: null,
        rssAfterMb: null,
        notes: 'dig missing (apt bind9-dnsutils)',
      });
    }
    svc.resetPeak();
    const valid = await cpuPerPacket(port!, svc.cpuTicks, (i) => query(i & 0xffff));
    const formerr = await cpuPerPacket(port!, svc.cpuTicks, (i) => query(i & 0xffff, 2));
    const random = await cpuPerPacket(port!, svc.cpuTicks, () => {
      const b = Buffer.alloc(40);
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256);
      return b;
    });
    const peak = svc.rss().peakMb;
    await sleep(3000);
    rows.push({
      service: 'dns',
      attack: `UDP: ${CPU_QUERIES} valid / QDCOUNT=2 / random-byte packets at ${CPU_RATE}/s`,
      attackerGot:
        `server CPU per packet ${valid.toFixed(1)} / ${formerr.toFixed(1)} / ${random.toFixed(1)} us ` +
        `(malformed ${(formerr / valid).toFixed(2)}x, random ${(random / valid).toFixed(2)}x a valid query)`,
      legit: '-',
      rssPeakMb: peak,
      rssAfterMb: svc.rss().nowMb,
      notes: 'CPU includes the kernel receive and send; 1 tick = 10 ms',
    });
  } finally {
    await svc.daemon.stop();
  }
  return rows;
}
