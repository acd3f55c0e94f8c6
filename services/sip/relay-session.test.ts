import t from 'tap';
import {
  RelaySession,
  type RemoteMedia,
  type DatagramVerdict,
  type LegId,
  type Component,
} from './relay-session.js';
import { encodeRtp, encodeRtcpReport } from './rtp.js';

const A_SDP: RemoteMedia = {
  address: '10.0.0.1',
  rtpPort: 4000,
  rtcpPort: 4001,
  direction: 'sendrecv',
  payloadTypes: [0, 101],
  clockRates: new Map([
    [0, 8000],
    [101, 8000],
  ]),
  telephoneEvents: new Set([101]),
};
const B_SDP: RemoteMedia = {
  address: '10.0.0.2',
  rtpPort: 5000,
  rtcpPort: 5001,
  direction: 'sendrecv',
  payloadTypes: [0, 101],
};

let seq = 0;
const rtp = (pt = 0, ssrc = 1): Uint8Array =>
  encodeRtp(
    { payloadType: pt, sequenceNumber: seq++, timestamp: seq * 160, ssrc },
    new Uint8Array(160),
  );
const RTCP = encodeRtcpReport({ ssrc: 1 });

/** A session with both SDPs known at t=1000 (offer/answer complete, window until 4000). */
function call(opts: ConstructorParameters<typeof RelaySession>[0] = { id: 'c1' }): RelaySession {
  const s = new RelaySession(opts, 0);
  s.setRemote('a', A_SDP, 0);
  s.setRemote('b', B_SDP, 1000);
  return s;
}

const send = (
  s: RelaySession,
  leg: LegId,
  from: string,
  port: number,
  now: number,
  data = rtp(),
  comp: Component = 'rtp',
): DatagramVerdict => s.handleDatagram(leg, comp, data, from, port, now);
const dest = (v: DatagramVerdict): string =>
  v.kind === 'send'
    ? `${v.leg}/${v.component} → ${v.to.address}:${v.to.port}`
    : v.kind === 'drop'
      ? `drop ${v.reason}`
      : v.kind;

t.test('signalled address wins: latched at once, forwarded to the other leg', async (t) => {
  const s = call();
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 1100)), 'b/rtp → 10.0.0.2:5000');
  t.same(s.latchState('a', 'rtp').by, 'signalled');
  t.equal(dest(send(s, 'b', '10.0.0.2', 5000, 1110)), 'a/rtp → 10.0.0.1:4000');
  t.equal(dest(send(s, 'a', '10.0.0.1', 4001, 1120, RTCP, 'rtcp')), 'b/rtcp → 10.0.0.2:5001');
  // Long after the window, the signalled source is still fine.
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 20_000)), 'b/rtp → 10.0.0.2:5000');
});

t.test(
  'NAT: first sane packet within the window latches; the other leg then sends there',
  async (t) => {
    const s = call();
    t.equal(dest(send(s, 'a', '203.0.113.5', 61000, 1500)), 'b/rtp → 10.0.0.2:5000');
    t.same(s.latchState('a', 'rtp'), {
      latched: { address: '203.0.113.5', port: 61000 },
      by: 'nat',
    });
    t.equal(dest(send(s, 'b', '10.0.0.2', 5000, 1510)), 'a/rtp → 203.0.113.5:61000');
    // RTCP from the same NAT IP latches; from another IP it is a stranger.
    t.equal(dest(send(s, 'a', '198.51.100.9', 61001, 1520, RTCP, 'rtcp')), 'drop stranger');
    t.equal(dest(send(s, 'a', '203.0.113.5', 61001, 1530, RTCP, 'rtcp')), 'b/rtcp → 10.0.0.2:5001');
  },
);

