/**
 * Receive statistics of one RTP direction, as a relay sees them: packets and bytes, packets
 * lost from sequence-number gaps (RFC 3550 §6.4.1 "cumulative number of packets lost",
 * computed with the extended sequence number of appendix A.1, so 16-bit wrap-around and
 * reordering are handled), mean and maximum inter-arrival delta, and the interarrival
 * jitter of §6.4.1 / appendix A.8 converted to milliseconds.
 *
 * These are the figures the reference study read from Wireshark's "RTP Stream Analysis"
 * (packets, lost, mean delta, max jitter), so a hang-up log line can be compared with it.
 *
 * Sans-I/O: arrival times come in as `now` (milliseconds, fractional allowed; the adapter
 * passes a monotonic clock). Leaves out: the probation of A.1 (the relay latches its source
 * separately, and counting from the first packet matches Wireshark), RTCP-reported loss.
 *
 * Choices: a new SSRC starts a new source (§8.2: the SSRC identifies a source; a phone may
 * change it on re-INVITE); counts are summed over sources, jitter is the current source's.
 * Packets of the `jitterExcluded` payload types (RFC 4733 telephone-event, whose timestamp
 * is the event start and repeats) are counted but not used for jitter, as their timestamps
 * do not follow the sampling clock.
 */

const RTP_SEQ_MOD = 0x10000;
/** RFC 3550 A.1: "MAX_DROPOUT = 3000; MAX_MISORDER = 100". */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
/** Duplicate detection window (bits); covers MAX_MISORDER. */
const DUP_WINDOW = 128;

export interface RtpStreamReport {
  readonly packets: number;
  readonly bytes: number;
  /** Packets expected from sequence numbers (extended highest − base + 1, summed over SSRCs). */
  readonly expected: number;
  /** expected − received (duplicates and A.1-ignored packets left out), never negative. */
  readonly lost: number;
  /** lost / expected × 100, rounded to 0.01. */
  readonly lossPercent: number;
  readonly duplicates: number;
  /** Packets older than the highest sequence number seen (arrived out of order). */
  readonly reordered: number;
  /** Sequence jumps larger than MAX_DROPOUT that restarted the count (A.1). */
  readonly resyncs: number;
  readonly ssrcCount: number;
  readonly ssrc: number | undefined;
  readonly meanDeltaMs: number;
  readonly maxDeltaMs: number;
  /** Current interarrival jitter (§6.4.1), ms. */
  readonly jitterMs: number;
  readonly maxJitterMs: number;
  readonly meanJitterMs: number;
  readonly rtcpPackets: number;
  readonly rtcpBytes: number;
  readonly firstAt: number | undefined;
  readonly lastAt: number | undefined;
}

