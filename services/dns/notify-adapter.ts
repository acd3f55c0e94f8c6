/**
 * NOTIFY out (RFC 1996 §3.6) on the server's UDP listeners: each zone's `notify` targets
 * told of every serial change, resent on the schedule of notify.ts (BIND's 5 tries
 * doubling from 1 s) until answered; a secondary's answer ends the resends. Sent from a
 * listener of the target's address family, so the secondary sees our service address.
 */
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Socket as UdpSocket, RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import type { DnsConfig } from './config.js';
import { parseHostPort } from './config.js';
import { decodeMessage } from './message.js';
import type { DnsMetrics } from './metrics.js';
import { nameFromText, nameKey } from './name.js';
import { NotifySchedule, type NotifySend, type NotifyTarget } from './notify.js';
import type { RR } from './rr.js';

export class NotifySender {
  private readonly schedule = new NotifySchedule();
  private readonly targets = new Map<string, NotifyTarget[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    zones: DnsConfig['zones'],
    /** The server's bound UDP listeners (read at each send: bound after construction). */
    private readonly sockets: () => readonly UdpSocket[],
    private readonly log: Logger,
    private readonly metrics: DnsMetrics,
  ) {
    for (const z of zones) {
      const targets = z.notify.flatMap((n) => parseHostPort(n, 53) ?? []);
      if (targets.length > 0)
        this.targets.set(nameKey(nameFromText(z.origin.replace(/\.?$/, '.'))), targets);
    }
  }

  /** The zone's serial changed to `soa`'s: tell its secondaries. */
  changed(origin: Uint8Array, soa: RR): void {
    const targets = this.targets.get(nameKey(origin));
    if (!targets || this.sockets().length === 0) return;
    this.emit(this.schedule.changed(origin, soa, targets, () => randomInt(0x10000), Date.now()));
  }

  /** A NOTIFY answer (QR set, opcode 4) from a secondary: ends that zone's resends. */
  answered(msg: Uint8Array, rinfo: Pick<RemoteInfo, 'address' | 'port'>): void {
    let origin: Uint8Array | undefined;
    try {
      origin = decodeMessage(msg).questions[0]?.qname;
    } catch {
      /* no readable question: the ID alone matches */
    }
    const id = (msg[0]! << 8) | msg[1]!;
    if (this.schedule.answered({ address: rinfo.address, port: rinfo.port }, id, origin))
      this.metrics.notifies.inc(['answered']);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emit(sends: readonly NotifySend[]): void {
    for (const x of sends) {
      const family = isIP(x.target.address) === 6 ? 'IPv6' : 'IPv4';
      const sock = this.sockets().find((u) => u.address().family === family);
      if (!sock) {
        this.log.warn({ target: x.target.address }, 'NOTIFY: no listener of that address family');
        continue;
      }
      sock.send(x.bytes, x.target.port, x.target.address);
      this.metrics.notifies.inc(['sent']);
    }
    if (this.timer) clearTimeout(this.timer);
    const at = this.schedule.nextTimeout();
    if (at === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const r = this.schedule.tick(Date.now());
        for (const g of r.gaveUp) {
          this.metrics.notifies.inc(['gave-up']);
          this.log.warn({ target: `${g.address}:${g.port}` }, 'NOTIFY not answered after 5 tries');
        }
        this.emit(r.sends);
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }
}
