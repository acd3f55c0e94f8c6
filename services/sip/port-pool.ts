/**
 * RTP/RTCP port pairs from a configured range.
 *
 * RFC 3550 §11: "For UDP and similar protocols, RTP SHOULD use an even destination port
 * number and the corresponding RTCP stream SHOULD use the next higher (odd) destination
 * port number". So the pool hands out even ports p with p+1 ≤ max; RTCP is p+1.
 *
 * Order: the free list starts shuffled with the injected Rng and freed ports go to its
 * tail, so (1) a port is not predictable from the previous call's (rtpengine and Asterisk
 * also start from a random port; a guessable port is half of an RTP-bleed attack) and (2)
 * a just-freed port is reused last, so late packets of an ended call do not land in a new
 * one. The adapter gives back a pair it could not bind (taken by another process) with
 * `release()`: it goes to the tail too and is tried again only after every other free pair.
 *
 * Sans-I/O: no sockets here. Leaves out: per-interface pools (one range serves all).
 */
import type { Rng } from '../../src/clock.js';

export interface PortPair {
  readonly rtp: number;
  readonly rtcp: number;
}

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export type PortRangeError = { code: 'ERR_SIP_PORT_RANGE'; message: string };

/** Check a configured range: within 1024-65535 and holding at least one even/odd pair. */
export function checkPortRange(range: PortRange): PortRangeError | undefined {
  const { min, max } = range;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535) {
    return { code: 'ERR_SIP_PORT_RANGE', message: `port range ${min}-${max} outside 1024-65535` };
  }
  const first = min + (min & 1);
  if (first + 1 > max) {
    return {
      code: 'ERR_SIP_PORT_RANGE',
      message: `port range ${min}-${max} holds no even/odd pair`,
    };
  }
  return undefined;
}

export class PortPool {
  /** Ring buffer of free even ports. */
  private readonly ring: Int32Array;
  private head = 0;
  private count = 0;
  private readonly used = new Set<number>();
  readonly first: number;
  readonly capacity: number;

  constructor(
    readonly range: PortRange,
    rng?: Rng,
  ) {
    const err = checkPortRange(range);
    if (err) throw new RangeError(err.message);
    this.first = range.min + (range.min & 1);
    this.capacity = Math.floor((range.max - this.first + 1) / 2);
    this.ring = new Int32Array(this.capacity);
    for (let i = 0; i < this.capacity; i++) this.ring[i] = this.first + 2 * i;
    if (rng) {
      // Fisher-Yates with the injected generator.
      for (let i = this.capacity - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const tmp = this.ring[i]!;
        this.ring[i] = this.ring[j]!;
        this.ring[j] = tmp;
      }
    }
    this.count = this.capacity;
  }

  get inUse(): number {
    return this.used.size;
  }

  get free(): number {
    return this.count;
  }

  /** Take a pair; undefined when the range is exhausted. */
  allocate(): PortPair | undefined {
    if (this.count === 0) return undefined;
    const rtp = this.ring[this.head]!;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    this.used.add(rtp);
    return { rtp, rtcp: rtp + 1 };
  }

  /** Give a pair back (by its RTP port). Unknown or already free ports are ignored. */
  release(rtp: number): boolean {
    if (!this.used.delete(rtp)) return false;
    this.ring[(this.head + this.count) % this.capacity] = rtp;
    this.count++;
    return true;
  }

  isAllocated(rtp: number): boolean {
    return this.used.has(rtp);
  }
}
