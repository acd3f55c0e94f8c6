/**
 * Media player core: turn a WAV prompt into G.711 u-law (PCMU) RTP packets of 20 ms.
 *
 * Input: a RIFF/WAVE file, 8000 Hz mono, either u-law (format 7) or 16-bit linear PCM
 * (format 1, converted to u-law here); WAVE_FORMAT_EXTENSIBLE (0xFFFE) with one of those
 * subformats is accepted too. Output: RTP packets per RFC 3550 §5.1 and RFC 3551 §4.5.14
 * (PCMU, payload type 0, clock 8000 Hz): 160 samples each, sequence number +1 and timestamp
 * +160 per packet, the marker bit on the first packet ("the first packet of a talkspurt",
 * RFC 3551 §4.1), the last packet padded with u-law silence (0xFF).
 *
 * Pure: no files or timers; the relay session sends packet i at start + i × ptime. Nothing
 * here throws on a bad file: `decodeWav` returns `{ ok: false, error }` (`ERR_WAV_*`).
 * Leaves out: resampling, stereo, A-law output (PCMA) — the reference deployment used
 * u-law only.
 */
import type { Rng } from '../../src/clock.js';
import { encodeRtp } from './rtp.js';

export const PCMU_PAYLOAD_TYPE = 0;
export const PCMU_CLOCK_RATE = 8000;
/** RFC 3551 §4.5: default packetization 20 ms (the reference deployment's ptime too). */
export const DEFAULT_PTIME_MS = 20;
/** u-law encoding of linear 0. */
export const ULAW_SILENCE = 0xff;

export type WavErrorCode =
  'ERR_WAV_TRUNCATED' | 'ERR_WAV_NOT_RIFF' | 'ERR_WAV_FORMAT' | 'ERR_WAV_NO_DATA';

export interface WavError {
  readonly code: WavErrorCode;
  readonly message: string;
}

export type WavDecodeResult =
  | { readonly ok: true; readonly ulaw: Uint8Array; readonly sourceFormat: 'ulaw' | 'pcm16' }
  | { readonly ok: false; readonly error: WavError };

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

const ascii = (b: Uint8Array, o: number): string =>
  String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);
const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Uint8Array, o: number): number =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

const fail = (code: WavErrorCode, message: string): { ok: false; error: WavError } => ({
  ok: false,
  error: { code, message },
});

// G.711 u-law, the classic Sun/CCITT formulation: bias 0x84 (132), clip at 32635.
const BIAS = 0x84;
const CLIP = 32635;

/** Linear 16-bit sample → u-law byte (ITU-T G.711). */
export function linearToUlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.trunc(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** u-law byte → linear 16-bit sample. */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = (((u & 0x0f) << 3) + BIAS) << exponent;
  return u & 0x80 ? BIAS - magnitude : magnitude - BIAS;
}

/** Read a WAV file into u-law samples (8000 Hz mono only). */
export function decodeWav(data: Uint8Array): WavDecodeResult {
  if (data.length < 12) return fail('ERR_WAV_TRUNCATED', `WAV of ${data.length} bytes`);
  if (ascii(data, 0) !== 'RIFF' || ascii(data, 8) !== 'WAVE')
    return fail('ERR_WAV_NOT_RIFF', 'not a RIFF/WAVE file');
  let format: number | undefined;
  let bits = 0;
  let o = 12;
  while (o + 8 <= data.length) {
    const id = ascii(data, o);
    const size = le32(data, o + 4);
    const body = o + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > data.length)
        return fail('ERR_WAV_TRUNCATED', 'short fmt chunk');
      format = le16(data, body);
      const channels = le16(data, body + 2);
      const rate = le32(data, body + 4);
      bits = le16(data, body + 14);
      if (format === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40) return fail('ERR_WAV_TRUNCATED', 'short WAVE_FORMAT_EXTENSIBLE chunk');
        format = le16(data, body + 24); // first two bytes of the SubFormat GUID
      }
      if (channels !== 1 || rate !== PCMU_CLOCK_RATE) {
        return fail('ERR_WAV_FORMAT', `need 8000 Hz mono, got ${rate} Hz × ${channels} channels`);
      }
      if (!(
        (format === WAVE_FORMAT_PCM && bits === 16) ||
        (format === WAVE_FORMAT_MULAW && bits === 8)
      )) {
        return fail(
          'ERR_WAV_FORMAT',
          `need u-law or 16-bit PCM, got format ${format} with ${bits} bits`,
        );
      }
    } else if (id === 'data') {
      if (format === undefined) return fail('ERR_WAV_FORMAT', 'data chunk before fmt chunk');
      // A streaming writer may leave size 0 or 0xFFFFFFFF: take what is there.
      const end = size === 0 || body + size > data.length ? data.length : body + size;
      if (format === WAVE_FORMAT_MULAW)
        return { ok: true, ulaw: data.slice(body, end), sourceFormat: 'ulaw' };
      const n = Math.floor((end - body) / 2);
      const ulaw = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = le16(data, body + 2 * i);
        ulaw[i] = linearToUlaw(v & 0x8000 ? v - 0x10000 : v);
      }
      return { ok: true, ulaw, sourceFormat: 'pcm16' };
    }
    o = body + size + (size & 1); // chunks are word-aligned
  }
  return fail(format === undefined ? 'ERR_WAV_FORMAT' : 'ERR_WAV_NO_DATA', 'no fmt/data chunk');
}

