/**
 * Who holds the connection slots of one listener, and whom to let go when they run out.
 * Two rules against hostile clients (slowloris: many connections that never finish their
 * request head):
 *
 * - A cap per client address (`ConnectionsPerSource`, shared by the HTTP and HTTPS
 *   listeners): past it the new connection is refused at accept. Precedent: nginx
 *   `limit_conn` keyed by `$binary_remote_addr` (nginx answers 503 after reading the request;
 *   refusing at accept costs less and tells the client the same).
 * - At the global cap (`maxConnections`) the new connection is let in and the connection
 *   that has waited longest for a request head is closed instead: a fresh connection, or a
 *   keep-alive connection between requests, both still owe a head (RFC 9112 §2.1). Only when
 *   every slot is mid-request is the new one refused. Precedent: nginx's "reusable
 *   connections" — under `worker_connections` pressure it closes idle keep-alive
 *   connections first (ngx_drain_connections) rather than refuse. A client whose head is on
 *   its way is closed only after `maxConnections` newer connections arrived before its head
 *   did, so legitimate requests get through while slow ones are shed oldest first.
 *
 * HTTP/2 fits unchanged (server.ts): one slot per TCP connection, each stream is a request
 * (`headReceived` when its HEADERS arrived, `responseDone` when it closed), so a connection
 * with no open stream waits for a head like an idle keep-alive connection (RFC 9113 §5.1).
 *
 * Pure bookkeeping keyed by any object (the adapter uses the TCP socket); no sockets, no
 * timers. "Oldest" is the order in which connections began waiting for a head, kept by the
 * insertion order of a Map, so every operation is O(1).
 */
import type { ConnectionsPerSource } from '../../src/net/connections-per-source.js';

export type ShedReason = 'per_source_cap' | 'evicted_header_incomplete' | 'max_connections';

export type Admission<K> =
  /** Take the slot; when `evict` is set, close that connection (already released here). */
  | { readonly accept: true; readonly evict?: K }
  | { readonly accept: false; readonly reason: 'per_source_cap' | 'max_connections' };

interface Slot {
  readonly source: string | undefined;
  /** Requests whose head arrived and whose response is not finished (pipelining: > 1). */
  inFlight: number;
}

export class ConnectionSlots<K> {
  private readonly slots = new Map<K, Slot>();
  /** Connections waiting for a request head, longest waiting first. */
  private readonly waiting = new Set<K>();

  /** `maxConnections` ≥ 1 slots on this listener; `perSource` may be shared by listeners. */
  constructor(
    private readonly maxConnections: number,
    private readonly perSource: ConnectionsPerSource,
  ) {}

  /** A connection was accepted from `source`. */
  open(key: K, source: string | undefined): Admission<K> {
    if (this.slots.has(key)) return { accept: true };
    if (!this.perSource.acquire(source)) return { accept: false, reason: 'per_source_cap' };
    let evict: K | undefined;
    if (this.slots.size >= this.maxConnections) {
      evict = this.waiting.values().next().value;
      if (evict === undefined) {
        this.perSource.release(source);
        return { accept: false, reason: 'max_connections' };
      }
      this.close(evict);
    }
    this.slots.set(key, { source, inFlight: 0 });
    this.waiting.add(key);
    return evict === undefined ? { accept: true } : { accept: true, evict };
  }

  /** A request head was fully received on `key` (Node's 'request' event). */
  headReceived(key: K): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    slot.inFlight++;
    this.waiting.delete(key);
  }

  /** A response on `key` ended; with none left the connection waits for a head again. */
  responseDone(key: K): void {
    const slot = this.slots.get(key);
    if (slot === undefined || slot.inFlight === 0) return;
    slot.inFlight--;
    // re-inserted at the end: the keep-alive wait starts now
    if (slot.inFlight === 0) this.waiting.add(key);
  }

  /** The connection is gone; safe to call more than once and for refused connections. */
  close(key: K): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.waiting.delete(key);
    this.perSource.release(slot.source);
  }

  /** Whether `key` holds a slot. */
  has(key: K): boolean {
    return this.slots.has(key);
  }

  /** Whether `key` holds a slot and owes a request head. */
  waitingForHead(key: K): boolean {
    return this.waiting.has(key);
  }

  get size(): number {
    return this.slots.size;
  }
}
