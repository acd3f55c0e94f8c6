/**
 * The registrar (RFC 3261 §10.3) with digest authentication (§22, RFC 7616, RFC 8760).
 *
 * `handleRegister(req, source, now)` runs §10.3's steps on one REGISTER and returns the
 * response, the binding events and the changes the adapter must commit before that
 * response may leave (DESIGN.md rule 4; src/store/group-commit.ts). Memory is changed at
 * once, so later REGISTERs of the same turn see it, with an undo list: `rollback(undo)`
 * puts memory back when the commit fails, so memory is never ahead of disk. `nextTimeout()`
 * / `handleTimeout(now)` expire bindings on time (§10.2.1: "the registrar ... removes the
 * binding ... when the expiration time ... has passed").
 *
 * Authentication: no credentials, or credentials for another realm or scheme (RFC 4475
 * regaut01), get a 401 with the extension's first algorithm as its one challenge (or, with
 * `challenges: 'all'`, one per algorithm, preferred first: RFC 8760 §2.4). The extension
 * is the To user of a REGISTER, the From user of other requests.
 * An unknown user is checked against a random secret, so it is answered exactly like a
 * known user with a wrong password (401, a fresh challenge): no user enumeration. An
 * expired nonce gets 401 with stale=true (RFC 7616 §3.3: "stale: A case-insensitive flag
 * indicating that the previous request from the client was rejected because the nonce
 * value was stale"), and so does a replayed one (nc not above the last, see nonce.ts)
 * when its digest is right. "The registrar MUST ... authenticate the UAC" (§10.3 step 3);
 * then "the registrar ... determines if the authenticated user is authorized to modify
 * registrations for this address-of-record" (step 4): the digest username must be the
 * AOR's user, else 403, as Asterisk's peer-per-extension model and Kamailio's
 * `auth_check(..., 1)` enforce.
 *
 * Expiry (step 6, §10.2.1.1): the contact's expires parameter, else the Expires header,
 * else `defaultExpires`. "If and only if the requested expiration interval is greater than
 * zero AND smaller than one hour AND less than a registrar-configured minimum, the
 * registrar MAY reject the registration with a response of 423 (Interval Too Brief)";
 * longer than `maxExpires` is shortened ("the registrar MAY shorten the interval").
 * Defaults: Asterisk chan_sip defaultexpiry 120, minexpiry 60, maxexpiry 3600 (the
 * reference deployment). `maxContacts` per AOR follows Kamailio registrar's max_contacts,
 * answered like Kamailio with 503 "Too Many Registered Contacts".
 *
 * Leaves out: Path (RFC 3327), GRUU (RFC 5627), outbound (RFC 5626) reg-id/instance, a
 * check of the Request-URI domain (any host is accepted, as Asterisk does; AORs are keyed
 * by the To user), third-party registration (refused by the step-4 rule).
 */
import { Buffer } from 'node:buffer';
import type { Rng } from '../../src/clock.js';
import { getHeader, getHeaders, type SipRequest } from './message.js';
import { parseNameAddr, paramValue, splitList, type NameAddr } from './name-addr.js';
import { parseSipUri, uriKey, unescapeUri, type SipUri } from './uri.js';
import {
  algorithmOf,
  challengeHeader,
  digestResponse,
  parseAuthorization,
  sameDigest,
  type DigestAlgorithm,
} from './digest.js';
import { sourceKey } from '../../src/net/connections-per-source.js';
import type { NonceManager } from './nonce.js';
import type { ResponseSpec } from './response.js';
import type { Binding, BindingChanges } from './store.js';
import type { Endpoint } from './transport.js';
import { TimerHeap } from './timer-heap.js';
import {
  AuthGuard,
  type AuthBan,
  type AuthGuardOptions,
  type ThrottleReason,
} from './auth-guard.js';

