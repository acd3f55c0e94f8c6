/**
 * The set of zones this server is authoritative for, and the choice of the zone for a
 * name: the one with the longest origin that is an ancestor of (or equal to) the name,
 * as RFC 1034 §4.3.2 step 2 has it ("the zone which is the nearest ancestor to QNAME").
 */
import { labelOffsets, nameKey } from './name.js';
import type { Zone } from './zone.js';

export class ZoneSet {
  private readonly byOrigin = new Map<string, Zone>();

  constructor(zones: Iterable<Zone>) {
    for (const z of zones) this.byOrigin.set(z.originKey, z);
  }

  get size(): number {
    return this.byOrigin.size;
  }

  zones(): IterableIterator<Zone> {
    return this.byOrigin.values();
  }

  /** Exact origin match. */
  get(origin: Uint8Array): Zone | undefined {
    return this.byOrigin.get(nameKey(origin));
  }

  /** The closest enclosing zone of `name`, if any. `key` may pass a precomputed nameKey. */
  find(name: Uint8Array, key = nameKey(name)): Zone | undefined {
    const offs = labelOffsets(name);
    for (const o of offs) {
      const z = this.byOrigin.get(key.slice(o));
      if (z) return z;
    }
    return this.byOrigin.get('\u0000');
  }
}
