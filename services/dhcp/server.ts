/**
 * The DHCP socket adapter: opens a socket per listen entry (one per served interface, see
 * interface-adapter.ts), decodes, calls the pure core, commits lease changes durably
 * before sending the reply they promise, sends, counts and logs; reclaims expired leases on
 * a timer. Lease state is loaded from SQLite at start, so a restart renews clients with
 * the addresses they hold.
 *
 * Commit before ACK (RFC 2131 §3.1 step 4; DESIGN.md rule 4): replies whose outcome carries
 * lease changes wait in a queue; at the end of the event-loop turn every queued change is
 * committed in one transaction (synchronous=FULL: fsynced) and only then are those replies
 * sent. A failed commit sends nothing (the client retries) and restores the lease table
 * from the store. OFFERs and NAKs promise nothing and leave at once.
 *
 * An interface that does not exist yet or has no IPv4 address is waited for: logged, retried
 * every `interfaceRetrySeconds`, `ready()` false meanwhile; the process does not exit (the
 * reference's dhcpd exited and was restarted until FRR had configured the interface).
 *
 * Errors: a malformed packet is a drop (counted, debug log). Anything thrown by the core is
 * a bug: logged with its stack, counted, no reply, serving goes on (DESIGN.md rule 2).
 */
import type { Socket, RemoteInfo } from 'node:dgram';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import type { DhcpConfig } from './config.js';
import type { DhcpMetrics, PoolCount } from './metrics.js';
import { decode, encode, DhcpDecodeError, hwText } from './codec.js';
import { ipFromText, ipToText } from './ipv4.js';
import { LeaseTable, isHeld, type Lease, type LeaseChange } from './lease.js';
import { Allocator } from './allocator.js';
import { SubnetSet, compileSubnets } from './subnet.js';
import {
  processPacket,
  reclaimExpired,
  type Arrival,
  type DhcpPolicy,
  type Outcome,
  type Reply,
} from './process-packet.js';
import { messageTypeName, readU8, OPT } from './options.js';
import { SqliteLeaseStore, type LeaseStore } from './store.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { LogLimit } from '../../src/log-limit.js';
import {
  DhcpSocketError,
  interfaceAddresses,
  openDeviceSocket,
  openPlainSocket,
} from './interface-adapter.js';

type ListenSpec = DhcpConfig['listen'][number];

interface Listener {
  readonly spec: ListenSpec;
  /** The server policy with this listener's client and relay ports (§4.1 reply ports). */
  readonly policy: DhcpPolicy;
  socket: Socket | undefined;
  addresses: number[];
  waiting: string | undefined;
}

interface Pending {
  readonly listener: Listener;
  readonly changes: readonly LeaseChange[];
  readonly reply: Reply | undefined;
  readonly subnet: string | undefined;
}

/** Errors that waiting will not fix: fail the start so the operator sees them. */
const FATAL_SOCKET_ERRORS = new Set([
  'EPERM',
  'EACCES',
  'EADDRINUSE',
  'ERR_DHCP_NATIVE_MISSING',
  'EINVAL',
]);

export interface DhcpServerOptions {
  readonly dataDir: string;
  readonly log: Logger;
  readonly metrics: DhcpMetrics;
  readonly clock: Clock;
  /** Defaults to SQLite in dataDir. */
  readonly store?: LeaseStore;
  /** Told of every committed lease change, after its reply went out (ddns-client.ts). */
  readonly ddns?: LeaseNames;
}

/** What publishes clients' names (DdnsClient); never on the reply's path. */
export interface LeaseNames {
  leaseBound(lease: Lease): void;
  leaseGone(clientKey: string): void;
}

export class DhcpServer {
  readonly leases = new LeaseTable();
  readonly subnets: SubnetSet;
  readonly allocator: Allocator;
  readonly policy: DhcpPolicy;
  readonly listeners: Listener[];
  private store: LeaseStore | undefined;
  private readonly commits: GroupCommit<LeaseChange, Pending>;
  /** Per message text: 50 lines per 10 s, then a count (rsyslog/journald habit). */
  private readonly logLimit = new LogLimit({ intervalMs: 10_000, burst: 50 });
  private reclaimTimer: NodeJS.Timeout | undefined;
  private ownAddresses = new Set<number>();
  private stopped = false;
  private readonly log: Logger;
  private readonly metrics: DhcpMetrics;

