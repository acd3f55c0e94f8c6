/**
 * Failed-login back-off shared by every session (RFC 2577 §4: "limit the number of
 * attempts … to prevent brute force"), on three keys so neither one source nor many
 * sources can guess freely, and one attacker cannot trivially lock the real user out:
 *
 * - the source address alone (fail2ban's jail on vsftpd: maxretry per IP, findtime,
 *   bantime): parallel connections from one host share one growing delay and one ban, so
 *   vsftpd's per-connection delay_failed_login no longer multiplies by max_per_ip;
 * - the account *and* the source (OpenSSH MaxAuthTries is per connection; pam_faillock
 *   is per account): a source guessing one account is delayed then banned for it;
 * - the account alone, with a higher threshold and no delay: the cap that stops a
 *   distributed guess (many sources, few tries each). Only checked guesses count here,
 *   never attempts refused while a source is blocked, so one source cannot push the
 *   account over it by hammering; the legitimate user from another, clean source still
 *   logs in until the account-wide threshold itself is reached.
 *
 * While a key blocks (delay or ban), the password is not checked: the attempt answers 530
 * and counts as a further failure on the blocking keys (the delay doubles, then the ban).
 * Pure: time comes in as `now`; the FailureBackoff maps are bounded by their maxKeys.
 */
import { FailureBackoff } from '../../src/net/failure-backoff.js';
import { sourceKey } from '../../src/net/connections-per-source.js';

export interface LoginGuardOptions {
  readonly findTimeMs: number;
  readonly banTimeMs: number;
  /** First delay after a failure, doubled per further failure (0: none). */
  readonly delayMs: number;
  readonly maxDelayMs: number;
  readonly maxFailuresPerSource: number;
  readonly maxFailuresPerAccountSource: number;
  readonly maxFailuresPerAccount: number;
}

export type BlockedBy = 'source' | 'account-source' | 'account';

export interface LoginVerdict {
  /** Milliseconds to hold the 530 (0: the usual per-session delay). */
  readonly delayMs: number;
  /** A ban is in force (or just started) for this attempt: close after the 530. */
  readonly banned: boolean;
  /** Which key refused it, when the password was not checked. */
  readonly blockedBy?: BlockedBy;
  /** Keys that this failure banned (for counters and log lines). */
  readonly newBans: readonly BlockedBy[];
}

export class LoginGuard {
  private readonly bySource: FailureBackoff;
  private readonly byAccountSource: FailureBackoff;
  private readonly byAccount: FailureBackoff;

  constructor(private readonly opts: LoginGuardOptions) {
    const common = {
      findTimeMs: opts.findTimeMs,
      banTimeMs: opts.banTimeMs,
      maxDelayMs: opts.maxDelayMs,
    };
    this.bySource = new FailureBackoff({
      ...common,
      maxFailures: opts.maxFailuresPerSource,
      delayMs: opts.delayMs,
    });
    this.byAccountSource = new FailureBackoff({
      ...common,
      maxFailures: opts.maxFailuresPerAccountSource,
      delayMs: opts.delayMs,
    });
    // No delay account-wide: a delay there would slow the real user for every guess made
    // elsewhere; only the ban applies.
    this.byAccount = new FailureBackoff({
      ...common,
      maxFailures: opts.maxFailuresPerAccount,
      delayMs: 0,
    });
  }

  private static keys(user: string, source: string): { src: string; pair: string } {
    const src = sourceKey(source);
    return { src, pair: `${user}\u0000${src}` };
  }

  /** Whether a source is banned (the listener refuses its connections at once). */
  sourceBanned(source: string, now: number): boolean {
    return this.bySource.isBanned(sourceKey(source), now);
  }

  /**
   * Before checking a password: undefined when it may be checked; otherwise the verdict
   * for an attempt refused unchecked (already counted as a failure on the blocking key).
   */
  admit(user: string, source: string, now: number): LoginVerdict | undefined {
    const { src, pair } = LoginGuard.keys(user, source);
    let blockedBy: BlockedBy | undefined;
    // A ban names the key before a mere delay does.
    if (this.byAccount.isBanned(user, now)) blockedBy = 'account';
    else if (this.bySource.isBanned(src, now)) blockedBy = 'source';
    else if (this.byAccountSource.isBanned(pair, now)) blockedBy = 'account-source';
    else if (this.bySource.blockedFor(src, now) > 0) blockedBy = 'source';
    else if (this.byAccountSource.blockedFor(pair, now) > 0) blockedBy = 'account-source';
    if (blockedBy === undefined) return undefined;
    // An attempt during the delay is a further failure of this source (the delay grows,
    // then the ban, as fail2ban counts every matching log line); the account-wide key is
    // left alone (see the header).
    const newBans: BlockedBy[] = [];
    const a = this.bySource.failure(src, now);
    if (a.banned) newBans.push('source');
    const b = this.byAccountSource.failure(pair, now);
    if (b.banned) newBans.push('account-source');
    const banned =
      this.byAccount.isBanned(user, now) ||
      this.bySource.isBanned(src, now) ||
      this.byAccountSource.isBanned(pair, now);
    return {
      delayMs: banned ? this.opts.delayMs : Math.max(a.retryAfterMs, b.retryAfterMs),
      banned,
      blockedBy,
      newBans,
    };
  }

  /** After a checked password. */
  result(user: string, source: string, ok: boolean, now: number): LoginVerdict {
    const { src, pair } = LoginGuard.keys(user, source);
    if (ok) {
      // The account-wide count is not cleared: a real login must not hand a distributed
      // guesser a fresh allowance. It decays with findTime.
      this.bySource.success(src, now);
      this.byAccountSource.success(pair, now);
      return { delayMs: 0, banned: false, newBans: [] };
    }
    const newBans: BlockedBy[] = [];
    const a = this.bySource.failure(src, now);
    if (a.banned) newBans.push('source');
    const b = this.byAccountSource.failure(pair, now);
    if (b.banned) newBans.push('account-source');
    const c = this.byAccount.failure(user, now);
    if (c.banned) newBans.push('account');
    const banned = newBans.length > 0;
    // The 530 is held no longer than one delay step once banned: the connection closes.
    const delayMs = banned ? this.opts.delayMs : Math.max(a.retryAfterMs, b.retryAfterMs);
    return { delayMs, banned, newBans };
  }

  /** Keys banned now, by kind (for gauges). */
  bans(now: number): Record<BlockedBy, number> {
    return {
      source: this.bySource.bannedCount(now),
      'account-source': this.byAccountSource.bannedCount(now),
      account: this.byAccount.bannedCount(now),
    };
  }
}
