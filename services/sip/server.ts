/**
 * The SIP socket adapter: UDP and TCP listeners per configured address, the one timer of
 * the sans-I/O core, the binding store, logs and metrics (DESIGN.md rule 1).
 *
 * UDP: one datagram is one message (§18.3). TCP: the framer cuts messages by Content-Length
 * and a framing error closes the connection; responses go back on the connection the
 * request came in on (§18.2.2); OPTIONS to a TCP-registered phone uses its connection
 * while it is open. Any exception out of the core is a bug: logged with its stack, counted
 * in sip_internal_errors_total, and serving goes on (DESIGN.md rule 2).
 *
 * Media: the RTP relay adapter (relay-adapter.ts) is owned here; the core's media outputs
 * (open a session, set a leg's remote, play the greeting) are carried out and their results
 * fed back (mediaOpened / mediaFailed; the relay's own end, a media timeout, as
 * mediaEnded; the end of the prompt as playDone). When a call ends its session is closed
 * and the per-direction QoS (packets, lost, mean delta, jitter) is logged with the call.
 *
 * Leaves out: opening outbound TCP connections (a TCP phone whose connection dropped is
 * unreachable until it registers again), TLS.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import {
  createServer,
  type Server as TcpServer,
  type Socket as TcpSocket,
  type AddressInfo,
} from 'node:net';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Clock, Rng } from '../../src/clock.js';
import { SipCore, type CoreOutput } from './sip-core.js';
import { SqliteBindingStore, type BindingChanges, type BindingStore } from './store.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { LogLimit } from '../../src/log-limit.js';
import { TcpFramer } from './tcp-framing.js';
import type { SipConfig } from './config.js';
import type { SipMetrics } from './metrics.js';
import type { Endpoint } from './transport.js';
import { RelayAdapter, RelayError, type RelayHandle } from './relay-adapter.js';
import type { RelayReport } from './relay-session.js';
import type { RtpMetrics } from './rtp-metrics.js';
import { promptPackets, randomRtpStart } from './media-player.js';
import type { MediaOp } from './b2bua.js';

export interface SipServerDeps {
  readonly cfg: SipConfig;
  readonly users: ReadonlyMap<string, string>;
  readonly dataDir: string;
  /** Where media.greeting is resolved (default: the current directory). */
  readonly configDir?: string;
  readonly log: Logger;
  readonly metrics: SipMetrics;
  readonly rtpMetrics?: RtpMetrics;
  readonly clock: Clock;
  readonly rng: Rng;
  /** Tests pass an in-memory store. */
  readonly store?: BindingStore;
}

export class SipServer {
  readonly core: SipCore;
  private readonly store: BindingStore;
  /** One transaction per event-loop turn for the REGISTERs of that turn (group commit). */
  private readonly commits: GroupCommit<BindingChanges, number | undefined>;
  /** UDP socket per listener, keyed `address:port` as Endpoint.local names it. */
  private readonly udpByLocal = new Map<string, UdpSocket>();
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: TcpServer[] = [];
  private readonly conns = new Map<number, TcpSocket>();
  private readonly connByPeer = new Map<string, number>();
  private nextConn = 1;
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private started = false;
  /** Bound addresses after start (port 0 resolved), for tests. */
  readonly bound: { address: string; port: number }[] = [];
  readonly relay: RelayAdapter;
  private readonly media = new Map<string, RelayHandle>();
  /** Reports of sessions the relay ended by itself, for the call's log line. */
  private readonly endedReports = new Map<string, RelayReport>();
  private readonly greeting: Uint8Array | undefined;
  /** 10 lines per message per minute (rsyslog/journald-style; src/log-limit.ts). */
  private readonly logLimit = new LogLimit({ intervalMs: 60_000, burst: 10 });

