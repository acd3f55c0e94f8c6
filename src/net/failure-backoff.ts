/**
 * Failed-authentication back-off and temporary bans, keyed by whatever the caller names
 * (an extension and source address, an FTP account, a source alone). The precedent is
 * fail2ban's `maxretry` / `findtime` / `bantime` (5 failures within 10 min ban for 10 min)
 * as sites deploy it in front of Asterisk and vsftpd, plus a growing delay after each
 * failure as OpenSSH and vsftpd's `delay_failed_login` do, so guessing slows before the ban.
 * Pure: time comes in as `now`; at most `maxKeys` keys are tracked so a flood of sources
 * cannot grow memory (the oldest unbanned key goes first).
 */
export interface FailureBackoffOptions {
  /** Failures within findTimeMs that ban the key (fail2ban maxretry). */
  readonly maxFailures: number;
  readonly findTimeMs: number;
  readonly banTimeMs: number;
  /** Delay after the first failure, doubled after each further one (0: none). */
  readonly delayMs?: number;
  readonly maxDelayMs?: number;
  readonly maxKeys?: number;
}

export const FAILURE_BACKOFF_DEFAULTS = {
  maxFailures: 5,
  findTimeMs: 600_000,
  banTimeMs: 600_000,
  delayMs: 1000,
  maxDelayMs: 30_000,
  maxKeys: 10_000,
} as const;

interface Entry {
  failures: number;
  firstFailure: number;
  /** No attempt is checked before this time (delay or ban). */
  blockedUntil: number;
  banned: boolean;
}

export interface FailureOutcome {
  /** How long the key must wait before its next attempt counts. */
  readonly retryAfterMs: number;
  /** This failure started a ban. */
  readonly banned: boolean;
  readonly failures: number;
}

export class FailureBackoff {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: Required<FailureBackoffOptions>;

  constructor(opts: FailureBackoffOptions) {
    this.opts = {
      delayMs: FAILURE_BACKOFF_DEFAULTS.delayMs,
      maxDelayMs: FAILURE_BACKOFF_DEFAULTS.maxDelayMs,
      maxKeys: FAILURE_BACKOFF_DEFAULTS.maxKeys,
      ...opts,
    };
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.blockedUntil && (e.banned || now - e.firstFailure > this.opts.findTimeMs)) {
      // The ban or the finding window is over: the key starts clean (fail2ban unban).
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Milliseconds before an attempt by `key` may be checked; 0 when it may be now. */
  blockedFor(key: string, now: number): number {
    const e = this.live(key, now);
    return e ? Math.max(0, e.blockedUntil - now) : 0;
  }

  isBanned(key: string, now: number): boolean {
    const e = this.live(key, now);
    return e !== undefined && e.banned && now < e.blockedUntil;
  }

  failure(key: string, now: number): FailureOutcome {
    let e = this.live(key, now);
    if (!e) {
      this.makeRoom();
      e = { failures: 0, firstFailure: now, blockedUntil: now, banned: false };
      this.entries.set(key, e);
    }
    if (e.banned)
      return { retryAfterMs: e.blockedUntil - now, banned: false, failures: e.failures };
    e.failures++;
    if (e.failures >= this.opts.maxFailures) {
      e.banned = true;
      e.blockedUntil = now + this.opts.banTimeMs;
      // Re-insert so the eviction order (oldest first) keeps bans longest.
      this.entries.delete(key);
      this.entries.set(key, e);
      return { retryAfterMs: this.opts.banTimeMs, banned: true, failures: e.failures };
    }
    const delay =
      this.opts.delayMs > 0
        ? Math.min(this.opts.delayMs * 2 ** (e.failures - 1), this.opts.maxDelayMs)
        : 0;
    e.blockedUntil = now + delay;
    return { retryAfterMs: delay, banned: false, failures: e.failures };
  }

  /** A correct password clears the key's failures (not a ban: that runs its time). */
  success(key: string, now: number): void {
    if (!this.isBanned(key, now)) this.entries.delete(key);
  }

  /** Keys banned now (for a gauge). */
  bannedCount(now: number): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.banned && now < e.blockedUntil) n++;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  private makeRoom(): void {
    if (this.entries.size < this.opts.maxKeys) return;
    for (const [k, e] of this.entries) {
      if (!e.banned) {
        this.entries.delete(k);
        return;
      }
    }
    const oldest = this.entries.keys().next().value;
    if (oldest !== undefined) this.entries.delete(oldest);
  }
}
