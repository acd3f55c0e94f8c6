/**
 * Schema fragment of the media relay settings, for the SIP service's config.ts to embed as
 * `media: MediaConfig` in sip.yaml. Every default lives here with its precedent.
 *
 * Example (config/dev/sip.yaml):
 *   media:
 *     ports: { min: 30000, max: 30999 }
 *     advertisedAddress: 127.0.0.1
 * and for the Pi (config/pi/sip.yaml), as the reference deployment's SIP/RTP address:
 *   media:
 *     bindAddress: 192.168.0.6
 *     ports: { min: 10000, max: 20000 }
 */
import { Type, type Static } from '@sinclair/typebox';

export const MediaPortRange = Type.Object(
  {
    min: Type.Integer({
      default: 10000,
      minimum: 1024,
      maximum: 65535,
      description:
        'First port of the RTP/RTCP range (Asterisk rtp.conf rtpstart default 10000; dev config: 30000)',
    }),
    max: Type.Integer({
      default: 20000,
      minimum: 1024,
      maximum: 65535,
      description:
        'Last port of the range (Asterisk rtpend default 20000; dev: 30999). Each call leg takes an even RTP port and the odd one above it for RTCP',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const MediaConfig = Type.Object(
  {
    bindAddress: Type.String({
      default: '127.0.0.1',
      description: 'IPv4 address the relay sockets bind to (0.0.0.0 for all interfaces)',
    }),
    advertisedAddress: Type.Union([Type.String(), Type.Null()], {
      default: null,
      description:
        'Address written into SDP c= lines for phones to send media to; null: bindAddress (must then not be 0.0.0.0)',
    }),
    ports: MediaPortRange,
    mediaTimeout: Type.Integer({
      default: 30,
      minimum: 1,
      maximum: 86400,
      description:
        "Seconds without any RTP/RTCP from either phone after which the call's media is considered dead, its ports freed and the call hung up (rtpengine --timeout, whose default is 60)",
    }),
    holdTimeout: Type.Integer({
      default: 3600,
      minimum: 1,
      maximum: 86400,
      description:
        'The same for a call on hold (sendonly/inactive/0.0.0.0), when phones may send nothing (rtpengine --silent-timeout default 3600)',
    }),
    latching: Type.Union([Type.Literal('nat-window'), Type.Literal('signalled-only')], {
      default: 'nat-window',
      description:
        'Where media is accepted from. signalled-only: only the address:port each SDP gave (no NAT traversal). nat-window: that, or for a phone behind NAT the first sane RTP packet arriving within latchWindow of the answer; every other source is dropped (RTP-bleed, CVE-2025-53399)',
    }),
    latchWindow: Type.Integer({
      default: 3000,
      minimum: 0,
      maximum: 60000,
      description:
        'Milliseconds after the offer/answer completes during which a NAT latch may happen (nat-window)',
    }),
    greeting: Type.Union([Type.String(), Type.Null()], {
      default: 'sip/greeting.wav',
      description:
        'Prompt played to an unanswered caller: WAV, 8000 Hz mono, u-law or 16-bit PCM, relative to the config dir; null: none',
    }),
  },
  { additionalProperties: false, default: {} },
);

export type MediaConfig = Static<typeof MediaConfig>;

/** Semantic checks the schema cannot express, as `path: message` strings. */
export function checkMediaConfig(cfg: MediaConfig, path = '/media'): string[] {
  const issues: string[] = [];
  const { min, max } = cfg.ports;
  if (min + (min & 1) + 1 > max)
    issues.push(`${path}/ports: ${min}-${max} holds no even/odd port pair`);
  if (
    cfg.advertisedAddress === null &&
    (cfg.bindAddress === '0.0.0.0' || cfg.bindAddress === '::')
  ) {
    issues.push(`${path}/advertisedAddress: required when bindAddress is ${cfg.bindAddress}`);
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(cfg.bindAddress))
    issues.push(`${path}/bindAddress: not an IPv4 address`);
  return issues;
}