t.test('stranger injection is dropped and counted by reason', async (t) => {
  const s = call();
  // Before the offer/answer completes nobody but the signalled source is accepted.
  const early = new RelaySession({ id: 'e' }, 0);
  early.setRemote('a', A_SDP, 0);
  t.equal(dest(send(early, 'a', '6.6.6.6', 1234, 10)), 'drop stranger');
  t.equal(
    dest(send(early, 'a', '10.0.0.1', 4000, 20)),
    'drop no_destination',
    'signalled source latches, but b is unknown',
  );
  t.equal(dest(send(early, 'b', '10.0.0.2', 5000, 30)), 'drop early', 'b has no SDP yet: early');

  t.equal(
    dest(send(s, 'a', '6.6.6.6', 1234, 1100, rtp(8))),
    'drop payload_type',
    'PCMA was not offered',
  );
  t.equal(
    dest(
      send(s, 'a', '6.6.6.6', 1234, 1100, Uint8Array.of(0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    ),
    'drop malformed',
    'RTP version 1',
  );
  t.equal(
    dest(send(s, 'a', '6.6.6.6', 1234, 1100, new Uint8Array(5))),
    'drop malformed',
    'too short',
  );
  t.equal(
    dest(send(s, 'a', '6.6.6.6', 1234, 1100, RTCP, 'rtcp')),
    'b/rtcp → 10.0.0.2:5001',
    'a sane RTCP packet in the window latches RTCP',
  );
  // After the window (4000) a stranger cannot latch the still-unlatched RTP socket.
  t.equal(dest(send(s, 'a', '6.6.6.6', 1234, 4001)), 'drop stranger');
  t.same(s.report(5000).dropped, { payload_type: 1, malformed: 2, stranger: 1 });
});

t.test('hijack after latch is refused; media keeps flowing to the latched phone', async (t) => {
  const s = call();
  send(s, 'a', '203.0.113.5', 61000, 1100);
  t.equal(dest(send(s, 'a', '6.6.6.6', 1234, 1200)), 'drop wrong_source', 'within the window');
  t.equal(
    dest(send(s, 'a', '203.0.113.5', 61002, 1300)),
    'drop wrong_source',
    'same IP, other port',
  );
  t.equal(dest(send(s, 'a', '6.6.6.6', 1234, 9000)), 'drop wrong_source', 'after the window');
  t.equal(dest(send(s, 'b', '10.0.0.2', 5000, 9010)), 'a/rtp → 203.0.113.5:61000');
  t.equal(s.report(9100).dropped.wrong_source, 3);
  // The signalled address takes a NAT latch over only within the window.
  const s2 = call();
  send(s2, 'a', '6.6.6.6', 1234, 1100); // a stranger raced the phone
  t.equal(
    dest(send(s2, 'a', '10.0.0.1', 4000, 1200)),
    'b/rtp → 10.0.0.2:5000',
    'the real phone shows up',
  );
  t.equal(dest(send(s2, 'a', '6.6.6.6', 1234, 1300)), 'drop wrong_source');
  const s3 = call();
  send(s3, 'a', '203.0.113.5', 61000, 1100);
  t.equal(
    dest(send(s3, 'a', '10.0.0.1', 4000, 5000)),
    'drop wrong_source',
    'after the window the latch holds',
  );
});

t.test('signalled-only policy never learns from NAT', async (t) => {
  const s = call({ id: 'x', latching: 'signalled-only' });
  t.equal(dest(send(s, 'a', '203.0.113.5', 61000, 1100)), 'drop stranger');
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 1100)), 'b/rtp → 10.0.0.2:5000');
});

t.test('re-INVITE to a new address clears the latch and opens a new window', async (t) => {
  const s = call();
  send(s, 'a', '10.0.0.1', 4000, 1100);
  s.setRemote('a', { ...A_SDP, address: '10.0.0.9' }, 60_000);
  t.equal(
    dest(send(s, 'a', '10.0.0.1', 4000, 60_010)),
    'b/rtp → 10.0.0.2:5000',
    'old address may NAT-latch again within the new window',
  );
  t.equal(dest(send(s, 'b', '10.0.0.2', 5000, 60_020)), 'a/rtp → 10.0.0.1:4000');
});

t.test('hold: no RTP to a sendonly/inactive/0.0.0.0 leg, RTCP still; hold timeout', async (t) => {
  const s = call();
  send(s, 'a', '10.0.0.1', 4000, 1100);
  send(s, 'b', '10.0.0.2', 5000, 1100);
  s.setRemote('a', { ...A_SDP, direction: 'sendonly' }, 2000); // a puts b on hold
  s.setRemote('b', { ...B_SDP, direction: 'recvonly' }, 2010);
  t.equal(
    dest(send(s, 'a', '10.0.0.1', 4000, 2100)),
    'b/rtp → 10.0.0.2:5000',
    'music on hold reaches b',
  );
  t.equal(dest(send(s, 'b', '10.0.0.2', 5000, 2100)), 'drop hold');
  t.equal(dest(send(s, 'b', '10.0.0.2', 5001, 2100, RTCP, 'rtcp')), 'a/rtcp → 10.0.0.1:4001');
  s.setRemote('b', { ...B_SDP, address: undefined }, 3000); // RFC 2543 hold
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 3100)), 'drop hold');
  t.equal(s.nextTimeout(), 3100 + 3_600_000, 'hold timeout');
  t.same(s.handleTimeout(3100 + 3_600_000), [{ kind: 'timeout', reason: 'hold_timeout' }]);
});