export interface RegistrarOptions {
  readonly realm: string;
  /** Accepted digest algorithms, preferred first, for extensions without their own list. */
  readonly algorithms: readonly DigestAlgorithm[];
  /** Extension → its own algorithm list (config `extensions[].algorithms`). */
  readonly userAlgorithms?: ReadonlyMap<string, readonly DigestAlgorithm[]>;
  /**
   * 'first' (default): one challenge per 401/407, the extension's first algorithm, as
   * Asterisk and Kamailio send by default; phones such as baresip 1.0 fail on a response
   * with two WWW-Authenticate headers. 'all': one per algorithm (RFC 8760 §2.4).
   */
  readonly challenges?: 'first' | 'all';
  readonly defaultExpires: number;
  readonly minExpires: number;
  readonly maxExpires: number;
  readonly maxContacts: number;
  /** Extension (AOR user) → secret. */
  readonly users: ReadonlyMap<string, string>;
  /** Password-guessing throttle (auth-guard.ts); absent: none (unit tests of the digest). */
  readonly guard?: AuthGuardOptions;
}

/** What the guard did, drained by the core with `takeGuardEvents()` (counted and logged). */
export type GuardEvent =
  | {
      readonly type: 'auth-throttled';
      readonly user: string;
      readonly address: string;
      readonly reason: ThrottleReason;
    }
  | ({ readonly type: 'auth-ban' } & AuthBan);

/**
 * The answer while a key is blocked: 403, what Asterisk chan_sip answers a wrong password
 * and what svcrack reads as "wrong password" (it then moves on without learning anything).
 * Not 503: that "indicates that the server is temporarily unable to process the request due
 * to a temporary overloading or maintenance" (RFC 3261 §21.5.4), and a proxy would fail
 * over to another server on it; fail2ban drops silently, which a phone would retry.
 */
const THROTTLED: ResponseSpec = {
  status: 403,
  reason: 'Forbidden (too many failed authentications)',
};

export type RegistrarEvent =
  | { readonly type: 'bound'; readonly binding: Binding; readonly refresh: boolean }
  | {
      readonly type: 'unbound';
      readonly binding: Binding;
      readonly reason: 'removed' | 'expired' | 'replaced';
    }
  | { readonly type: 'auth-failure'; readonly user: string; readonly reason: string };

/** What a binding was before a change (undefined: absent), to put memory back. */
export interface UndoEntry {
  readonly aor: string;
  readonly contactKey: string;
  readonly prev: Binding | undefined;
}

export interface RegisterResult {
  readonly response: ResponseSpec;
  readonly events: RegistrarEvent[];
  /** Changes to commit before `response` is sent; absent when nothing changed. */
  readonly changes?: BindingChanges;
  readonly undo?: readonly UndoEntry[];
}

/** Expires values above this are read as it (delta-seconds overflow, §20.19 / RFC 4475 scalar02). */
const MAX_DELTA = 2 ** 32 - 1;

function parseDelta(text: string | undefined | null): number | undefined {
  if (typeof text !== 'string' || !/^\d+$/.test(text)) return undefined;
  return text.length > 10 ? MAX_DELTA : Math.min(Number(text), MAX_DELTA);
}

function sameHostPort(a: string, b: string): boolean {
  const x = parseSipUri(a);
  const y = parseSipUri(b);
  return (
    x !== undefined &&
    y !== undefined &&
    x.host.toLowerCase() === y.host.toLowerCase() &&
    (x.port ?? 5060) === (y.port ?? 5060)
  );
}

export class Registrar {
  /** aor → contactKey → binding. */
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private readonly expiry = new TimerHeap<Binding>();
  private readonly decoySecret: string;
  private count = 0;
  readonly guard: AuthGuard | undefined;
  private guardEvents: GuardEvent[] = [];

  constructor(
    private readonly opts: RegistrarOptions,
    private readonly nonces: NonceManager,
    rng: Rng,
  ) {
    this.decoySecret = Buffer.from(rng.bytes(16)).toString('hex');
    this.guard = opts.guard ? new AuthGuard(opts.guard) : undefined;
  }

  /** Throttle decisions and bans since the last call (for metrics and the log). */
  takeGuardEvents(): GuardEvent[] {
    const e = this.guardEvents;
    this.guardEvents = [];
    return e;
  }

  /** Take the stored bindings; returns those already expired (for the store to delete). */
  load(stored: readonly Binding[], now: number): Binding[] {
    const expired: Binding[] = [];
    for (const b of stored) {
      if (b.expiresAt <= now) expired.push(b);
      else this.put(b);
    }
    return expired;
  }

