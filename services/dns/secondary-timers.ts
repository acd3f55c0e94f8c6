/**
 * A secondary zone's clock (RFC 1034 §4.3.5, RFC 1996 §3), pure, on an injected time in ms:
 * checks at REFRESH after a good contact, RETRY after a failure (no copy: 5 s doubling to
 * 60 s); a NOTIFY makes a check due now, one at a time, NOTIFYs within 200 ms one check,
 * one during a check another right after it, one announcing a serial we hold none (§3.11);
 * EXPIRE after the last good contact stops serving (SERVFAIL), also across restarts (the
 * contact time is stored). Serials compare by RFC 1982.
 */
import { serialGreater } from './update.js';

export interface SoaTimers {
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
}

export type SecondaryAction = { readonly kind: 'check' } | { readonly kind: 'none' };

export class SecondaryClock {
  private nextCheck: number;
  private expiresAt: number;
  private checking = false;
  private lastNotify = -Infinity;
  /** A NOTIFY came while a check ran or within the hold: one more check is owed. */
  private pendingNotify = false;
  /** Failed checks in a row (the back-off without a copy). */
  private failures = 0;

  /**
   * `serial` and `timers` of the copy we hold (undefined: none yet, check at once);
   * `lastContact`: when the primary last confirmed it (persisted beside the copy).
   */
  constructor(
    private serial: number | undefined,
    private timers: SoaTimers | undefined,
    lastContact: number | undefined,
    now: number,
    private readonly notifyHoldMs = 200,
  ) {
    this.expiresAt =
      timers && lastContact !== undefined ? lastContact + timers.expire * 1000 : -Infinity;
    this.nextCheck = now;
  }

  /** Whether the copy may be served now. */
  serving(now: number): boolean {
    return this.serial !== undefined && now < this.expiresAt;
  }

  get currentSerial(): number | undefined {
    return this.serial;
  }

  /** When the copy stops being served unless the primary confirms it first. */
  get expiry(): number {
    return this.expiresAt;
  }

  /** When the owner should call tick() next. */
  next(): number {
    return this.checking ? Infinity : this.nextCheck;
  }

  tick(now: number): SecondaryAction {
    if (this.checking || now < this.nextCheck) return { kind: 'none' };
    this.checking = true;
    if (this.pendingNotify) {
      // The held NOTIFY is served by this check.
      this.pendingNotify = false;
      this.lastNotify = now;
    }
    return { kind: 'check' };
  }

  /**
   * RFC 1996 §3.7: a NOTIFY from the primary; true when it moved the next check earlier
   * (the owner re-arms its timer).
   */
  notify(now: number, announced?: number): boolean {
    // RFC 1996 §3.11: a NOTIFY may carry the primary's new SOA; one not newer than our copy
    // announces nothing we lack (a resend, or a reordered older one): BIND says "zone is
    // up to date" and does not refresh.
    if (
      announced !== undefined &&
      this.serial !== undefined &&
      !serialGreater(announced, this.serial)
    )
      return false;
    if (this.checking) {
      this.pendingNotify = true;
      return false;
    }
    const at = Math.max(now, this.lastNotify + this.notifyHoldMs);
    if (at > now) this.pendingNotify = true;
    else this.lastNotify = now;
    if (at >= this.nextCheck) return false;
    this.nextCheck = at;
    return true;
  }

  /** The primary answered the SOA query: whether to transfer (its serial is greater). */
  soaAnswered(primarySerial: number, timers: SoaTimers, now: number): boolean {
    if (this.serial === undefined || serialGreater(primarySerial, this.serial)) return true;
    this.contact(timers, now); // same serial: our copy is confirmed
    return false;
  }

  /** A transfer completed and the new copy is stored. */
  transferred(serial: number, timers: SoaTimers, now: number): void {
    this.serial = serial;
    this.contact(timers, now);
  }

  /**
   * The SOA query or the transfer failed: try again after RETRY. With no copy (no SOA to take
   * RETRY from) the wait starts at 5 s and doubles to 60 s, so a secondary that started
   * before its route to the primary was up (the topology test: OSPF converging) gets the
   * zone within seconds of the route, not a minute later; Knot's retry back-off likewise.
   */
  failed(now: number): void {
    this.checking = false;
    this.failures++;
    this.nextCheck =
      now +
      (this.timers
        ? this.timers.retry * 1000
        : Math.min(60_000, 5_000 * 2 ** Math.min(this.failures - 1, 4)));
    this.owed(now);
  }

  private contact(timers: SoaTimers, now: number): void {
    this.failures = 0;
    this.timers = timers;
    this.checking = false;
    this.expiresAt = now + timers.expire * 1000;
    this.nextCheck = now + timers.refresh * 1000;
    this.owed(now);
  }

  /**
   * A check ended: a NOTIFY held before it was served by it (tick); one that came while it
   * ran gets a check at once (however many came, one check: the flag is one bit).
   */
  private owed(now: number): void {
    if (!this.pendingNotify) return;
    this.nextCheck = Math.min(this.nextCheck, now);
  }
}
