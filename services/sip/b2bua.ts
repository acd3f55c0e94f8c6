/**
 * The B2BUA: calls between extensions (RFC 3261 §12-§15, RFC 7092 "B2BUA" taxonomy: a
 * signalling-and-media-plane B2BUA, as Asterisk chan_sip was). Each call is two dialogs:
 * leg a with the caller (we are its UAS) and leg b with the callee (we are its UAC), each
 * with its own Call-ID, tags and CSeq space, and our Contact; media goes through the RTP
 * relay (MEDIA.md), so every SDP is rewritten to the relay's ports. Sans-I/O: requests,
 * responses and timer pops come in with `now`; what to send, media operations for the
 * adapter (open/remote/play/close) and call events go out.
 *
 * Call setup (reference dialplan, dialplan.ts):
 * - the INVITE is authenticated as Asterisk does (407 + Proxy-Authenticate, RFC 3261
 *   §22.3); the digest user must be the From user (403 otherwise);
 * - unknown extension → 404; no binding → 480 ("Temporarily Unavailable ... the callee's
 *   end system was contacted successfully but the callee is currently unavailable (for
 *   example, is not logged in)", §21.4.18); more than `maxCalls` → 503;
 * - otherwise 100 Trying, the relay is opened, and an INVITE goes to every registered
 *   contact of the callee at once (parallel forking, §16.6 / Asterisk `Dial(SIP/a&SIP/b)`);
 *   180/183 are relayed to the caller; the first 2xx wins, it is ACKed (§13.2.2.4) and the
 *   other branches are CANCELled ("the UAC core MUST ... generate an ACK ... and then send a
 *   BYE" for late 2xx from other forks); when every branch failed, the best final answer
 *   goes back (486 busy is relayed);
 * - after the ring timeout: CANCEL all branches, then the fallback: answer the caller,
 *   play the greeting through the relay's player mode, BYE (or 480 for `hangup`);
 * - CANCEL from the caller: 487 to its INVITE (§9.2), CANCEL to every branch.
 *   §9.1: "If no provisional response has been received, the CANCEL request MUST NOT be
 *   sent; rather, the client MUST wait for the arrival of a provisional response before
 *   sending the request" — such branches are cancelled when their 1xx arrives;
 * - our 2xx to the caller is retransmitted until its ACK (§13.3.1.4: "starting at T1 and
 *   doubling ... until it reaches T2"; after 64*T1 "the session SHOULD be terminated ...
 *   with a BYE").
 * In the dialog: BYE from either side is answered 200 and sent on to the other; re-INVITE,
 * UPDATE (RFC 3311) and INFO are passed through to the other leg with the SDP rewritten,
 * one at a time (a second one gets 491 Request Pending, RFC 3261 §14.2); ACK ends our 2xx
 * retransmission. A media timeout (relay onEnded) hangs both legs up with BYE.
 *
 * Limits: no Record-Route/route sets (phones reach us directly, as in the reference LAN),
 * no delayed offer (an INVITE without SDP gets 488 — every phone of the reference sends
 * an offer), no PRACK/100rel (a Require: 100rel is refused with 420 by the core), no
 * early media relayed before the answer except a 183's SDP, no call transfer (REFER).
 */
import { Buffer } from 'node:buffer';
import type { Rng } from '../../src/clock.js';
import { encode, getHeader, type SipRequest, type SipResponse } from './message.js';
import { paramValue, parseNameAddr } from './name-addr.js';
import { MAGIC_COOKIE, type Via } from './via.js';
import {
  mediaEndpoints,
  parseSdp,
  rewriteSdp,
  encodeSdp,
  type MediaEndpoint,
  type SessionDescription,
} from './sdp.js';
import type { ResponseSpec } from './response.js';
import type {
  ClientTransaction,
  ServerTransaction,
  TransactionLayer,
} from './transaction-layer.js';
import type { InviteServerTransaction } from './invite-server-transaction.js';
import type { Registrar } from './registrar.js';
import type { Binding } from './store.js';
import type { Dialplan, Fallback } from './dialplan.js';
import type { LocalAddress } from './qualify.js';
import type { SipTimers } from './sip-timers.js';
import { TimerHeap } from './timer-heap.js';
import type { Endpoint, SendOutput, TransportName } from './transport.js';

export const CALL_RESULTS = [
  'answered',
  'busy',
  'noanswer',
  'unavailable',
  'notfound',
  'cancelled',
  'failed',
] as const;
export type CallResult = (typeof CALL_RESULTS)[number];

export interface PortPairLike {
  readonly rtp: number;
  readonly rtcp: number;
}

/** What the adapter does with the relay. */
export type MediaOp =
  | { readonly op: 'open'; readonly id: string; readonly mode: 'relay' | 'echo' }
  | {
      readonly op: 'remote';
      readonly id: string;
      readonly leg: 'a' | 'b';
      readonly remote: MediaEndpoint;
    }
  | { readonly op: 'play'; readonly id: string }
  | { readonly op: 'close'; readonly id: string; readonly reason: string };

export type CallEvent =
  | {
      readonly type: 'call-ended';
      readonly id: string;
      readonly callId: string;
      readonly caller: string;
      readonly callee: string;
      readonly result: CallResult;
      readonly status: number | undefined;
      readonly reason: string;
      readonly durationMs: number;
      readonly media: boolean;
    }
  | { readonly type: 'auth-failure'; readonly user: string; readonly reason: string };

export type B2buaOutput =
  | SendOutput
  | { readonly type: 'media'; readonly op: MediaOp }
  | { readonly type: 'event'; readonly event: CallEvent };

export interface B2buaOptions {
  readonly timers: SipTimers;
  readonly local: Readonly<Record<TransportName, LocalAddress>>;
  readonly userAgent: string;
  readonly maxCalls: number;
  /** A greeting prompt is loaded (else the fallback is a hangup). */
  readonly greeting: boolean;
}

/** What the B2BUA needs from the core. */
export interface B2buaHost {
  readonly layer: TransactionLayer;
  readonly registrar: Registrar;
  readonly dialplan: Dialplan;
  readonly rng: Rng;
  /** Send a response through a server transaction (counted by the core). */
  respond(
    tx: ServerTransaction,
    req: SipRequest,
    vias: readonly Via[],
    spec: ResponseSpec,
    toTag: string,
    now: number,
  ): SendOutput[];
}