  get activeCount(): number {
    return this.count;
  }

  *bindings(): Iterable<Binding> {
    for (const m of this.byAor.values()) yield* m.values();
  }

  lookup(aor: string): Binding[] {
    return [...(this.byAor.get(aor)?.values() ?? [])];
  }

  nextTimeout(): number | undefined {
    return this.expiry.peekAt();
  }

  /** Expire due bindings; `changes` deletes them on disk (no reply waits on it). */
  handleTimeout(now: number): { events: RegistrarEvent[]; changes: BindingChanges | undefined } {
    const gone: Binding[] = [];
    for (;;) {
      const e = this.expiry.popDue(now);
      if (!e) break;
      const cur = this.byAor.get(e.item.aor)?.get(e.item.contactKey);
      if (cur !== e.item) continue; // refreshed or removed since
      gone.push(cur);
    }
    if (gone.length === 0) return { events: [], changes: undefined };
    for (const b of gone) this.drop(b);
    return {
      events: gone.map((binding) => ({ type: 'unbound', binding, reason: 'expired' }) as const),
      changes: { upsert: [], remove: gone },
    };
  }

  /** Put memory back as it was before the changes whose undo lists these are (a failed commit). */
  rollback(undo: readonly UndoEntry[]): void {
    for (let i = undo.length - 1; i >= 0; i--) {
      const u = undo[i]!;
      const cur = this.byAor.get(u.aor)?.get(u.contactKey);
      if (u.prev) this.put(u.prev);
      else if (cur) this.drop(cur);
    }
  }

  /** Apply changes to memory now, returning how to undo them. */
  private change(changes: BindingChanges): UndoEntry[] {
    const undo: UndoEntry[] = [];
    for (const b of changes.remove) {
      undo.push({
        aor: b.aor,
        contactKey: b.contactKey,
        prev: this.byAor.get(b.aor)?.get(b.contactKey),
      });
      const cur = this.byAor.get(b.aor)?.get(b.contactKey);
      if (cur) this.drop(cur);
    }
    for (const b of changes.upsert) {
      undo.push({
        aor: b.aor,
        contactKey: b.contactKey,
        prev: this.byAor.get(b.aor)?.get(b.contactKey),
      });
      this.put(b);
    }
    return undo;
  }

