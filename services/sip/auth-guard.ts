/**
 * Throttling of digest password guessing (RFC 3261 §26.3.2.1 leaves it to the server;
 * RFC 7616 §5.3 "Limited-use nonce values" does not slow an attacker who fetches a fresh
 * nonce per guess, as svcrack does). The precedent is fail2ban's `asterisk` jail
 * (`maxretry` / `findtime` / `bantime`, keyed by the source address), optionally with a
 * growing delay after each wrong password as OpenSSH and vsftpd `delay_failed_login` do;
 * the arithmetic is src/net/failure-backoff.ts.
 *
 * Three keys, each its own FailureBackoff:
 * - (extension, source address): a guesser at one extension from one address is delayed
 *   after each wrong password and banned after `maxFailures`;
 * - source address alone (`sourceMaxFailures`): one address trying many extensions, as
 *   svwar/svcrack sweeps do; no growing delay, so one mistyped phone behind a shared NAT
 *   address does not slow its neighbours;
 * - extension alone (`extensionMaxFailures`): guessing spread over many sources. A source
 *   that authenticated the extension within `trustTimeMs` is exempt, so an attacker
 *   cannot lock a phone out of its own extension from elsewhere.
 * Only a wrong digest over a valid, unexpired nonce counts (a guess that was checked); a
 * missing, stale or unknown nonce is a normal re-challenge (a phone after our restart).
 * While a key is blocked the digest is not computed at all.
 *
 * Leaves out: spoofed UDP sources (a forged packet from the phone's address with a nonce
 * fetched elsewhere counts against that address; nonces are not bound to a source), and
 * IPv6 prefix aggregation (each address is its own key, as fail2ban does).
 */
import { FailureBackoff } from '../../src/net/failure-backoff.js';

export interface AuthGuardOptions {
  /** Wrong passwords per (extension, source) within findTimeMs that ban the pair. */
  readonly maxFailures: number;
  /** Wrong passwords from one source (any extension) within findTimeMs that ban it. */
  readonly sourceMaxFailures: number;
  /** Wrong passwords for one extension (any untrusted source) that ban it for them. */
  readonly extensionMaxFailures: number;
  readonly findTimeMs: number;
  readonly banTimeMs: number;
  /** Delay after the first wrong password of a pair, doubled after each further one. */
  readonly delayMs: number;
  readonly maxDelayMs: number;
  /** A source that authenticated an extension stays exempt from its extension-wide ban this long. */
  readonly trustTimeMs: number;
  /** Keys tracked per table (bounded memory under a flood of sources). */
  readonly maxKeys: number;
}

export const AUTH_GUARD_DEFAULTS: AuthGuardOptions = {
  maxFailures: 5,
  sourceMaxFailures: 20,
  extensionMaxFailures: 100,
  findTimeMs: 600_000,
  banTimeMs: 600_000,
  // Off by default: while delayed even the right password is refused, and a phone (or
  // sipp) that retries at once after a typo would be refused; the ban alone stops svcrack.
  delayMs: 0,
  maxDelayMs: 30_000,
  trustTimeMs: 7_200_000,
  maxKeys: 10_000,
};

export type ThrottleReason = 'extension-source' | 'source' | 'extension';

export interface AuthBan {
  readonly reason: ThrottleReason;
  readonly user: string;
  readonly address: string;
  readonly banMs: number;
}

export class AuthGuard {
  private readonly pair: FailureBackoff;
  private readonly source: FailureBackoff;
  private readonly extension: FailureBackoff;
  /** `user\0address` → last successful authentication (insertion order = age). */
  private readonly trusted = new Map<string, number>();

  constructor(readonly opts: AuthGuardOptions) {
    const common = {
      findTimeMs: opts.findTimeMs,
      banTimeMs: opts.banTimeMs,
      maxKeys: opts.maxKeys,
    };
    this.pair = new FailureBackoff({
      ...common,
      maxFailures: opts.maxFailures,
      delayMs: opts.delayMs,
      maxDelayMs: opts.maxDelayMs,
    });
    this.source = new FailureBackoff({
      ...common,
      maxFailures: opts.sourceMaxFailures,
      delayMs: 0,
    });
    this.extension = new FailureBackoff({
      ...common,
      maxFailures: opts.extensionMaxFailures,
      delayMs: 0,
    });
  }

  /**
   * Whether a request from `address` may be checked now. `withCredentials` false (a
   * request without an Authorization for us) is refused only by a ban, never by the delay,
   * so a phone's first leg still gets its challenge.
   */
  blocked(
    user: string,
    address: string,
    now: number,
    withCredentials: boolean,
  ): ThrottleReason | undefined {
    if (this.source.isBanned(address, now)) return 'source';
    const pairKey = key(user, address);
    if (withCredentials ? this.pair.blockedFor(pairKey, now) > 0 : this.pair.isBanned(pairKey, now))
      return 'extension-source';
    if (
      withCredentials &&
      this.extension.isBanned(user, now) &&
      !this.isTrusted(user, address, now)
    )
      return 'extension';
    return undefined;
  }

  /** A wrong password was checked; returns the bans it started. */
  failure(user: string, address: string, now: number): AuthBan[] {
    const bans: AuthBan[] = [];
    const p = this.pair.failure(key(user, address), now);
    if (p.banned) bans.push({ reason: 'extension-source', user, address, banMs: p.retryAfterMs });
    const s = this.source.failure(address, now);
    if (s.banned) bans.push({ reason: 'source', user, address, banMs: s.retryAfterMs });
    // A trusted source mistyping does not count against its own extension's phones.
    if (!this.isTrusted(user, address, now)) {
      const e = this.extension.failure(user, now);
      if (e.banned) bans.push({ reason: 'extension', user, address, banMs: e.retryAfterMs });
    }
    return bans;
  }

  /**
   * The right password: the pair's failures are forgiven and the source is trusted for the
   * extension. The source-wide and extension-wide counts are not reset (an attacker with
   * one valid account must not wash its guesses at others away).
   */
  success(user: string, address: string, now: number): void {
    const k = key(user, address);
    this.pair.success(k, now);
    this.trusted.delete(k);
    if (this.trusted.size >= this.opts.maxKeys) {
      const oldest = this.trusted.keys().next();
      if (!oldest.done) this.trusted.delete(oldest.value);
    }
    this.trusted.set(k, now);
  }

  /** Keys banned now, all tables (the sip_auth_bans gauge). */
  bannedCount(now: number): number {
    return (
      this.pair.bannedCount(now) + this.source.bannedCount(now) + this.extension.bannedCount(now)
    );
  }

  private isTrusted(user: string, address: string, now: number): boolean {
    const at = this.trusted.get(key(user, address));
    return at !== undefined && now - at < this.opts.trustTimeMs;
  }
}

function key(user: string, address: string): string {
  return `${user}\0${address}`;
}
