/**
 * The SIP core: the transaction user above the transaction layer (RFC 3261 §8.2 UAS
 * behaviour, §10 registrar, §11 OPTIONS), sans-I/O. `handle(input, now)` takes one
 * datagram or one framed TCP message and returns what to send and what happened;
 * `handleTimeout(now)` runs due timers (transactions, binding expiry, qualify);
 * `nextTimeout()` says when to call it next. The adapter owns sockets and the one timer.
 *
 * Order of checks for a new request (§8.2): a request that failed to decode gets 400 (or
 * 505) statelessly, or is dropped when it has no usable Via; a response that matches no
 * client transaction is dropped (§18.1.2 "the response MUST be silently discarded"
 * applies to proxies; a UA likewise has no one to give it to). Then §8.2.2.1 "If the
 * Request-URI uses a scheme not supported by the UAS, it SHOULD reject the request with a
 * 416 (Unsupported URI Scheme) response"; §8.2.2.3 "If a UAS does not understand an
 * option-tag listed in a Require header field, it MUST respond by generating a response
 * with status code 420 (Bad Extension). The UAS MUST add an Unsupported header field";
 * then the method: REGISTER → registrar; OPTIONS → 200 (§11.2: "The response to an
 * OPTIONS is constructed using the standard rules for a SIP response as discussed in
 * Section 8.2.6"); CANCEL → 200 if it matches an INVITE transaction (whose final answer
 * was already sent, so "the CANCEL has no effect", §9.2) else 481; BYE → 481 (no dialogs
 * yet); INVITE and anything else → 501 Not Implemented with Allow (the B2BUA below).
 *
 * Max-Forwards 0 on an OPTIONS is answered 200: RFC 4475 §3.3.15 "An endpoint should
 * process the request as if the Max-Forwards field value were still positive"; we are
 * the endpoint of everything we answer until calls are proxied.
 */
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import type { Rng } from '../../src/clock.js';
import { decode, getHeader, type SipRequest, type SipResponse } from './message.js';
import { buildErrorResponse, buildResponse, type ResponseSpec } from './response.js';
import { responseTarget, stampVia, type Via } from './via.js';
import { TransactionLayer } from './transaction-layer.js';
import {
  Registrar,
  type GuardEvent,
  type RegistrarEvent,
  type RegistrarOptions,
  type UndoEntry,
} from './registrar.js';
import { NonceManager } from './nonce.js';
import {
  Qualify,
  bindingId,
  buildOptions,
  type LocalAddress,
  type QualifyEvent,
} from './qualify.js';
import { isToken } from './name-addr.js';
import { methodLabel, type SipMetrics } from './metrics.js';
import type { Binding, BindingChanges } from './store.js';
import { send, type Endpoint, type SendOutput, type TransportName } from './transport.js';
import type { SipTimers } from './sip-timers.js';
import {
  B2bua,
  ALLOW_CALLS,
  type B2buaOutput,
  type CallEvent,
  type MediaOp,
  type PortPairLike,
} from './b2bua.js';
import { DEFAULT_DIALPLAN, Dialplan, type DialplanConfig } from './dialplan.js';
import { paramValue } from './name-addr.js';
import type { ServerTransaction } from './transaction-layer.js';

export const ALLOW = ALLOW_CALLS;

/** Methods that, with a To tag, belong to a B2BUA dialog. */
const DIALOG_METHODS = new Set(['BYE', 'INVITE', 'UPDATE', 'INFO']);

export type CoreEvent =
  | RegistrarEvent
  | GuardEvent
  | QualifyEvent
  | CallEvent
  | {
      readonly type: 'bad-message';
      readonly reason: string;
      readonly source: Endpoint;
      readonly answered: boolean;
    };

/**
 * Binding changes the adapter commits (src/store/group-commit.ts) before it tells the core
 * `committed([token])`; the reply that waits on them is held in the core until then, so
 * no 200 OK leaves (or is cached by its transaction) for a binding not on disk.
 * `token` is undefined for changes nobody waits on (expiry).
 */