  handleRegister(req: SipRequest, source: Endpoint, now: number): RegisterResult {
    const events: RegistrarEvent[] = [];
    // Step 3 needs an AOR that is a SIP URI: To "MUST contain a SIP or SIPS URI" (§10.2).
    const toUri = req.to.uri;
    if (toUri.kind !== 'sip')
      return { response: { status: 416, reason: 'Unsupported URI Scheme in To' }, events };
    const aorUser = toUri.uri.user !== undefined ? unescapeUri(toUri.uri.user) : '';

    // --- Step 3: authenticate
    const auth = this.authenticate(req, now, 'authorization', source.address, aorUser);
    if (auth.kind !== 'ok') {
      if (auth.kind === 'bad-request')
        return { response: { status: 400, reason: auth.reason }, events };
      if (auth.kind === 'throttled') return { response: THROTTLED, events };
      if (auth.failure)
        events.push({ type: 'auth-failure', user: auth.user, reason: auth.failure });
      return { response: this.challenge(now, auth.stale, aorUser, false, source.address), events };
    }
    // --- Step 4: authorize
    if (auth.user !== aorUser) {
      events.push({ type: 'auth-failure', user: auth.user, reason: 'aor-mismatch' });
      return {
        response: { status: 403, reason: 'Forbidden (auth user is not the AOR user)' },
        events,
      };
    }
    // --- Step 5: the AOR must be one of ours.
    if (!this.opts.users.has(aorUser)) return { response: { status: 404 }, events };
    const aor = aorUser;

    // --- Step 6: Contacts
    const values: string[] = [];
    for (const v of getHeaders(req, 'contact')) values.push(...splitList(v));
    const headerExpires = getHeader(req, 'expires');
    const existing = this.byAor.get(aor) ?? new Map<string, Binding>();

    if (values.length === 0) return { response: this.ok(aor, now), events }; // a query (§10.2.3)

    if (values.includes('*')) {
      // §10.3 step 6: "*" only with Expires: 0 and as the only Contact, else 400.
      if (values.length !== 1 || headerExpires !== '0') {
        return {
          response: {
            status: 400,
            reason: 'Bad Request ("*" needs Expires: 0 and no other Contact)',
          },
          events,
        };
      }
      const remove: Binding[] = [];
      for (const b of existing.values()) {
        // "If [the Call-ID] does agree, it MUST remove the binding only if the CSeq in the
        // request is higher than the value stored for that binding. Otherwise, the update
        // MUST be aborted and the request fails."
        if (b.callId === req.callId && req.cseq.seq <= b.cseq) {
          return { response: { status: 400, reason: 'Bad Request (out-of-order CSeq)' }, events };
        }
        remove.push(b);
      }
      const changes: BindingChanges = { upsert: [], remove };
      const undo = this.change(changes);
      for (const b of remove) events.push({ type: 'unbound', binding: b, reason: 'removed' });
      return { response: this.ok(aor, now), events, changes, undo };
    }

    const defaultExpires = parseDelta(headerExpires) ?? this.opts.defaultExpires;
    const asked = new Map<string, { contact: NameAddr; uri: SipUri; expires: number }>();
    for (const v of values) {
      const na = parseNameAddr(v);
      if (!na) return { response: { status: 400, reason: 'Bad Request (bad Contact)' }, events };
      if (na.uri.kind !== 'sip')
        return {
          response: { status: 400, reason: 'Bad Request (Contact is not a SIP URI)' },
          events,
        };
      const e = parseDelta(paramValue(na.params, 'expires')) ?? defaultExpires;
      if (e > 0 && e < this.opts.minExpires) {
        return {
          response: { status: 423, headers: [['Min-Expires', String(this.opts.minExpires)]] },
          events,
        };
      }
      asked.set(uriKey(na.uri.uri), {
        contact: na,
        uri: na.uri.uri,
        expires: Math.min(e, this.opts.maxExpires),
      });
    }

    const upsert: Binding[] = [];
    const remove: Binding[] = [];
    const userAgent = getHeader(req, 'user-agent');
    for (const [key, c] of asked) {
      const old = existing.get(key);
      // Step 7: "If the binding does exist, the registrar checks the Call-ID value. If the
      // Call-ID value in the existing binding differs from the Call-ID value in the
      // request, the binding MUST be removed if the expiration time is zero and updated
      // otherwise. If they are the same, the registrar compares the CSeq value. If the
      // value is higher than that of the existing binding, it MUST update or remove the
      // binding as above. If not, the update MUST be aborted and the request fails."
      if (old && old.callId === req.callId && req.cseq.seq <= old.cseq) {
        return { response: { status: 400, reason: 'Bad Request (out-of-order CSeq)' }, events };
      }
      if (c.expires === 0) {
        if (old) remove.push(old);
        continue;
      }
      const q = paramValue(c.contact.params, 'q');
      upsert.push({
        aor,
        contactKey: key,
        contact: c.contact.uriText,
        callId: req.callId,
        cseq: req.cseq.seq,
        expiresAt: now + c.expires * 1000,
        q:
          typeof q === 'string' && /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(q) ? Number(q) : undefined,
        transport: source.transport,
        sourceAddress: source.address,
        sourcePort: source.port,
        userAgent,
        local: source.local,
      });
    }
    const after = new Set(existing.keys());
    for (const b of remove) after.delete(b.contactKey);
    for (const b of upsert) after.add(b.contactKey);
    if (after.size > this.opts.maxContacts) {
      return { response: { status: 503, reason: 'Too Many Registered Contacts' }, events };
    }

    for (const b of remove) events.push({ type: 'unbound', binding: b, reason: 'removed' });
    for (const b of upsert)
      events.push({ type: 'bound', binding: b, refresh: existing.has(b.contactKey) });
    const changes: BindingChanges = { upsert, remove };
    const undo = this.change(changes);
    return { response: this.ok(aor, now), events, changes, undo };
  }