  constructor(
    private readonly cfg: DhcpConfig,
    private readonly opts: DhcpServerOptions,
  ) {
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.subnets = new SubnetSet(compileSubnets(cfg));
    this.allocator = new Allocator(cfg.allocation, this.leases);
    this.policy = {
      authoritative: cfg.authoritative,
      offerHoldMs: cfg.offerHoldSeconds * 1000,
      declineHoldMs: cfg.declineHoldSeconds * 1000,
      renewPercent: cfg.renewPercent,
      rebindPercent: cfg.rebindPercent,
      clientPort: 68,
      relayPort: 67,
    };
    // Each listener answers on its own ports: a second listener with other clientPort or
    // relayPort values (a test bed, a relay on a non-standard port) must not get the first's.
    this.listeners = cfg.listen.map((spec) => ({
      spec,
      policy: { ...this.policy, clientPort: spec.clientPort, relayPort: spec.relayPort },
      socket: undefined,
      addresses: [],
      waiting: undefined,
    }));
    this.metrics.setLeaseSource(() => this.poolCounts());
    this.commits = new GroupCommit<LeaseChange, Pending>({
      write: (changes) => {
        const t0 = performance.now();
        this.store?.commit(changes);
        this.metrics.commit.observe((performance.now() - t0) / 1000);
      },
      committed: (batch) => {
        for (const b of batch) if (b.reply) this.send(b.listener, b.reply, b.subnet);
        // After the replies: a DNS server that is slow or down never delays an ACK.
        const ddns = this.opts.ddns;
        if (ddns)
          for (const b of batch)
            for (const c of b.changes) {
              // Only declined addresses (no client) are deleted outright: nothing to withdraw.
              if (!('put' in c)) continue;
              if (c.put.state === 'bound') ddns.leaseBound(c.put);
              else if (c.put.clientKey !== '') ddns.leaseGone(c.put.clientKey);
            }
      },
      failed: (_batch, changes, err) => {
        this.metrics.errors.inc(['commit']);
        this.log.error(
          { err, changes: changes.length },
          'lease commit failed: no ACK sent, lease table restored from the store',
        );
        this.restore(changes);
      },
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.store =
      this.opts.store ??
      new SqliteLeaseStore(join(this.opts.dataDir, this.cfg.storeFile), this.log);
    let n = 0;
    for (const l of this.store.load()) {
      this.leases.put(l);
      n++;
    }
    this.allocator.reset();
    this.log.info({ leases: n, file: (this.store as { file?: string }).file }, 'leases loaded');
    if (this.subnets.subnets.length === 0)
      this.log.warn('no subnets configured: every request will be dropped');
    for (const l of this.listeners) await this.open(l, true);
    this.refreshOwnAddresses();
    this.reclaimTimer = setInterval(() => this.tick(), this.cfg.reclaimIntervalSeconds * 1000);
    this.reclaimTimer.unref();
  }

  ready(): boolean {
    return (
      !this.stopped &&
      this.store !== undefined &&
      this.listeners.every((l) => l.socket !== undefined)
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reclaimTimer) clearInterval(this.reclaimTimer);
    this.commits.flush();
    await Promise.all(
      this.listeners.map(
        (l) =>
          new Promise<void>((ok) => {
            const s = l.socket;
            l.socket = undefined;
            if (l.spec.interface) this.metrics.interfaceUp.set({ interface: l.spec.interface }, 0);
            if (!s) return ok();
            s.close(() => ok());
          }),
      ),
    );
    this.store?.close();
    this.store = undefined;
  }

  /** Bound local ports (port 0 resolved), for tests. */
  ports(): number[] {
    return this.listeners.flatMap((l) => (l.socket ? [l.socket.address().port] : []));
  }

  // -------------------------------------------------------------------------------------
  // Sockets

  private async open(l: Listener, first: boolean): Promise<void> {
    const spec = l.spec;
    if (this.stopped || l.socket) return;
    if (!spec.interface) {
      l.socket = await openPlainSocket(spec.port, spec.address);
      l.addresses = spec.address === '0.0.0.0' ? [] : [ipFromText(spec.address)];
      this.attach(l);
      this.log.info(
        { address: spec.address, port: l.socket.address().port },
        `listening on ${spec.address}:${l.socket.address().port} (relayed and unicast requests)`,
      );
      return;
    }
    const name = spec.interface;
    const addrs = interfaceAddresses(name);
    if (!addrs || addrs.length === 0) {
      const why = addrs ? 'has no IPv4 address yet' : 'does not exist yet';
      this.wait(l, why);
      return;
    }
    try {
      l.socket = await openDeviceSocket(name, spec.port, spec.address);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (first && FATAL_SOCKET_ERRORS.has(code)) {
        throw e instanceof DhcpSocketError && (code === 'EPERM' || code === 'EACCES')
          ? new DhcpSocketError(
              code,
              `${e.message}; port ${spec.port} needs CAP_NET_BIND_SERVICE and SO_BINDTODEVICE needs CAP_NET_RAW`,
            )
          : e;
      }
      this.wait(l, `cannot open a socket on it (${(e as Error).message})`);
      return;
    }
    l.addresses = addrs;
    l.waiting = undefined;
    this.attach(l);
    this.refreshOwnAddresses();
    this.metrics.interfaceUp.set({ interface: name }, 1);
    this.log.info(
      { interface: name, addresses: addrs.map(ipToText), port: l.socket.address().port },
      `listening on ${name} (${addrs.map(ipToText).join(', ')}) port ${l.socket.address().port}`,
    );
  }

  private wait(l: Listener, why: string): void {
    const name = l.spec.interface!;
    this.metrics.interfaceUp.set({ interface: name }, 0);
    if (l.waiting !== why) {
      this.log.warn(
        { interface: name, retrySeconds: this.cfg.interfaceRetrySeconds },
        `interface ${name} ${why}; waiting`,
      );
      l.waiting = why;
    }
    const t = setTimeout(() => {
      this.open(l, false).catch((e: unknown) => {
        this.metrics.errors.inc(['open']);
        this.log.error({ err: e, interface: name }, 'opening the interface socket failed');
      });
    }, this.cfg.interfaceRetrySeconds * 1000);
    t.unref();
  }

  private attach(l: Listener): void {
    const s = l.socket!;
    s.on('message', (buf, rinfo) => this.onMessage(l, buf, rinfo));
    s.on('error', (e) => {
      this.metrics.errors.inc(['socket']);
      this.log.error({ err: e, interface: l.spec.interface }, 'socket error');
    });
  }

  private refreshOwnAddresses(): void {
    const own = new Set<number>();
    for (const l of this.listeners) for (const a of l.addresses) own.add(a);
    for (const s of this.subnets.subnets) if (s.serverId !== undefined) own.add(s.serverId);
    this.ownAddresses = own;
  }

  /** Periodic work: reclaim expired leases, notice interface address changes. */
  private tick(): void {
    const changes = reclaimExpired({
      now: this.opts.clock.now(),
      leases: this.leases,
      subnets: this.subnets,
      allocator: this.allocator,
    });
    if (changes.length > 0) {
      this.log.debug({ leases: changes.length }, 'reclaimed expired leases');
      this.enqueue({ listener: this.listeners[0]!, changes, reply: undefined, subnet: undefined });
    }
    let changed = false;
    for (const l of this.listeners) {
      if (!l.spec.interface || !l.socket) continue;
      const now4 = interfaceAddresses(l.spec.interface) ?? [];
      if (now4.join() !== l.addresses.join()) {
        this.log.info(
          { interface: l.spec.interface, addresses: now4.map(ipToText) },
          'interface addresses changed',
        );
        l.addresses = now4;
        changed = true;
      }
    }
    if (changed) this.refreshOwnAddresses();
  }

  // -------------------------------------------------------------------------------------
  // Packets

  private onMessage(l: Listener, buf: Buffer, rinfo: RemoteInfo): void {
    let packet;
    try {
      packet = decode(buf);
    } catch (e) {
      if (!(e instanceof DhcpDecodeError)) {
        this.metrics.errors.inc(['decode']);
        this.log.error({ err: e, from: rinfo.address }, 'bug: decoding a DHCP message threw');
        return;
      }
      this.metrics.received.inc(['malformed']);
      this.metrics.dropped.inc(['malformed']);
      this.log.debug({ from: rinfo.address, reason: e.message }, 'malformed DHCP message dropped');
      return;
    }
    this.metrics.received.inc([messageTypeName(readU8(packet.options.get(OPT.MESSAGE_TYPE)))]);
    const arrival: Arrival = {
      ...(l.spec.interface ? { iface: { name: l.spec.interface, addresses: l.addresses } } : {}),
      localAddress: l.addresses[0] ?? 0,
      source: { address: ipFromText(rinfo.address), port: rinfo.port },
    };
    let outcome: Outcome;
    try {
      outcome = processPacket(
        { packet, arrival },
        {
          now: this.opts.clock.now(),
          policy: l.policy,
          subnets: this.subnets,
          leases: this.leases,
          allocator: this.allocator,
          ownAddresses: this.ownAddresses,
        },
      );
    } catch (e) {
      this.metrics.errors.inc(['process']);
      this.log.error(
        { err: e, chaddr: hwText(packet), xid: packet.xid },
        'bug: processing a DHCP message threw; no reply sent',
      );
      return;
    }
    for (const ev of outcome.events) {
      if (ev.level !== 'warn' && !this.cfg.logPackets) continue;
      // A flood (320k forged DISCOVERs wrote 112 MB of log) is written as a count.
      const gate = this.logLimit.admit(ev.key, this.opts.clock.monotonic());
      if (!gate.write) {
        this.metrics.dropped.inc(['log-suppressed']);
        continue;
      }
      const fields =
        gate.suppressed > 0 ? { ...ev.fields, suppressed: gate.suppressed } : ev.fields;
      if (ev.level === 'warn') this.log.warn(fields, ev.msg);
      else this.log[ev.level](fields, ev.msg);
    }
    if (outcome.drop) {
      this.metrics.dropped.inc([outcome.drop]);
      if (outcome.drop === 'pool-exhausted') this.metrics.exhausted.inc([outcome.subnet ?? '']);
    }
    if (outcome.changes.length > 0)
      this.enqueue({
        listener: l,
        changes: outcome.changes,
        reply: outcome.reply,
        subnet: outcome.subnet,
      });
    else if (outcome.reply) this.send(l, outcome.reply, outcome.subnet);
  }

  private enqueue(p: Pending): void {
    this.commits.add(p.changes, p);
  }

  private restore(changes: readonly LeaseChange[]): void {
    for (const c of changes) {
      const address = 'put' in c ? c.put.address : c.del;
      try {
        const stored = this.store?.get(address);
        if (stored) this.leases.put(stored);
        else this.leases.delete(address);
      } catch {
        this.leases.delete(address);
      }
    }
  }

  private send(l: Listener, r: Reply, subnet: string | undefined): void {
    const s = l.socket;
    if (!s) return;
    const { bytes, omitted } = encode(r.packet, r.maxLength);
    if (omitted.length > 0)
      this.log.warn(
        { omitted, maxLength: r.maxLength },
        'options left out of a reply: it would exceed the client maximum',
      );
    const type = messageTypeName(r.messageType);
    s.send(bytes, r.port, ipToText(r.address), (err) => {
      if (err) {
        this.metrics.errors.inc(['send']);
        this.log.error(
          { err, to: ipToText(r.address), port: r.port, type },
          'sending a DHCP reply failed',
        );
      }
    });
    this.metrics.sent.inc([type]);
    if (type === 'NAK') this.metrics.naks.inc([subnet ?? '']);
  }

  /** dhcp_leases values: per pool, addresses active/offered/declined/free (one pass over the table). */
  private poolCounts(): PoolCount[] {
    const now = this.opts.clock.now();
    const rows: {
      subnet: string;
      start: number;
      end: number;
      size: number;
      active: number;
      offered: number;
      declined: number;
    }[] = [];
    const bySubnet = new Map<string, typeof rows>();
    for (const s of this.subnets.subnets) {
      const list = s.pools.map((p) => ({
        subnet: s.id,
        start: p.start,
        end: p.end,
        size: p.size,
        active: 0,
        offered: 0,
        declined: 0,
      }));
      rows.push(...list);
      bySubnet.set(s.id, list);
    }
    const find = (subnet: string, ip: number) =>
      bySubnet.get(subnet)?.find((r) => ip >= r.start && ip <= r.end);
    for (const l of this.leases.leases()) {
      if (!isHeld(l, now)) continue;
      const r = find(l.subnet, l.address);
      if (r) {
        if (l.state === 'declined') r.declined++;
        else r.active++;
      }
    }
    for (const o of this.leases.offers()) {
      const r = o.ends > now ? find(o.subnet, o.address) : undefined;
      if (
        r &&
        this.leases.holder(o.address, now) === o.clientKey &&
        !isHeldLease(this.leases.byAddress(o.address), now)
      )
        r.offered++;
    }
    const out: PoolCount[] = [];
    for (const r of rows) {
      const pool = `${ipToText(r.start)}-${ipToText(r.end)}`;
      out.push(
        { subnet: r.subnet, pool, state: 'active', value: r.active },
        { subnet: r.subnet, pool, state: 'offered', value: r.offered },
        { subnet: r.subnet, pool, state: 'declined', value: r.declined },
        {
          subnet: r.subnet,
          pool,
          state: 'free',
          value: r.size - r.active - r.offered - r.declined,
        },
      );
    }
    return out;
  }
}

function isHeldLease(l: Lease | undefined, now: number): boolean {
  return l !== undefined && isHeld(l, now);
}