  constructor(private readonly d: SipServerDeps) {
    const { cfg } = d;
    this.store = d.store ?? new SqliteBindingStore(join(d.dataDir, 'sip.sqlite'), d.log);
    this.greeting = this.loadGreeting();
    this.relay = new RelayAdapter({
      settings: cfg.media,
      ...(d.rtpMetrics ? { metrics: d.rtpMetrics } : {}),
      log: d.log,
      rng: d.rng,
      onEnded: (report) => {
        this.media.delete(report.id);
        this.endedReports.set(report.id, report);
        this.coreCall('media-ended', () =>
          this.core.mediaEnded(report.id, report.reason, this.d.clock.now()),
        );
        this.endedReports.delete(report.id);
      },
    });
    const first = cfg.listen[0]!;
    const host = cfg.advertise ?? first.address;
    this.core = new SipCore(
      {
        registrar: {
          realm: cfg.realm,
          algorithms: cfg.auth.algorithms,
          challenges: cfg.auth.challenges,
          userAlgorithms: new Map(
            cfg.extensions.flatMap((e) => (e.algorithms ? [[e.user, e.algorithms] as const] : [])),
          ),
          defaultExpires: cfg.registrar.defaultExpires,
          minExpires: cfg.registrar.minExpires,
          maxExpires: cfg.registrar.maxExpires,
          maxContacts: cfg.registrar.maxContacts,
          users: d.users,
          guard: cfg.auth.guard.enabled
            ? {
                maxFailures: cfg.auth.guard.maxFailures,
                sourceMaxFailures: cfg.auth.guard.sourceMaxFailures,
                extensionMaxFailures: cfg.auth.guard.extensionMaxFailures,
                findTimeMs: cfg.auth.guard.findTimeS * 1000,
                banTimeMs: cfg.auth.guard.banTimeS * 1000,
                delayMs: cfg.auth.guard.delayMs,
                maxDelayMs: cfg.auth.guard.maxDelayMs,
                trustTimeMs: cfg.auth.guard.trustTimeS * 1000,
                maxKeys: cfg.auth.guard.maxKeys,
              }
            : undefined,
        },
        timers: { t1: cfg.timers.t1Ms, t2: cfg.timers.t2Ms, t4: cfg.timers.t4Ms },
        qualifyIntervalMs: cfg.qualify.enabled
          ? cfg.qualify.intervalS * 1000
          : Number.MAX_SAFE_INTEGER / 2,
        nonceTtlMs: cfg.auth.nonceTtlS * 1000,
        maxNonces: cfg.auth.maxNonces,
        maxTransactions: cfg.maxTransactions,
        maxTransactionBytes: cfg.maxTransactionBytes,
        local: { udp: { host, port: first.port }, tcp: { host, port: first.port } },
        userAgent: cfg.userAgent,
        calls: {
          maxCalls: cfg.maxCalls,
          greeting: this.greeting !== undefined,
          dialplan: cfg.dialplan,
        },
      },
      d.rng,
      d.metrics,
    );
    this.commits = new GroupCommit<BindingChanges, number | undefined>({
      write: (changes) => this.store.commit(changes),
      committed: (tokens) => this.perform(this.core.committed(tokens, this.d.clock.now())),
      failed: (tokens, changes, err) => {
        this.d.metrics.errors.inc(['store']);
        this.d.log.error(
          { err, changes: changes.length, held: tokens.filter((x) => x !== undefined).length },
          'sip binding commit failed; REGISTERs answered 500, bindings rolled back',
        );
        this.perform(this.core.commitFailed(tokens, this.d.clock.now()));
      },
    });
  }

