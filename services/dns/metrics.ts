/**
 * dns_* metrics. Hot-path counters are FastCounter/FastHistogram (plain numbers rendered at
 * scrape time); zone serials are a prom-client gauge set on (re)load.
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/metrics.js';

export interface DnsMetrics {
  readonly queries: FastCounter<'qtype' | 'rcode' | 'transport'>;
  readonly dropped: FastCounter<'reason'>;
  readonly cacheHits: FastCounter<'transport'>;
  readonly truncated: FastCounter<'transport'>;
  readonly latency: FastHistogram;
  readonly zoneSerial: Gauge<'zone'>;
  readonly zoneRecords: Gauge<'zone'>;
  readonly tcpConnections: Gauge;
  readonly tcpClosed: FastCounter<'reason'>;
  readonly errors: FastCounter<'where'>;
  readonly notifies: FastCounter<'event'>;
  readonly secondaryChecks: FastCounter<'result'>;
  readonly tsig: FastCounter<'result'>;
}

export function createDnsMetrics(registry: Registry): DnsMetrics {
  return {
    queries: new FastCounter(
      'dns_queries_total',
      'Queries answered, by qtype, rcode and transport',
      ['qtype', 'rcode', 'transport'],
      registry,
    ),
    dropped: new FastCounter(
      'dns_dropped_total',
      'Packets dropped without a reply, by reason',
      ['reason'],
      registry,
    ),
    cacheHits: new FastCounter(
      'dns_answer_cache_hits_total',
      'Replies served from the answer cache',
      ['transport'],
      registry,
    ),
    truncated: new FastCounter(
      'dns_truncated_total',
      'Replies sent with TC set',
      ['transport'],
      registry,
    ),
    latency: new FastHistogram(
      'dns_query_duration_seconds',
      'Time from receiving a query to handing the reply to the socket',
      [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
      registry,
    ),
    zoneSerial: new Gauge({
      name: 'dns_zone_serial',
      help: 'SOA serial of each loaded zone',
      labelNames: ['zone'],
      registers: [registry],
    }),
    zoneRecords: new Gauge({
      name: 'dns_zone_records',
      help: 'Records loaded per zone',
      labelNames: ['zone'],
      registers: [registry],
    }),
    tcpConnections: new Gauge({
      name: 'dns_tcp_connections',
      help: 'Open TCP client connections',
      registers: [registry],
    }),
    tcpClosed: new FastCounter(
      'dns_tcp_closed_total',
      'TCP connections closed by the server, by reason (idle, message_timeout, zero_length, per_source_limit)',
      ['reason'],
      registry,
    ),
    errors: new FastCounter(
      'dns_internal_errors_total',
      'Bugs caught at the adapter (answered SERVFAIL)',
      ['where'],
      registry,
    ),
    notifies: new FastCounter(
      'dns_notify_total',
      'NOTIFY messages (RFC 1996): to secondaries sent (incl. resends), answered, gave-up; from primaries received, refused',
      ['event'],
      registry,
    ),
    secondaryChecks: new FastCounter(
      'dns_secondary_checks_total',
      'Secondary zone refreshes: uptodate (same serial), axfr, ixfr, failed',
      ['result'],
      registry,
    ),
    tsig: new FastCounter(
      'dns_tsig_requests_total',
      'TSIG-signed queries and transfers (RFC 8945): verified, or refused with BADKEY, BADSIG, BADTIME, BADTRUNC',
      ['result'],
      registry,
    ),
  };
}