  /** 200 OK listing every current binding (§10.3 step 8) with a Date header. */
  private ok(aor: string, now: number): ResponseSpec {
    const headers: [string, string][] = [];
    for (const b of this.byAor.get(aor)?.values() ?? []) {
      headers.push([
        'Contact',
        `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
      ]);
    }
    // "The response SHOULD include a Date header field." (§10.3 step 8)
    headers.push(['Date', new Date(now).toUTCString()]);
    return { status: 200, headers };
  }

  /** The algorithms an extension may answer with, preferred first. */
  algorithmsFor(user: string): readonly DigestAlgorithm[] {
    return this.opts.userAlgorithms?.get(user) ?? this.opts.algorithms;
  }

  private challenge(
    now: number,
    stale: boolean,
    user: string,
    proxy = false,
    address?: string,
  ): ResponseSpec {
    // Bound to the address it goes to (nonce.ts): a spoofer cannot spend it for the phone.
    const nonce = this.nonces.issue(now, sourceKey(address));
    const header = proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    const list = this.algorithmsFor(user);
    const offered = this.opts.challenges === 'all' ? list : list.slice(0, 1);
    return {
      status: proxy ? 407 : 401,
      headers: offered.map(
        (a) => [header, challengeHeader(this.opts.realm, nonce, a, stale)] as const,
      ),
    };
  }

  /**
   * Digest authentication of a request other than REGISTER (the B2BUA's INVITEs). As
   * Asterisk chan_sip does for INVITE, the challenge is a 407 with Proxy-Authenticate and
   * the credentials come in Proxy-Authorization (RFC 3261 §22.3); an Authorization header
   * (a phone answering a 401 it got before) is read too.
   */
  authenticateRequest(
    req: SipRequest,
    now: number,
    source?: Endpoint,
  ):
    | { ok: true; user: string }
    | { ok: false; response: ResponseSpec; failure: { user: string; reason: string } | undefined } {
    const header =
      getHeaders(req, 'proxy-authorization').length > 0 ? 'proxy-authorization' : 'authorization';
    const fromUser =
      req.from.uri.kind === 'sip' && req.from.uri.uri.user !== undefined
        ? unescapeUri(req.from.uri.uri.user)
        : '';
    const auth = this.authenticate(req, now, header, source?.address, fromUser);
    if (auth.kind === 'ok') return { ok: true, user: auth.user };
    if (auth.kind === 'bad-request')
      return { ok: false, response: { status: 400, reason: auth.reason }, failure: undefined };
    if (auth.kind === 'throttled') return { ok: false, response: THROTTLED, failure: undefined };
    return {
      ok: false,
      response: this.challenge(
        now,
        auth.stale,
        auth.user !== '' ? auth.user : fromUser,
        header === 'proxy-authorization' || getHeaders(req, 'authorization').length === 0,
        source?.address,
      ),
      failure: auth.failure ? { user: auth.user, reason: auth.failure } : undefined,
    };
  }

  /**
   * `address` is the source address the guard keys on (undefined: no guard), `claimed` the
   * extension a request without credentials names (To user of a REGISTER, else From user).
   */
  private authenticate(
    req: SipRequest,
    now: number,
    header: 'authorization' | 'proxy-authorization' = 'authorization',
    address?: string,
    claimed = '',
  ):
    | { kind: 'ok'; user: string }
    | { kind: 'challenge'; stale: boolean; user: string; failure: string | undefined }
    | { kind: 'throttled' }
    | { kind: 'bad-request'; reason: string } {
    const guard = address !== undefined ? this.guard : undefined;
    const throttled = (user: string, withCredentials: boolean): boolean => {
      const reason = guard?.blocked(user, address!, now, withCredentials);
      if (reason === undefined) return false;
      this.guardEvents.push({ type: 'auth-throttled', user, address: address!, reason });
      return true;
    };
    let creds: ReadonlyMap<string, string> | undefined;
    for (const v of getHeaders(req, header)) {
      const c = parseAuthorization(v);
      if (!c) return { kind: 'bad-request', reason: 'Bad Request (malformed Authorization)' };
      if (c.scheme.toLowerCase() === 'digest' && c.params.get('realm') === this.opts.realm) {
        creds = c.params;
        break;
      }
    }
    // No credentials for our realm: the first leg of every registration, not a failure;
    // a banned source or pair gets no nonce to guess with either.
    if (!creds) {
      if (throttled(claimed, false)) return { kind: 'throttled' };
      return { kind: 'challenge', stale: false, user: '', failure: undefined };
    }
    const username = creds.get('username');
    const nonce = creds.get('nonce');
    const uri = creds.get('uri');
    const response = creds.get('response');
    if (
      username === undefined ||
      nonce === undefined ||
      uri === undefined ||
      response === undefined
    ) {
      return { kind: 'bad-request', reason: 'Bad Request (incomplete Digest credentials)' };
    }
    // While blocked the digest is not even computed (fail2ban would drop the packet).
    if (throttled(username, true)) return { kind: 'throttled' };
    const algorithm = algorithmOf(creds.get('algorithm'));
    // Only the extension's own algorithms: a phone moved to SHA-256 cannot be made to
    // answer in MD5 (the downgrade RFC 8760 §3 warns of).
    if (!algorithm || !this.algorithmsFor(username).includes(algorithm)) {
      return { kind: 'challenge', stale: false, user: username, failure: 'algorithm' };
    }
    const qop = creds.get('qop');
    const nc = creds.get('nc');
    const cnonce = creds.get('cnonce');
    // We always offer qop="auth"; RFC 7616 §3.4: the client "MUST" then send qop, nc, cnonce.
    if (qop !== 'auth' || nc === undefined || cnonce === undefined) {
      return { kind: 'challenge', stale: false, user: username, failure: 'qop' };
    }
    // RFC 2617 §3.2.2.5: "The server SHOULD check that the URI in the request line matches
    // the digest-uri" and answer 400 if not. REGISTER: exactly. Other requests: the same
    // host and port is enough — sipp 3.6 always signs "sip:<remote_ip>:<remote_port>"
    // (without the user) for an INVITE, and Asterisk chan_sip only compares the URIs with
    // pedanticsipchecking; the nonce (single use, expiring) still binds the answer to us.
    if (uri !== req.uri && !(req.method !== 'REGISTER' && sameHostPort(uri, req.uri))) {
      return { kind: 'bad-request', reason: 'Bad Request (digest uri is not the Request-URI)' };
    }

    const nonceState = this.nonces.check(nonce, nc, now, false, sourceKey(address));
    if (nonceState === 'invalid')
      return { kind: 'challenge', stale: false, user: username, failure: 'nonce' };
    const secret = this.opts.users.get(username) ?? this.decoySecret;
    const expected = digestResponse({
      algorithm,
      username,
      realm: this.opts.realm,
      password: secret,
      method: req.method,
      uri,
      nonce,
      nc,
      cnonce,
      qop,
    });
    const good = sameDigest(expected, response) && this.opts.users.has(username);
    if (!good) {
      // A checked guess: the only failure the guard counts.
      for (const ban of guard?.failure(username, address!, now) ?? [])
        this.guardEvents.push({ type: 'auth-ban', ...ban });
      return { kind: 'challenge', stale: false, user: username, failure: 'credentials' };
    }
    if (nonceState === 'stale')
      return { kind: 'challenge', stale: true, user: username, failure: undefined };
    if (nonceState === 'replay')
      return { kind: 'challenge', stale: true, user: username, failure: 'replay' };
    this.nonces.commit(nonce, nc);
    guard?.success(username, address!, now);
    return { kind: 'ok', user: username };
  }

  private put(b: Binding): void {
    let m = this.byAor.get(b.aor);
    if (!m) {
      m = new Map();
      this.byAor.set(b.aor, m);
    }
    if (!m.has(b.contactKey)) this.count++;
    m.set(b.contactKey, b);
    this.expiry.push(b.expiresAt, b);
  }

  private drop(b: Binding): void {
    const m = this.byAor.get(b.aor);
    if (m?.delete(b.contactKey)) this.count--;
    if (m && m.size === 0) this.byAor.delete(b.aor);
  }
}