  /** A log line of a kind a peer can trigger at will, at most `logLimit` of them. */
  private limitedLog(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void {
    const a = this.logLimit.admit(msg, this.d.clock.now());
    if (!a.write) return;
    this.d.log[level](a.suppressed > 0 ? { ...fields, suppressed: a.suppressed } : fields, msg);
  }

  private loadGreeting(): Uint8Array | undefined {
    const g = this.d.cfg.media.greeting;
    if (g === null) return undefined;
    const file = resolve(this.d.configDir ?? '.', g);
    try {
      const data = readFileSync(file);
      const p = promptPackets(data, { ssrc: 1, sequenceNumber: 0, timestamp: 0 });
      if (!p.ok) {
        this.d.log.warn(
          { file, error: p.error },
          'sip greeting unusable; unanswered calls get 480',
        );
        return undefined;
      }
      return data;
    } catch (err) {
      this.d.log.warn(
        { file, err: (err as Error).message },
        'sip greeting not readable; unanswered calls get 480',
      );
      return undefined;
    }
  }

  get tcpConnections(): number {
    return this.conns.size;
  }

  /**
   * Read-only state for the admin `/state/sip` document (the monitor's tables, `netsvc
   * registrations|calls`): bindings, and calls with the relay's live per-direction figures
   * (a = from the caller, b = from the callee). No secrets.
   */
  state(): unknown {
    const now = this.d.clock.now();
    const registrations = [...this.core.registrar.bindings()]
      .filter((b) => b.expiresAt > now)
      .map((b) => ({
        aor: b.aor,
        contact: b.contact,
        expiresAt: b.expiresAt,
        userAgent: b.userAgent ?? null,
        source: `${b.sourceAddress}:${b.sourcePort}/${b.transport}`,
      }));
    const calls = this.core.b2bua.listCalls().map((c) => {
      const rep = this.media.get(c.id)?.session.report(now);
      const a = rep?.legs.a.received;
      const b = rep?.legs.b.received;
      const packets = (a?.packets ?? 0) + (b?.packets ?? 0);
      const expected = (a?.expected ?? 0) + (b?.expected ?? 0);
      const lost = (a?.lost ?? 0) + (b?.lost ?? 0);
      return {
        callId: c.id,
        from: c.caller,
        to: c.callee,
        state: c.state,
        startedAt: c.startedAt,
        answeredAt: c.answeredAt ?? null,
        packets,
        lossPercent: expected > 0 ? Math.round((lost / expected) * 10000) / 100 : 0,
        jitterMs: Math.max(a?.jitterMs ?? 0, b?.jitterMs ?? 0),
        directions: rep ? { fromCaller: a, fromCallee: b } : null,
      };
    });
    return { registrations, calls };
  }

  ready(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    const loaded = this.core.start(this.d.clock.now(), this.store.all());
    const n = loaded.active;
    if (loaded.expired.remove.length > 0) {
      try {
        this.store.commit([loaded.expired]);
      } catch (err) {
        // Stale rows are skipped again at the next start: nothing was promised on them.
        this.d.log.warn({ err }, 'sip could not delete expired bindings from the store');
      }
    }
    for (const l of this.d.cfg.listen) {
      // UDP first; TCP then takes the same port (resolved when 0 was asked for).
      const sock = createSocket({ type: 'udp4', reuseAddr: false });
      await new Promise<void>((res, rej) => {
        sock.once('error', rej);
        sock.bind(l.port, l.address, () => {
          sock.off('error', rej);
          res();
        });
      });
      const port = sock.address().port;
      const local = `${l.address}:${port}`;
      this.udpByLocal.set(local, sock);
      sock.on('message', (data, rinfo) =>
        this.input(data, { transport: 'udp', address: rinfo.address, port: rinfo.port, local }),
      );
      sock.on('error', (err) => this.d.log.error({ err }, 'udp socket error'));
      this.udp.push(sock);
      const srv = createServer((s) => this.accept(s));
      srv.maxConnections = this.d.cfg.tcp.maxConnections;
      await new Promise<void>((res, rej) => {
        srv.once('error', rej);
        srv.listen(port, l.address, () => {
          srv.off('error', rej);
          res();
        });
      });
      this.tcp.push(srv);
      this.bound.push({ address: l.address, port: (srv.address() as AddressInfo).port });
      this.d.log.info({ address: l.address, port }, 'sip listening on udp and tcp');
    }
    this.d.log.info({ bindings: n }, 'sip registrar loaded bindings');
    this.started = true;
    this.arm();
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const r of this.relay.closeAll())
      this.d.log.info({ id: r.id }, 'sip call media closed at shutdown');
    this.media.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Commit and answer what this turn still holds before the sockets close.
    this.commits.flush();
    for (const s of this.udp) s.close();
    this.udp.length = 0;
    this.udpByLocal.clear();
    for (const c of this.conns.values()) c.destroy();
    this.conns.clear();
    await Promise.all(this.tcp.map((s) => new Promise<void>((res) => s.close(() => res()))));
    this.tcp.length = 0;
    this.store.close();
  }