export const ALLOW_CALLS = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO';
const SDP_TYPE = 'application/sdp';
/** How often finished client transactions are forgotten. */
const SWEEP_MS = 10_000;

type LegId = 'a' | 'b';

/** One dialog of a call, seen from our side. */
interface Dialog {
  readonly callId: string;
  readonly localTag: string;
  /** Our From (leg b) or To (leg a) value, with our tag. */
  readonly localHeader: string;
  /** The peer's value, with its tag once known. */
  remoteHeader: string;
  remoteTag: string | undefined;
  /** The peer's Contact URI: Request-URI of our in-dialog requests (§12.2.1.1). */
  remoteTarget: string;
  readonly dest: Endpoint;
  localCseq: number;
  remoteCseq: number;
}

interface Fork {
  readonly branch: string;
  readonly binding: Binding;
  readonly dest: Endpoint;
  readonly requestUri: string;
  readonly via: string;
  key: string;
  state: 'calling' | 'early' | 'done';
  cancel: 'no' | 'wanted' | 'sent';
  final: number | undefined;
}

/** A 2xx we retransmit until its ACK (§13.3.1.4). */
interface Retrans {
  readonly data: Uint8Array;
  readonly dest: Endpoint;
  readonly cseq: number;
  interval: number;
  nextAt: number;
  readonly giveUpAt: number;
}

/** A re-INVITE/UPDATE/INFO passed from one leg to the other. */
interface Pending {
  readonly from: LegId;
  readonly req: SipRequest;
  readonly vias: readonly Via[];
  readonly tx: ServerTransaction;
  key: string;
}

type CallState = 'opening' | 'ringing' | 'answering' | 'confirmed' | 'greeting' | 'ended';

interface Call {
  readonly id: string;
  readonly kind: 'bridge' | 'echo';
  state: CallState;
  readonly caller: string;
  readonly callee: string;
  readonly startedAt: number;
  answeredAt: number | undefined;
  readonly invite: SipRequest;
  readonly vias: readonly Via[];
  readonly ist: InviteServerTransaction;
  readonly a: Dialog;
  /** The callee leg's own Call-ID, From (with tag) and To (no tag), shared by all forks. */
  readonly bCallId: string;
  readonly bTag: string;
  readonly bFrom: string;
  readonly bTo: string;
  b: Dialog | undefined;
  bAck: Uint8Array | undefined;
  forks: Fork[];
  readonly offer: SessionDescription;
  readonly ringTimeoutMs: number;
  readonly fallback: Fallback;
  ringAt: number | undefined;
  media: { address: string; a: PortPairLike; b: PortPairLike | undefined } | undefined;
  retrans: Partial<Record<LegId, Retrans>>;
  pending: Pending | undefined;
  playing: boolean;
  nextAt: number | undefined;
  /** Finals from failed branches, for the answer when all failed. */
  finals: number[];
}

function hex(rng: Rng, n: number): string {
  return Buffer.from(rng.bytes(n)).toString('hex');
}

function tagOf(header: {
  params: readonly (readonly [string, string | undefined])[];
}): string | undefined {
  const t = paramValue(header.params, 'tag');
  return typeof t === 'string' ? t : undefined;
}

function userOf(na: { uri: { kind: string; uri: unknown } }): string {
  if (na.uri.kind !== 'sip') return '';
  return (na.uri.uri as { user?: string }).user ?? '';
}

function isSdp(msg: SipRequest | SipResponse): boolean {
  const ct = getHeader(msg, 'content-type');
  return (
    msg.body.length > 0 && ct !== undefined && ct.split(';')[0]!.trim().toLowerCase() === SDP_TYPE
  );
}

function contactUri(msg: SipRequest | SipResponse): string | undefined {
  const c = getHeader(msg, 'contact');
  if (c === undefined) return undefined;
  const na = parseNameAddr(c.split(',')[0]!.trim());
  return na && na.uri.kind === 'sip' ? na.uriText : undefined;
}

/** Index of the first audio stream that is not rejected; -1 if none. */
function audioIndex(sdp: SessionDescription): number {
  return mediaEndpoints(sdp).findIndex((e) => e.media === 'audio' && !e.rejected);
}

/** The SDP for a peer: our relay address and the given ports for the first audio stream, other streams disabled. */
function rewriteFor(
  sdp: SessionDescription,
  address: string,
  ports: PortPairLike,
): Uint8Array | undefined {
  const k = audioIndex(sdp);
  if (k < 0) return undefined;
  const all: (PortPairLike | undefined)[] = sdp.media.map(() => undefined);
  all[k] = ports;
  return encodeSdp(rewriteSdp(sdp, { address, ports: all, replaceOrigin: true }));
}

export class B2bua {
  private readonly calls = new Map<string, Call>();
  /** `${callId}\0${localTag}` → call and leg. */
  private readonly dialogs = new Map<string, { call: Call; leg: LegId }>();
  /** client transaction key → call and what it is for. */
  private readonly clients = new Map<
    string,
    { call: Call; purpose: 'fork' | 'pending' | 'other'; tx: ClientTransaction; fork?: Fork }
  >();
  private nextSweep: number | undefined;
  /** IST key → call (CANCEL). */
  private readonly byIst = new Map<string, Call>();
  private readonly heap = new TimerHeap<Call>();
  private sdpVersion = 1;

  constructor(
    private readonly opts: B2buaOptions,
    private readonly host: B2buaHost,
  ) {}

  /** The calls in progress, for the admin `/state/sip` document (read-only). */
  listCalls(): {
    id: string;
    caller: string;
    callee: string;
    state: string;
    startedAt: number;
    answeredAt: number | undefined;
  }[] {
    return [...this.calls.values()].map((c) => ({
      id: c.id,
      caller: c.caller,
      callee: c.callee,
      state: String(c.state),
      startedAt: c.startedAt,
      answeredAt: c.answeredAt,
    }));
  }

  get activeCount(): number {
    return this.calls.size;
  }

  // -------------------------------------------------------------------------------------
  // New INVITE