export interface CommitOutput {
  readonly type: 'commit';
  readonly changes: BindingChanges;
  readonly token: number | undefined;
}

export type CoreOutput =
  | SendOutput
  | CommitOutput
  | { readonly type: 'media'; readonly op: MediaOp }
  | { readonly type: 'event'; readonly event: CoreEvent };

/** A REGISTER whose answer waits for its commit. */
interface HeldRegister {
  readonly tx: ServerTransaction;
  readonly req: SipRequest;
  readonly vias: readonly Via[];
  readonly spec: ResponseSpec;
  readonly events: readonly RegistrarEvent[];
  readonly undo: readonly UndoEntry[];
}

export interface CoreOptions {
  readonly registrar: RegistrarOptions;
  readonly timers: SipTimers;
  readonly qualifyIntervalMs: number;
  readonly nonceTtlMs: number;
  readonly maxNonces: number;
  readonly maxTransactions: number;
  /** Estimated bytes all transactions may keep before new requests get 503 (transaction-layer.ts). */
  readonly maxTransactionBytes?: number;
  /** Our address as written in Via of requests we send, per transport. */
  readonly local: Readonly<Record<TransportName, LocalAddress>>;
  /** Value of Server / User-Agent. */
  readonly userAgent: string;
  /** Calls: concurrent call limit, whether a greeting is loaded, the dialplan. */
  readonly calls?: {
    readonly maxCalls: number;
    readonly greeting: boolean;
    readonly dialplan: DialplanConfig;
  };
}

export interface CoreInput {
  readonly data: Uint8Array;
  readonly source: Endpoint;
}

const PURGE_EVERY_MS = 10_000;

export class SipCore {
  readonly layer: TransactionLayer;
  readonly registrar: Registrar;
  readonly qualify: Qualify;
  readonly b2bua: B2bua;
  private readonly nonces: NonceManager;
  /** Key of the stateless To tags (statelessTag); per process, like the nonce key. */
  private readonly statelessKey: Uint8Array;
  /** client transaction key → binding id, for qualify probes. */
  private readonly probes = new Map<string, string>();
  private nextPurge = 0;
  private readonly held = new Map<number, HeldRegister>();
  private nextToken = 1;

  constructor(
    private readonly opts: CoreOptions,
    private readonly rng: Rng,
    private readonly metrics?: SipMetrics,
  ) {
    this.layer = new TransactionLayer(opts.timers, opts.maxTransactions, opts.maxTransactionBytes);
    this.nonces = new NonceManager(rng, opts.nonceTtlMs, opts.maxNonces);
    this.statelessKey = rng.bytes(16);
    this.registrar = new Registrar(opts.registrar, this.nonces, rng);
    this.qualify = new Qualify(opts.qualifyIntervalMs);
    const calls = opts.calls ?? { maxCalls: 100, greeting: true, dialplan: DEFAULT_DIALPLAN };
    this.b2bua = new B2bua(
      {
        timers: opts.timers,
        local: opts.local,
        userAgent: opts.userAgent,
        maxCalls: calls.maxCalls,
        greeting: calls.greeting,
      },
      {
        layer: this.layer,
        registrar: this.registrar,
        dialplan: new Dialplan(calls.dialplan, opts.registrar.users),
        rng,
        respond: (tx, req, vias, spec, toTag, now) =>
          this.respondVia(tx, req, vias, spec, toTag, now),
      },
    );
  }

  /** The relay for call `id` is open (adapter → core). */
  mediaOpened(
    id: string,
    media: { address: string; a: PortPairLike; b: PortPairLike | undefined },
    now: number,
  ): CoreOutput[] {
    return this.b2bua.mediaOpened(id, media, now);
  }

  mediaFailed(id: string, reason: string, now: number): CoreOutput[] {
    return this.b2bua.mediaFailed(id, reason, now);
  }

  /** The relay ended by itself (media timeout). */
  mediaEnded(id: string, reason: string, now: number): CoreOutput[] {
    return this.b2bua.mediaEnded(id, reason, now);
  }

