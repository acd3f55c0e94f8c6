/**
 * Open a better-sqlite3 database the way every service store wants it (DESIGN.md rule 4):
 * WAL journal, a busy timeout, foreign keys on, a cached `prepare`, a `transaction` helper,
 * and schema migrations counted by `PRAGMA user_version`.
 *
 * Durability. `durability: 'promise'` is for state promised to a client (an ACKed DHCP
 * lease, a 200 OK'd SIP registration): it sets `synchronous=FULL`, so WAL is fsynced at
 * every commit and a committed transaction survives power loss. This has to be set on every
 * open: `synchronous` is per connection, and better-sqlite3 is built with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so a reopened WAL database otherwise runs at NORMAL,
 * where "a transaction committed in WAL mode with synchronous=NORMAL might roll back
 * following a power loss or system crash" (sqlite.org/pragma.html#pragma_synchronous).
 * `durability: 'cache'` (state that can be rebuilt) uses NORMAL: still safe against an
 * application crash, and no fsync per commit.
 *
 * Migrations. `migrations[i]` is SQL taking user_version i to i + 1; each runs in its own
 * transaction together with the user_version bump, so a crash mid-migration leaves the
 * previous version intact. A database newer than the code (user_version > migrations.length)
 * is refused (ERR_STORE_VERSION) rather than written by code that does not know its schema.
 *
 * Leaves out: down-migrations, read-only opens, manual WAL checkpoints (SQLite's automatic
 * checkpoint at 1000 pages stands), and async APIs (better-sqlite3 is synchronous by design;
 * each statement is short and local).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';

export type Durability = 'promise' | 'cache';

export interface StoreOptions {
  /** Database file, or ':memory:' for tests. The parent directory is created if missing. */
  file: string;
  /** SQL scripts; index i brings user_version i to i + 1. Append only, never edit. */
  migrations: readonly string[];
  durability: Durability;
  log?: Logger;
  /** How long a statement waits on another connection's lock; default 5000 ms, better-sqlite3's own default `timeout`. */
  busyTimeoutMs?: number;
}

export interface Store {
  readonly file: string;
  /** user_version after migrations: migrations.length. */
  readonly version: number;
  /** The raw connection, for what the helpers do not cover (pragmas, backups). */
  readonly db: Database.Database;
  /** A prepared statement, compiled once per SQL text and reused. */
  prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string): Database.Statement<P, R>;
  /**
   * Run fn in one transaction (BEGIN IMMEDIATE) and return its result; a throw rolls back.
   * IMMEDIATE takes the write lock up front, so a second connection waits on busy_timeout
   * instead of failing with SQLITE_BUSY when a read transaction tries to upgrade. Nested
   * calls become savepoints. fn must be synchronous.
   */
  transaction<T>(fn: () => T): T;
  /** Close the connection; later calls do nothing. */
  close(): void;
}

export class StoreError extends Error {
  constructor(
    readonly code: 'ERR_STORE_OPEN' | 'ERR_STORE_VERSION' | 'ERR_STORE_MIGRATION',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export function openStore(opts: StoreOptions): Store {
  const { file, migrations, durability, log } = opts;
  const memory = file === ':memory:' || file === '';
  let db: Database.Database | undefined;
  try {
    if (!memory) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)}`);
    // The first statement that reads the file: a corrupt or foreign file fails here.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (!memory && mode !== 'wal') log?.warn({ file, mode }, 'store could not enable WAL');
    db.pragma(`synchronous = ${durability === 'promise' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db?.close();
    throw new StoreError('ERR_STORE_OPEN', `${file}: cannot open database: ${message(err)}`, {
      cause: err,
    });
  }

  try {
    migrate(db, file, migrations, log);
  } catch (err) {
    db.close();
    throw err;
  }

  const conn = db;
  const statements = new Map<string, Database.Statement>();
  return {
    file,
    version: migrations.length,
    db: conn,
    prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string) {
      let st = statements.get(sql);
      if (st === undefined) {
        st = conn.prepare(sql);
        statements.set(sql, st);
      }
      return st as unknown as Database.Statement<P, R>;
    },
    transaction<T>(fn: () => T): T {
      return conn.transaction(fn).immediate();
    },
    close() {
      statements.clear();
      if (conn.open) conn.close();
    },
  };
}

function migrate(
  db: Database.Database,
  file: string,
  migrations: readonly string[],
  log: Logger | undefined,
): void {
  const start = readVersion(db, file);
  if (start > migrations.length) {
    throw new StoreError(
      'ERR_STORE_VERSION',
      `${file}: database schema version ${start} is newer than this code knows ` +
        `(${migrations.length}); refusing to open it. Was it written by a newer netsvc?`,
    );
  }
  for (let v = start; v < migrations.length; v++) {
    const sql = migrations[v]!;
    try {
      db.transaction(() => {
        db.exec(sql);
        // user_version lives in the database header, so it commits or rolls back with the
        // migration that it counts.
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    } catch (err) {
      throw new StoreError(
        'ERR_STORE_MIGRATION',
        `${file}: migration ${v} (user_version ${v} → ${v + 1}) failed: ${message(err)}`,
        { cause: err },
      );
    }
    log?.info({ file, from: v, to: v + 1 }, 'store migrated');
  }
}

function readVersion(db: Database.Database, file: string): number {
  const v = db.pragma('user_version', { simple: true });
  if (typeof v !== 'number') {
    throw new StoreError('ERR_STORE_OPEN', `${file}: cannot read user_version`);
  }
  return v;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