  /** An INVITE without a To tag. Returns a final answer to send now, or undefined (the call proceeds). */
  onInvite(
    req: SipRequest,
    vias: readonly Via[],
    ist: InviteServerTransaction,
    source: Endpoint,
    now: number,
    out: B2buaOutput[],
  ): ResponseSpec | undefined {
    if (req.maxForwards === 0) return { status: 483 }; // §16.3 step 2 for what we forward
    const auth = this.host.registrar.authenticateRequest(req, now, source);
    if (!auth.ok) {
      if (auth.failure)
        out.push({ type: 'event', event: { type: 'auth-failure', ...auth.failure } });
      return auth.response;
    }
    const caller = userOf(req.from);
    if (auth.user !== caller) {
      out.push({
        type: 'event',
        event: { type: 'auth-failure', user: auth.user, reason: 'from-mismatch' },
      });
      return { status: 403, reason: 'Forbidden (auth user is not the From user)' };
    }
    const callee = req.requestUri.kind === 'sip' ? (req.requestUri.uri.user ?? '') : '';
    const route = this.host.dialplan.route(callee);
    if (route.kind === 'unknown')
      return this.refuse(req, caller, callee, 404, 'notfound', now, out);
    let bindings: Binding[] = [];
    if (route.kind === 'extension') {
      bindings = this.host.registrar.lookup(route.user).filter((b) => b.expiresAt > now);
      if (bindings.length === 0)
        return this.refuse(req, caller, callee, 480, 'unavailable', now, out);
    }
    if (this.calls.size >= this.opts.maxCalls)
      return { status: 503, headers: [['Retry-After', '10']] };
    // Content-Type is checked before the body (§8.2.3: 415 for a type we do not understand).
    if (req.body.length > 0 && !isSdp(req)) return { status: 415, headers: [['Accept', SDP_TYPE]] };
    if (req.body.length === 0)
      return {
        status: 488,
        headers: [['Warning', '399 netsvc "delayed offer (INVITE without SDP) not supported"']],
      };
    const parsed = parseSdp(req.body);
    if (!parsed.ok)
      return {
        status: 488,
        headers: [
          ['Warning', `399 netsvc "bad SDP: ${parsed.error.message.replace(/["\\]/g, "'")}"`],
        ],
      };
    if (audioIndex(parsed.sdp) < 0)
      return { status: 488, headers: [['Warning', '304 netsvc "no audio stream"']] };

    const local = this.opts.local[source.transport];
    const id = hex(this.host.rng, 8);
    const aTag = hex(this.host.rng, 6);
    const bTag = hex(this.host.rng, 6);
    const toRaw = getHeader(req, 'to') ?? `<${req.uri}>`;
    const display =
      req.from.display !== undefined ? `"${req.from.display.replace(/["\\]/g, '')}" ` : '';
    const call: Call = {
      id,
      kind: route.kind === 'echo' ? 'echo' : 'bridge',
      state: 'opening',
      caller,
      callee,
      startedAt: now,
      answeredAt: undefined,
      invite: req,
      vias,
      ist,
      a: {
        callId: req.callId,
        localTag: aTag,
        localHeader: `${toRaw};tag=${aTag}`,
        remoteHeader: getHeader(req, 'from') ?? '',
        remoteTag: tagOf(req.from),
        remoteTarget: contactUri(req) ?? req.from.uriText,
        dest: source,
        localCseq: 0,
        remoteCseq: req.cseq.seq,
      },
      bCallId: `${hex(this.host.rng, 12)}@${local.host}`,
      bTag,
      bFrom: `${display}<sip:${caller}@${local.host}>;tag=${bTag}`,
      bTo: `<sip:${callee}@${local.host}>`,
      b: undefined,
      bAck: undefined,
      forks: [],
      offer: parsed.sdp,
      ringTimeoutMs: route.kind === 'extension' ? route.ringTimeoutMs : 0,
      fallback: route.kind === 'extension' && this.opts.greeting ? route.fallback : 'hangup',
      ringAt: undefined,
      media: undefined,
      retrans: {},
      pending: undefined,
      playing: false,
      nextAt: undefined,
      finals: [],
    };
    this.calls.set(id, call);
    this.dialogs.set(`${call.a.callId}\u0000${aTag}`, { call, leg: 'a' });
    this.byIst.set(ist.key, call);
    // Forks are prepared now (the bindings of this moment) and sent once the relay is open.
    call.forks = bindings.map((b) => this.prepareFork(call, b));
    out.push(...this.host.respond(ist, req, vias, { status: 100 }, aTag, now));
    out.push({
      type: 'media',
      op: { op: 'open', id, mode: call.kind === 'echo' ? 'echo' : 'relay' },
    });
    return undefined;
  }

  private refuse(
    req: SipRequest,
    caller: string,
    callee: string,
    status: number,
    result: CallResult,
    now: number,
    out: B2buaOutput[],
  ): ResponseSpec {
    out.push({
      type: 'event',
      event: {
        type: 'call-ended',
        id: '',
        callId: req.callId,
        caller,
        callee,
        result,
        status,
        reason: String(status),
        durationMs: 0,
        media: false,
      },
    });
    void now;
    return { status };
  }

  private prepareFork(call: Call, b: Binding): Fork {
    const local = this.opts.local[b.transport];
    const branch = MAGIC_COOKIE + hex(this.host.rng, 8);
    return {
      branch,
      binding: b,
      dest: {
        transport: b.transport,
        address: b.sourceAddress,
        port: b.sourcePort,
        connection: undefined,
        local: b.local,
      },
      requestUri: b.contact,
      via: `SIP/2.0/${b.transport.toUpperCase()} ${local.host}:${local.port};branch=${branch};rport`,
      key: `${branch}|INVITE`,
      state: 'calling',
      cancel: 'no',
      final: undefined,
    };
  }

  // -------------------------------------------------------------------------------------
  // Media results from the adapter