  playDone(id: string, now: number): CoreOutput[] {
    return this.b2bua.playDone(id, now);
  }

  private respondVia(
    tx: ServerTransaction,
    req: SipRequest,
    vias: readonly Via[],
    spec: ResponseSpec,
    toTag: string,
    now: number,
  ): SendOutput[] {
    const data = this.encodeResponse(req, vias, spec, toTag);
    this.metrics?.responses.inc([methodLabel(req.method), `${Math.floor(spec.status / 100)}xx`]);
    return this.layer.respond(tx, spec.status, data, now);
  }

  /** Take the stored bindings; `expired` are those to delete from the store. */
  start(now: number, stored: readonly Binding[]): { active: number; expired: BindingChanges } {
    const expired = this.registrar.load(stored, now);
    for (const b of this.registrar.bindings()) this.qualify.track(b, now);
    this.nextPurge = now + PURGE_EVERY_MS;
    return { active: this.registrar.activeCount, expired: { upsert: [], remove: expired } };
  }

  /** How many REGISTER answers wait for a commit. */
  get heldCount(): number {
    return this.held.size;
  }

  /** The commits of these tokens are on disk: answer their REGISTERs (in order). */
  committed(tokens: readonly (number | undefined)[], now: number): CoreOutput[] {
    const out: CoreOutput[] = [];
    for (const token of tokens) {
      const h = token !== undefined ? this.held.get(token) : undefined;
      if (!h) continue;
      this.held.delete(token!);
      for (const ev of h.events) {
        if (ev.type === 'bound') this.qualify.track(ev.binding, now);
        else if (ev.type === 'unbound') this.qualify.untrack(ev.binding);
        out.push({ type: 'event', event: ev });
      }
      out.push(...this.respondVia(h.tx, h.req, h.vias, h.spec, this.tag(), now));
    }
    return out;
  }

  /**
   * Their commit failed: memory goes back to what is on disk (newest first) and each
   * REGISTER gets 500 with Retry-After (RFC 3261 §21.5.1), which its transaction keeps for
   * retransmissions; as Kamailio's registrar answers when usrloc cannot write the database.
   */
  commitFailed(tokens: readonly (number | undefined)[], now: number): CoreOutput[] {
    const out: CoreOutput[] = [];
    const list = tokens.flatMap((t) => {
      const h = t !== undefined ? this.held.get(t) : undefined;
      if (t !== undefined) this.held.delete(t);
      return h ? [h] : [];
    });
    for (let i = list.length - 1; i >= 0; i--) this.registrar.rollback(list[i]!.undo);
    for (const h of list) {
      const spec: ResponseSpec = {
        status: 500,
        reason: 'Server Internal Error (binding not stored)',
        headers: [['Retry-After', '5']],
      };
      out.push(...this.respondVia(h.tx, h.req, h.vias, spec, this.tag(), now));
    }
    return out;
  }

  handle(input: CoreInput, now: number): CoreOutput[] {
    const out: CoreOutput[] = [];
    const r = decode(input.data);
    if (!r.ok) {
      let answered = false;
      if (r.status !== undefined && r.head && r.head.via.length > 0) {
        const vias = this.stamp(r.head.via, input.source);
        const data = buildErrorResponse(r.head, vias, r.status, r.reason, this.tag());
        out.push(send(this.responseDest(vias[0]!, input.source), data));
        this.metrics?.responses.inc([
          methodLabel(r.head.method),
          `${Math.floor(r.status / 100)}xx`,
        ]);
        answered = true;
      } else {
        this.metrics?.dropped.inc(['malformed']);
      }
      out.push({
        type: 'event',
        event: { type: 'bad-message', reason: r.reason, source: input.source, answered },
      });
      return out;
    }
    const msg = r.message;
    if (msg.type === 'response') {
      this.onResponse(msg, now, out);
      return out;
    }
    this.metrics?.requests.inc([methodLabel(msg.method), input.source.transport]);
    this.onRequest(msg, input.source, now, out);
    return out;
  }

