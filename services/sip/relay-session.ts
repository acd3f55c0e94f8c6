/**
 * One relayed media stream (one m= line of a call): the pure state machine behind
 * relay-adapter.ts. Each leg ("a" = caller, "b" = callee) has an RTP and an RTCP socket on
 * the relay; a datagram arriving on leg X's socket is checked, latched, counted and sent
 * out of the other leg's socket of the same kind to where that leg's phone receives.
 *
 * Symmetric RTP (RFC 4961) and latching. A phone's receive address is what its SDP says,
 * unless it is behind NAT; relays therefore "latch" onto the source of the packets they
 * receive. Latching on just any packet is the RTP-bleed class of attack (rtpengine advisory
 * CVE-2025-53399, Asterisk AST-2017-005): a stranger who guesses the port steals or injects
 * media. Here, per leg and per socket (RTP and RTCP apart):
 *   1. a packet from the address:port the leg's SDP signalled latches at once, whenever it
 *      comes (the phone is reachable where it said);
 *   2. otherwise (NAT), with the `nat-window` policy only, the first packet with sane
 *      headers — RTP version 2, a payload type one of the two SDPs listed, a length that
 *      decodes (RFC 3550 A.1 header checks; A.2 for RTCP) — latches, if it arrives within
 *      `latchWindowMs` after the offer/answer completed; an RTCP source must also come
 *      from the IP already latched for RTP, when there is one;
 *   3. within that window a packet from the signalled address still takes over a NAT latch
 *      (a stranger who raced the real phone loses as soon as the phone shows up);
 *   4. RTCP follows RTP, whenever it comes: once a leg's RTP is latched, the first sane RTCP
 *      packet from that same IP latches the leg's RTCP, from whatever port (a NAT maps the
 *      phone's RTCP port independently of its RTP port). RFC 3550 §6.2 spaces RTCP at least
 *      5 s apart (the first report after a random fraction of that), so it routinely arrives
 *      after the latch window; rtpengine likewise derives the RTCP endpoint from the learned
 *      RTP one. This reopens no bleed: the source must be the IP that already owns the
 *      leg's RTP, and until RTCP has latched, RTCP for a NAT-latched leg goes to its RTP
 *      address, port + 1 (RFC 3550 §11), not to the private address its SDP gave;
 *   5. every other source is dropped and counted by reason: `stranger` (nothing latched,
 *      not allowed to latch), `early` (the leg's SDP is not known yet), `wrong_source` (a
 *      latch exists: hijack attempt), `malformed`,
 *      `payload_type`; STUN keepalives (RFC 7983 demux) are dropped first, as `stun`.
 * A new SDP from a leg (re-INVITE) whose address differs clears that leg's latches and
 * opens a new window.
 *
 * Hold: media is not sent to a leg whose SDP says sendonly or inactive (RFC 3264 §5.1) or
 * signals 0.0.0.0 (RFC 3264 §8.4); RTCP still is ("RTCP is still sent" even when inactive).
 *
 * Timeouts, as rtpengine(8) 10.5: `--timeout` "after which a media stream should be
 * considered dead if no media traffic has been received" (its default is 60 s; issue 6
 * asks for 30 s, our default) and `--silent-timeout` for "muted or inactive media streams"
 * (3600 s, ours too). Both count from the last accepted packet, RTP or RTCP, of any leg,
 * and from the completion of the offer/answer before the first one; nothing times out
 * while the call is still ringing (the SIP layer bounds that).
 *
 * Modes: `relay` (a ↔ b), `echo` (one leg, each packet goes back to its sender: the echo
 * test), `player` (a prompt from media-player.ts is sent to leg a at 20 ms intervals;
 * what the phone sends is accepted, counted and consumed).
 *
 * Sans-I/O: `handleDatagram(…, now)` returns what to do with one datagram;
 * `handleTimeout(now)` returns player packets and the timeout event; `nextTimeout()`
 * tells the adapter when to call it. rtcp-mux (RFC 5761) holds for a leg only when both SDPs
 * carry it (the relay passes a=rtcp-mux through, so the answer decides for both legs); RTCP
 * is sent to a muxing leg's RTP port and to a non-muxing leg's RTCP port, whichever socket it
 * came in on. Leaves out: SRTP, transcoding, RTCP generation, per-stream timeouts.
 */
