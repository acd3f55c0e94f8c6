import t from 'tap';
import fc from 'fast-check';
import {
  decodeRtcp,
  decodeRtpHeader,
  encodeRtcpReport,
  encodeRtp,
  looksLikeRtcp,
  RTCP_RR,
  RTCP_SDES,
  RTCP_SR,
} from './rtp.js';

const hex = (s: string): Uint8Array =>
  new Uint8Array(Buffer.from(s.replace(/\s+|#.*$/gm, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// RFC 3550 §5.1 fixed header, hand-assembled:
//   80        V=2 P=0 X=0 CC=0
//   80        M=1 PT=0 (PCMU)
//   1234      sequence number 4660
//   deadbeef  timestamp
//   cafebabe  SSRC
const PCMU_HEAD = '80 80 1234 deadbeef cafebabe';

t.test('RTP golden bytes', async (t) => {
  const payload = new Uint8Array(160).fill(0xff);
  const pkt = encodeRtp(
    {
      marker: true,
      payloadType: 0,
      sequenceNumber: 0x1234,
      timestamp: 0xdeadbeef,
      ssrc: 0xcafebabe,
    },
    payload,
  );
  t.equal(toHex(pkt.subarray(0, 12)), PCMU_HEAD.replace(/ /g, ''));
  t.equal(pkt.length, 172, 'G.711 20 ms packet is 172 bytes');
  const d = decodeRtpHeader(pkt);
  t.ok(d.ok);
  if (!d.ok) return;
  t.match(d.header, {
    version: 2,
    padding: false,
    extension: false,
    marker: true,
    payloadType: 0,
    sequenceNumber: 0x1234,
    timestamp: 0xdeadbeef,
    ssrc: 0xcafebabe,
    payloadOffset: 12,
    payloadLength: 160,
    paddingLength: 0,
  });

  // CSRCs, extension and padding (§5.1, §5.3.1):
  //   b2 = V=2 P=1 X=1 CC=2; 65 = M=0 PT=101 (telephone-event)
  const complex = hex(`
    b2 65 0001 00000064 00000001   # header
    00000002 00000003              # 2 CSRCs
    bede 0001 11223344             # extension: profile 0xBEDE, 1 word
    0a 80 00a0                     # RFC 4733 event payload (4 bytes)
    00 00 03                       # 3 bytes of padding, count last
  `);
  const c = decodeRtpHeader(complex);
  t.ok(c.ok);
  if (c.ok) {
    t.match(c.header, {
      padding: true,
      extension: true,
      marker: false,
      payloadType: 101,
      sequenceNumber: 1,
      timestamp: 100,
      ssrc: 1,
      payloadOffset: 28,
      payloadLength: 4,
      paddingLength: 3,
    });
    t.same(c.header.csrc, [2, 3]);
  }
});

t.test('RTP errors', async (t) => {
  const cases: [string, string][] = [
    ['80 00 0001 00000001', 'ERR_RTP_TRUNCATED'],
    ['40 00 0001 00000001 00000001', 'ERR_RTP_VERSION'],
    ['81 00 0001 00000001 00000001', 'ERR_RTP_TRUNCATED'], // CC=1, no CSRC
    ['90 00 0001 00000001 00000001 bede 0002 00000000', 'ERR_RTP_TRUNCATED'], // ext overruns
    ['a0 00 0001 00000001 00000001 ff 00', 'ERR_RTP_PADDING'], // padding count 0
    ['a0 00 0001 00000001 00000001 ff 09', 'ERR_RTP_PADDING'], // padding longer than payload
  ];
  for (const [h, code] of cases) {
    const d = decodeRtpHeader(hex(h));
    t.equal(d.ok ? 'ok' : d.error.code, code, h);
  }
  const big = new Uint8Array(1473);
  big[0] = 0x80;
  t.equal((decodeRtpHeader(big) as { error: { code: string } }).error.code, 'ERR_RTP_TOO_LONG');
});

t.test('RTP round trip (property)', async () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 0, max: 127 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
      fc.uint8Array({ maxLength: 400 }),
      (marker, payloadType, sequenceNumber, timestamp, ssrc, csrc, payload) => {
        const pkt = encodeRtp(
          { marker, payloadType, sequenceNumber, timestamp, ssrc, csrc },
          payload,
        );
        const d = decodeRtpHeader(pkt);
        if (!d.ok) return false;
        const h = d.header;
        return (
          h.marker === marker &&
          h.payloadType === payloadType &&
          h.sequenceNumber === sequenceNumber &&
          h.timestamp === timestamp &&
          h.ssrc === ssrc &&
          h.csrc.join() === csrc.join() &&
          toHex(pkt.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength)) === toHex(payload)
        );
      },
    ),
  );
});

