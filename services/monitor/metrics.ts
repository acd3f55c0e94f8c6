/**
 * monitor_* metrics: the monitor's own health, on the admin listener like every service.
 *
 *   monitor_scrapes_total{target,result}      scrapes by result (ok, down)
 *   monitor_scrape_duration_seconds{target}   time of the last scrape of each target
 *   monitor_history_series                    series in the history store
 *   monitor_event_clients                     open live-update (SSE) connections
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter } from '../../src/metrics.js';

export interface MonitorMetrics {
  readonly scrapes: FastCounter<'target' | 'result'>;
  readonly scrapeSeconds: Gauge<'target'>;
  readonly series: Gauge;
  readonly clients: Gauge;
}

export function createMonitorMetrics(registry: Registry): MonitorMetrics {
  return {
    scrapes: new FastCounter(
      'monitor_scrapes_total',
      'Scrapes of each target, by result (ok, down)',
      ['target', 'result'],
      registry,
    ),
    scrapeSeconds: new Gauge({
      name: 'monitor_scrape_duration_seconds',
      help: 'Duration of the last scrape of each target',
      labelNames: ['target'],
      registers: [registry],
    }),
    series: new Gauge({
      name: 'monitor_history_series',
      help: 'Series kept in the history store',
      registers: [registry],
    }),
    clients: new Gauge({
      name: 'monitor_event_clients',
      help: 'Open live-update (SSE) connections',
      registers: [registry],
    }),
  };
}
