/** Messages between the DNS service and its UDP worker processes (worker-pool-adapter.ts). */
import type { CounterEntry, HistogramSnapshot } from '../../src/metrics.js';
import type { DnsConfig } from './config.js';
import type { PackedZone } from './zone-pack.js';

export type ParentMessage =
  | { type: 'init'; cfg: DnsConfig; configDir: string; id: string; sockets: number }
  | { type: 'socket'; index: number }
  | { type: 'reload' }
  /**
   * The zones only the parent can build (dynamic: UPDATE journal; secondary: transfers),
   * as it serves them now; secondaries it has no copy of are `unavailable` (SERVFAIL).
   */
  | { type: 'zones'; seq: number; zones: PackedZone[]; unavailable: Uint8Array[] }
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
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'report'; report: WorkerReport }
  /** The zones of push `seq` are served (the parent then sends the UPDATEs' NOERRORs). */
  | { type: 'zones-applied'; seq: number }
  /**
   * A datagram only the parent can handle (an UPDATE, a NOTIFY or an answer to ours), read
   * by this worker from shared socket `socket`; the parent answers on that same socket.
   */
  | { type: 'datagram'; socket: number; msg: Uint8Array; address: string; port: number };