  nextTimeout(): number | undefined {
    let t = this.nextPurge;
    for (const x of [
      this.layer.nextTimeout(),
      this.registrar.nextTimeout(),
      this.qualify.nextTimeout(),
      this.b2bua.nextTimeout(),
    ]) {
      if (x !== undefined && x < t) t = x;
    }
    return t;
  }

  handleTimeout(now: number): CoreOutput[] {
    const out: CoreOutput[] = [];
    const rep = this.layer.handleTimeout(now);
    out.push(...rep.sends);
    if (rep.sends.length > 0) this.metrics?.retransmissions.inc(['out'], rep.sends.length);
    for (const tx of rep.clientTimeouts) {
      if (this.b2bua.onClientTimeout(tx, now, out as B2buaOutput[])) continue;
      const id = this.probes.get(tx.key);
      this.probes.delete(tx.key);
      const ev = id !== undefined ? this.qualify.report(id, false) : undefined;
      if (ev) out.push({ type: 'event', event: ev });
    }
    out.push(...this.b2bua.handleTimeout(now));
    const expiry = this.registrar.handleTimeout(now);
    if (expiry.changes) out.push({ type: 'commit', changes: expiry.changes, token: undefined });
    for (const ev of expiry.events) {
      if (ev.type === 'unbound') this.qualify.untrack(ev.binding);
      out.push({ type: 'event', event: ev });
    }
    for (const b of this.qualify.due(now)) {
      const local = this.opts.local[b.transport];
      const { data, branch } = buildOptions(b, local, this.rng, this.opts.userAgent);
      const dest: Endpoint = {
        transport: b.transport,
        address: b.sourceAddress,
        port: b.sourcePort,
        connection: undefined,
        local: b.local,
      };
      const { tx, sends } = this.layer.sendRequest(branch, 'OPTIONS', data, dest, now);
      this.probes.set(tx.key, bindingId(b));
      out.push(...sends);
    }
    if (now >= this.nextPurge) {
      this.nonces.purge(now);
      this.nextPurge = now + PURGE_EVERY_MS;
    }
    return out;
  }

  private onResponse(res: SipResponse, now: number, out: CoreOutput[]): void {
    const m = this.layer.receiveResponse(res, now);
    if (!m) {
      this.metrics?.dropped.inc(['stray-response']);
      return;
    }
    out.push(...m.sends);
    if (!m.deliver) return;
    if (this.b2bua.onResponse(m.tx, res, now, out as B2buaOutput[])) return;
    if (res.status < 200) return;
    const id = this.probes.get(m.tx.key);
    if (id === undefined) return;
    this.probes.delete(m.tx.key);
    // Any final response shows the phone is alive (a 405 or 404 too).
    const ev = this.qualify.report(id, true);
    if (ev) out.push({ type: 'event', event: ev });
  }

