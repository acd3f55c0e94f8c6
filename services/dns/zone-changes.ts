/**
 * A zone's records as a changeable set, for dynamic zones: the file's records with the
 * journal replayed on top (RFC 2136 changes in order), the ZoneView update.ts decides on,
 * and the list a new Zone is built from after each committed change. Pure.
 */
import { nameKey } from './name.js';
import type { RR } from './rr.js';
import type { JournalEntry } from './journal-store.js';
import type { ZoneView } from './update.js';

const setKey = (owner: Uint8Array, type: number): string => `${nameKey(owner)}|${type}`;
const rrId = (r: RR): string =>
  `${setKey(r.owner, r.type)}|${r.ttl}|${Buffer.from(r.rdata).toString('hex')}`;

export class ZoneRecords {
  private readonly sets = new Map<string, RR[]>();
  private readonly names = new Map<string, Map<number, number>>();

  constructor(
    readonly origin: Uint8Array,
    records: Iterable<RR>,
  ) {
    for (const r of records) this.add(r);
  }

  private add(r: RR): void {
    const k = setKey(r.owner, r.type);
    const set = this.sets.get(k);
    if (set) {
      const id = rrId(r);
      if (set.some((x) => rrId(x) === id)) return;
      set.push(r);
    } else this.sets.set(k, [r]);
    const nk = nameKey(r.owner);
    const types = this.names.get(nk) ?? new Map<number, number>();
    types.set(r.type, (types.get(r.type) ?? 0) + 1);
    this.names.set(nk, types);
  }

  private remove(r: RR): void {
    const k = setKey(r.owner, r.type);
    const set = this.sets.get(k);
    if (!set) return;
    const id = rrId(r);
    const i = set.findIndex((x) => rrId(x) === id);
    if (i < 0) return;
    set.splice(i, 1);
    if (set.length === 0) this.sets.delete(k);
    const nk = nameKey(r.owner);
    const types = this.names.get(nk)!;
    const n = types.get(r.type)! - 1;
    if (n === 0) types.delete(r.type);
    else types.set(r.type, n);
    if (types.size === 0) this.names.delete(nk);
  }

  /** Apply one transaction: its deletes, then its adds (update.ts produced them so). */
  apply(e: Pick<JournalEntry, 'deletes' | 'adds'>): void {
    for (const r of e.deletes) this.remove(r);
    for (const r of e.adds) this.add(r);
  }

  view(): ZoneView {
    return {
      origin: this.origin,
      rrset: (name, type) => this.sets.get(setKey(name, type)) ?? [],
      types: (name) => [...(this.names.get(nameKey(name))?.keys() ?? [])],
    };
  }

  *records(): Generator<RR> {
    for (const set of this.sets.values()) yield* set;
  }

  get size(): number {
    let n = 0;
    for (const set of this.sets.values()) n += set.length;
    return n;
  }
}
