import t from 'tap';
import { FailureBackoff } from './failure-backoff.js';

const opts = {
  maxFailures: 3,
  findTimeMs: 60_000,
  banTimeMs: 120_000,
  delayMs: 1000,
  maxDelayMs: 1500,
};

t.test('delay doubles up to the cap, then a ban', (t) => {
  const b = new FailureBackoff(opts);
  t.equal(b.blockedFor('k', 0), 0);
  t.same(b.failure('k', 0), { retryAfterMs: 1000, banned: false, failures: 1 });
  t.equal(b.blockedFor('k', 500), 500);
  t.same(
    b.failure('k', 1000),
    { retryAfterMs: 1500, banned: false, failures: 2 },
    'capped at maxDelayMs',
  );
  t.same(b.failure('k', 3000), { retryAfterMs: 120_000, banned: true, failures: 3 });
  t.equal(b.isBanned('k', 3000), true);
  t.equal(b.bannedCount(3000), 1);
  t.same(b.failure('k', 4000).banned, false, 'a failure while banned does not start a new ban');
  t.equal(b.blockedFor('k', 4000), 119_000, 'nor extend it');
  b.success('k', 5000);
  t.equal(b.isBanned('k', 5000), true, 'success does not lift a ban');
  t.equal(b.isBanned('k', 123_000), false, 'the ban ends after banTimeMs');
  t.equal(b.blockedFor('k', 123_000), 0);
  t.equal(b.size, 0, 'and the key is forgotten');
  t.end();
});

t.test('failures older than findTimeMs do not count', (t) => {
  const b = new FailureBackoff(opts);
  b.failure('k', 0);
  b.failure('k', 2000);
  t.same(b.failure('k', 70_000), { retryAfterMs: 1000, banned: false, failures: 1 });
  t.end();
});

t.test('success clears failures; keys are independent', (t) => {
  const b = new FailureBackoff(opts);
  b.failure('a', 0);
  b.failure('a', 1000);
  b.failure('b', 0);
  b.success('a', 2000);
  t.equal(b.blockedFor('a', 2000), 0);
  t.same(b.failure('a', 2000).failures, 1);
  t.equal(b.blockedFor('b', 500), 500);
  t.end();
});

t.test('bounded keys: a flood evicts unbanned keys before bans', (t) => {
  const b = new FailureBackoff({ ...opts, maxKeys: 10, maxFailures: 2, delayMs: 0 });
  b.failure('banned', 0);
  t.equal(b.failure('banned', 0).banned, true);
  const c = new FailureBackoff({ ...opts, maxKeys: 10 });
  for (let i = 0; i < 1000; i++) c.failure(`src${i}`, i);
  t.equal(c.size, 10);
  for (let i = 0; i < 1000; i++) b.failure(`src${i}`, i);
  t.equal(b.size, 10);
  t.equal(b.isBanned('banned', 1000), true, 'the ban survived the flood');
  t.end();
});
