/**
 * The media relay's socket adapter: for each relay session, one UDP socket pair (RTP on an
 * even port, RTCP on the odd one above) per leg, bound on the configured address from the
 * port pool; every datagram goes to RelaySession.handleDatagram and its verdict is carried
 * out (send, or count the drop); one timer per session runs handleTimeout at
 * nextTimeout() (player packets every 20 ms, media timeout).
 *
 * The call logic (B2BUA) uses it as:
 *   const h = await relay.open({ id: callId, mode: 'relay' });
 *   rewriteSdpBody(offerBody, { address: h.address, ports: [h.local('b')] })   → to the callee
 *   h.setRemote('a', mediaEndpoints(offer)[0]); … on the answer: h.setRemote('b', …)
 *   h.close('bye') → report (log it)   |   onEnded(report) when the media timed out
 *
 * Sockets are closed and ports released on close() and on a timeout. Bugs caught here are
 * logged with their stack and counted (sip_relay_internal_errors_total); the relay keeps
 * serving (DESIGN.md rule 2).
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { cryptoRng, systemClock, type Rng } from '../../src/clock.js';
import type { MediaConfig } from './media-config.js';
import { PortPool, type PortPair } from './port-pool.js';
import {
  RelaySession,
  type Component,
  type LegId,
  type RelayEvent,
  type RelayMode,
  type RelayReport,
  type RemoteMedia,
} from './relay-session.js';
import type { RtpMetrics } from './rtp-metrics.js';

/** Pairs tried before giving up when ports are taken by another process. */
const BIND_ATTEMPTS = 16;

export type RelaySettings = Pick<
  MediaConfig,
  | 'bindAddress'
  | 'advertisedAddress'
  | 'ports'
  | 'mediaTimeout'
  | 'holdTimeout'
  | 'latching'
  | 'latchWindow'
>;

export interface RelayAdapterOptions {
  readonly settings: RelaySettings;
  readonly metrics?: RtpMetrics;
  readonly log?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  readonly rng?: Rng;
  /** Monotonic milliseconds (default performance.now()). */
  readonly monotonic?: () => number;
  /** A session ended by itself (media or hold timeout): hang the call up. */
  readonly onEnded?: (report: RelayReport) => void;
}

export class RelayError extends Error {
  constructor(
    readonly code: 'ERR_SIP_RELAY_PORTS' | 'ERR_SIP_RELAY_BIND' | 'ERR_SIP_RELAY_CLOSED',
    message: string,
  ) {
    super(message);
  }
}

interface LegSockets {
  readonly pair: PortPair;
  readonly rtp: Socket;
  readonly rtcp: Socket;
}

function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4' });
    const onError = (e: Error): void => {
      s.close();
      reject(e);
    };
    s.once('error', onError);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

export class RelayAdapter {
  readonly pool: PortPool;
  readonly address: string;
  private readonly handles = new Set<RelayHandle>();
  readonly monotonic: () => number;
  private closing = false;

  constructor(readonly opts: RelayAdapterOptions) {
    const s = opts.settings;
    this.pool = new PortPool(s.ports, opts.rng ?? cryptoRng);
    this.address = s.advertisedAddress ?? s.bindAddress;
    this.monotonic = opts.monotonic ?? systemClock.monotonic;
  }

  get sessionCount(): number {
    return this.handles.size;
  }

  /** Allocate ports, bind sockets and start a session. Rejects with RelayError. */
  async open(o: { id: string; mode?: RelayMode }): Promise<RelayHandle> {
    if (this.closing) throw new RelayError('ERR_SIP_RELAY_CLOSED', 'relay is shutting down');
    const mode = o.mode ?? 'relay';
    const s = this.opts.settings;
    const session = new RelaySession(
      {
        id: o.id,
        mode,
        latching: s.latching,
        latchWindowMs: s.latchWindow,
        mediaTimeoutMs: s.mediaTimeout * 1000,
        holdTimeoutMs: s.holdTimeout * 1000,
      },
      this.monotonic(),
    );
    const a = await this.bindLeg();
    let b: LegSockets | undefined;
    try {
      // Echo and player sessions have one leg; a relay session that may turn into a player
      // (unanswered call) still needs b's ports for the callee's INVITE.
      if (mode === 'relay') b = await this.bindLeg();
    } catch (e) {
      this.releaseLeg(a);
      throw e;
    }
    const h = new RelayHandle(this, session, a, b);
    this.handles.add(h);
    this.opts.metrics?.sessions.set(this.handles.size);
    this.opts.metrics?.portsInUse.set(this.pool.inUse);
    return h;
  }

  private async bindLeg(): Promise<LegSockets> {
    let lastError: unknown;
    // Never more attempts than free pairs: a busy pair goes to the tail and would come back.
    const attempts = Math.min(BIND_ATTEMPTS, Math.max(1, this.pool.free));
    for (let i = 0; i < attempts; i++) {
      const pair = this.pool.allocate();
      if (!pair)
        throw new RelayError(
          'ERR_SIP_RELAY_PORTS',
          `media port range ${this.pool.range.min}-${this.pool.range.max} exhausted`,
        );
      let rtp: Socket | undefined;
      try {
        rtp = await bindSocket(this.opts.settings.bindAddress, pair.rtp);
        const rtcp = await bindSocket(this.opts.settings.bindAddress, pair.rtcp);
        return { pair, rtp, rtcp };
      } catch (e) {
        lastError = e;
        rtp?.close();
        this.pool.release(pair.rtp); // to the tail: tried again only after every other pair
        this.opts.log?.warn({ err: e, port: pair.rtp }, 'media port pair busy, trying another');
      }
    }
    throw new RelayError(
      'ERR_SIP_RELAY_BIND',
      `no bindable port pair after ${attempts} attempts: ${String(lastError)}`,
    );
  }

