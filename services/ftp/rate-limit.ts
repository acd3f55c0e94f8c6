/**
 * Per-transfer rate limit (vsftpd local_max_rate / anon_max_rate, bytes per second,
 * default 0 = unlimited). A token bucket with one second of burst: `take(bytes, now)`
 * returns how many milliseconds the caller should wait before moving more data. Time is
 * a parameter (monotonic ms). vsftpd also limits per transfer, not per user across sessions.
 */
export class RateLimiter {
  private tokens: number;
  private last: number | undefined;

  constructor(readonly bytesPerSec: number) {
    this.tokens = bytesPerSec;
  }

  take(bytes: number, now: number): number {
    if (this.bytesPerSec <= 0) return 0;
    if (this.last !== undefined) {
      this.tokens = Math.min(
        this.bytesPerSec,
        this.tokens + ((now - this.last) * this.bytesPerSec) / 1000,
      );
    }
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSec);
  }
}
