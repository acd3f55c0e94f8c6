/** Messages between the DNS service and its UDP worker processes (worker-pool-adapter.ts). */
import type { CounterEntry, HistogramSnapshot } from '../../src/metrics.js';
import type { DnsConfig } from './config.js';

export type ParentMessage =
  | { type: 'init'; cfg: DnsConfig; configDir: string; id: string; sockets: number }
  | { type: 'socket'; index: number }
  | { type: 'reload' }
  | { type: 'stop' };

export interface WorkerReport {
  queries: CounterEntry[];
  dropped: CounterEntry[];
  cacheHits: CounterEntry[];
  truncated: CounterEntry[];
  errors: CounterEntry[];
  latency: HistogramSnapshot;
}

export type WorkerMessage =
  { type: 'ready' } | { type: 'failed'; error: string } | { type: 'report'; report: WorkerReport };
