/**
 * Rate limit for repeated log lines: each key (usually the message text) may log `burst`
 * lines per `intervalMs`; past that lines are counted, not written, and the next line of
 * that key after the interval carries `suppressed: N`. The precedent is rsyslog's
 * imuxsock rate limit and journald's RateLimitIntervalSec/RateLimitBurst (a count per
 * interval instead of every line): a flood of bad packets must not fill the disk with logs.
 * Pure: time comes in as `now`; at most `maxKeys` keys are tracked (oldest dropped).
 */
export interface LogLimitOptions {
  readonly intervalMs: number;
  readonly burst: number;
  readonly maxKeys?: number;
}

interface Window {
  start: number;
  count: number;
  suppressed: number;
}

export class LogLimit {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly opts: LogLimitOptions) {}

  /**
   * Whether a line of `key` may be written now; when it may, `suppressed` is how many were
   * held back since the last written one (0 if none).
   */
  admit(key: string, now: number): { write: boolean; suppressed: number } {
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.opts.intervalMs) {
      const suppressed = w?.suppressed ?? 0;
      if (w) this.windows.delete(key);
      else if (this.windows.size >= (this.opts.maxKeys ?? 1000)) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      w.count++;
      return { write: true, suppressed };
    }
    if (w.count < this.opts.burst) {
      w.count++;
      return { write: true, suppressed: 0 };
    }
    w.suppressed++;
    return { write: false, suppressed: 0 };
  }
}