t.test('media timeout on a manual clock', async (t) => {
  const s = new RelaySession({ id: 't', mediaTimeoutMs: 30_000 }, 0);
  s.setRemote('a', A_SDP, 0);
  t.equal(s.nextTimeout(), undefined, 'ringing: no media timeout yet');
  s.setRemote('b', B_SDP, 1000);
  t.equal(s.nextTimeout(), 31_000, 'from the answer');
  send(s, 'a', '10.0.0.1', 4000, 5000);
  t.equal(s.nextTimeout(), 35_000, 'from the last packet');
  t.same(s.handleTimeout(34_999), []);
  t.same(s.handleTimeout(35_000), [{ kind: 'timeout', reason: 'media_timeout' }]);
  t.ok(s.closed);
  t.equal(s.nextTimeout(), undefined);
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 35_001)), 'drop closed');
  const r = s.close('bye', 36_000);
  t.equal(r.reason, 'media_timeout', 'the first reason sticks');
  t.equal(r.durationMs, 35_000);
});

t.test('echo mode returns packets to their sender', async (t) => {
  const s = new RelaySession({ id: 'echo', mode: 'echo' }, 0);
  s.setRemote('a', A_SDP, 0);
  t.equal(dest(send(s, 'a', '203.0.113.5', 61000, 100)), 'a/rtp → 203.0.113.5:61000');
  t.equal(dest(send(s, 'a', '6.6.6.6', 1, 200)), 'drop wrong_source');
  t.equal(dest(send(s, 'b', '10.0.0.2', 5000, 200)), 'drop stranger', 'no b leg in echo mode');
  const r = s.report(300);
  t.equal(r.legs.a.received.packets, 1);
  t.equal(r.legs.a.sent.packets, 1);
});

t.test('player mode sends the prompt every 20 ms to leg a and consumes what a sends', async (t) => {
  const s = new RelaySession({ id: 'p', mediaTimeoutMs: 30_000 }, 0);
  s.setRemote('a', A_SDP, 0);
  const prompt = [1, 2, 3, 4, 5].map((i) => Uint8Array.of(0x80, 0, 0, i, 0, 0, 0, 0, 0, 0, 0, 1));
  s.play('a', prompt, 20_000);
  t.equal(s.mode, 'player');
  t.equal(s.nextTimeout(), 20_000);
  const ev1 = s.handleTimeout(20_000);
  t.same(
    ev1.map((e) => e.kind),
    ['send'],
  );
  t.equal(s.nextTimeout(), 20_020);
  const ev2 = s.handleTimeout(20_065); // a late timer catches up
  t.same(
    ev2.map((e) => (e.kind === 'send' ? `${e.to.address}:${e.to.port}#${e.data[3]}` : e.kind)),
    ['10.0.0.1:4000#2', '10.0.0.1:4000#3', '10.0.0.1:4000#4'],
  );
  t.same(dest(send(s, 'a', '10.0.0.1', 4000, 20_070)), 'consume');
  t.same(
    s.handleTimeout(20_080).map((e) => e.kind),
    ['send', 'player_done'],
  );
  t.equal(
    s.nextTimeout(),
    20_100 + 30_000,
    'then only the media timeout, from the end of the prompt',
  );
  t.equal(s.report(20_100).legs.a.sent.packets, 5);
});

t.test('rtcp-mux: RTCP on the RTP port is accepted and forwarded', async (t) => {
  const s = new RelaySession({ id: 'm' }, 0);
  s.setRemote('a', { ...A_SDP, rtcpMux: true, rtcpPort: 4000 }, 0);
  s.setRemote('b', { ...B_SDP, rtcpMux: true, rtcpPort: 5000 }, 0);
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 10, RTCP)), 'b/rtp → 10.0.0.2:5000');
});

t.test('per-direction QoS in the report', async (t) => {
  const s = call();
  for (let i = 0; i < 100; i++) {
    if (i !== 50)
      s.handleDatagram(
        'a',
        'rtp',
        encodeRtp(
          { payloadType: 0, sequenceNumber: i, timestamp: 160 * i, ssrc: 7 },
          new Uint8Array(160),
        ),
        '10.0.0.1',
        4000,
        2000 + 20 * i,
      );
    s.handleDatagram(
      'b',
      'rtp',
      encodeRtp(
        { payloadType: 0, sequenceNumber: i, timestamp: 160 * i, ssrc: 8 },
        new Uint8Array(160),
      ),
      '10.0.0.2',
      5000,
      2000 + 20 * i + (i % 2),
    );
  }
  const r = s.close('bye', 5000);
  t.match(r.legs.a.received, { packets: 99, lost: 1, expected: 100, meanDeltaMs: 20.204 });
  t.match(r.legs.b.received, { packets: 100, lost: 0 });
  t.ok(
    r.legs.b.received.maxJitterMs > 0.9 && r.legs.b.received.maxJitterMs <= 1,
    String(r.legs.b.received.maxJitterMs),
  );
  t.equal(r.legs.b.sent.packets, 99);
  t.equal(r.legs.a.sent.packets, 100);
  t.match(r, { id: 'c1', mode: 'relay', reason: 'bye', durationMs: 5000 });
});

