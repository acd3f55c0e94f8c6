import t from 'tap';
import { RtpStreamStats } from './rtp-qos.js';

/** Feed packets (seq, timestamp, arrival ms); PT 0, SSRC 1, 172 bytes. */
function feed(stats: RtpStreamStats, pkts: readonly (readonly [number, number, number])[]): void {
  for (const [seq, ts, at] of pkts) stats.record(seq, ts, 1, 0, 172, at);
}

/** A perfect 20 ms G.711 stream: n packets. */
const perfect = (n: number, seq0 = 0, ts0 = 0): [number, number, number][] =>
  Array.from({ length: n }, (_, i) => [(seq0 + i) & 0xffff, (ts0 + 160 * i) >>> 0, 1000 + 20 * i]);

t.test('a clean 20 s call: 1000 packets, 0 loss, 20 ms mean delta, 0 jitter', async (t) => {
  const s = new RtpStreamStats();
  feed(s, perfect(1000));
  t.match(s.report(), {
    packets: 1000,
    bytes: 172000,
    expected: 1000,
    lost: 0,
    lossPercent: 0,
    meanDeltaMs: 20,
    maxDeltaMs: 20,
    jitterMs: 0,
    maxJitterMs: 0,
    reordered: 0,
    duplicates: 0,
  });
});

t.test('loss from sequence gaps, across the 16-bit wrap', async (t) => {
  const s = new RtpStreamStats();
  // Start at 65530; drop 65534 and 2 (2 of 12 packets).
  const pkts = perfect(12, 65530).filter(([seq]) => seq !== 65534 && seq !== 2);
  feed(s, pkts);
  t.match(s.report(), { packets: 10, expected: 12, lost: 2, lossPercent: 16.67 });
});

t.test('reordering and duplicates are not loss', async (t) => {
  const s = new RtpStreamStats();
  const p = perfect(10, 65533);
  // Swap packets 3 and 4 (crossing the wrap), duplicate packet 6.
  const order = [p[0]!, p[1]!, p[2]!, p[4]!, p[3]!, p[5]!, p[6]!, p[6]!, p[7]!, p[8]!, p[9]!];
  feed(s, order);
  t.match(s.report(), { packets: 11, expected: 10, lost: 0, reordered: 1, duplicates: 1 });
  // A late packet older than the first one extends the base instead of counting as a gain.
  const s2 = new RtpStreamStats();
  feed(s2, [
    [5, 800, 0],
    [7, 1120, 40],
    [4, 640, 41],
  ]);
  t.match(s2.report(), { expected: 4, lost: 1, reordered: 1 });
});

t.test('jitter per RFC 3550 A.8, hand-computed', async (t) => {
  // Arrivals 0, 22, 38, 60 ms for timestamps 0, 160, 320, 480 (8 kHz):
  // D(i-1,i) in ms: 2, -4, 2 → in timestamp units 16, 32, 16.
  // J1 = 16/16 = 1; J2 = 1 + (32-1)/16 = 2.9375; J3 = 2.9375 + (16-2.9375)/16 = 3.75390625 units
  // = 0.469238... ms; max = same.
  const s = new RtpStreamStats();
  feed(s, [
    [0, 0, 0],
    [1, 160, 22],
    [2, 320, 38],
    [3, 480, 60],
  ]);
  const r = s.report();
  t.equal(r.jitterMs, Math.round((3.75390625 / 8) * 1000) / 1000);
  t.equal(r.maxJitterMs, r.jitterMs);
  t.equal(r.meanDeltaMs, 20);
  t.equal(r.maxDeltaMs, 22);
  t.equal(r.meanJitterMs, Math.round(((1 + 2.9375 + 3.75390625) / 3 / 8) * 1000) / 1000);
});

t.test('steady-state jitter of a ±d alternating delay converges to 2d', async (t) => {
  // Transit alternates +0/+3 ms → |D| = 3 ms each packet → J → 3 ms.
  const s = new RtpStreamStats();
  feed(
    s,
    Array.from(
      { length: 500 },
      (_, i) => [i, 160 * i, 20 * i + (i % 2) * 3] as [number, number, number],
    ),
  );
  t.ok(Math.abs(s.report().jitterMs - 3) < 0.01, String(s.report().jitterMs));
});

t.test('timestamp wrap does not spike jitter', async (t) => {
  const s = new RtpStreamStats();
  feed(s, perfect(100, 0, 0xffffffff - 160 * 50));
  t.equal(s.report().maxJitterMs, 0);
});

t.test('SSRC change starts a new source; telephone-event excluded from jitter', async (t) => {
  const s = new RtpStreamStats({ jitterExcluded: new Set([101]), clockRate: () => 8000 });
  feed(s, perfect(10));
  for (let i = 0; i < 10; i++) s.record(5000 + i, 90000 + 160 * i, 2, 0, 172, 2000 + 20 * i);
  // DTMF packets repeat the event timestamp (RFC 4733 §2.5.1.2) at 50 ms spacing.
  for (let i = 0; i < 3; i++) s.record(5010 + i, 91600, 2, 101, 16, 2200 + 50 * i);
  const r = s.report();
  t.match(r, { packets: 23, expected: 23, lost: 0, ssrcCount: 2, ssrc: 2, maxJitterMs: 0 });
});

t.test('large jump resyncs after two sequential packets (A.1)', async (t) => {
  const s = new RtpStreamStats();
  feed(s, perfect(5));
  feed(s, [
    [40000, 800, 200],
    [40001, 960, 220],
    [40002, 1120, 240],
  ]);
  const r = s.report();
  t.equal(r.resyncs, 1);
  t.equal(r.lost, 0);
  t.equal(r.expected, 7);
});