  mediaOpened(
    id: string,
    media: { address: string; a: PortPairLike; b: PortPairLike | undefined },
    now: number,
  ): B2buaOutput[] {
    const out: B2buaOutput[] = [];
    const call = this.calls.get(id);
    if (!call || call.state !== 'opening') {
      out.push({ type: 'media', op: { op: 'close', id, reason: 'call-gone' } });
      return out;
    }
    call.media = media;
    const k = audioIndex(call.offer);
    out.push({
      type: 'media',
      op: { op: 'remote', id, leg: 'a', remote: mediaEndpoints(call.offer)[k]! },
    });
    if (call.kind === 'echo') {
      this.answerLocally(call, now, out);
      return out;
    }
    if (!media.b) {
      this.failCall(call, 500, 'failed', 'no media ports for leg b', now, out);
      return out;
    }
    const body = rewriteFor(call.offer, media.address, media.b)!;
    call.state = 'ringing';
    call.ringAt = now + call.ringTimeoutMs;
    for (const f of call.forks) {
      const data = this.buildInvite(call, f, body);
      const { tx, sends } = this.host.layer.sendInvite(
        f.branch,
        data,
        f.dest,
        now,
        (_status, toHeader) => this.buildNon2xxAck(call, f, toHeader),
      );
      f.key = tx.key;
      this.track(tx, { call, purpose: 'fork', fork: f }, now);
      out.push(...sends);
    }
    this.schedule(call);
    return out;
  }

  mediaFailed(id: string, reason: string, now: number): B2buaOutput[] {
    const out: B2buaOutput[] = [];
    const call = this.calls.get(id);
    if (call && call.state === 'opening')
      this.failCall(call, 503, 'failed', `media: ${reason}`, now, out);
    return out;
  }

  /** The relay timed out (no media): BYE both legs. */
  mediaEnded(id: string, reason: string, now: number): B2buaOutput[] {
    const out: B2buaOutput[] = [];
    const call = this.calls.get(id);
    if (!call) return out;
    if (call.state === 'answering' || call.state === 'confirmed' || call.state === 'greeting') {
      this.sendBye(call, 'a', now, out);
      if (call.b) this.sendBye(call, 'b', now, out);
      this.end(
        call,
        call.state === 'greeting' ? 'noanswer' : 'answered',
        undefined,
        reason,
        now,
        out,
      );
    }
    return out;
  }

  /** The greeting has been played: hang up. */
  playDone(id: string, now: number): B2buaOutput[] {
    const out: B2buaOutput[] = [];
    const call = this.calls.get(id);
    if (!call || call.state !== 'greeting') return out;
    this.sendBye(call, 'a', now, out);
    this.end(call, 'noanswer', undefined, 'greeting played', now, out);
    return out;
  }

  // -------------------------------------------------------------------------------------
  // Responses to our requests

  /** A response delivered by a client transaction; returns false when it is not ours. */
  onResponse(tx: ClientTransaction, res: SipResponse, now: number, out: B2buaOutput[]): boolean {
    const c = this.clients.get(tx.key);
    if (!c) return false;
    const { call } = c;
    if (res.status >= 200 && !(tx.kind === 'ict' && res.status < 300)) this.clients.delete(tx.key);
    if (c.purpose === 'fork' && c.fork) this.onForkResponse(call, c.fork, res, now, out);
    else if (c.purpose === 'pending') this.onPendingResponse(call, tx, res, now, out);
    return true;
  }

  /** A client transaction timed out (Timer B or F). */
  onClientTimeout(tx: ClientTransaction, now: number, out: B2buaOutput[]): boolean {
    const c = this.clients.get(tx.key);
    if (!c) return false;
    this.clients.delete(tx.key);
    const { call } = c;
    if (c.purpose === 'fork' && c.fork) {
      c.fork.state = 'done';
      c.fork.final = 408;
      call.finals.push(408);
      this.checkForks(call, now, out);
    } else if (c.purpose === 'pending' && call.pending && call.pending.key === tx.key) {
      const p = call.pending;
      call.pending = undefined;
      out.push(
        ...this.host.respond(
          p.tx,
          p.req,
          p.vias,
          { status: 408 },
          this.legDialog(call, p.from)!.localTag,
          now,
        ),
      );
    }
    return true;
  }

  private onForkResponse(
    call: Call,
    f: Fork,
    res: SipResponse,
    now: number,
    out: B2buaOutput[],
  ): void {
    if (res.status < 200) {
      if (res.status === 100) return;
      f.state = 'early';
      if (f.cancel === 'wanted') {
        this.sendCancel(call, f, now, out);
        return;
      }
      if (call.state !== 'ringing') return;
      const spec: {
        status: number;
        reason: string;
        headers: [string, string][];
        body?: Uint8Array;
      } = {
        status: res.status,
        reason: res.reason,
        headers: [['Contact', this.contact(call, 'a')]],
      };
      const body = this.answerBody(call, res, 'b', now, out);
      if (body) {
        spec.headers.push(['Content-Type', SDP_TYPE]);
        spec.body = body;
      }
      out.push(...this.host.respond(call.ist, call.invite, call.vias, spec, call.a.localTag, now));
      return;
    }
    if (res.status < 300) {
      const toTag = tagOf(res.to);
      if (call.b && call.b.remoteTag === toTag && call.bAck) {
        out.push({ type: 'send', dest: call.b.dest, data: call.bAck }); // retransmitted 2xx: ACK again
        return;
      }
      f.state = 'done';
      if (call.state === 'ringing' && f.cancel === 'no') {
        this.answered(call, f, res, now, out);
        return;
      }
      // A 2xx after another branch won or after CANCEL: "the UAC core MUST generate an
      // ACK ... and then send a BYE" (§13.2.2.4 for additional 2xx).
      this.ackAndBye(call, f, res, now, out);
      return;
    }
    // Non-2xx final (already ACKed by the transaction).
    f.state = 'done';
    f.final = res.status;
    call.finals.push(res.status);
    this.checkForks(call, now, out);
  }

  private checkForks(call: Call, now: number, out: B2buaOutput[]): void {
    if (call.state !== 'ringing' || call.forks.some((f) => f.state !== 'done')) return;
    // Every branch failed: §16.7 step 6 style choice — a 6xx or a 486 wins (busy), else 480.
    const busy = call.finals.find((s) => s === 486 || s === 600 || s === 603);
    if (busy !== undefined) this.failCall(call, busy, 'busy', `callee busy (${busy})`, now, out);
    else
      this.failCall(
        call,
        480,
        'unavailable',
        `no branch answered (${call.finals.join(',')})`,
        now,
        out,
      );
  }