  private onRequest(req: SipRequest, source: Endpoint, now: number, out: CoreOutput[]): void {
    const vias = this.stamp(req.via, source);
    if (req.method === 'ACK') {
      // ACK for a non-2xx final: absorbed by the INVITE server transaction (§17.2.1).
      const tx = this.layer.findServer(req);
      if (tx?.kind === 'ist') this.layer.ack(tx, now);
      else if (this.b2bua.onAck(req, now, out as B2buaOutput[])) return;
      // §8.2.7: a stateless UAS "MUST ignore ACK requests"; the ACK for one of our
      // stateless answers carries the To tag derived from its own transaction.
      else if (paramValue(req.to.params, 'tag') !== this.statelessTag(req))
        this.metrics?.dropped.inc(['stray-ack']);
      return;
    }
    const existing = this.layer.findServer(req);
    if (existing) {
      this.metrics?.retransmissions.inc(['in']);
      out.push(...existing.receiveRequest());
      return;
    }
    const dest = this.responseDest(vias[0]!, source);
    const full = this.layer.full;
    if (full !== undefined) {
      // Overload: answer statelessly, as Kamailio's sl_send_reply would when tm cannot get
      // shared memory; "The server MAY indicate when the client should retry the request in
      // a Retry-After header field" (RFC 3261 §21.5.4).
      this.metrics?.shed.inc([full === 'bytes' ? 'transaction-bytes' : 'transaction-count']);
      out.push(
        send(
          dest,
          this.encodeResponse(req, vias, { status: 503, headers: [['Retry-After', '5']] }),
        ),
      );
      this.metrics?.responses.inc([methodLabel(req.method), '5xx']);
      return;
    }
    const tx = this.layer.createServer(req, dest);
    const spec = this.dispatch(req, source, vias, tx, now, out);
    this.guardEvents(out);
    if (spec === undefined) return; // the B2BUA answers later through tx
    if (this.answersStatelessly(req, source, spec)) {
      // RFC 3261 §8.2.7 stateless UAS, as Kamailio's sl_send_reply and www_challenge: one
      // copy, no retransmission, no state. Over UDP a spoofed source would otherwise get 11
      // copies over 32 s from Timer G (an amplifier), and each request would hold a
      // transaction for 64*T1 = 32 s (8,000 INVITE/s built 256,000 of them). The real UAC
      // retransmits its request on Timer A/E until it hears a response (§17.1.1.2,
      // §17.1.2.2); each retransmission is answered again, with the same To tag.
      this.layer.discard(tx);
      out.push(send(dest, this.encodeResponse(req, vias, spec, this.statelessTag(req))));
      this.metrics?.responses.inc([methodLabel(req.method), `${Math.floor(spec.status / 100)}xx`]);
      return;
    }
    // An INVITE refused at once over UDP with credentials (a wrong password's 407, the
    // throttle's 403) is sent once, without Timer G, for the same reason; its transaction
    // is kept so a retransmission is not checked (and counted as a guess) twice.
    const once = tx.kind === 'ist' && spec.status >= 300;
    out.push(
      ...this.layer.respond(tx, spec.status, this.encodeResponse(req, vias, spec), now, once),
    );
    this.metrics?.responses.inc([methodLabel(req.method), `${Math.floor(spec.status / 100)}xx`]);
  }

  /** Count and pass on what the password-guessing guard did during this request. */
  private guardEvents(out: CoreOutput[]): void {
    for (const ev of this.registrar.takeGuardEvents()) {
      if (ev.type === 'auth-throttled') this.metrics?.authThrottled.inc([ev.reason]);
      else this.metrics?.authBans.inc([ev.reason]);
      out.push({ type: 'event', event: ev });
    }
  }

  private dispatch(
    req: SipRequest,
    source: Endpoint,
    vias: readonly Via[],
    tx: ServerTransaction,
    now: number,
    out: CoreOutput[],
  ): ResponseSpec | undefined {
    if (req.requestUri.kind !== 'sip') return { status: 416 };
    const require = getHeader(req, 'require');
    if (require !== undefined && req.method !== 'CANCEL') {
      const tags = require
        .split(',')
        .map((s) => s.trim())
        .filter((s) => isToken(s));
      if (tags.length > 0) return { status: 420, headers: [['Unsupported', tags.join(', ')]] };
    }
    const toTag = paramValue(req.to.params, 'tag');
    if (typeof toTag === 'string' && DIALOG_METHODS.has(req.method)) {
      return this.b2bua.onInDialog(req, vias, tx, now, out as B2buaOutput[]);
    }
    switch (req.method) {
      case 'INVITE': {
        if (tx.kind !== 'ist') return { status: 500 };
        const before = out.length;
        const r = this.b2bua.onInvite(req, vias, tx, source, now, out as B2buaOutput[]);
        for (const o of out.slice(before))
          if (o.type === 'event' && o.event.type === 'auth-failure')
            this.metrics?.authFailures.inc([o.event.reason]);
        return r;
      }
      case 'REGISTER': {
        const r = this.registrar.handleRegister(req, source, now);
        if (r.changes && r.undo) {
          // The answer waits for the commit (committed() / commitFailed()); until then a
          // retransmission finds the transaction in Trying and is absorbed (§17.2.2).
          const token = this.nextToken++;
          this.held.set(token, {
            tx,
            req,
            vias,
            spec: r.response,
            events: r.events,
            undo: r.undo,
          });
          out.push({ type: 'commit', changes: r.changes, token });
          return undefined;
        }
        for (const ev of r.events) {
          if (ev.type === 'bound') this.qualify.track(ev.binding, now);
          else if (ev.type === 'unbound') this.qualify.untrack(ev.binding);
          else this.metrics?.authFailures.inc([ev.reason]);
          out.push({ type: 'event', event: ev });
        }
        return r.response;
      }
      case 'OPTIONS':
        return {
          status: 200,
          headers: [
            ['Allow', ALLOW],
            ['Accept', 'application/sdp'],
            ['Supported', ''],
          ],
        };
      case 'CANCEL': {
        const ist = this.layer.findInviteFor(req);
        if (!ist) return { status: 481 };
        this.b2bua.onCancel(ist, now, out as B2buaOutput[]);
        return { status: 200 };
      }
      case 'BYE':
        return { status: 481 };
      default:
        return { status: 501, headers: [['Allow', ALLOW]] };
    }
  }

