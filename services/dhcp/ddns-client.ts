/**
 * The DDNS adapter: after a lease is committed and its ACK sent, publish the client's name
 * (RFC 4703 via ddns.ts) to the configured DNS server as TSIG-signed UPDATEs over UDP, and
 * withdraw it when the lease is released or expires. Never on the ACK's path: actions
 * queue per client (in order), and a server that is down is retried with back-off
 * (1 s doubling to 60 s, dhcpd's and Kea D2's habit of not giving up on a lease at once),
 * up to `maxAttempts`; then the action is dropped with a log line and a counter.
 *
 * Responses must carry a valid TSIG over our request's MAC (RFC 8945 §5.3); an unsigned or
 * badly signed answer counts as no answer. Kept in memory: what was published per client,
 * so a renewal on the same address and name sends nothing.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeMessage, FLAG } from '../dns/message.js';
import { encodeUpdate } from '../dns/update-message.js';
import { findTsig, sign, verify, type TsigKey } from '../dns/tsig.js';
import { UPDATE_RCODE, type UpdateRequest } from '../dns/update.js';
import { rcodeToText } from '../dns/message.js';
import type { Lease } from './lease.js';
import { dhcidRdata, type DhcidIdentity } from './dhcid.js';
import {
  claimForward,
  hostLabel,
  removeForward,
  removeReverse,
  setReverse,
  updateOwnForward,
  type LeaseName,
} from './ddns.js';

export interface DdnsOptions {
  readonly server: { readonly address: string; readonly port: number };
  readonly key: TsigKey;
  /** Names go under this zone ("tic2023.com."). */
  readonly forwardZone: string;
  /** Reverse zone of an address; undefined: no PTR for it. */
  readonly reverseZone: (address: number) => string | undefined;
  readonly ttl: number;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  /** Seconds since 1970, for TSIG. */
  readonly now: () => number;
}

export interface DdnsEvents {
  /** Result of one action: 'added', 'kept' (conflict: another client's name), 'removed', 'failed'. */
  onResult?(result: 'added' | 'conflict' | 'removed' | 'failed', fqdn: string): void;
}

/** The DHCID identity behind a lease's client key ("id:<hex>" or "hw:<htype><chaddr>"). */
export function identityOf(clientKey: string): DhcidIdentity | undefined {
  const hex = clientKey.slice(3);
  if (!/^([0-9a-f]{2})+$/.test(hex)) return undefined;
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  if (clientKey.startsWith('id:')) return { clientId: bytes };
  if (clientKey.startsWith('hw:') && bytes.length > 1)
    return { htype: bytes[0]!, chaddr: bytes.subarray(1) };
  return undefined;
}

export class DdnsClient {
  private socket: Socket | undefined;
  private readonly waiting = new Map<number, (msg: Buffer) => void>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly published = new Map<string, LeaseName>();
  private stopped = false;

  constructor(
    private readonly opts: DdnsOptions,
    private readonly log: Logger,
    private readonly events: DdnsEvents = {},
  ) {}

