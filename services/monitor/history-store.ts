/**
 * The bounded history: samples at the scrape interval for `rawHours`, then averages over
 * `rollupSeconds` buckets (with min and max) for `rollupDays`, in one SQLite file
 * (durability 'cache': history can be lost on power failure without breaking a promise).
 *
 * Size: ~120 series × 8640 samples/day ≈ 1 M rows of (series, ts, value) in a WITHOUT ROWID
 * table, about 25 MB; rollups add 120 × 288 rows a day. Writes are one transaction per
 * scrape. Each completed rollup bucket is computed once from the raw rows (rrdtool's
 * consolidation, AVERAGE/MIN/MAX), and the pruning of expired rows runs with it.
 *
 * Reads (`query`) return series aligned on one time axis, as uPlot wants them, averaged
 * into at most `points` buckets; the raw table serves ranges it still covers, the rollups
 * the rest.
 */
import { openStore, type Store } from '../../src/store/sqlite.js';

const MIGRATIONS = [
  `CREATE TABLE series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
   CREATE TABLE samples (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
     PRIMARY KEY (series, ts)) WITHOUT ROWID;
   CREATE INDEX samples_ts ON samples (ts);
   CREATE TABLE rollups (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
     min REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;
   CREATE INDEX rollups_ts ON rollups (ts);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
];

export interface HistoryOptions {
  readonly rawSeconds: number;
  readonly rollupSeconds: number;
  readonly rollupKeepSeconds: number;
}

export interface SeriesQuery {
  /** Keys starting with any of these prefixes. */
  readonly prefixes: readonly string[];
  /** Unix seconds, inclusive. */
  readonly from: number;
  readonly to: number;
  readonly points: number;
}

export interface AlignedSeries {
  readonly from: number;
  readonly to: number;
  /** Bucket width in seconds. */
  readonly step: number;
  /** Bucket start times (unix seconds). */
  readonly t: number[];
  /** Key → value per t (null where the bucket had no sample). */
  readonly series: Record<string, (number | null)[]>;
}

export class HistoryStore {
  private readonly store: Store;
  private readonly ids = new Map<string, number>();

  constructor(
    file: string,
    private readonly opts: HistoryOptions,
  ) {
    this.store = openStore({ file, migrations: MIGRATIONS, durability: 'cache' });
    for (const r of this.store
      .prepare<[], { id: number; key: string }>('SELECT id, key FROM series')
      .all()) {
      this.ids.set(r.key, r.id);
    }
  }

  private idOf(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = Number(
        this.store.prepare('INSERT INTO series (key) VALUES (?)').run(key).lastInsertRowid,
      );
      this.ids.set(key, id);
    }
    return id;
  }

  keys(): string[] {
    return [...this.ids.keys()].sort();
  }

  /** Store one scrape's values at `ts` (unix seconds); rolls up and prunes when a bucket closes. */
  insert(ts: number, values: ReadonlyMap<string, number>): void {
    const put = this.store.prepare(
      'INSERT OR REPLACE INTO samples (series, ts, value) VALUES (?, ?, ?)',
    );
    this.store.transaction(() => {
      for (const [k, v] of values) if (Number.isFinite(v)) put.run(this.idOf(k), ts, v);
      this.rollup(ts);
    });
  }

  /** Consolidate every complete bucket since the last one done, then prune expired rows. */
  private rollup(now: number): void {
    const w = this.opts.rollupSeconds;
    const current = Math.floor(now / w) * w;
    const row = this.store
      .prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'rolled'")
      .get();
    let next = row?.value;
    if (next === undefined) {
      // First run: start from the oldest raw sample.
      const oldest = this.store
        .prepare<[], { ts: number | null }>('SELECT min(ts) AS ts FROM samples')
        .get()?.ts;
      next = Math.floor((oldest ?? now) / w) * w;
    }
    if (next >= current) {
      if (row === undefined) this.setRolled(next);
      return;
    }
    this.store
      .prepare(
        `INSERT OR REPLACE INTO rollups (series, ts, value, min, max)
         SELECT series, ts - ts % ? AS b, avg(value), min(value), max(value) FROM samples
         WHERE ts >= ? AND ts < ? GROUP BY series, b`,
      )
      .run(w, next, current);
    this.setRolled(current);
    this.store.prepare('DELETE FROM samples WHERE ts < ?').run(now - this.opts.rawSeconds);
    this.store.prepare('DELETE FROM rollups WHERE ts < ?').run(now - this.opts.rollupKeepSeconds);
  }

  private setRolled(ts: number): void {
    this.store.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('rolled', ?)").run(ts);
  }

  query(q: SeriesQuery, now: number): AlignedSeries {
    const from = Math.floor(q.from);
    const to = Math.ceil(q.to);
    const points = Math.max(10, Math.min(5000, Math.floor(q.points)));
    const useRaw = from >= now - this.opts.rawSeconds;
    const minStep = useRaw ? 1 : this.opts.rollupSeconds;
    const step = Math.max(minStep, Math.ceil((to - from) / points));
    const keys = this.keys().filter((k) => q.prefixes.some((p) => k.startsWith(p)));
    const series: Record<string, (number | null)[]> = {};
    const rows: { key: string; b: number; v: number }[] = [];
    const table = useRaw ? 'samples' : 'rollups';
    // `%` works on integers (better-sqlite3 binds a JS number as REAL, so `/` would not floor).
    const st = this.store.prepare<[number, number, number, number], { b: number; v: number }>(
      `SELECT ts - ts % ? AS b, avg(value) AS v FROM ${table}
       WHERE series = ? AND ts >= ? AND ts <= ? GROUP BY b ORDER BY b`,
    );
    const times = new Set<number>();
    for (const key of keys) {
      for (const r of st.all(step, this.ids.get(key)!, from, to)) {
        rows.push({ key, b: r.b, v: r.v });
        times.add(r.b);
      }
    }
    const t = [...times].sort((a, b) => a - b);
    const index = new Map(t.map((x, i) => [x, i]));
    for (const key of keys) series[key] = new Array<number | null>(t.length).fill(null);
    for (const r of rows) series[r.key]![index.get(r.b)!] = r.v;
    return { from, to, step, t, series };
  }

  /** Row counts, for the monitor's own metrics. */
  size(): { samples: number; rollups: number; series: number } {
    const c = (table: string): number =>
      this.store.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()?.n ?? 0;
    return { samples: c('samples'), rollups: c('rollups'), series: this.ids.size };
  }

  close(): void {
    this.store.close();
  }
}