import { decodeRtcp, decodeRtpHeader, looksLikeRtcp, looksLikeStun } from './rtp.js';
import { RtpStreamStats, type RtpStreamReport } from './rtp-qos.js';
import type { SdpDirection } from './sdp.js';

export type LegId = 'a' | 'b';
export type Component = 'rtp' | 'rtcp';
export type RelayMode = 'relay' | 'echo' | 'player';
export type LatchPolicy = 'signalled-only' | 'nat-window';

export const DROP_REASONS = [
  'malformed',
  'stun',
  'payload_type',
  'stranger',
  'early',
  'wrong_source',
  'no_destination',
  'hold',
  'closed',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface Address {
  readonly address: string;
  readonly port: number;
}

/** Where a leg's phone receives, from its SDP (sdp.ts `MediaEndpoint` fits). */
export interface RemoteMedia {
  readonly rejected?: boolean;
  /** undefined: the unspecified address (RFC 2543 hold). */
  readonly address: string | undefined;
  readonly rtpPort: number;
  readonly rtcpAddress?: string | undefined;
  readonly rtcpPort: number;
  readonly rtcpMux?: boolean;
  readonly direction: SdpDirection;
  readonly payloadTypes: readonly number[];
  readonly clockRates?: ReadonlyMap<number, number>;
  readonly telephoneEvents?: ReadonlySet<number>;
}

export interface RelaySessionOptions {
  readonly id: string;
  readonly mode?: RelayMode;
  readonly latching?: LatchPolicy;
  readonly latchWindowMs?: number;
  readonly mediaTimeoutMs?: number;
  readonly holdTimeoutMs?: number;
}

export const RELAY_DEFAULTS = {
  mode: 'relay' as RelayMode,
  latching: 'nat-window' as LatchPolicy,
  /** Our choice: a phone that answers starts sending within a few packet times; 3 s leaves room for a slow first packet. */
  latchWindowMs: 3000,
  mediaTimeoutMs: 30_000,
  holdTimeoutMs: 3_600_000,
};

/** What to do with one received datagram. */
export type DatagramVerdict =
  | {
      readonly kind: 'send';
      /** Send out of our socket of this leg and component … */
      readonly leg: LegId;
      readonly component: Component;
      /** … to this address. */
      readonly to: Address;
      readonly data: Uint8Array;
    }
  /** Accepted and counted, nothing to send (player mode). */
  | { readonly kind: 'consume' }
  | { readonly kind: 'drop'; readonly reason: DropReason };

export type RelayEvent =
  | {
      readonly kind: 'send';
      readonly leg: LegId;
      readonly component: Component;
      readonly to: Address;
      readonly data: Uint8Array;
    }
  | { readonly kind: 'drop'; readonly reason: DropReason }
  | { readonly kind: 'player_done' }
  | { readonly kind: 'timeout'; readonly reason: 'media_timeout' | 'hold_timeout' };

/** How an endpoint latched: its SDP's address, a NAT source in the window, or (RTCP) its RTP's IP. */
export type LatchState = 'none' | 'signalled' | 'nat' | 'rtp';

export interface LegReport {
  readonly signalled: { readonly rtp: string | undefined; readonly rtcp: string | undefined };
  readonly latched: { readonly rtp: string | undefined; readonly rtcp: string | undefined };
  readonly latchedBy: { readonly rtp: LatchState; readonly rtcp: LatchState };
  readonly direction: SdpDirection | undefined;
  /** What the relay received from this leg's phone (accepted packets only). */
  readonly received: RtpStreamReport;
  /** What the relay sent to this leg's phone. */
  readonly sent: { readonly packets: number; readonly bytes: number };
}

export interface RelayReport {
  readonly id: string;
  readonly mode: RelayMode;
  readonly reason: string;
  readonly durationMs: number;
  readonly legs: { readonly a: LegReport; readonly b: LegReport };
  readonly dropped: Partial<Record<DropReason, number>>;
}

interface Endpoint {
  signalled: Address | undefined;
  latched: Address | undefined;
  latchedBy: LatchState;
}

interface Leg {
  remote: RemoteMedia | undefined;
  rtp: Endpoint;
  rtcp: Endpoint;
  stats: RtpStreamStats;
  /** telephone-event payload types of either SDP: left out of the jitter estimate. */
  jitterExcluded: Set<number>;
  sentPackets: number;
  sentBytes: number;
}

const fmt = (a: Address | undefined): string | undefined =>
  a ? `${a.address}:${a.port}` : undefined;
const same = (a: Address | undefined, address: string, port: number): boolean =>
  a !== undefined && a.port === port && a.address === address;
const other = (leg: LegId): LegId => (leg === 'a' ? 'b' : 'a');

const DROP: { [R in DropReason]: { kind: 'drop'; reason: R } } = {
  malformed: { kind: 'drop', reason: 'malformed' },
  stun: { kind: 'drop', reason: 'stun' },
  payload_type: { kind: 'drop', reason: 'payload_type' },
  stranger: { kind: 'drop', reason: 'stranger' },
  early: { kind: 'drop', reason: 'early' },
  wrong_source: { kind: 'drop', reason: 'wrong_source' },
  no_destination: { kind: 'drop', reason: 'no_destination' },
  hold: { kind: 'drop', reason: 'hold' },
  closed: { kind: 'drop', reason: 'closed' },
};
const CONSUME = { kind: 'consume' } as const;

export class RelaySession {
  readonly id: string;
  private modeValue: RelayMode;
  private readonly latching: LatchPolicy;
  private readonly latchWindowMs: number;
  private readonly mediaTimeoutMs: number;
  private readonly holdTimeoutMs: number;
  private readonly legs: Record<LegId, Leg>;
  private readonly startedAt: number;
  /** When the offer/answer completed (undefined: not yet); the latch window ends at windowEnd. */
  private completedAt: number | undefined;
  private windowEnd = -Infinity;
  private lastActivity: number | undefined;
  private closedReason: string | undefined;
  private endedAt: number | undefined;
  private readonly dropped: Partial<Record<DropReason, number>> = {};
  // Player.
  private player:
    | { leg: LegId; packets: readonly Uint8Array[]; next: number; startAt: number; ptimeMs: number }
    | undefined;

  constructor(opts: RelaySessionOptions, now: number) {
    this.id = opts.id;
    this.modeValue = opts.mode ?? RELAY_DEFAULTS.mode;
    this.latching = opts.latching ?? RELAY_DEFAULTS.latching;
    this.latchWindowMs = opts.latchWindowMs ?? RELAY_DEFAULTS.latchWindowMs;
    this.mediaTimeoutMs = opts.mediaTimeoutMs ?? RELAY_DEFAULTS.mediaTimeoutMs;
    this.holdTimeoutMs = opts.holdTimeoutMs ?? RELAY_DEFAULTS.holdTimeoutMs;
    this.startedAt = now;
    this.legs = { a: this.newLeg('a'), b: this.newLeg('b') };
  }

  private newLeg(id: LegId): Leg {
    const lookup = <T>(f: (r: RemoteMedia) => T | undefined): T | undefined => {
      const mine = this.legs?.[id]?.remote;
      const theirs = this.legs?.[other(id)]?.remote;
      return (mine && f(mine)) ?? (theirs && f(theirs)) ?? undefined;
    };
    const jitterExcluded = new Set<number>();
    return {
      remote: undefined,
      rtp: { signalled: undefined, latched: undefined, latchedBy: 'none' },
      rtcp: { signalled: undefined, latched: undefined, latchedBy: 'none' },
      stats: new RtpStreamStats({
        clockRate: (pt) => lookup((r) => r.clockRates?.get(pt)),
        jitterExcluded,
      }),
      jitterExcluded,
      sentPackets: 0,
      sentBytes: 0,
    };
  }

  get mode(): RelayMode {
    return this.modeValue;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Legs taking part: both in relay mode, only "a" in echo and player modes. */
  private get needed(): readonly LegId[] {
    return this.modeValue === 'relay' ? ['a', 'b'] : ['a'];
  }

  /**
   * The SDP of a leg's phone (offer or answer), or a new one (re-INVITE). The offer/answer
   * is complete when every leg the mode needs has one; the latch window opens then.
   */
  setRemote(leg: LegId, remote: RemoteMedia, now: number): void {
    if (this.closed) return;
    const l = this.legs[leg];
    const rtp: Address | undefined =
      remote.rejected || remote.address === undefined
        ? undefined
        : { address: remote.address, port: remote.rtpPort };
    const rtcpHost = remote.rtcpMux ? remote.address : (remote.rtcpAddress ?? remote.address);
    const rtcp: Address | undefined =
      remote.rejected || rtcpHost === undefined
        ? undefined
        : { address: rtcpHost, port: remote.rtcpPort };
    // A different signalled address (the phone moved) clears the latches; the same one, or
    // a hold with 0.0.0.0, keeps them.
    const moved = (e: Endpoint, s: Address | undefined): boolean =>
      s !== undefined &&
      e.signalled !== undefined &&
      (s.address !== e.signalled.address || s.port !== e.signalled.port);
    for (const [e, s] of [
      [l.rtp, rtp],
      [l.rtcp, rtcp],
    ] as const) {
      if (moved(e, s)) {
        e.latched = undefined;
        e.latchedBy = 'none';
      }
      if (s !== undefined) e.signalled = s;
    }
    l.remote = remote;
    for (const id of ['a', 'b'] as const) {
      for (const pt of remote.telephoneEvents ?? []) this.legs[id].jitterExcluded.add(pt);
    }
    const complete = this.needed.every((id) => this.legs[id].remote !== undefined);
    if (complete) {
      if (this.completedAt === undefined) this.completedAt = now;
      this.windowEnd = now + this.latchWindowMs;
    }
  }

  /** Switch mode (e.g. to echo or player for a call that was relayed). */
  setMode(mode: RelayMode, now: number): void {
    if (this.closed) return;
    this.modeValue = mode;
    if (mode !== 'player') this.player = undefined;
    if (
      this.completedAt === undefined &&
      this.needed.every((id) => this.legs[id].remote !== undefined)
    ) {
      this.completedAt = now;
      this.windowEnd = now + this.latchWindowMs;
    }
  }

  /** Start sending a prompt (media-player.ts packets) to `leg`, first packet at `now`. */
  play(leg: LegId, packets: readonly Uint8Array[], now: number, ptimeMs = 20): void {
    if (this.closed) return;
    this.setMode('player', now);
    this.player = { leg, packets, next: 0, startAt: now, ptimeMs };
  }

  private isComplete(): boolean {
    return this.completedAt !== undefined;
  }

  private onHold(l: Leg): boolean {
    const r = l.remote;
    return (
      r !== undefined &&
      (r.address === undefined || r.direction === 'sendonly' || r.direction === 'inactive')
    );
  }

  private allowedPayloadType(leg: LegId, pt: number): boolean {
    const mine = this.legs[leg].remote?.payloadTypes;
    if (mine?.includes(pt)) return true;
    if (this.modeValue !== 'relay') return false;
    return this.legs[other(leg)].remote?.payloadTypes.includes(pt) ?? false;
  }

  private drop(reason: DropReason): { kind: 'drop'; reason: DropReason } {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    return DROP[reason];
  }

  /**
   * One datagram received on our `component` socket of `leg`, from `fromAddress:fromPort`.
   */
  handleDatagram(
    leg: LegId,
    component: Component,
    data: Uint8Array,
    fromAddress: string,
    fromPort: number,
    now: number,
  ): DatagramVerdict {
    if (this.closed) return this.drop('closed');
    const l = this.legs[leg];
    if (leg === 'b' && this.modeValue !== 'relay') return this.drop('stranger');
    const ep = l[component];
    // A STUN keepalive is neither media nor an attack: counted apart, never latched, not
    // answered (ICE is stripped, so there are no credentials to answer with).
    if (looksLikeStun(data)) return this.drop('stun');

    // Parse: RTP on the RTP socket, unless RFC 5761 demux says RTCP and the leg muxes.
    const rtcp = component === 'rtcp' || (l.remote?.rtcpMux === true && looksLikeRtcp(data));
    let seq = 0;
    let ts = 0;
    let ssrc = 0;
    let pt = -1;
    if (rtcp) {
      // Forwarded, not interpreted: RFC 5506 reduced-size packets (any RTCP type first) pass.
      if (!decodeRtcp(data, { reducedSize: true }).ok) return this.drop('malformed');
    } else {
      const h = decodeRtpHeader(data);
      if (!h.ok) return this.drop('malformed');
      seq = h.header.sequenceNumber;
      ts = h.header.timestamp;
      ssrc = h.header.ssrc;
      pt = h.header.payloadType;
    }

    // Latching.
    if (ep.latched === undefined || !same(ep.latched, fromAddress, fromPort)) {
      // The leg's SDP is not known yet (a callee that sends media as soon as it has sent
      // its 200, which races the 200 here): nothing may latch before the answer (RTP-bleed
      // rule), and it is not an attack either: counted apart as `early`.
      if (l.remote === undefined) return this.drop('early');
      if (!rtcp && !this.allowedPayloadType(leg, pt)) {
        return this.drop(ep.latched ? 'wrong_source' : 'payload_type');
      }
      const fromSignalled = same(ep.signalled, fromAddress, fromPort);
      const inWindow = this.isComplete() && now <= this.windowEnd;
      if (ep.latched !== undefined) {
        // Rule 3: the signalled address takes a NAT latch over, within the window.
        if (!(fromSignalled && ep.latchedBy === 'nat' && inWindow))
          return this.drop('wrong_source');
        ep.latched = { address: fromAddress, port: fromPort };
        ep.latchedBy = 'signalled';
      } else if (fromSignalled) {
        ep.latched = ep.signalled;
        ep.latchedBy = 'signalled';
      } else if (component === 'rtcp' && l.rtp.latched?.address === fromAddress) {
        // Rule 4: RTCP follows the leg's latched RTP, inside the window or after it.
        ep.latched = { address: fromAddress, port: fromPort };
        ep.latchedBy = 'rtp';
      } else if (this.latching === 'nat-window' && inWindow) {
        if (component === 'rtcp' && l.rtp.latched !== undefined) return this.drop('stranger');
        ep.latched = { address: fromAddress, port: fromPort };
        ep.latchedBy = 'nat';
      } else {
        return this.drop('stranger');
      }
    }

    // Accepted.
    this.lastActivity = now;
    if (rtcp) l.stats.recordRtcp(data.length);
    else l.stats.record(seq, ts, ssrc, pt, data.length, now);

    switch (this.modeValue) {
      case 'player':
        return CONSUME;
      case 'echo':
        // Back to the sender, out of the socket it came in on.
        l.sentPackets++;
        l.sentBytes += data.length;
        return { kind: 'send', leg, component, to: ep.latched!, data };
      case 'relay': {
        const dst = this.legs[other(leg)];
        if (!rtcp && this.onHold(dst)) return this.drop('hold');
        const out: Component = rtcp && !this.muxed() ? 'rtcp' : 'rtp';
        const to =
          out === 'rtcp' ? this.rtcpDestination(dst) : (dst.rtp.latched ?? dst.rtp.signalled);
        if (to === undefined) return this.drop('no_destination');
        dst.sentPackets++;
        dst.sentBytes += data.length;
        return { kind: 'send', leg: other(leg), component: out, to, data };
      }
    }
  }

  /** RFC 5761 §5.1.1: muxing holds only when the offer and the answer both carry a=rtcp-mux. */
  private muxed(): boolean {
    return this.legs.a.remote?.rtcpMux === true && this.legs.b.remote?.rtcpMux === true;
  }

  /**
   * Where RTCP for a leg goes: its latched RTCP source; else, when its RTP latched from
   * behind a NAT, that address with port + 1 (RFC 3550 §11: the private address in its SDP is
   * unreachable); else what its SDP signalled.
   */
  private rtcpDestination(l: Leg): Address | undefined {
    if (l.rtcp.latched) return l.rtcp.latched;
    const rtp = l.rtp.latched;
    if (rtp && l.rtp.latchedBy === 'nat' && rtp.port < 65535)
      return { address: rtp.address, port: rtp.port + 1 };
    return l.rtcp.signalled;
  }

  private deadline(): number | undefined {
    if (this.completedAt === undefined) return undefined;
    const hold = this.needed.some((id) => this.onHold(this.legs[id]));
    let last = Math.max(this.lastActivity ?? -Infinity, this.completedAt);
    if (this.player)
      last = Math.max(last, this.player.startAt + this.player.next * this.player.ptimeMs);
    return last + (hold ? this.holdTimeoutMs : this.mediaTimeoutMs);
  }

  /** When handleTimeout should next be called (ms, same clock as `now`); undefined: never. */
  nextTimeout(): number | undefined {
    if (this.closed) return undefined;
    const d = this.deadline();
    const p = this.player;
    const due = p && p.next < p.packets.length ? p.startAt + p.next * p.ptimeMs : undefined;
    if (due === undefined) return d;
    return d === undefined ? due : Math.min(d, due);
  }

  handleTimeout(now: number): RelayEvent[] {
    if (this.closed) return [];
    const out: RelayEvent[] = [];
    const p = this.player;
    if (p) {
      const leg = this.legs[p.leg];
      while (p.next < p.packets.length && p.startAt + p.next * p.ptimeMs <= now) {
        const data = p.packets[p.next++]!;
        const to = leg.rtp.latched ?? leg.rtp.signalled;
        if (to === undefined) out.push(this.drop('no_destination'));
        else {
          leg.sentPackets++;
          leg.sentBytes += data.length;
          out.push({ kind: 'send', leg: p.leg, component: 'rtp', to, data });
        }
        if (p.next === p.packets.length) out.push({ kind: 'player_done' });
      }
    }
    const d = this.deadline();
    if (d !== undefined && now >= d) {
      const hold = this.needed.some((id) => this.onHold(this.legs[id]));
      const reason = hold ? 'hold_timeout' : 'media_timeout';
      this.closedReason = reason;
      this.endedAt = now;
      out.push({ kind: 'timeout', reason });
    }
    return out;
  }

  /** End the session (BYE, CANCEL, or after a timeout) and return its report. */
  close(reason: string, now: number): RelayReport {
    if (this.closedReason === undefined) {
      this.closedReason = reason;
      this.endedAt = now;
    }
    return this.report(now);
  }

  latchState(leg: LegId, component: Component): { latched: Address | undefined; by: LatchState } {
    const e = this.legs[leg][component];
    return { latched: e.latched, by: e.latchedBy };
  }

  report(now: number): RelayReport {
    const legReport = (l: Leg): LegReport => ({
      signalled: { rtp: fmt(l.rtp.signalled), rtcp: fmt(l.rtcp.signalled) },
      latched: { rtp: fmt(l.rtp.latched), rtcp: fmt(l.rtcp.latched) },
      latchedBy: { rtp: l.rtp.latchedBy, rtcp: l.rtcp.latchedBy },
      direction: l.remote?.direction,
      received: l.stats.report(),
      sent: { packets: l.sentPackets, bytes: l.sentBytes },
    });
    return {
      id: this.id,
      mode: this.modeValue,
      reason: this.closedReason ?? 'open',
      durationMs: (this.endedAt ?? now) - this.startedAt,
      legs: { a: legReport(this.legs.a), b: legReport(this.legs.b) },
      dropped: { ...this.dropped },
    };
  }
}
