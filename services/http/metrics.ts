/**
 * `http_*` metrics (DESIGN.md rule 5).
 *
 *   http_requests_total{site,class}        responses by site and status class (2xx, 3xx, …)
 *   http_response_bytes_total{site}         body bytes sent (nginx $body_bytes_sent)
 *   http_request_duration_seconds{site}     time from request head to response end
 *   http_connections                        open client connections
 *   http_client_errors_total{status}        requests refused before routing (400/408/413/414/431)
 *   http_connections_shed_total{reason}     connections closed by the connection limits:
 *                                           per_source_cap, evicted_header_incomplete,
 *                                           max_connections (connection-slots.ts)
 *   http_h2_sessions_total                  HTTP/2 connections (h2c and h2 over TLS)
 *   http_h2_sessions_closed_total{reason}   HTTP/2 connections closed for bad behaviour:
 *                                           protocol_error (RFC 9113 §5.4.1, frame floods),
 *                                           rapid_reset (stream-reset-rate.ts)
 *   http_internal_errors_total              bugs caught by the adapter (answered 500)
 *   http_upstream_errors_total{site}        proxy failures answered 502/504
 *   http_file_cache_entries, http_file_cache_bytes
 *
 * Per-request counting must be cheap: requests and bytes are plain numbers in a per-site
 * array, copied into prom-client at scrape time (`collect`), so the hot path does no
 * label hashing; only the histogram observes directly.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ShedReason } from './connection-slots.js';

export type H2CloseReason = 'protocol_error' | 'rapid_reset';

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface SiteCounters {
  /** Index = status class - 1. */
  readonly byClass: number[];
  bytes: number;
  upstreamErrors: number;
  readonly observe: (seconds: number) => void;
}

export interface HttpMetrics {
  site(name: string): SiteCounters;
  connections: number;
  clientError(status: number): void;
  /** A connection refused at accept or evicted by the connection limits. */
  connectionShed(reason: ShedReason): void;
  internalError(): void;
  /** An HTTP/2 session began. */
  h2SessionOpened(): void;
  /** An HTTP/2 session was closed because of the peer's behaviour. */
  h2SessionClosed(reason: H2CloseReason): void;
  cacheStats: () => { entries: number; bytes: number };
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const sites = new Map<string, SiteCounters>();
  const clientErrors = new Map<number, number>();
  const shed = new Map<ShedReason, number>();
  const h2Closed = new Map<H2CloseReason, number>();
  let internalErrors = 0;
  let h2Sessions = 0;

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from the request head to the end of the response, by site',
    labelNames: ['site'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  const m: HttpMetrics = {
    site(name) {
      let s = sites.get(name);
      if (s === undefined) {
        const child = duration.labels({ site: name });
        s = {
          byClass: [0, 0, 0, 0, 0],
          bytes: 0,
          upstreamErrors: 0,
          observe: (v) => child.observe(v),
        };
        sites.set(name, s);
      }
      return s;
    },
    connections: 0,
    clientError(status) {
      clientErrors.set(status, (clientErrors.get(status) ?? 0) + 1);
    },
    connectionShed(reason) {
      shed.set(reason, (shed.get(reason) ?? 0) + 1);
    },
    internalError() {
      internalErrors++;
    },
    h2SessionOpened() {
      h2Sessions++;
    },
    h2SessionClosed(reason) {
      h2Closed.set(reason, (h2Closed.get(reason) ?? 0) + 1);
    },
    cacheStats: () => ({ entries: 0, bytes: 0 }),
  };

  new Counter({
    name: 'http_requests_total',
    help: 'Responses sent, by site and status class',
    labelNames: ['site', 'class'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [site, s] of sites) {
        s.byClass.forEach((n, i) => {
          if (n > 0) this.inc({ site, class: CLASSES[i]! }, n);
        });
      }
    },
  });
  new Counter({
    name: 'http_response_bytes_total',
    help: 'Response body bytes sent, by site',
    labelNames: ['site'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [site, s] of sites) if (s.bytes > 0) this.inc({ site }, s.bytes);
    },
  });
  new Counter({
    name: 'http_upstream_errors_total',
    help: 'Reverse-proxy requests answered 502/504 because the upstream failed, by site',
    labelNames: ['site'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [site, s] of sites) if (s.upstreamErrors > 0) this.inc({ site }, s.upstreamErrors);
    },
  });
  new Counter({
    name: 'http_client_errors_total',
    help: 'Connections or requests refused before routing (bad syntax, timeouts, limits), by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [status, n] of clientErrors) this.inc({ status: String(status) }, n);
    },
  });
  new Counter({
    name: 'http_connections_shed_total',
    help: 'Connections closed by the connection limits, by reason (per_source_cap, evicted_header_incomplete, max_connections)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of shed) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'http_h2_sessions_total',
    help: 'HTTP/2 connections served (h2c by prior knowledge and h2 by TLS ALPN)',
    registers: [registry],
    collect() {
      this.reset();
      if (h2Sessions > 0) this.inc(h2Sessions);
    },
  });
  new Counter({
    name: 'http_h2_sessions_closed_total',
    help: 'HTTP/2 connections closed because of the client, by reason (protocol_error, rapid_reset)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of h2Closed) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'http_internal_errors_total',
    help: 'Unexpected errors caught while serving (answered 500); each is a bug',
    registers: [registry],
    collect() {
      this.reset();
      if (internalErrors > 0) this.inc(internalErrors);
    },
  });
  new Gauge({
    name: 'http_connections',
    help: 'Open client connections',
    registers: [registry],
    collect() {
      this.set(m.connections);
    },
  });
  new Gauge({
    name: 'http_file_cache_entries',
    help: 'Path lookups held in the file cache',
    registers: [registry],
    collect() {
      this.set(m.cacheStats().entries);
    },
  });
  new Gauge({
    name: 'http_file_cache_bytes',
    help: 'File bodies (and compressed forms) held in memory',
    registers: [registry],
    collect() {
      this.set(m.cacheStats().bytes);
    },
  });
  return m;
}
