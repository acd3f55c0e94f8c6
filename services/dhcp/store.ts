/**
 * Lease storage: the small port the adapter needs (load everything at start, commit a
 * batch of changes durably) and its SQLite implementation.
 *
 * Durability (RFC 2131 §3.1 step 4: "The server selected in the DHCPREQUEST message
 * commits the binding for the client to persistent storage and responds with a DHCPACK";
 * DESIGN.md rule 4): the database is opened with
 * `durability: 'promise'` (WAL, `synchronous=FULL`), so `commit()` returns only after the
 * WAL is fsynced. The adapter sends an ACK only after the commit that holds its lease
 * returned. Several packets that arrive together share one transaction (group commit), so
 * the fsync cost is paid per batch, not per lease.
 *
 * Leaves out: lease history, a CSV/memfile backend, lease-file compaction (SQLite's WAL
 * checkpoint does that job).
 */
import type { Logger } from 'pino';
import { openStore, type Store } from '../../src/store/sqlite.js';
import type { Lease, LeaseChange, LeaseState } from './lease.js';

export interface LeaseStore {
  /** Every stored lease. */
  load(): Lease[];
  /** The stored lease of one address, or undefined. */
  get(address: number): Lease | undefined;
  /** Apply the changes in one transaction; durable when it returns. Throws on failure. */
  commit(changes: readonly LeaseChange[]): void;
  close(): void;
}

const MIGRATIONS = [
  `CREATE TABLE lease (
     address    INTEGER PRIMARY KEY,  -- IPv4 as an unsigned 32-bit integer
     subnet     TEXT NOT NULL,
     client_key TEXT NOT NULL,        -- 'id:<option 61 hex>' or 'hw:<htype><chaddr hex>'; '' when declined
     chaddr     TEXT NOT NULL,
     hostname   TEXT,
     state      TEXT NOT NULL CHECK (state IN ('bound', 'released', 'expired', 'declined')),
     starts     INTEGER NOT NULL,     -- ms since the epoch
     ends       INTEGER NOT NULL
   );
   CREATE INDEX lease_client ON lease (client_key);`,
];

interface Row {
  address: number;
  subnet: string;
  client_key: string;
  chaddr: string;
  hostname: string | null;
  state: LeaseState;
  starts: number;
  ends: number;
}

function fromRow(r: Row): Lease {
  return {
    address: r.address,
    subnet: r.subnet,
    clientKey: r.client_key,
    chaddr: r.chaddr,
    hostname: r.hostname,
    state: r.state,
    starts: r.starts,
    ends: r.ends,
  };
}

export class SqliteLeaseStore implements LeaseStore {
  readonly #store: Store;

  constructor(file: string, log?: Logger) {
    this.#store = openStore({
      file,
      migrations: MIGRATIONS,
      durability: 'promise',
      ...(log ? { log } : {}),
    });
  }

  get file(): string {
    return this.#store.file;
  }

  load(): Lease[] {
    return this.#store.prepare<[], Row>('SELECT * FROM lease ORDER BY address').all().map(fromRow);
  }

  get(address: number): Lease | undefined {
    const r = this.#store
      .prepare<[number], Row>('SELECT * FROM lease WHERE address = ?')
      .get(address);
    return r ? fromRow(r) : undefined;
  }

  commit(changes: readonly LeaseChange[]): void {
    if (changes.length === 0) return;
    const put = this.#store.prepare(
      'INSERT OR REPLACE INTO lease (address, subnet, client_key, chaddr, hostname, state, starts, ends) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const del = this.#store.prepare('DELETE FROM lease WHERE address = ?');
    this.#store.transaction(() => {
      for (const c of changes) {
        if ('put' in c) {
          const l = c.put;
          put.run(
            l.address,
            l.subnet,
            l.clientKey,
            l.chaddr,
            l.hostname,
            l.state,
            l.starts,
            l.ends,
          );
        } else del.run(c.del);
      }
    });
  }

  close(): void {
    this.#store.close();
  }
}