  async start(): Promise<void> {
    const s = createSocket('udp4');
    await new Promise<void>((ok, fail) => {
      s.once('error', fail);
      s.bind(0, () => {
        s.off('error', fail);
        ok();
      });
    });
    s.on('message', (msg, rinfo) => {
      if (rinfo.address !== this.opts.server.address || msg.length < 12) return;
      this.waiting.get(msg.readUInt16BE(0))?.(msg);
    });
    s.on('error', (err) => this.log.warn({ err }, 'ddns socket error'));
    this.socket = s;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.chains.values()]);
    this.socket?.close();
    this.socket = undefined;
  }

  /** A lease was ACKed (after its commit). */
  leaseBound(lease: Lease): void {
    const name = this.nameFor(lease);
    const before = this.published.get(lease.clientKey);
    if (!name) {
      if (before) this.enqueue(lease.clientKey, () => this.withdraw(lease.clientKey, before));
      return;
    }
    if (before && before.fqdn === name.fqdn && before.address === name.address) return;
    this.enqueue(lease.clientKey, async () => {
      if (before) await this.withdraw(lease.clientKey, before);
      await this.publish(lease.clientKey, name);
    });
  }

  /** A lease was released, expired or deleted. */
  leaseGone(clientKey: string): void {
    const before = this.published.get(clientKey);
    if (before) this.enqueue(clientKey, () => this.withdraw(clientKey, before));
  }

  /** Resolves when every queued action has finished (tests). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
  }

  private nameFor(lease: Lease): LeaseName | undefined {
    const label = hostLabel(lease.hostname ?? undefined);
    const who = identityOf(lease.clientKey);
    if (!label || !who) return undefined;
    const zone = this.opts.forwardZone.endsWith('.')
      ? this.opts.forwardZone
      : this.opts.forwardZone + '.';
    const fqdn = `${label}.${zone}`;
    return {
      fqdn,
      forwardZone: zone,
      address: lease.address,
      reverseZone: this.opts.reverseZone(lease.address) ?? '',
      dhcid: dhcidRdata(who, fqdn),
      ttl: this.opts.ttl,
    };
  }

  private enqueue(clientKey: string, action: () => Promise<void>): void {
    const prev = this.chains.get(clientKey) ?? Promise.resolve();
    const next = prev
      .then(action)
      .catch((err: unknown) => this.log.error({ err }, 'bug: ddns action threw'))
      .finally(() => {
        if (this.chains.get(clientKey) === next) this.chains.delete(clientKey);
      });
    this.chains.set(clientKey, next);
  }

  private async publish(clientKey: string, n: LeaseName): Promise<void> {
    let rcode = await this.send(claimForward(n));
    // §5.3.2: the name exists; update it only if its DHCID is ours.
    if (rcode === UPDATE_RCODE.YXDOMAIN) rcode = await this.send(updateOwnForward(n));
    if (rcode === UPDATE_RCODE.NXRRSET) {
      this.log.warn(
        { fqdn: n.fqdn },
        'ddns: name belongs to another client (DHCID differs); not taken',
      );
      this.events.onResult?.('conflict', n.fqdn);
      return;
    }
    if (rcode !== UPDATE_RCODE.NOERROR) {
      this.events.onResult?.('failed', n.fqdn);
      return;
    }
    this.published.set(clientKey, n);
    if (n.reverseZone !== '') await this.send(setReverse(n));
    this.log.info({ fqdn: n.fqdn }, 'ddns: name published');
    this.events.onResult?.('added', n.fqdn);
  }

  private async withdraw(clientKey: string, n: LeaseName): Promise<void> {
    this.published.delete(clientKey);
    const rcode = await this.send(removeForward(n));
    if (n.reverseZone !== '') await this.send(removeReverse(n));
    if (rcode === UPDATE_RCODE.NOERROR) {
      this.log.info({ fqdn: n.fqdn }, 'ddns: name removed');
      this.events.onResult?.('removed', n.fqdn);
    } else this.events.onResult?.('failed', n.fqdn);
  }

  /** One UPDATE, retried with back-off; the rcode, or SERVFAIL when it never got through. */
  private async send(req: UpdateRequest): Promise<number> {
    let delay = 1000;
    for (let attempt = 1; attempt <= this.opts.maxAttempts && !this.stopped; attempt++) {
      const rcode = await this.once(req);
      if (rcode !== undefined) {
        if (
          rcode !== UPDATE_RCODE.NOERROR &&
          rcode !== UPDATE_RCODE.YXDOMAIN &&
          rcode !== UPDATE_RCODE.NXRRSET
        )
          this.log.warn(
            {
              rcode: rcodeToText(rcode),
              zone: req.zone[0] && Buffer.from(req.zone[0].qname).toString('hex'),
            },
            'ddns: update refused',
          );
        return rcode;
      }
      if (attempt < this.opts.maxAttempts) {
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 60_000);
      }
    }
    this.log.warn(
      { server: this.opts.server.address },
      'ddns: server did not answer; update dropped',
    );
    return UPDATE_RCODE.SERVFAIL;
  }

  private once(req: UpdateRequest): Promise<number | undefined> {
    const s = this.socket;
    if (!s) return Promise.resolve(undefined);
    let id = randomInt(0, 0x10000);
    while (this.waiting.has(id)) id = (id + 1) & 0xffff;
    const signed = sign(encodeUpdate(id, req), this.opts.key, { now: this.opts.now() });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, this.opts.timeoutMs);
      this.waiting.set(id, (msg) => {
        // RFC 8945 §5.3: the answer must be signed with the same key over our MAC.
        const t = findTsig(msg);
        if (t === undefined || t === 'formerr') return;
        const v = verify(
          msg,
          t,
          (n) => (n === this.opts.key.name ? this.opts.key : undefined),
          this.opts.now(),
          signed.mac,
        );
        if (!v.ok) return;
        let m;
        try {
          m = decodeMessage(msg);
        } catch {
          return;
        }
        if (!(m.flags & FLAG.QR)) return;
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(m.rcode);
      });
      s.send(signed.message, this.opts.server.port, this.opts.server.address);
    });
  }
}