export interface RtpStreamStatsOptions {
  /** Clock rate of a payload type, Hz (from the SDP rtpmap); 8000 when unknown. */
  readonly clockRate?: (payloadType: number) => number | undefined;
  /** Payload types left out of the jitter estimate (telephone-event). */
  readonly jitterExcluded?: ReadonlySet<number>;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export class RtpStreamStats {
  private packets = 0;
  private bytes = 0;
  private duplicates = 0;
  private reordered = 0;
  private resyncs = 0;
  private ssrcCount = 0;
  private rtcpPackets = 0;
  private rtcpBytes = 0;
  /** Expected/received of previous SSRCs (and of counts before an A.1 resync). */
  private priorExpected = 0;
  private priorReceived = 0;

  // Current source (A.1 `source` struct).
  private ssrc: number | undefined;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private badSeq = RTP_SEQ_MOD + 1;
  private received = 0;
  private readonly seen = new Uint32Array(DUP_WINDOW / 32);

  // Timing.
  private firstAt: number | undefined;
  private lastAt: number | undefined;
  private maxDelta = 0;
  private jitter = 0; // timestamp units
  private jitterRate = 8000;
  private maxJitterMs = 0;
  private jitterSumMs = 0;
  private jitterSamples = 0;
  private lastArrivalUnits: number | undefined;
  private lastTimestamp = 0;

  constructor(private readonly opts: RtpStreamStatsOptions = {}) {}

  private initSeq(seq: number): void {
    // A.1 init_seq()
    this.priorExpected += this.received > 0 ? this.extendedMax() - this.baseSeq + 1 : 0;
    this.priorReceived += this.received;
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.received = 0;
    this.seen.fill(0);
    this.lastArrivalUnits = undefined;
  }

  private extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  private markSeen(ext: number): boolean {
    const bit = ((ext % DUP_WINDOW) + DUP_WINDOW) % DUP_WINDOW;
    const word = bit >> 5;
    const mask = 1 << (bit & 31);
    const dup = (this.seen[word]! & mask) !== 0;
    this.seen[word]! |= mask;
    return dup;
  }

  private clearSeen(fromExt: number, toExt: number): void {
    // Forget bits for extended sequence numbers (fromExt, toExt]: the window moved on.
    if (toExt - fromExt >= DUP_WINDOW) {
      this.seen.fill(0);
      return;
    }
    for (let e = fromExt + 1; e <= toExt; e++) {
      const bit = ((e % DUP_WINDOW) + DUP_WINDOW) % DUP_WINDOW;
      this.seen[bit >> 5]! &= ~(1 << (bit & 31));
    }
  }

  /**
   * Account one RTP packet. `bytes` is the datagram length. Returns 'duplicate' for a
   * packet already counted, 'late' for one older than the highest seen, else 'ok'.
   */
  record(
    sequenceNumber: number,
    timestamp: number,
    ssrc: number,
    payloadType: number,
    bytes: number,
    now: number,
  ): 'ok' | 'late' | 'duplicate' {
    const seq = sequenceNumber & 0xffff;
    this.packets++;
    this.bytes += bytes;
    if (this.lastAt !== undefined) {
      const delta = now - this.lastAt;
      if (delta > this.maxDelta) this.maxDelta = delta;
    } else this.firstAt = now;
    this.lastAt = now;

    let verdict: 'ok' | 'late' | 'duplicate' = 'ok';
    if (ssrc !== this.ssrc) {
      this.ssrc = ssrc;
      this.ssrcCount++;
      this.initSeq(seq);
      this.markSeen(seq);
    } else {
      // A.1 update_seq(): "udelta = seq - s->max_seq" as an unsigned 16-bit difference.
      const udelta = (seq - this.maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD;
      if (udelta === 0) {
        verdict = 'duplicate';
      } else if (udelta < MAX_DROPOUT) {
        // "in order, with permissible gap"
        const oldExt = this.extendedMax();
        if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD; // "Sequence number wrapped"
        this.maxSeq = seq;
        this.clearSeen(oldExt, this.extendedMax());
        this.markSeen(this.extendedMax());
      } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        // "the sequence number made a very large jump": "If two sequential packets arrive,
        // accept the latter as a valid start of a new sequence."
        if (seq === this.badSeq) {
          this.resyncs++;
          this.initSeq(seq);
          this.markSeen(seq);
        } else {
          this.badSeq = (seq + 1) & (RTP_SEQ_MOD - 1);
          return 'late'; // A.1 returns 0: not counted as received, no jitter sample
        }
      } else {
        // "duplicate or reordered packet": `back` packets behind the highest.
        const back = RTP_SEQ_MOD - udelta;
        const ext = this.extendedMax() - back;
        if (back < DUP_WINDOW && this.markSeen(ext)) verdict = 'duplicate';
        else {
          this.reordered++;
          verdict = 'late';
          // Older than this source's first packet: A.1 would count it as a gain; move the
          // base back so that expected covers it.
          if (ext < this.baseSeq) this.baseSeq = ext;
        }
      }
    }
    if (verdict === 'duplicate') {
      this.duplicates++;
      return verdict;
    }
    this.received++;

    // Jitter, A.8: transit = arrival − timestamp; J += (|D| − J)/16.
    if (this.opts.jitterExcluded?.has(payloadType)) return verdict;
    const rate = this.opts.clockRate?.(payloadType) ?? 8000;
    if (rate !== this.jitterRate) {
      this.jitterRate = rate;
      this.lastArrivalUnits = undefined;
    }
    const arrivalUnits = (now * rate) / 1000;
    if (this.lastArrivalUnits !== undefined) {
      // Signed 32-bit timestamp difference survives the 2^32 wrap.
      const d = arrivalUnits - this.lastArrivalUnits - ((timestamp - this.lastTimestamp) | 0);
      this.jitter += (Math.abs(d) - this.jitter) / 16;
      const jms = (this.jitter * 1000) / rate;
      if (jms > this.maxJitterMs) this.maxJitterMs = jms;
      this.jitterSumMs += jms;
      this.jitterSamples++;
    }
    this.lastArrivalUnits = arrivalUnits;
    this.lastTimestamp = timestamp >>> 0;
    return verdict;
  }

  /** Account one RTCP packet received for this direction. */
  recordRtcp(bytes: number): void {
    this.rtcpPackets++;
    this.rtcpBytes += bytes;
  }

  get packetCount(): number {
    return this.packets;
  }

  report(): RtpStreamReport {
    const current = this.received > 0 ? this.extendedMax() - this.baseSeq + 1 : 0;
    const expected = this.priorExpected + current;
    const lost = Math.max(0, expected - (this.priorReceived + this.received));
    return {
      packets: this.packets,
      bytes: this.bytes,
      expected,
      lost,
      lossPercent: expected > 0 ? Math.round((lost / expected) * 10000) / 100 : 0,
      duplicates: this.duplicates,
      reordered: this.reordered,
      resyncs: this.resyncs,
      ssrcCount: this.ssrcCount,
      ssrc: this.ssrc,
      meanDeltaMs:
        this.packets > 1 && this.firstAt !== undefined && this.lastAt !== undefined
          ? round3((this.lastAt - this.firstAt) / (this.packets - 1))
          : 0,
      maxDeltaMs: round3(this.maxDelta),
      jitterMs: round3((this.jitter * 1000) / this.jitterRate),
      maxJitterMs: round3(this.maxJitterMs),
      meanJitterMs: this.jitterSamples > 0 ? round3(this.jitterSumMs / this.jitterSamples) : 0,
      rtcpPackets: this.rtcpPackets,
      rtcpBytes: this.rtcpBytes,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
    };
  }
}
