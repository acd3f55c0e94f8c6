/**
 * UDP worker processes for the DNS service (`workers: N`).
 *
 * Node 20's dgram has no SO_REUSEPORT, and one event loop tops out at one core. The
 * parent binds each UDP socket once and hands the bound socket to N-1 forked processes
 * (child_process `send(message, dgramSocket)`, the mechanism Node's cluster module uses
 * for UDP): every process then reads the same socket and the kernel gives each datagram to
 * one of them. Each worker loads the zones itself; TCP stays in the parent. Workers report
 * their counters every second so /metrics shows the whole service. A worker that dies is
 * restarted (at most 5 times a minute, then the service keeps running with fewer).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Logger } from 'pino';
import type { DnsConfig } from './config.js';
import type { DnsMetrics } from './metrics.js';
import type { WorkerReport, ParentMessage, WorkerMessage } from './worker-protocol.js';
import type { PackedZone } from './zone-pack.js';

const entry = fileURLToPath(new URL('./worker-server.js', import.meta.url));
const RESTARTS_PER_MINUTE = 5;

export function workersAvailable(): boolean {
  return existsSync(entry);
}

interface Member {
  child: ChildProcess;
  id: string;
}

export class UdpWorkerPool {
  private readonly members: Member[] = [];
  private stopping = false;
  private restarts: number[] = [];
  private sockets: UdpSocket[] = [];
  private seq = 0;

  constructor(
    private readonly count: number,
    private readonly cfg: DnsConfig,
    private readonly configDir: string,
    private readonly log: Logger,
    private readonly metrics: DnsMetrics,
    /** A datagram a worker read that the parent must handle (UPDATE, NOTIFY). */
    private readonly onDatagram: (
      m: Extract<WorkerMessage, { type: 'datagram' }>,
    ) => void = () => {},
  ) {}

  /** The parent-built zones as served now, for every worker (and any restarted later). */
  private shared: Extract<ParentMessage, { type: 'zones' }> | undefined;
  private pushSeq = 0;
  /** Per worker, the last push it says it serves. */
  private readonly applied = new Map<ChildProcess, number>();
  private readonly waiters: { seq: number; done: () => void }[] = [];

  /**
   * Push the parent-built zones to every worker; resolves once each worker serves them (or
   * after 1 s, or when it exits), so an UPDATE is answered only when no process can still
   * answer from the zone before it.
   */
  pushZones(zones: PackedZone[], unavailable: Uint8Array[]): Promise<void> {
    const seq = ++this.pushSeq;
    this.shared = { type: 'zones', seq, zones, unavailable };
    for (const m of this.members) m.child.send(this.shared);
    if (this.allApplied(seq)) return Promise.resolve();
    return new Promise<void>((ok) => {
      const w = { seq, done: ok };
      this.waiters.push(w);
      setTimeout(() => this.release(w), 1000).unref();
    });
  }

  private allApplied(seq: number): boolean {
    return this.members.every((m) => (this.applied.get(m.child) ?? 0) >= seq);
  }

  private release(w: { seq: number; done: () => void }): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    w.done();
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) if (this.allApplied(w.seq)) this.release(w);
  }

  async start(sockets: UdpSocket[]): Promise<void> {
    this.sockets = sockets;
    await Promise.all(Array.from({ length: this.count }, () => this.spawn()));
  }

  private spawn(): Promise<void> {
    const id = `w${++this.seq}`;
    const child = fork(entry, [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    const member = { child, id };
    this.members.push(member);
    const ready = new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`dns worker ${id} not ready within 15 s`)),
        15000,
      );
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          ok();
        } else if (m.type === 'failed') {
          clearTimeout(timer);
          fail(new Error(`dns worker ${id}: ${m.error}`));
        } else if (m.type === 'report') this.apply(id, m.report);
        else if (m.type === 'datagram') this.onDatagram(m);
        else if (m.type === 'zones-applied') {
          this.applied.set(child, m.seq);
          this.checkWaiters();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`dns worker ${id} exited (${code ?? signal}) before it was ready`));
      });
    });
    child.once('exit', (code, signal) => {
      const i = this.members.indexOf(member);
      if (i >= 0) this.members.splice(i, 1);
      this.applied.delete(child);
      this.checkWaiters();
      if (this.stopping) return;
      this.log.error({ worker: id, code, signal }, 'dns worker exited; restarting');
      const now = Date.now();
      this.restarts = this.restarts.filter((t) => now - t < 60000);
      if (this.restarts.length >= RESTARTS_PER_MINUTE) {
        this.log.error(
          { worker: id },
          'dns worker restart limit reached; serving with fewer workers',
        );
        return;
      }
      this.restarts.push(now);
      setTimeout(
        () =>
          this.spawn().catch((e: unknown) =>
            this.log.error({ err: e }, 'dns worker restart failed'),
          ),
        1000,
      ).unref();
    });
    const init: ParentMessage = {
      type: 'init',
      cfg: this.cfg,
      configDir: this.configDir,
      id,
      sockets: this.sockets.length,
    };
    child.send(init);
    this.sockets.forEach((s, index) =>
      child.send({ type: 'socket', index } satisfies ParentMessage, s as never),
    );
    if (this.shared) child.send(this.shared);
    return ready;
  }

  private apply(id: string, r: WorkerReport): void {
    this.metrics.queries.setExternal(id, r.queries);
    this.metrics.dropped.setExternal(id, r.dropped);
    this.metrics.cacheHits.setExternal(id, r.cacheHits);
    this.metrics.truncated.setExternal(id, r.truncated);
    this.metrics.errors.setExternal(id, r.errors);
    this.metrics.latency.setExternal(id, r.latency);
  }

  get size(): number {
    return this.members.length;
  }

  reload(): void {
    for (const m of this.members) m.child.send({ type: 'reload' } satisfies ParentMessage);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.members.map(
        (m) =>
          new Promise<void>((ok) => {
            if (m.child.exitCode !== null) return ok();
            const timer = setTimeout(() => m.child.kill('SIGKILL'), 2000);
            m.child.once('exit', () => {
              clearTimeout(timer);
              ok();
            });
            m.child.send({ type: 'stop' } satisfies ParentMessage);
          }),
      ),
    );
  }
}
