import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  decodeWav,
  encodeUlawWav,
  linearToUlaw,
  packetizeUlaw,
  promptPackets,
  randomRtpStart,
  ulawToLinear,
} from './media-player.js';
import { decodeRtpHeader } from './rtp.js';

t.test('G.711 u-law golden values', async (t) => {
  // ITU-T G.711 u-law: 0 → 0xFF, max positive → 0x80, max negative → 0x00.
  t.equal(linearToUlaw(0), 0xff);
  t.equal(linearToUlaw(32767), 0x80);
  t.equal(linearToUlaw(-32768), 0x00);
  t.equal(linearToUlaw(-1), 0x7f);
  t.equal(linearToUlaw(1000), 0xce);
  t.equal(ulawToLinear(0xff), 0);
  t.equal(ulawToLinear(0x80), 32124);
  t.equal(ulawToLinear(0x00), -32124);
  for (let b = 0; b < 256; b++) {
    if (b === 0x7f) continue; // negative zero decodes to 0, re-encodes as 0xFF
    t.equal(linearToUlaw(ulawToLinear(b)), b, `byte ${b} round trip`);
  }
});

function pcmWav(samples: Int16Array, rate = 8000, channels = 1): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from('RIFF'), 0);
  dv.setUint32(4, out.length - 8, true);
  out.set(Buffer.from('WAVEfmt '), 8);
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, rate * 2 * channels, true);
  dv.setUint16(32, 2 * channels, true);
  dv.setUint16(34, 16, true);
  out.set(Buffer.from('data'), 36);
  dv.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => dv.setInt16(44 + 2 * i, s, true));
  return out;
}

t.test('WAV decode: PCM16 converted, u-law kept; errors', async (t) => {
  const pcm = Int16Array.from({ length: 400 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
  const d = decodeWav(pcmWav(pcm));
  t.ok(
    d.ok &&
      d.sourceFormat === 'pcm16' &&
      d.ulaw.length === 400 &&
      d.ulaw[3] === linearToUlaw(pcm[3]!),
  );
  const u = decodeWav(encodeUlawWav(Uint8Array.from([1, 2, 3])));
  t.ok(u.ok && u.sourceFormat === 'ulaw' && [...u.ulaw].join() === '1,2,3');
  t.equal(
    (decodeWav(pcmWav(pcm, 16000)) as { error: { code: string } }).error.code,
    'ERR_WAV_FORMAT',
  );
  t.equal(
    (decodeWav(pcmWav(pcm, 8000, 2)) as { error: { code: string } }).error.code,
    'ERR_WAV_FORMAT',
  );
  t.equal(
    (decodeWav(new Uint8Array(10)) as { error: { code: string } }).error.code,
    'ERR_WAV_TRUNCATED',
  );
  t.equal(
    (decodeWav(new Uint8Array(50)) as { error: { code: string } }).error.code,
    'ERR_WAV_NOT_RIFF',
  );
  const wav = pcmWav(pcm);
  for (let n = 0; n <= 60; n++) decodeWav(wav.subarray(0, n));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => (decodeWav(b), true)));
  const withHeader = fc
    .uint8Array({ maxLength: 200 })
    .map((b) => Uint8Array.from([...wav.subarray(0, 12), ...b]));
  fc.assert(fc.property(withHeader, (b) => (decodeWav(b), true)));
});

t.test('20 ms packets: seq/timestamp/ssrc/marker, last one padded with silence', async (t) => {
  const ulaw = new Uint8Array(170).fill(0x10); // 1 full packet + 10 samples
  const pkts = packetizeUlaw(ulaw, {
    ssrc: 0x11223344,
    sequenceNumber: 65535,
    timestamp: 0xffffff80,
  });
  t.equal(pkts.length, 2);
  const h = pkts.map((p) => {
    const d = decodeRtpHeader(p);
    if (!d.ok) throw new Error(d.error.message);
    return d.header;
  });
  t.match(h[0], {
    marker: true,
    payloadType: 0,
    sequenceNumber: 65535,
    timestamp: 0xffffff80,
    ssrc: 0x11223344,
    payloadLength: 160,
  });
  t.match(h[1], {
    marker: false,
    sequenceNumber: 0,
    timestamp: 0x20,
    ssrc: 0x11223344,
    payloadLength: 160,
  });
  t.equal(pkts[1]![12 + 9], 0x10);
  t.equal(pkts[1]![12 + 10], 0xff, 'padding is u-law silence');
  const start = randomRtpStart({ int: () => 0, bytes: (n) => new Uint8Array(n).fill(1) });
  t.same(start, { ssrc: 0x01010101, sequenceNumber: 0x0101, timestamp: 0x01010101 });
});

t.test('the shipped greetings decode and are short', async (t) => {
  for (const dir of ['dev', 'pi']) {
    const wav = readFileSync(new URL(`../../config/${dir}/sip/greeting.wav`, import.meta.url));
    t.ok(wav.length < 100 * 1024, `${dir}: ${wav.length} bytes`);
    const p = promptPackets(new Uint8Array(wav), { ssrc: 1, sequenceNumber: 0, timestamp: 0 });
    t.ok(
      p.ok && p.durationMs >= 1000 && p.durationMs <= 12000,
      `${dir}: ${p.ok ? p.durationMs : p.error.message} ms`,
    );
  }
});