  /** @internal */
  releaseLeg(l: LegSockets): void {
    for (const s of [l.rtp, l.rtcp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.pool.release(l.pair.rtp);
  }

  /** @internal */
  forget(h: RelayHandle): void {
    this.handles.delete(h);
    this.opts.metrics?.sessions.set(this.handles.size);
    this.opts.metrics?.portsInUse.set(this.pool.inUse);
  }

  /** Close every session (service stop). */
  closeAll(reason = 'shutdown'): RelayReport[] {
    this.closing = true;
    return [...this.handles].map((h) => h.close(reason));
  }
}

export class RelayHandle {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private ended = false;

  constructor(
    private readonly relay: RelayAdapter,
    readonly session: RelaySession,
    private readonly a: LegSockets,
    private readonly b: LegSockets | undefined,
  ) {
    this.listen('a', a);
    if (b) this.listen('b', b);
  }

  get id(): string {
    return this.session.id;
  }

  /** The address to put in SDP c= lines. */
  get address(): string {
    return this.relay.address;
  }

  /** The relay ports a leg's phone sends to (for rewriteSdp); undefined for a missing leg. */
  local(leg: LegId): PortPair | undefined {
    return (leg === 'a' ? this.a : this.b)?.pair;
  }

  setRemote(leg: LegId, remote: RemoteMedia): void {
    this.session.setRemote(leg, remote, this.relay.monotonic());
    this.arm();
  }

  setMode(mode: RelayMode): void {
    this.session.setMode(mode, this.relay.monotonic());
    this.arm();
  }

  /** Play prompt packets (media-player.ts) to leg a; onEnded is not called when it ends. */
  play(packets: readonly Uint8Array[], onDone?: () => void, ptimeMs = 20): void {
    this.onPlayerDone = onDone;
    this.session.play('a', packets, this.relay.monotonic(), ptimeMs);
    this.arm(true);
  }

  private onPlayerDone: (() => void) | undefined;

  /** Hang up: free ports and sockets, return the report (log it). Idempotent. */
  close(reason = 'bye'): RelayReport {
    const report = this.session.close(reason, this.relay.monotonic());
    if (this.ended) return report;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.relay.releaseLeg(this.a);
    if (this.b) this.relay.releaseLeg(this.b);
    this.relay.forget(this);
    this.relay.opts.metrics?.sessionsEnded.inc([report.reason]);
    this.relay.opts.log?.info({ relay: report }, 'media relay session ended');
    return report;
  }

  private listen(leg: LegId, l: LegSockets): void {
    const m = this.relay.opts.metrics;
    const onMessage =
      (component: Component) => (msg: Buffer, rinfo: { address: string; port: number }) => {
        try {
          const v = this.session.handleDatagram(
            leg,
            component,
            msg,
            rinfo.address,
            rinfo.port,
            this.relay.monotonic(),
          );
          if (v.kind === 'drop') {
            m?.dropped.inc([v.reason]);
            return;
          }
          m?.packets.inc(['in']);
          m?.bytes.inc(['in'], msg.length);
          if (v.kind === 'send') this.send(v.leg, v.component, v.to.address, v.to.port, v.data);
        } catch (e) {
          m?.errors.inc(['datagram']);
          this.relay.opts.log?.error({ err: e, session: this.id }, 'relay bug handling a datagram');
        }
      };
    for (const c of ['rtp', 'rtcp'] as const) {
      const sock = l[c];
      sock.on('message', onMessage(c));
      sock.on('error', (e) =>
        this.relay.opts.log?.warn(
          { err: e, session: this.id, leg, component: c },
          'relay socket error',
        ),
      );
    }
  }

  private send(
    leg: LegId,
    component: Component,
    address: string,
    port: number,
    data: Uint8Array,
  ): void {
    const l = leg === 'a' ? this.a : this.b;
    if (!l) return;
    l[component].send(data, port, address);
    const m = this.relay.opts.metrics;
    m?.packets.inc(['out']);
    m?.bytes.inc(['out'], data.length);
  }

  /** Arm the one timer at the session's next deadline (lazily: only ever earlier). */
  private arm(force = false): void {
    if (this.ended) return;
    const at = this.session.nextTimeout();
    if (at === undefined) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (!force && this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.relay.monotonic()));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    let events: RelayEvent[] = [];
    try {
      events = this.session.handleTimeout(this.relay.monotonic());
    } catch (e) {
      this.relay.opts.metrics?.errors.inc(['timeout']);
      this.relay.opts.log?.error({ err: e, session: this.id }, 'relay bug handling a timeout');
    }
    let timedOut = false;
    for (const ev of events) {
      if (ev.kind === 'send') this.send(ev.leg, ev.component, ev.to.address, ev.to.port, ev.data);
      else if (ev.kind === 'drop') this.relay.opts.metrics?.dropped.inc([ev.reason]);
      else if (ev.kind === 'player_done') this.onPlayerDone?.();
      else if (ev.kind === 'timeout') timedOut = true;
    }
    if (timedOut) {
      const report = this.close();
      this.relay.opts.onEnded?.(report);
      return;
    }
    this.arm(true);
  }
}
