/**
 * The dynamic-update journal (BIND's .jnl), in SQLite with synchronous=FULL: every UPDATE
 * that changed a zone is one transaction, committed before the reply, holding the records
 * deleted and added and the serials it went from and to. The zone file stays the
 * operator's; at load the journal is replayed on top of it, and IXFR (RFC 1995) is served
 * from the same rows.
 *
 * A journal whose first transaction does not start at the zone file's serial is stale (the
 * file was edited without freezing dynamic updates, BIND's `rndc freeze`): it is kept
 * aside, not replayed, and the load says so (BIND refuses to load such a zone instead;
 * serving the file as written is the safer default for a small site).
 */
import { openStore, type Store } from '../../src/store/sqlite.js';
import type { RR } from './rr.js';
import { nameToText } from './name.js';

export interface JournalEntry {
  readonly from: number;
  readonly to: number;
  readonly deletes: readonly RR[];
  readonly adds: readonly RR[];
}

const MIGRATIONS = [
  `CREATE TABLE txn (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     zone TEXT NOT NULL,
     serial_from INTEGER NOT NULL,
     serial_to INTEGER NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX txn_zone ON txn (zone, id);
   CREATE TABLE change (
     txn INTEGER NOT NULL REFERENCES txn (id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     op INTEGER NOT NULL,            -- 0 delete, 1 add
     owner BLOB NOT NULL,            -- uncompressed wire name
     type INTEGER NOT NULL,
     class INTEGER NOT NULL,
     ttl INTEGER NOT NULL,
     rdata BLOB NOT NULL,
     PRIMARY KEY (txn, seq)
   );`,
];

/** Zone keys are the origin in text, lower case, absolute. */
const zoneKey = (origin: Uint8Array): string => nameToText(origin).toLowerCase();

export class JournalStore {
  private readonly store: Store;

  constructor(file: string) {
    this.store = openStore({ file, migrations: MIGRATIONS, durability: 'promise' });
  }

  /** Append one transaction; returns once it is on disk (synchronous=FULL). */
  append(origin: Uint8Array, entry: JournalEntry, now: number): void {
    const zone = zoneKey(origin);
    this.store.transaction(() => {
      const id = this.store
        .prepare('INSERT INTO txn (zone, serial_from, serial_to, at) VALUES (?, ?, ?, ?)')
        .run(zone, entry.from, entry.to, Math.floor(now)).lastInsertRowid;
      const ins = this.store.prepare(
        'INSERT INTO change (txn, seq, op, owner, type, class, ttl, rdata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      let seq = 0;
      for (const r of entry.deletes)
        ins.run(id, seq++, 0, Buffer.from(r.owner), r.type, r.class, r.ttl, Buffer.from(r.rdata));
      for (const r of entry.adds)
        ins.run(id, seq++, 1, Buffer.from(r.owner), r.type, r.class, r.ttl, Buffer.from(r.rdata));
    });
  }

  /** Several transactions (of one or more zones) in one commit: one fsync for the batch. */
  appendAll(items: readonly { origin: Uint8Array; entry: JournalEntry }[], now: number): void {
    this.store.transaction(() => {
      for (const i of items) this.append(i.origin, i.entry, now);
    });
  }

  /** Every transaction of the zone, oldest first. */
  entries(origin: Uint8Array): JournalEntry[] {
    const rows = this.store
      .prepare<[string], { id: number; serial_from: number; serial_to: number }>(
        'SELECT id, serial_from, serial_to FROM txn WHERE zone = ? ORDER BY id',
      )
      .all(zoneKey(origin));
    const changes = this.store.prepare<
      [number],
      { op: number; owner: Buffer; type: number; class: number; ttl: number; rdata: Buffer }
    >('SELECT op, owner, type, class, ttl, rdata FROM change WHERE txn = ? ORDER BY seq');
    return rows.map((t) => {
      const deletes: RR[] = [];
      const adds: RR[] = [];
      for (const c of changes.all(t.id)) {
        const rr: RR = {
          owner: new Uint8Array(c.owner),
          type: c.type,
          class: c.class,
          ttl: c.ttl,
          rdata: new Uint8Array(c.rdata),
        };
        (c.op === 0 ? deletes : adds).push(rr);
      }
      return { from: t.serial_from, to: t.serial_to, deletes, adds };
    });
  }

  /**
   * The transactions to replay on a zone file whose SOA serial is `fileSerial`: the chain
   * from that serial on, or `stale` when the journal starts elsewhere (see the header).
   */
  replayFrom(origin: Uint8Array, fileSerial: number): { entries: JournalEntry[]; stale: boolean } {
    const all = this.entries(origin);
    if (all.length === 0) return { entries: [], stale: false };
    const start = all.findIndex((e) => e.from === fileSerial);
    if (start < 0) return { entries: [], stale: true };
    const chain: JournalEntry[] = [];
    let serial = fileSerial;
    for (const e of all.slice(start)) {
      if (e.from !== serial) break;
      chain.push(e);
      serial = e.to;
    }
    return { entries: chain, stale: false };
  }

  /** Forget a zone's journal (after the operator folded it into the file). */
  clear(origin: Uint8Array): void {
    this.store.prepare('DELETE FROM txn WHERE zone = ?').run(zoneKey(origin));
  }

  close(): void {
    this.store.close();
  }
}
