/**
 * The set of zones this server is authoritative for, and the choice of the zone for a
 * name: the one with the longest origin that is an ancestor of (or equal to) the name,
 * as RFC 1034 §4.3.2 step 2 has it ("the zone which is the nearest ancestor to QNAME").
 */
import { labelOffsets, nameKey } from './name.js';
import type { Zone } from './zone.js';

export class ZoneSet {
  private readonly byOrigin = new Map<string, Zone | 'unavailable'>();
  private readonly loaded: Zone[] = [];

  /**
   * `unavailable`: origins of secondary zones we are authoritative for but hold no copy
   * of that may be served (none transferred yet, or expired: RFC 1034 §4.3.5). Names in
   * them answer SERVFAIL rather than falling to a parent zone or REFUSED.
   */
  constructor(zones: Iterable<Zone>, unavailable: Iterable<Uint8Array> = []) {
    for (const o of unavailable) this.byOrigin.set(nameKey(o), 'unavailable');
    for (const z of zones) {
      this.byOrigin.set(z.originKey, z);
      this.loaded.push(z);
    }
  }

  /** Zones loaded (unavailable secondaries not counted). */
  get size(): number {
    return this.loaded.length;
  }

  zones(): IterableIterator<Zone> {
    return this.loaded.values();
  }

  /** Exact origin match of a loaded zone. */
  get(origin: Uint8Array): Zone | undefined {
    const z = this.byOrigin.get(nameKey(origin));
    return z === 'unavailable' ? undefined : z;
  }

  /** Whether `origin` is a secondary zone of ours with no copy to serve. */
  unavailable(origin: Uint8Array): boolean {
    return this.byOrigin.get(nameKey(origin)) === 'unavailable';
  }

  /**
   * The closest enclosing zone of `name`, if any; 'unavailable' when that is a secondary
   * zone with no servable copy. `key` may pass a precomputed nameKey.
   */
  find(name: Uint8Array, key = nameKey(name)): Zone | 'unavailable' | undefined {
    const offs = labelOffsets(name);
    for (const o of offs) {
      const z = this.byOrigin.get(key.slice(o));
      if (z) return z;
    }
    return this.byOrigin.get('\u0000');
  }
}