/** Encode u-law samples as a WAV file (format 7, 8000 Hz mono). */
export function encodeUlawWav(ulaw: Uint8Array): Uint8Array {
  const out = new Uint8Array(46 + ulaw.length + (ulaw.length & 1));
  const dv = new DataView(out.buffer);
  const tag = (o: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i);
  };
  tag(0, 'RIFF');
  dv.setUint32(4, out.length - 8, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  dv.setUint32(16, 18, true); // non-PCM formats carry cbSize
  dv.setUint16(20, WAVE_FORMAT_MULAW, true);
  dv.setUint16(22, 1, true);
  dv.setUint32(24, PCMU_CLOCK_RATE, true);
  dv.setUint32(28, PCMU_CLOCK_RATE, true); // byte rate
  dv.setUint16(32, 1, true); // block align
  dv.setUint16(34, 8, true);
  dv.setUint16(36, 0, true); // cbSize
  tag(38, 'data');
  dv.setUint32(42, ulaw.length, true);
  out.set(ulaw, 46);
  return out;
}

export interface RtpStart {
  readonly ssrc: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
}

/** RFC 3550 §5.1: the initial sequence number and timestamp "SHOULD be random"; §8.1 SSRC. */
export function randomRtpStart(rng: Rng): RtpStart {
  const b = rng.bytes(10);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { ssrc: dv.getUint32(0), sequenceNumber: dv.getUint16(4), timestamp: dv.getUint32(6) };
}

export interface PacketizeOptions extends RtpStart {
  readonly payloadType?: number;
  readonly ptimeMs?: number;
}

/** Cut u-law samples into RTP packets of ptime (default 20 ms = 160 samples). */
export function packetizeUlaw(ulaw: Uint8Array, opts: PacketizeOptions): Uint8Array[] {
  const samples = ((opts.ptimeMs ?? DEFAULT_PTIME_MS) * PCMU_CLOCK_RATE) / 1000;
  const packets: Uint8Array[] = [];
  for (let i = 0, k = 0; i < ulaw.length; i += samples, k++) {
    let payload = ulaw.subarray(i, i + samples);
    if (payload.length < samples) {
      const padded = new Uint8Array(samples).fill(ULAW_SILENCE);
      padded.set(payload);
      payload = padded;
    }
    packets.push(
      encodeRtp(
        {
          marker: k === 0,
          payloadType: opts.payloadType ?? PCMU_PAYLOAD_TYPE,
          sequenceNumber: (opts.sequenceNumber + k) & 0xffff,
          timestamp: (opts.timestamp + k * samples) >>> 0,
          ssrc: opts.ssrc,
        },
        payload,
      ),
    );
  }
  return packets;
}

export type PromptResult =
  | { readonly ok: true; readonly packets: readonly Uint8Array[]; readonly durationMs: number }
  | { readonly ok: false; readonly error: WavError };

/** decodeWav + packetizeUlaw. */
export function promptPackets(wav: Uint8Array, opts: PacketizeOptions): PromptResult {
  const d = decodeWav(wav);
  if (!d.ok) return d;
  const packets = packetizeUlaw(d.ulaw, opts);
  return { ok: true, packets, durationMs: packets.length * (opts.ptimeMs ?? DEFAULT_PTIME_MS) };
}