t.test('RTCP behind NAT latches with RTP after the latch window (issue 17)', async (t) => {
  const s = call(); // window until 4000
  // The phone's RTP comes from its NAT's public address and latches in the window.
  t.equal(dest(send(s, 'a', '203.0.113.5', 61000, 1500)), 'b/rtp → 10.0.0.2:5000');
  // Until its RTCP latches, RTCP for it goes to the NAT address, RTP port + 1, not to the
  // private 10.0.0.1:4001 of its SDP.
  t.equal(dest(send(s, 'b', '10.0.0.2', 5001, 2000, RTCP, 'rtcp')), 'a/rtcp → 203.0.113.5:61001');
  // Its first RTCP report arrives after the window (RFC 3550 §6.2: 5 s spacing), from a port
  // the NAT chose: it latches because the IP owns the leg's RTP.
  t.equal(dest(send(s, 'a', '203.0.113.5', 47123, 6500, RTCP, 'rtcp')), 'b/rtcp → 10.0.0.2:5001');
  t.same(s.latchState('a', 'rtcp'), {
    latched: { address: '203.0.113.5', port: 47123 },
    by: 'rtp',
  });
  t.equal(
    dest(send(s, 'b', '10.0.0.2', 5001, 6600, RTCP, 'rtcp')),
    'a/rtcp → 203.0.113.5:47123',
    'the latched RTCP source is where RTCP goes next',
  );
  t.same(s.report(7000).legs.a.latchedBy, { rtp: 'nat', rtcp: 'rtp' });
});

t.test('RTCP latching reopens no bleed', async (t) => {
  const s = call();
  send(s, 'a', '203.0.113.5', 61000, 1500);
  // Another IP, inside or after the window, never takes a leg's RTCP once RTP is latched.
  t.equal(dest(send(s, 'a', '198.51.100.9', 61001, 2000, RTCP, 'rtcp')), 'drop stranger');
  t.equal(dest(send(s, 'a', '198.51.100.9', 61001, 9000, RTCP, 'rtcp')), 'drop stranger');
  // Nor after RTCP has latched: that is a hijack attempt.
  send(s, 'a', '203.0.113.5', 61001, 9100, RTCP, 'rtcp');
  t.equal(dest(send(s, 'a', '198.51.100.9', 61001, 9200, RTCP, 'rtcp')), 'drop wrong_source');
  // A leg whose RTP never latched takes no RTCP after the window.
  t.equal(dest(send(s, 'b', '6.6.6.6', 5001, 9300, RTCP, 'rtcp')), 'drop stranger');
  // RTCP that does not decode is refused even from the right IP.
  t.equal(
    dest(send(s, 'a', '203.0.113.5', 61001, 9400, new Uint8Array(3), 'rtcp')),
    'drop malformed',
  );
  t.same(s.report(10_000).dropped, { stranger: 3, wrong_source: 1, malformed: 1 });
});

t.test('rtcp-mux on one leg only: RTCP goes to the other leg’s RTCP port', async (t) => {
  const s = new RelaySession({ id: 'm1' }, 0);
  // a offered a=rtcp-mux; b's answer did not carry it (RFC 5761 §5.1.1: no muxing).
  s.setRemote('a', { ...A_SDP, rtcpMux: true, rtcpPort: 4000 }, 0);
  s.setRemote('b', B_SDP, 0);
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 10, RTCP)), 'b/rtcp → 10.0.0.2:5001');
  t.equal(dest(send(s, 'a', '10.0.0.1', 4000, 20)), 'b/rtp → 10.0.0.2:5000', 'RTP unchanged');
});

t.test('a lone RTCP APP packet (baresip pinhole opener) is forwarded, not malformed', async (t) => {
  const s = call();
  const app = Uint8Array.from([
    0x80,
    0xcc,
    0,
    3,
    0xa2,
    0x55,
    0x6a,
    0x62,
    ...Buffer.from('PINGPONG'),
  ]);
  t.equal(dest(send(s, 'a', '10.0.0.1', 4001, 1100, app, 'rtcp')), 'b/rtcp → 10.0.0.2:5001');
  t.same(s.report(1200).dropped, {});
});

t.test('STUN keepalives (linphone) are counted as stun, never latch', async (t) => {
  const s = call();
  // RFC 5389 binding request: type 0x0001, length 8, magic cookie, transaction id, 8 bytes.
  const stun = Uint8Array.from([0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, ...new Array(20).fill(7)]);
  t.equal(dest(send(s, 'b', '203.0.113.9', 40000, 1100, stun)), 'drop stun');
  t.equal(dest(send(s, 'b', '203.0.113.9', 40001, 1100, stun, 'rtcp')), 'drop stun');
  t.same(s.latchState('b', 'rtp').by, 'none');
  t.same(s.report(1200).dropped, { stun: 2 });
});
