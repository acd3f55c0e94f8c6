/**
 * The registrar's storage port and its SQLite implementation (DESIGN.md rule 4).
 *
 * A binding (RFC 3261 §10.3) is keyed by (aor, contact key); it keeps the Call-ID and CSeq
 * of the REGISTER that made it (§10.3 step 7), its absolute expiry, and where the request
 * came from (RFC 3581 received/rport: the address to reach a phone behind NAT) and the
 * listener it came in on. `commit()` writes one turn's REGISTERs in one transaction; with
 * `durability: 'promise'` (synchronous=FULL) it is on disk before any 200 OK goes out.
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
  /** The listener it registered through (Endpoint.local); requests to it leave from there. */
  readonly local?: string | undefined;
}

export interface BindingChanges {
  readonly upsert: readonly Binding[];
  readonly remove: readonly { readonly aor: string; readonly contactKey: string }[];
}

export interface BindingStore {
  all(): Binding[];
  /**
   * Write the changes of several REGISTERs (one event-loop turn, src/store/group-commit.ts)
   * in one transaction, in order; durable when it returns. Throws if it did not commit.
   */
  commit(changes: readonly BindingChanges[]): void;
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
  `ALTER TABLE binding ADD COLUMN local TEXT;`,
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
  local: string | null;
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
      local: r.local ?? undefined,
    }));
  }

  commit(batch: readonly BindingChanges[]): void {
    const up = this.store.prepare(
      `INSERT INTO binding (aor, contact_key, contact, call_id, cseq, expires_at, q, transport, source_address, source_port, user_agent, local)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (aor, contact_key) DO UPDATE SET contact = excluded.contact, call_id = excluded.call_id,
         cseq = excluded.cseq, expires_at = excluded.expires_at, q = excluded.q, transport = excluded.transport,
         source_address = excluded.source_address, source_port = excluded.source_port,
         user_agent = excluded.user_agent, local = excluded.local`,
    );
    const del = this.store.prepare('DELETE FROM binding WHERE aor = ? AND contact_key = ?');
    this.store.transaction(() => {
      for (const changes of batch) {
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
            b.local ?? null,
          );
        }
      }
    });
  }

  close(): void {
    this.store.close();
  }
}
