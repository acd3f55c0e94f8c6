/**
 * Media relay metrics (sip_rtp_*, sip_relay_*). Per-packet counts are FastCounters (plain
 * numbers rendered at scrape time, src/metrics.ts); session and port gauges are prom-client
 * gauges set by the relay adapter.
 *
 * direction: "in" = accepted from a phone, "out" = sent to a phone. A received datagram is
 * either "in" or counted in sip_rtp_dropped_total{reason} (relay-session.ts DROP_REASONS).
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter } from '../../src/metrics.js';

export interface RtpMetrics {
  readonly packets: FastCounter<'direction'>;
  readonly bytes: FastCounter<'direction'>;
  readonly dropped: FastCounter<'reason'>;
  readonly sessions: Gauge;
  readonly portsInUse: Gauge;
  readonly sessionsEnded: FastCounter<'reason'>;
  readonly errors: FastCounter<'where'>;
}

export function createRtpMetrics(registry: Registry): RtpMetrics {
  return {
    packets: new FastCounter(
      'sip_rtp_packets_total',
      'RTP/RTCP datagrams relayed, by direction (in: accepted from a phone, out: sent to one)',
      ['direction'],
      registry,
    ),
    bytes: new FastCounter(
      'sip_rtp_bytes_total',
      'RTP/RTCP bytes (UDP payload), by direction',
      ['direction'],
      registry,
    ),
    dropped: new FastCounter(
      'sip_rtp_dropped_total',
      'Datagrams dropped by the relay, by reason (stranger, wrong_source, payload_type, malformed, no_destination, hold, closed)',
      ['reason'],
      registry,
    ),
    sessions: new Gauge({
      name: 'sip_relay_sessions',
      help: 'Open media relay sessions',
      registers: [registry],
    }),
    portsInUse: new Gauge({
      name: 'sip_relay_ports_in_use',
      help: 'RTP/RTCP port pairs allocated from the media port range',
      registers: [registry],
    }),
    sessionsEnded: new FastCounter(
      'sip_relay_sessions_ended_total',
      'Relay sessions closed, by reason (bye, media_timeout, hold_timeout, …)',
      ['reason'],
      registry,
    ),
    errors: new FastCounter(
      'sip_relay_internal_errors_total',
      'Bugs caught at the relay adapter',
      ['where'],
      registry,
    ),
  };
}
