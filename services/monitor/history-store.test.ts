import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore } from './history-store.js';

t.test('insert, aligned query, rollup and pruning, reopen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'h.sqlite');
  const opts = { rawSeconds: 3600, rollupSeconds: 300, rollupKeepSeconds: 86400 };
  let h = new HistoryStore(file, opts);
  const t0 = 1_700_000_000 - (1_700_000_000 % 300);
  // Two hours at 10 s: a rising series, and one that appears later.
  for (let ts = t0; ts < t0 + 7200; ts += 10) {
    const v = new Map([['a/x', (ts - t0) / 10]]);
    if (ts >= t0 + 7000) v.set('a/y', 1);
    h.insert(ts, v);
  }
  const now = t0 + 7190;
  t.same(h.keys(), ['a/x', 'a/y']);
  const q = h.query({ prefixes: ['a/'], from: now - 600, to: now, points: 1000 }, now);
  t.equal(q.step, 1, 'recent range at full resolution');
  t.equal(q.t.length, 61);
  t.equal(q.series['a/x']![60], 719);
  t.equal(q.series['a/y']![0], null, 'aligned with null where a series had no sample');
  t.equal(q.series['a/y']![60], 1);
  const coarse = h.query({ prefixes: ['a/x'], from: now - 3000, to: now, points: 10 }, now);
  t.equal(coarse.step, 300);
  t.ok(coarse.t.length <= 12, String(coarse.t.length));
  t.equal(
    h.size().samples,
    390 + 20,
    'raw rows older than rawSeconds (at the last rollup) are gone',
  );
  const old = h.query({ prefixes: ['a/x'], from: t0, to: now, points: 100 }, now);
  t.equal(old.step, 300, 'older ranges come from the rollups');
  t.equal(old.t[0], t0);
  t.equal(old.series['a/x']![0], 14.5, 'bucket average of 0..29');
  h.close();
  h = new HistoryStore(file, opts);
  t.same(h.keys(), ['a/x', 'a/y'], 'series ids survive a reopen');
  h.insert(now + 10, new Map([['a/z', 1]]));
  t.same(h.keys(), ['a/x', 'a/y', 'a/z']);
  h.close();
});