  private answered(call: Call, f: Fork, res: SipResponse, now: number, out: B2buaOutput[]): void {
    const toTag = tagOf(res.to);
    const b: Dialog = {
      callId: call.bCallId,
      localTag: call.bTag,
      localHeader: call.bFrom,
      remoteHeader: getHeader(res, 'to') ?? call.bTo,
      remoteTag: toTag,
      remoteTarget: contactUri(res) ?? f.requestUri,
      dest: f.dest,
      localCseq: 1,
      remoteCseq: 0,
    };
    call.b = b;
    this.dialogs.set(`${b.callId}\u0000${b.localTag}`, { call, leg: 'b' });
    call.bAck = this.buildInDialog(call, 'b', 'ACK', 1, [], undefined);
    out.push({ type: 'send', dest: b.dest, data: call.bAck });
    for (const g of call.forks)
      if (g !== f && g.state !== 'done') this.cancelFork(call, g, now, out);
    const body = this.answerBody(call, res, 'b', now, out);
    if (!body) {
      this.sendBye(call, 'b', now, out);
      this.failCall(call, 488, 'failed', 'callee answered without usable SDP', now, out);
      return;
    }
    call.ringAt = undefined;
    call.answeredAt = now;
    this.sendFinal2xx(call, body, now, out);
  }

  /** Our 200 OK with SDP to the caller's INVITE; retransmitted until the ACK. */
  private sendFinal2xx(call: Call, body: Uint8Array, now: number, out: B2buaOutput[]): void {
    const spec: ResponseSpec = {
      status: 200,
      headers: [
        ['Contact', this.contact(call, 'a')],
        ['Allow', ALLOW_CALLS],
        ['Content-Type', SDP_TYPE],
      ],
      body,
    };
    const sends = this.host.respond(call.ist, call.invite, call.vias, spec, call.a.localTag, now);
    out.push(...sends);
    call.state = call.state === 'greeting' ? 'greeting' : 'answering';
    const data = sends[0]?.data;
    if (data) this.startRetrans(call, 'a', data, call.a.dest, call.invite.cseq.seq, now);
    this.schedule(call);
  }

  private startRetrans(
    call: Call,
    leg: LegId,
    data: Uint8Array,
    dest: Endpoint,
    cseq: number,
    now: number,
  ): void {
    // On a reliable transport the 2xx is not retransmitted, but 64*T1 still bounds the ACK wait.
    const reliable = dest.transport === 'tcp';
    call.retrans[leg] = {
      data,
      dest,
      cseq,
      interval: this.opts.timers.t1,
      nextAt: reliable ? now + 64 * this.opts.timers.t1 : now + this.opts.timers.t1,
      giveUpAt: now + 64 * this.opts.timers.t1,
    };
  }

  /** Rewrite the SDP of a message from `from` for the other leg; tells the relay where `from` receives. */
  private answerBody(
    call: Call,
    msg: SipRequest | SipResponse,
    from: LegId,
    now: number,
    out: B2buaOutput[],
  ): Uint8Array | undefined {
    void now;
    if (!call.media || !isSdp(msg)) return undefined;
    const p = parseSdp(msg.body);
    if (!p.ok) return undefined;
    const k = audioIndex(p.sdp);
    if (k < 0) return undefined;
    out.push({
      type: 'media',
      op: { op: 'remote', id: call.id, leg: from, remote: mediaEndpoints(p.sdp)[k]! },
    });
    const to: LegId = from === 'a' ? 'b' : 'a';
    const ports = to === 'a' ? call.media.a : call.media.b;
    return ports ? rewriteFor(p.sdp, call.media.address, ports) : undefined;
  }

  // -------------------------------------------------------------------------------------
  // Answering ourselves: echo test and greeting

  /** Our own SDP answer to the caller's offer (RFC 3264 §6): the offer's PCMU/PCMA/telephone-event, at the relay. */
  private localAnswer(call: Call, pcmuOnly: boolean): Uint8Array | undefined {
    if (!call.media) return undefined;
    const ep = mediaEndpoints(call.offer)[audioIndex(call.offer)]!;
    const offered = call.offer.media[ep.index]!;
    const keep = ep.payloadTypes.filter(
      (pt) => pt === 0 || (!pcmuOnly && (pt === 8 || ep.telephoneEvents.has(pt))),
    );
    if (!keep.includes(0) && !keep.includes(8)) return undefined;
    const lines = [
      'v=0',
      `o=netsvc ${this.sdpVersion} ${this.sdpVersion++} IN IP4 ${call.media.address}`,
      's=netsvc',
      `c=IN IP4 ${call.media.address}`,
      't=0 0',
      `m=audio ${call.media.a.rtp} ${offered.proto} ${keep.join(' ')}`,
    ];
    for (const pt of keep) {
      const map = offered.rtpmap.find((r) => r.payloadType === pt);
      if (pt === 0) lines.push('a=rtpmap:0 PCMU/8000');
      else if (pt === 8) lines.push('a=rtpmap:8 PCMA/8000');
      else if (map)
        lines.push(`a=rtpmap:${pt} ${map.encoding}/${map.clockRate}`, `a=fmtp:${pt} 0-16`);
    }
    lines.push('a=ptime:20', pcmuOnly ? 'a=sendonly' : 'a=sendrecv');
    return Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
  }

  private answerLocally(call: Call, now: number, out: B2buaOutput[]): void {
    const body = this.localAnswer(call, call.kind !== 'echo');
    if (!body) {
      this.failCall(call, 488, 'failed', 'no common codec', now, out);
      return;
    }
    if (call.kind !== 'echo') call.state = 'greeting';
    call.answeredAt = now;
    this.sendFinal2xx(call, body, now, out);
  }

  // -------------------------------------------------------------------------------------
  // Requests from the phones

  /** CANCEL matched this INVITE server transaction (the core answers the CANCEL 200). */
  onCancel(ist: InviteServerTransaction, now: number, out: B2buaOutput[]): void {
    const call = this.byIst.get(ist.key);
    if (!call || (call.state !== 'opening' && call.state !== 'ringing')) return;
    // §9.2: "the UAS core ... SHOULD respond to the INVITE with a 487 (Request Terminated)".
    this.failCall(call, 487, 'cancelled', 'cancelled by caller', now, out);
  }

