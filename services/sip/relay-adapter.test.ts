import t from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRegistry } from '../../src/metrics.js';
import { RelayAdapter, type RelaySettings } from './relay-adapter.js';
import { createRtpMetrics } from './rtp-metrics.js';
import { decodeRtpHeader, encodeRtcpReport, encodeRtp } from './rtp.js';
import type { RelayReport, RemoteMedia } from './relay-session.js';
import { packetizeUlaw } from './media-player.js';

const SETTINGS: RelaySettings = {
  bindAddress: '127.0.0.1',
  advertisedAddress: null,
  ports: { min: 41000, max: 41999 },
  mediaTimeout: 30,
  holdTimeout: 3600,
  latching: 'nat-window',
  latchWindow: 3000,
};

interface Phone {
  sock: Socket;
  port: number;
  got: { seq: number; at: number; from: number }[];
}

async function phone(): Promise<Phone> {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const p: Phone = { sock, port: sock.address().port, got: [] };
  sock.on('message', (m, r) => {
    const d = decodeRtpHeader(m);
    if (d.ok) p.got.push({ seq: d.header.sequenceNumber, at: performance.now(), from: r.port });
  });
  return p;
}

const sdpOf = (p: Phone): RemoteMedia => ({
  address: '127.0.0.1',
  rtpPort: p.port,
  rtcpPort: p.port + 1,
  direction: 'sendrecv',
  payloadTypes: [0, 101],
});
const pkt = (seq: number, ssrc: number): Uint8Array =>
  encodeRtp(
    { payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc },
    new Uint8Array(160).fill(0xff),
  );

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await sleep(5);
}

t.test('relays real UDP between two phones, drops a stranger, reports QoS', async (t) => {
  const registry = createRegistry({ defaults: false });
  const metrics = createRtpMetrics(registry);
  const relay = new RelayAdapter({ settings: SETTINGS, metrics });
  const [a, b, stranger] = await Promise.all([phone(), phone(), phone()]);
  t.teardown(() => [a, b, stranger].forEach((p) => p.sock.close()));

  const h = await relay.open({ id: 'call-1' });
  const la = h.local('a')!;
  const lb = h.local('b')!;
  t.equal(la.rtp % 2, 0);
  t.equal(la.rtcp, la.rtp + 1);
  t.equal(h.address, '127.0.0.1');
  h.setRemote('a', sdpOf(a));
  h.setRemote('b', sdpOf(b));

  const N = 300;
  for (let i = 0; i < N; i++) {
    a.sock.send(pkt(i, 0xa), la.rtp, '127.0.0.1');
    b.sock.send(pkt(1000 + i, 0xb), lb.rtp, '127.0.0.1');
    if (i === 10) stranger.sock.send(pkt(5000, 0xc), la.rtp, '127.0.0.1'); // injection after latch
    await sleep(4);
  }
  await until(() => a.got.length >= N && b.got.length >= N);
  t.equal(b.got.length, N, 'b received everything a sent');
  t.equal(a.got.length, N, 'a received everything b sent');
  t.ok(
    b.got.every((g) => g.from === lb.rtp),
    "b hears the relay's b port (symmetric RTP)",
  );
  t.notOk(
    b.got.some((g) => g.seq === 5000),
    'the injected packet never reached b',
  );
  t.equal(metrics.dropped.value(['wrong_source']), 1);
  t.equal(metrics.packets.value(['in']), 2 * N);
  t.equal(metrics.packets.value(['out']), 2 * N);

  const r = h.close('bye');
  t.match(r.legs.a.received, { packets: N, lost: 0, expected: N });
  t.match(r.legs.b.received, { packets: N, lost: 0 });
  t.ok(
    r.legs.a.received.meanDeltaMs > 3 && r.legs.a.received.meanDeltaMs < 15,
    `mean delta ${r.legs.a.received.meanDeltaMs}`,
  );
  t.equal(r.legs.a.latchedBy.rtp, 'signalled');
  t.equal(relay.sessionCount, 0);
  t.equal(relay.pool.inUse, 0, 'ports freed on BYE');
  t.equal(metrics.sessionsEnded.value(['bye']), 1);
  t.match(await registry.metrics(), /sip_rtp_dropped_total\{reason="wrong_source"\} 1/);
});