  private encodeResponse(
    req: SipRequest,
    vias: readonly Via[],
    spec: ResponseSpec,
    toTag = this.tag(),
  ): Uint8Array {
    const headers: [string, string][] = [
      ...(spec.headers ?? []).map((h) => [h[0], h[1]] as [string, string]),
      ['Server', this.opts.userAgent],
    ];
    // "Supported" with no option tags is legal but noisy: drop the empty one.
    return buildResponse(
      req,
      vias,
      { ...spec, headers: headers.filter(([n, v]) => !(n === 'Supported' && v === '')) },
      toTag,
    );
  }

  private stamp(via: readonly Via[], source: Endpoint): Via[] {
    const out = [...via];
    out[0] = stampVia(via[0]!, source.address, source.port);
    return out;
  }

  private responseDest(top: Via, source: Endpoint): Endpoint {
    if (source.transport === 'tcp') return source;
    const t = responseTarget(top);
    return {
      transport: 'udp',
      address: t.address,
      port: t.port,
      connection: undefined,
      local: source.local,
    };
  }

  private tag(): string {
    return Buffer.from(this.rng.bytes(6)).toString('hex');
  }

  /**
   * A final answer given at once, over UDP, to a request without credentials: an INVITE's
   * challenge or refusal before any 1xx, or the 401/407 challenge to any other request.
   * Requests with credentials keep their transaction: a retransmitted wrong guess must be
   * answered from it, not checked again (auth-guard.ts would count it twice).
   */
  private answersStatelessly(req: SipRequest, source: Endpoint, spec: ResponseSpec): boolean {
    if (source.transport !== 'udp' || spec.status < 300) return false;
    if (getHeader(req, 'authorization') !== undefined) return false;
    if (getHeader(req, 'proxy-authorization') !== undefined) return false;
    return req.method === 'INVITE' || spec.status === 401 || spec.status === 407;
  }

  /**
   * §8.2.7: a stateless UAS generates To tags "in a manner that will generate the same tag
   * for the same request consistently": an HMAC of the transaction's identity (§17.2.3:
   * top Via branch, sent-by; Call-ID and From tag for the ACK, which shares the branch of
   * a non-2xx's INVITE, §17.1.1.3) under a key drawn at start.
   */
  private statelessTag(req: SipRequest): string {
    const top = req.via[0];
    const id = [
      top ? `${top.branch ?? ''}|${top.host}:${top.port ?? ''}` : '',
      getHeader(req, 'call-id') ?? '',
      paramValue(req.from.params, 'tag') ?? '',
    ].join('|');
    return createHmac('sha256', this.statelessKey).update(id).digest('hex').slice(0, 12);
  }
}
