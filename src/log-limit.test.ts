import t from 'tap';
import { LogLimit } from './log-limit.js';

t.test('burst per interval per key, then a count on the next written line', async (t) => {
  const l = new LogLimit({ intervalMs: 10_000, burst: 3 });
  const w = (key: string, now: number) => l.admit(key, now);
  t.same(
    [w('a', 0), w('a', 1), w('a', 2)].map((x) => x.write),
    [true, true, true],
  );
  t.same(w('a', 3), { write: false, suppressed: 0 });
  t.same(w('a', 4), { write: false, suppressed: 0 });
  t.same(w('b', 5), { write: true, suppressed: 0 }, 'another key has its own budget');
  t.same(w('a', 10_000), { write: true, suppressed: 2 }, 'the held-back count is reported');
  t.same(w('a', 10_001), { write: true, suppressed: 0 });
});

t.test('memory is bounded by maxKeys', async (t) => {
  const l = new LogLimit({ intervalMs: 1000, burst: 1, maxKeys: 2 });
  l.admit('a', 0);
  l.admit('a', 1);
  l.admit('b', 2);
  l.admit('c', 3); // evicts 'a'
  t.same(l.admit('a', 4), { write: true, suppressed: 0 }, 'an evicted key starts afresh');
});