  /** ACK with a To tag (for a 2xx). Returns false when it matches no dialog. */
  onAck(req: SipRequest, now: number, out: B2buaOutput[]): boolean {
    const d = this.findDialog(req);
    if (!d) return false;
    const { call, leg } = d;
    const r = call.retrans[leg];
    if (r && r.cseq === req.cseq.seq) {
      call.retrans[leg] = undefined;
      if (leg === 'a' && call.state === 'answering') call.state = 'confirmed';
      if (leg === 'a' && call.state === 'greeting' && !call.playing) {
        call.playing = true;
        out.push({ type: 'media', op: { op: 'play', id: call.id } });
      }
      this.schedule(call);
    }
    void now;
    return true;
  }

  /**
   * A request with a To tag (BYE, re-INVITE, UPDATE, INFO). Returns the answer, or undefined
   * when it was passed on and the answer comes later.
   */
  onInDialog(
    req: SipRequest,
    vias: readonly Via[],
    tx: ServerTransaction,
    now: number,
    out: B2buaOutput[],
  ): ResponseSpec | undefined {
    const d = this.findDialog(req);
    if (!d) return { status: 481 };
    const { call, leg } = d;
    const dialog = this.legDialog(call, leg)!;
    // §12.2.2: "If the remote sequence number was not empty, but the sequence number of
    // the request is lower than the remote sequence number, the request is out of order
    // and MUST be rejected with a 500 (Server Internal Error) response."
    if (dialog.remoteCseq > 0 && req.cseq.seq <= dialog.remoteCseq) {
      return { status: 500, reason: 'Server Internal Error (CSeq out of order)' };
    }
    dialog.remoteCseq = req.cseq.seq;
    if (req.method === 'BYE') {
      if (call.state === 'ringing' || call.state === 'opening') {
        // A BYE in the caller's early dialog (§15: "the caller's UA MAY send a BYE for
        // either confirmed or early dialogs"): like a CANCEL.
        this.failCall(call, 487, 'cancelled', 'BYE before answer', now, out);
        return { status: 200 };
      }
      const other: LegId = leg === 'a' ? 'b' : 'a';
      if (this.legDialog(call, other)) this.sendBye(call, other, now, out);
      this.end(
        call,
        call.state === 'greeting' ? 'noanswer' : 'answered',
        undefined,
        `BYE from ${leg === 'a' ? 'caller' : 'callee'}`,
        now,
        out,
      );
      return { status: 200 };
    }
    if (call.state !== 'confirmed' && call.state !== 'answering') {
      return call.state === 'greeting' || call.kind === 'echo'
        ? req.method === 'INFO'
          ? { status: 200 }
          : { status: 488 }
        : { status: 491 };
    }
    if (call.kind === 'echo')
      return req.method === 'INFO'
        ? { status: 200 }
        : {
            status: 488,
            headers: [['Warning', '399 netsvc "echo test: media changes not supported"']],
          };
    // §14.2: "A UAS that receives a second INVITE before it sends the final response to a
    // first INVITE with a lower CSeq sequence number on the same dialog MUST return a 500";
    // one passed-through request at a time, the next gets 491 (RFC 3261 §14.1, RFC 3311 §5.2).
    if (call.pending || call.retrans[leg] || call.retrans[leg === 'a' ? 'b' : 'a'])
      return { status: 491 };
    const to: LegId = leg === 'a' ? 'b' : 'a';
    let body: Uint8Array | undefined;
    if (req.body.length > 0) {
      if (isSdp(req)) {
        body = this.answerBody(call, req, leg, now, out);
        if (!body) return { status: 488, headers: [['Warning', '399 netsvc "bad SDP"']] };
      } else if (req.method !== 'INFO') {
        return { status: 415, headers: [['Accept', SDP_TYPE]] };
      } else body = req.body;
    }
    const target = this.legDialog(call, to)!;
    const cseq = ++target.localCseq;
    const extra: [string, string][] = [];
    if (body) extra.push(['Content-Type', getHeader(req, 'content-type') ?? SDP_TYPE]);
    if (req.method === 'INVITE' || req.method === 'UPDATE')
      extra.push(['Contact', this.contact(call, to)], ['Allow', ALLOW_CALLS]);
    const branch = MAGIC_COOKIE + hex(this.host.rng, 8);
    const data = this.buildInDialog(call, to, req.method, cseq, extra, body, branch);
    let ctx: ClientTransaction;
    if (req.method === 'INVITE') {
      const r = this.host.layer.sendInvite(branch, data, target.dest, now, (_s, toHeader) =>
        this.buildInDialog(call, to, 'ACK', cseq, [], undefined, branch, toHeader),
      );
      ctx = r.tx;
      out.push(...r.sends);
      out.push(...this.host.respond(tx, req, vias, { status: 100 }, dialog.localTag, now));
    } else {
      const r = this.host.layer.sendRequest(branch, req.method, data, target.dest, now);
      ctx = r.tx;
      out.push(...r.sends);
    }
    const key = ctx.key;
    call.pending = { from: leg, req, vias, tx, key };
    this.track(ctx, { call, purpose: 'pending' }, now);
    return undefined;
  }

  private onPendingResponse(
    call: Call,
    tx: ClientTransaction,
    res: SipResponse,
    now: number,
    out: B2buaOutput[],
  ): void {
    const p = call.pending;
    if (!p || p.key !== tx.key) {
      // A 2xx retransmission of a re-INVITE already answered: ACK again.
      if (tx.kind === 'ict' && res.status >= 200 && res.status < 300) {
        const to: LegId = res.callId === call.bCallId ? 'b' : 'a';
        const dl = this.legDialog(call, to);
        if (dl)
          out.push({
            type: 'send',
            dest: dl.dest,
            data: this.buildInDialog(call, to, 'ACK', res.cseq.seq, [], undefined),
          });
      }
      return;
    }
    if (res.status < 200) return;
    call.pending = undefined;
    const from = p.from;
    const to: LegId = from === 'a' ? 'b' : 'a';
    const origin = this.legDialog(call, from)!;
    if (tx.kind === 'ict' && res.status < 300) {
      const dl = this.legDialog(call, to)!;
      out.push({
        type: 'send',
        dest: dl.dest,
        data: this.buildInDialog(call, to, 'ACK', res.cseq.seq, [], undefined),
      });
      const c = contactUri(res);
      if (c) dl.remoteTarget = c; // §12.2.1.2: a 2xx to a re-INVITE updates the remote target
    }
    const headers: [string, string][] = [];
    let body: Uint8Array | undefined;
    if (res.status < 300) {
      headers.push(['Contact', this.contact(call, from)]);
      if (isSdp(res)) {
        body = this.answerBody(call, res, to, now, out);
        if (body) headers.push(['Content-Type', SDP_TYPE]);
      } else if (res.body.length > 0 && p.req.method === 'INFO') {
        body = res.body;
        headers.push([
          'Content-Type',
          getHeader(res, 'content-type') ?? 'application/octet-stream',
        ]);
      }
    }
    const spec: ResponseSpec = body
      ? { status: res.status, reason: res.reason, headers, body }
      : { status: res.status, reason: res.reason, headers };
    const sends = this.host.respond(p.tx, p.req, p.vias, spec, origin.localTag, now);
    out.push(...sends);
    if (p.req.method === 'INVITE' && res.status < 300 && sends[0]) {
      this.startRetrans(call, from, sends[0].data, origin.dest, p.req.cseq.seq, now);
      this.schedule(call);
    }
  }