// An RR with one report block, as a phone sends every ~5 s, followed by an SDES (RFC 3550 §6.1).
const RR_SDES = hex(`
  81 c9 0007 11111111                          # RR, RC=1, length 7 words, SSRC of sender
  22222222 05 fffffe 00010064 00000020 00000000 00000000   # block: 5/256 lost, cum -2, ext seq 65636, jitter 32
  81 ca 0002 11111111 0000 0000                # SDES, SC=1, (empty items, padded)
`);

t.test('RTCP golden bytes', async (t) => {
  const d = decodeRtcp(RR_SDES);
  t.ok(d.ok);
  if (!d.ok) return;
  t.equal(d.packets.length, 2);
  t.match(d.packets[0], { packetType: RTCP_RR, count: 1, byteLength: 32, ssrc: 0x11111111 });
  t.same(d.packets[0]!.reports, [
    {
      ssrc: 0x22222222,
      fractionLost: 5,
      cumulativeLost: -2,
      highestSequence: 65636,
      jitter: 32,
      lastSr: 0,
      delaySinceLastSr: 0,
    },
  ]);
  t.match(d.packets[1], { packetType: RTCP_SDES, count: 1, byteLength: 12 });
  t.equal(
    toHex(encodeRtcpReport({ ssrc: 0x11111111, reports: d.packets[0]!.reports! })),
    toHex(RR_SDES.subarray(0, 32)),
  );

  const sr = encodeRtcpReport({
    ssrc: 7,
    senderInfo: {
      ntpSeconds: 0xe8000000,
      ntpFraction: 0x80000000,
      rtpTimestamp: 160,
      packetCount: 50,
      octetCount: 8000,
    },
  });
  t.equal(
    toHex(sr),
    '80c80006' + '00000007' + 'e8000000' + '80000000' + '000000a0' + '00000032' + '00001f40',
  );
  const s = decodeRtcp(sr);
  t.ok(
    s.ok && s.packets[0]!.packetType === RTCP_SR && s.packets[0]!.senderInfo?.octetCount === 8000,
  );
  t.ok(looksLikeRtcp(sr));
  t.notOk(looksLikeRtcp(hex(PCMU_HEAD)));
});

t.test('reduced-size RTCP (RFC 5506): any RTCP type may come first when asked', async (t) => {
  // baresip 1.0's NAT pinhole opener: a lone APP packet, name "PING", data "PONG".
  const app = hex('80 cc 0003 a2556a62 50494e47 504f4e47');
  t.equal(decodeRtcp(app).ok ? 'ok' : 'refused', 'refused', 'A.2 strict by default');
  const d = decodeRtcp(app, { reducedSize: true });
  t.same(d.ok && d.packets.map((p) => [p.packetType, p.byteLength]), [[204, 16]]);
  // Still refused in reduced-size mode: a type outside 192-223 (an RTP packet), bad lengths.
  t.equal(decodeRtcp(hex('80 60 0001 11111111'), { reducedSize: true }).ok, false);
  t.equal(decodeRtcp(hex('80 cc 0009 11111111'), { reducedSize: true }).ok, false);
});

t.test('RTCP errors (RFC 3550 A.2 checks)', async (t) => {
  const cases: [string, string][] = [
    ['81 c9 0007', 'ERR_RTCP_TRUNCATED'],
    ['41 c9 0001 11111111', 'ERR_RTCP_VERSION'],
    ['81 ca 0001 11111111', 'ERR_RTCP_FIRST_TYPE'], // SDES first
    ['81 c9 0007 11111111', 'ERR_RTCP_LENGTH'], // length overruns
    ['81 c9 0001 11111111', 'ERR_RTCP_LENGTH'], // RC=1 without a block
    ['a0 c9 0001 11111111 80 ca 0001 11111111', 'ERR_RTCP_PADDING'], // padding not last
    ['80 c9 0001 11111111 0000', 'ERR_RTCP_TRUNCATED'], // trailing bytes
  ];
  for (const [h, code] of cases) {
    const d = decodeRtcp(hex(h));
    t.equal(d.ok ? 'ok' : d.error.code, code, h);
  }
});

t.test('every truncated prefix and random bytes never throw', async (t) => {
  const full = encodeRtp(
    { payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3, csrc: [4, 5] },
    new Uint8Array(20),
  );
  for (const pkt of [full, RR_SDES]) {
    for (let n = 0; n <= pkt.length; n++) {
      decodeRtpHeader(pkt.subarray(0, n));
      decodeRtcp(pkt.subarray(0, n));
      looksLikeRtcp(pkt.subarray(0, n));
    }
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1600 }), (b) => {
      decodeRtpHeader(b);
      decodeRtcp(b);
      return true;
    }),
    { numRuns: 3000 },
  );
  t.pass('no throw');
});