t.test('echo and player sessions; media timeout frees the ports', async (t) => {
  const ended: RelayReport[] = [];
  const relay = new RelayAdapter({
    settings: { ...SETTINGS, mediaTimeout: 1 },
    onEnded: (r) => ended.push(r),
  });
  const p = await phone();
  t.teardown(() => p.sock.close());

  const echo = await relay.open({ id: 'echo', mode: 'echo' });
  t.equal(echo.local('b'), undefined, 'one leg');
  echo.setRemote('a', sdpOf(p));
  for (let i = 0; i < 20; i++) p.sock.send(pkt(i, 1), echo.local('a')!.rtp, '127.0.0.1');
  await until(() => p.got.length >= 20);
  t.equal(p.got.length, 20, 'echoed');
  echo.close();
  p.got.length = 0;

  const player = await relay.open({ id: 'greeting', mode: 'player' });
  player.setRemote('a', sdpOf(p));
  const prompt = packetizeUlaw(new Uint8Array(160 * 10).fill(0xff), {
    ssrc: 9,
    sequenceNumber: 65530,
    timestamp: 0,
  });
  let done = false;
  const t0 = performance.now();
  player.play(prompt, () => (done = true));
  await until(() => done && p.got.length >= 10);
  t.ok(done, 'player_done reported');
  t.same(
    p.got.map((g) => g.seq),
    [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3],
  );
  const span = p.got[9]!.at - t0;
  t.ok(span >= 170 && span < 600, `10 packets paced over ${span.toFixed(0)} ms`);

  // No packets for 1 s after the prompt ends: the session times out by itself.
  await until(() => ended.length > 0, 3000);
  t.equal(ended[0]?.reason, 'media_timeout');
  t.equal(relay.sessionCount, 0);
  t.equal(relay.pool.inUse, 0, 'ports freed after the media timeout');
});

t.test('a busy port pair is skipped', async (t) => {
  const relay = new RelayAdapter({ settings: { ...SETTINGS, ports: { min: 41500, max: 41503 } } });
  const squatter = createSocket('udp4');
  squatter.bind(41500, '127.0.0.1');
  await once(squatter, 'listening');
  t.teardown(() => squatter.close());
  const h = await relay.open({ id: 'x', mode: 'echo' });
  t.same(h.local('a'), { rtp: 41502, rtcp: 41503 });
  await t.rejects(
    relay.open({ id: 'y', mode: 'echo' }),
    { code: 'ERR_SIP_RELAY_BIND' },
    'the only free pair is busy',
  );
  await t.rejects(relay.open({ id: 'z', mode: 'echo' }), { code: 'ERR_SIP_RELAY_BIND' });
  h.close();
});

t.test('RTCP from behind a NAT latches with its RTP after the window (issue 17)', async (t) => {
  const registry = createRegistry({ defaults: false });
  const metrics = createRtpMetrics(registry);
  const relay = new RelayAdapter({ settings: { ...SETTINGS, latchWindow: 100 }, metrics });
  const [a, aRtcp, b, bRtcp] = await Promise.all([phone(), phone(), phone(), phone()]);
  t.teardown(() => [a, aRtcp, b, bRtcp].forEach((p) => p.sock.close()));
  const rtcpAt = (p: Phone): number[] => {
    const got: number[] = [];
    p.sock.on('message', (m) => {
      if (m.length >= 8 && (m[1] === 200 || m[1] === 201)) got.push(m.readUInt32BE(4));
    });
    return got;
  };
  const aHeard = rtcpAt(aRtcp);
  const bHeard = rtcpAt(bRtcp);

  const h = await relay.open({ id: 'nat-call' });
  const la = h.local('a')!;
  const lb = h.local('b')!;
  // a's SDP names a private address where nothing listens (the NAT case): only its packets,
  // from 127.0.0.1, tell the relay where it is.
  h.setRemote('a', { ...sdpOf(a), address: '127.0.0.99', rtpPort: 4000, rtcpPort: 4001 });
  h.setRemote('b', { ...sdpOf(b), rtcpPort: bRtcp.port });
  a.sock.send(pkt(1, 0xa), la.rtp, '127.0.0.1');
  await until(() => metrics.packets.value(['in']) === 1);
  await sleep(200); // past the 100 ms latch window
  aRtcp.sock.send(encodeRtcpReport({ ssrc: 0xa1 }), la.rtcp, '127.0.0.1');
  await until(() => bHeard.length > 0);
  t.same(bHeard, [0xa1], "b hears a's RTCP, sent after the window from the NAT's other port");
  bRtcp.sock.send(encodeRtcpReport({ ssrc: 0xb1 }), lb.rtcp, '127.0.0.1');
  await until(() => aHeard.length > 0);
  t.same(aHeard, [0xb1], "a's RTCP port hears b's RTCP");
  const r = h.close('bye');
  t.same(r.legs.a.latchedBy, { rtp: 'nat', rtcp: 'rtp' });
  t.equal(metrics.dropped.value(['stranger']), 0);
});
