/**
 * How many streams an HTTP/2 client may cancel before it is treated as an attack: the
 * "rapid reset" flood (CVE-2023-44487) opens streams and resets them at once (RST_STREAM,
 * RFC 9113 §6.4), so the server starts work for every one while the concurrency limit
 * (SETTINGS_MAX_CONCURRENT_STREAMS, §5.1.2) never trips. A token bucket per connection:
 * `burst` resets at once, then `perSecond`; past that the adapter answers with GOAWAY
 * ENHANCE_YOUR_CALM and closes (§10.5: "An endpoint MAY treat activity that is suspicious
 * as a connection error … of type ENHANCE_YOUR_CALM").
 *
 * Precedents: nghttp2 ≥ 1.57 (inside Node) sends GOAWAY after 1000 resets then 33/s but
 * leaves the TCP connection open until the client closes it; nginx 1.25.3 bounds new
 * streams per read to twice `http2_max_concurrent_streams`. Here the budget is twice the
 * advertised concurrency and refills at the concurrency per second, and the connection
 * (and its slot) is released.
 *
 * Pure: `now` (ms, monotonic) comes in.
 */
export class StreamResetRate {
  private tokens: number;
  private last: number | undefined;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
  }

  /** A stream ended by a reset at `nowMs`; false once the budget is spent. */
  reset(nowMs: number): boolean {
    if (this.last !== undefined && nowMs > this.last)
      this.tokens = Math.min(
        this.burst,
        this.tokens + ((nowMs - this.last) / 1000) * this.perSecond,
      );
    this.last = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