  private accept(s: TcpSocket): void {
    const id = this.nextConn++;
    const peer = `${s.remoteAddress}:${s.remotePort}`;
    this.conns.set(id, s);
    this.connByPeer.set(peer, id);
    const framer = new TcpFramer();
    const source: Endpoint = {
      transport: 'tcp',
      address: s.remoteAddress ?? '',
      port: s.remotePort ?? 0,
      connection: id,
    };
    s.setTimeout(this.d.cfg.tcp.idleTimeoutMs, () => s.destroy());
    s.on('data', (chunk) => {
      for (const f of framer.push(chunk)) {
        if (f.type === 'message') this.input(f.bytes, source);
        else if (f.type === 'ping') s.write('\r\n');
        else {
          this.d.metrics.dropped.inc(['tcp-framing']);
          this.d.log.info({ peer, reason: f.reason }, 'sip tcp framing error; closing');
          s.destroy();
        }
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => {
      this.conns.delete(id);
      if (this.connByPeer.get(peer) === id) this.connByPeer.delete(peer);
    });
  }

  private input(data: Uint8Array, source: Endpoint): void {
    let out: CoreOutput[];
    try {
      out = this.core.handle({ data, source }, this.d.clock.now());
    } catch (err) {
      this.bug('handle', err);
      return;
    }
    this.perform(out);
    this.arm();
  }

  /** Run a core entry point from an async callback (relay results), with the bug guard. */
  private coreCall(where: string, fn: () => CoreOutput[]): void {
    if (!this.started) return;
    let out: CoreOutput[];
    try {
      out = fn();
    } catch (err) {
      this.bug(where, err);
      return;
    }
    this.perform(out);
    this.arm();
  }

  private mediaOp(op: MediaOp): void {
    const now = (): number => this.d.clock.now();
    switch (op.op) {
      case 'open':
        this.relay.open({ id: op.id, mode: op.mode }).then(
          (h) => {
            if (!this.started) {
              h.close('shutdown');
              return;
            }
            this.media.set(op.id, h);
            const a = h.local('a')!;
            this.coreCall('media-open', () =>
              this.core.mediaOpened(op.id, { address: h.address, a, b: h.local('b') }, now()),
            );
          },
          (err: unknown) => {
            if (!(err instanceof RelayError)) this.bug('media-open', err);
            else this.d.log.warn({ code: err.code, err: err.message }, 'sip relay open failed');
            this.coreCall('media-open', () =>
              this.core.mediaFailed(op.id, err instanceof RelayError ? err.code : 'error', now()),
            );
          },
        );
        return;
      case 'remote':
        this.media.get(op.id)?.setRemote(op.leg, op.remote);
        return;
      case 'play': {
        const h = this.media.get(op.id);
        if (!h || !this.greeting) {
          this.coreCall('play', () => this.core.playDone(op.id, now()));
          return;
        }
        const p = promptPackets(this.greeting, randomRtpStart(this.d.rng));
        if (!p.ok) return;
        h.play(p.packets, () =>
          setImmediate(() => this.coreCall('play', () => this.core.playDone(op.id, now()))),
        );
        return;
      }
      case 'close': {
        const h = this.media.get(op.id);
        this.media.delete(op.id);
        h?.close(op.reason);
        return;
      }
    }
  }

  /** Close the call's relay session and log the call with its per-direction QoS. */
  private callEnded(
    ev: Extract<CoreOutput, { type: 'event' }>['event'] & { type: 'call-ended' },
  ): void {
    this.d.metrics.calls.inc([ev.result]);
    let report: RelayReport | undefined = this.endedReports.get(ev.id);
    const h = this.media.get(ev.id);
    if (h) {
      this.media.delete(ev.id);
      report = h.close(ev.result === 'answered' || ev.result === 'noanswer' ? 'bye' : ev.result);
    }
    const qos = report ? qosSummary(report) : undefined;
    this.d.log.info(
      {
        callId: ev.callId,
        caller: ev.caller,
        callee: ev.callee,
        result: ev.result,
        status: ev.status,
        reason: ev.reason,
        durationMs: ev.durationMs,
        ...(qos ? { qos } : {}),
      },
      'sip call ended',
    );
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    try {
      this.perform(this.core.handleTimeout(this.d.clock.now()));
    } catch (err) {
      this.bug('timeout', err);
    }
    this.arm();
  }

  private arm(): void {
    if (!this.started) return;
    const at = this.core.nextTimeout();
    if (at === undefined) return;
    if (this.timer && this.timerAt !== undefined && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - this.d.clock.now()));
    this.timer.unref?.();
  }

  private perform(out: CoreOutput[]): void {
    const log = this.d.log;
    for (const o of out) {
      if (o.type === 'send') {
        this.send(o.dest, o.data);
        continue;
      }
      if (o.type === 'media') {
        this.mediaOp(o.op);
        continue;
      }
      if (o.type === 'commit') {
        this.commits.add([o.changes], o.token);
        continue;
      }
      const ev = o.event;
      switch (ev.type) {
        case 'call-ended':
          this.callEnded(ev);
          break;
        case 'bound':
          if (!ev.binding.contact || ev.refresh) break;
          log.info(
            {
              aor: ev.binding.aor,
              contact: ev.binding.contact,
              source: `${ev.binding.sourceAddress}:${ev.binding.sourcePort}`,
              transport: ev.binding.transport,
            },
            'sip registered',
          );
          break;
        case 'unbound':
          log.info(
            { aor: ev.binding.aor, contact: ev.binding.contact, reason: ev.reason },
            'sip unregistered',
          );
          break;
        case 'auth-failure':
          // Rate-limited: a guesser at 150/s must not fill the disk (sip_auth_failures_total counts all).
          this.limitedLog('info', 'sip auth failure', { user: ev.user, reason: ev.reason });
          break;
        case 'auth-ban':
          this.limitedLog('warn', 'sip auth ban', {
            user: ev.user,
            source: ev.address,
            key: ev.reason,
            banS: Math.round(ev.banMs / 1000),
          });
          break;
        case 'auth-throttled':
          break; // counted (sip_auth_throttled_total); its ban was logged
        case 'reachable':
        case 'unreachable':
          log.info({ aor: ev.binding.aor, contact: ev.binding.contact }, `sip contact ${ev.type}`);
          break;
        case 'bad-message':
          log.debug(
            {
              reason: ev.reason,
              source: `${ev.source.address}:${ev.source.port}`,
              answered: ev.answered,
            },
            'sip bad message',
          );
          break;
      }
    }
  }

  private send(dest: Endpoint, data: Uint8Array): void {
    if (dest.transport === 'udp') {
      // From the listener the peer talks to (Endpoint.local), else the first.
      const sock =
        (dest.local !== undefined ? this.udpByLocal.get(dest.local) : undefined) ?? this.udp[0];
      sock?.send(data, dest.port, dest.address, (err) => {
        if (err)
          this.d.log.debug(
            { err: err.message, dest: `${dest.address}:${dest.port}` },
            'sip udp send failed',
          );
      });
      return;
    }
    const id = dest.connection ?? this.connByPeer.get(`${dest.address}:${dest.port}`);
    const c = id !== undefined ? this.conns.get(id) : undefined;
    if (c && !c.destroyed) c.write(data);
    else this.d.metrics.dropped.inc(['tcp-connection-gone']);
  }

  private bug(where: string, err: unknown): void {
    this.d.metrics.errors.inc([where]);
    this.d.log.error({ err }, `sip internal error in ${where}`);
  }
}

/** Per direction (a→relay = what the caller sent, b→relay = what the callee sent): the figures of the hang-up report. */
export function qosSummary(r: RelayReport): Record<string, unknown> {
  const dir = (leg: 'a' | 'b'): Record<string, unknown> => {
    const x = r.legs[leg].received;
    return {
      packets: x.packets,
      lost: x.lost,
      lossPercent: x.lossPercent,
      meanDeltaMs: x.meanDeltaMs,
      jitterMs: x.jitterMs,
      maxJitterMs: x.maxJitterMs,
      sentToPhone: r.legs[leg].sent.packets,
    };
  };
  return {
    fromCaller: dir('a'),
    fromCallee: dir('b'),
    reason: r.reason,
    durationMs: r.durationMs,
    dropped: r.dropped,
  };
}