  // -------------------------------------------------------------------------------------
  // Timers

  private track(
    tx: ClientTransaction,
    e: { call: Call; purpose: 'fork' | 'pending' | 'other'; fork?: Fork },
    now: number,
  ): void {
    this.clients.set(tx.key, { ...e, tx });
    if (this.nextSweep === undefined) this.nextSweep = now + SWEEP_MS;
  }

  nextTimeout(): number | undefined {
    const h = this.heap.peekAt();
    if (this.nextSweep === undefined) return h;
    return h === undefined ? this.nextSweep : Math.min(h, this.nextSweep);
  }

  /** Client transactions of this B2BUA that are alive (bounded by the transaction timers). */
  get clientCount(): number {
    return this.clients.size;
  }

  handleTimeout(now: number): B2buaOutput[] {
    const out: B2buaOutput[] = [];
    if (this.nextSweep !== undefined && now >= this.nextSweep) {
      // Forget client transactions the layer has terminated (Timer M/D/K passed).
      for (const [k, c] of this.clients) if (c.tx.state === 'terminated') this.clients.delete(k);
      this.nextSweep = this.clients.size > 0 ? now + SWEEP_MS : undefined;
    }
    for (;;) {
      const e = this.heap.popDue(now);
      if (!e) break;
      const call = e.item;
      if (call.nextAt !== e.at || this.calls.get(call.id) !== call) continue;
      call.nextAt = undefined;
      if (call.state === 'ringing' && call.ringAt !== undefined && now >= call.ringAt)
        this.ringTimeout(call, now, out);
      for (const leg of ['a', 'b'] as const) {
        const r = call.retrans[leg];
        if (!r || call.state === 'ended') continue;
        if (now >= r.giveUpAt) {
          // §13.3.1.4: no ACK for 64*T1: "the session SHOULD be terminated ... with a BYE".
          call.retrans[leg] = undefined;
          this.sendBye(call, 'a', now, out);
          if (call.b) this.sendBye(call, 'b', now, out);
          this.end(call, 'failed', undefined, 'no ACK for our 2xx', now, out);
          break;
        }
        if (now >= r.nextAt) {
          out.push({ type: 'send', dest: r.dest, data: r.data });
          r.interval = Math.min(2 * r.interval, this.opts.timers.t2);
          r.nextAt =
            r.dest.transport === 'tcp' ? r.giveUpAt : Math.min(now + r.interval, r.giveUpAt);
        }
      }
      this.schedule(call);
    }
    return out;
  }

  private ringTimeout(call: Call, now: number, out: B2buaOutput[]): void {
    call.ringAt = undefined;
    for (const f of call.forks) if (f.state !== 'done') this.cancelFork(call, f, now, out);
    if (call.fallback === 'greeting' && this.localAnswer(call, true)) {
      this.answerLocally(call, now, out);
      return;
    }
    this.failCall(call, 480, 'noanswer', 'ring timeout', now, out);
  }

  private schedule(call: Call): void {
    if (call.state === 'ended') return;
    let at = call.ringAt;
    for (const r of [call.retrans.a, call.retrans.b])
      if (r && (at === undefined || r.nextAt < at)) at = r.nextAt;
    if (at === undefined || at === call.nextAt) return;
    call.nextAt = at;
    this.heap.push(at, call);
  }

  // -------------------------------------------------------------------------------------
  // Ending

  /** Final non-2xx to the caller, branches cancelled, call ended. */
  private failCall(
    call: Call,
    status: number,
    result: CallResult,
    reason: string,
    now: number,
    out: B2buaOutput[],
  ): void {
    for (const f of call.forks) if (f.state !== 'done') this.cancelFork(call, f, now, out);
    if (call.ist.state === 'proceeding') {
      out.push(
        ...this.host.respond(call.ist, call.invite, call.vias, { status }, call.a.localTag, now),
      );
    }
    this.end(call, result, status, reason, now, out);
  }

  private end(
    call: Call,
    result: CallResult,
    status: number | undefined,
    reason: string,
    now: number,
    out: B2buaOutput[],
  ): void {
    if (call.state === 'ended') return;
    const hadMedia = call.state !== 'opening' || call.media !== undefined;
    call.state = 'ended';
    this.calls.delete(call.id);
    this.dialogs.delete(`${call.a.callId}\u0000${call.a.localTag}`);
    if (call.b) this.dialogs.delete(`${call.b.callId}\u0000${call.b.localTag}`);
    this.byIst.delete(call.ist.key);
    // Client transactions of this call stay in the map until they finish, so that late
    // responses (a 2xx after CANCEL) are still ACKed and BYEd; the fork entries keep the call.
    out.push({
      type: 'event',
      event: {
        type: 'call-ended',
        id: call.id,
        callId: call.a.callId,
        caller: call.caller,
        callee: call.callee,
        result,
        status,
        reason,
        durationMs: call.answeredAt !== undefined ? now - call.answeredAt : 0,
        media: hadMedia,
      },
    });
  }

  // -------------------------------------------------------------------------------------
  // Building requests

  private legDialog(call: Call, leg: LegId): Dialog | undefined {
    return leg === 'a' ? call.a : call.b;
  }

