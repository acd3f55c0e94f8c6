/**
 * The registrar's storage port and its SQLite implementation (DESIGN.md rule 4).
 *
 * A binding (RFC 3261 §10.3) is keyed by (aor, contact key); it keeps the Call-ID and CSeq
 * of the REGISTER that made it (§10.3 step 7), its absolute expiry, and where the request
 * came from (RFC 3581 received/rport: the address to reach a phone behind NAT). `apply()`
 * writes one REGISTER's changes in one transaction; with `durability: 'promise'`
 * (synchronous=FULL) the commit is on disk before the 200 OK goes out.
 */
import { openStore, type Store } from '../../src/store/sqlite.js';
import type { Logger } from 'pino';
import type { TransportName } from './transport.js';

export interface Binding {
  readonly aor: string;
  /** uriKey() of the contact URI (§19.1.4 comparison). */
  readonly contactKey: string;
  /** The Contact value's URI as sent. */
  readonly contact: string;
  readonly callId: string;
  readonly cseq: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly q: number | undefined;
  readonly transport: TransportName;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly userAgent: string | undefined;
}

export interface BindingChanges {
  readonly upsert: readonly Binding[];
  readonly remove: readonly { readonly aor: string; readonly contactKey: string }[];
}

export interface BindingStore {
  all(): Binding[];
  /** Record one REGISTER's changes; with group commit they reach disk at the next flush(). */
  apply(changes: BindingChanges): void;
  /** True while applied changes are not yet committed (the adapter holds the replies). */
  readonly pending?: boolean;
  /** Commit what apply() recorded. Throws if the commit fails. */
  flush?(): void;
  close(): void;
}

const MIGRATIONS = [
  `CREATE TABLE binding (
     aor TEXT NOT NULL,
     contact_key TEXT NOT NULL,
     contact TEXT NOT NULL,
     call_id TEXT NOT NULL,
     cseq INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     q REAL,
     transport TEXT NOT NULL,
     source_address TEXT NOT NULL,
     source_port INTEGER NOT NULL,
     user_agent TEXT,
     PRIMARY KEY (aor, contact_key)
   ) WITHOUT ROWID;
   CREATE INDEX binding_expiry ON binding (expires_at);`,
];

interface Row {
  aor: string;
  contact_key: string;
  contact: string;
  call_id: string;
  cseq: number;
  expires_at: number;
  q: number | null;
  transport: string;
  source_address: string;
  source_port: number;
  user_agent: string | null;
}

export class SqliteBindingStore implements BindingStore {
  private readonly store: Store;

  constructor(file: string, log?: Logger) {
    this.store = openStore({
      file,
      migrations: MIGRATIONS,
      durability: 'promise',
      ...(log ? { log } : {}),
    });
  }

  all(): Binding[] {
    const rows = this.store.prepare<[], Row>('SELECT * FROM binding').all();
    return rows.map((r) => ({
      aor: r.aor,
      contactKey: r.contact_key,
      contact: r.contact,
      callId: r.call_id,
      cseq: r.cseq,
      expiresAt: r.expires_at,
      q: r.q ?? undefined,
      transport: r.transport === 'tcp' ? 'tcp' : 'udp',
      sourceAddress: r.source_address,
      sourcePort: r.source_port,
      userAgent: r.user_agent ?? undefined,
    }));
  }

  private open = false;

  get pending(): boolean {
    return this.open;
  }

  /**
   * Group commit: the REGISTERs handled in one event-loop turn share one transaction, and
   * the adapter sends their 200 OKs only after flush() has committed it (synchronous=FULL:
   * on disk). One fsync per turn instead of one per REGISTER: the commit was half of the
   * CPU profile at 1600 REGISTER/s. A safety flush runs on the next turn in any case.
   */
  apply(changes: BindingChanges): void {
    if (changes.upsert.length === 0 && changes.remove.length === 0) return;
    const up = this.store.prepare(
      `INSERT INTO binding (aor, contact_key, contact, call_id, cseq, expires_at, q, transport, source_address, source_port, user_agent)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (aor, contact_key) DO UPDATE SET contact = excluded.contact, call_id = excluded.call_id,
         cseq = excluded.cseq, expires_at = excluded.expires_at, q = excluded.q, transport = excluded.transport,
         source_address = excluded.source_address, source_port = excluded.source_port, user_agent = excluded.user_agent`,
    );
    const del = this.store.prepare('DELETE FROM binding WHERE aor = ? AND contact_key = ?');
    if (!this.open) {
      this.store.db.exec('BEGIN IMMEDIATE');
      this.open = true;
      setImmediate(() => {
        try {
          this.flush();
        } catch {
          /* the adapter's flush reports it */
        }
      });
    }
    for (const r of changes.remove) del.run(r.aor, r.contactKey);
    for (const b of changes.upsert) {
      up.run(
        b.aor,
        b.contactKey,
        b.contact,
        b.callId,
        b.cseq,
        b.expiresAt,
        b.q ?? null,
        b.transport,
        b.sourceAddress,
        b.sourcePort,
        b.userAgent ?? null,
      );
    }
  }

  flush(): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.store.db.exec('COMMIT');
    } catch (e) {
      try {
        this.store.db.exec('ROLLBACK');
      } catch {
        /* already rolled back */
      }
      throw e;
    }
  }

  close(): void {
    this.flush();
    this.store.close();
  }
}