  private findDialog(req: SipRequest): { call: Call; leg: LegId } | undefined {
    const tag = tagOf(req.to);
    if (tag === undefined) return undefined;
    const d = this.dialogs.get(`${req.callId}\u0000${tag}`);
    if (!d) return undefined;
    const remote = this.legDialog(d.call, d.leg)?.remoteTag;
    // §12.2.2: the dialog is identified by Call-ID, local tag and remote tag.
    if (remote !== undefined && tagOf(req.from) !== remote) return undefined;
    return d;
  }

  private contact(call: Call, leg: LegId): string {
    const t: TransportName =
      leg === 'a'
        ? call.a.dest.transport
        : (call.b?.dest.transport ?? call.forks[0]?.dest.transport ?? 'udp');
    const l = this.opts.local[t];
    const user = leg === 'a' ? call.callee : call.caller;
    return `<sip:${user}@${l.host}:${l.port}${t === 'tcp' ? ';transport=tcp' : ''}>`;
  }

  private buildInvite(call: Call, f: Fork, body: Uint8Array): Uint8Array {
    const mf = call.invite.maxForwards;
    return encode(
      `INVITE ${f.requestUri} SIP/2.0`,
      [
        ['Via', f.via],
        ['Max-Forwards', String(mf === undefined ? 70 : Math.min(70, mf - 1))],
        ['From', call.bFrom],
        ['To', call.bTo],
        ['Call-ID', call.bCallId],
        ['CSeq', '1 INVITE'],
        ['Contact', this.contactFor(f.binding.transport, call.caller)],
        ['Allow', ALLOW_CALLS],
        ['User-Agent', this.opts.userAgent],
        ['Content-Type', SDP_TYPE],
      ],
      body,
    );
  }

  private contactFor(t: TransportName, user: string): string {
    const l = this.opts.local[t];
    return `<sip:${user}@${l.host}:${l.port}${t === 'tcp' ? ';transport=tcp' : ''}>`;
  }

  /** §17.1.1.3: the ACK for a non-2xx final of a fork. */
  private buildNon2xxAck(call: Call, f: Fork, toHeader: string): Uint8Array {
    return encode(`ACK ${f.requestUri} SIP/2.0`, [
      ['Via', f.via],
      ['Max-Forwards', '70'],
      ['From', call.bFrom],
      ['To', toHeader],
      ['Call-ID', call.bCallId],
      ['CSeq', '1 ACK'],
    ]);
  }

  /** §9.1: CANCEL with the INVITE's Request-URI, Call-ID, To, From, top Via and CSeq number. */
  private cancelFork(call: Call, f: Fork, now: number, out: B2buaOutput[]): void {
    if (f.cancel !== 'no') return;
    if (f.state === 'early') this.sendCancel(call, f, now, out);
    else f.cancel = 'wanted';
  }

  private sendCancel(call: Call, f: Fork, now: number, out: B2buaOutput[]): void {
    f.cancel = 'sent';
    const data = encode(`CANCEL ${f.requestUri} SIP/2.0`, [
      ['Via', f.via],
      ['Max-Forwards', '70'],
      ['From', call.bFrom],
      ['To', call.bTo],
      ['Call-ID', call.bCallId],
      ['CSeq', '1 CANCEL'],
      ['User-Agent', this.opts.userAgent],
    ]);
    const r = this.host.layer.sendRequest(f.branch, 'CANCEL', data, f.dest, now);
    out.push(...r.sends);
  }

  /** ACK and BYE a 2xx from a branch we do not want (§13.2.2.4). */
  private ackAndBye(call: Call, f: Fork, res: SipResponse, now: number, out: B2buaOutput[]): void {
    const target = contactUri(res) ?? f.requestUri;
    const to = getHeader(res, 'to') ?? call.bTo;
    const local = this.opts.local[f.dest.transport];
    const via = (): string =>
      `SIP/2.0/${f.dest.transport.toUpperCase()} ${local.host}:${local.port};branch=${MAGIC_COOKIE}${hex(this.host.rng, 8)};rport`;
    const common = (cseq: string): [string, string][] => [
      ['Via', via()],
      ['Max-Forwards', '70'],
      ['From', call.bFrom],
      ['To', to],
      ['Call-ID', call.bCallId],
      ['CSeq', cseq],
    ];
    out.push({
      type: 'send',
      dest: f.dest,
      data: encode(`ACK ${target} SIP/2.0`, common('1 ACK')),
    });
    const bye = common('2 BYE');
    const branch = /branch=([^;]+)/.exec(bye[0]![1])![1]!;
    const r = this.host.layer.sendRequest(
      branch,
      'BYE',
      encode(`BYE ${target} SIP/2.0`, [...bye, ['User-Agent', this.opts.userAgent]]),
      f.dest,
      now,
    );
    out.push(...r.sends);
  }

  private sendBye(call: Call, leg: LegId, now: number, out: B2buaOutput[]): void {
    const d = leg === 'a' ? call.a : call.b;
    if (!d) return;
    const branch = MAGIC_COOKIE + hex(this.host.rng, 8);
    const data = this.buildInDialog(call, leg, 'BYE', ++d.localCseq, [], undefined, branch);
    const r = this.host.layer.sendRequest(branch, 'BYE', data, d.dest, now);
    this.track(r.tx, { call, purpose: 'other' }, now);
    out.push(...r.sends);
  }

  /** A request inside leg's dialog (§12.2.1.1). */
  private buildInDialog(
    call: Call,
    leg: LegId,
    method: string,
    cseq: number,
    extra: readonly (readonly [string, string])[],
    body: Uint8Array | undefined,
    branch = MAGIC_COOKIE + hex(this.host.rng, 8),
    toOverride?: string,
  ): Uint8Array {
    const d = (leg === 'a' ? call.a : call.b)!;
    const local = this.opts.local[d.dest.transport];
    return encode(
      `${method} ${d.remoteTarget} SIP/2.0`,
      [
        [
          'Via',
          `SIP/2.0/${d.dest.transport.toUpperCase()} ${local.host}:${local.port};branch=${branch};rport`,
        ],
        ['Max-Forwards', '70'],
        ['From', d.localHeader],
        ['To', toOverride ?? d.remoteHeader],
        ['Call-ID', d.callId],
        ['CSeq', `${cseq} ${method}`],
        ...(method === 'ACK' ? [] : ([['User-Agent', this.opts.userAgent]] as [string, string][])),
        ...extra,
      ],
      body,
    );
  }
}
