/** auth-guard.ts on a manual clock: delays, bans per key, trust of a phone's own address. */
import t from 'tap';
import { AuthGuard, AUTH_GUARD_DEFAULTS } from './auth-guard.js';

const T0 = 1_000_000;
const ATTACKER = '203.0.113.5';
const PHONE = '192.0.2.10';

t.test('a pair is delayed after each wrong password, then banned at maxFailures', async (t) => {
  const g = new AuthGuard({ ...AUTH_GUARD_DEFAULTS, delayMs: 1000 });
  t.equal(g.blocked('1001', ATTACKER, T0, true), undefined, 'clean key may be checked');
  t.same(g.failure('1001', ATTACKER, T0), [], 'no ban on the first failure');
  t.equal(g.blocked('1001', ATTACKER, T0 + 999, true), 'extension-source', 'delay 1 s');
  t.equal(g.blocked('1001', ATTACKER, T0 + 999, false), undefined, 'a challenge is still given');
  t.equal(g.blocked('1001', ATTACKER, T0 + 1000, true), undefined, 'after the delay');
  let now = T0 + 1000;
  for (let i = 2; i <= 4; i++) {
    t.same(g.failure('1001', ATTACKER, now), []);
    now += 1000 * 2 ** (i - 1); // 2 s, 4 s, 8 s
    t.equal(g.blocked('1001', ATTACKER, now - 1, true), 'extension-source', `delay ${i} doubles`);
  }
  const bans = g.failure('1001', ATTACKER, now);
  t.same(
    bans.map((b) => [b.reason, b.banMs]),
    [['extension-source', 600_000]],
    'fifth failure: banned for banTime',
  );
  t.equal(g.bannedCount(now), 1);
  t.equal(g.blocked('1001', ATTACKER, now + 599_999, false), 'extension-source', 'no nonce either');
  t.equal(g.blocked('1001', PHONE, now + 1, true), undefined, 'the phone is not affected');
  t.equal(g.blocked('1002', ATTACKER, now + 1, true), undefined, 'other extensions: per pair');
  t.equal(g.blocked('1001', ATTACKER, now + 600_000, true), undefined, 'ban over');
  t.equal(g.bannedCount(now + 600_000), 0);
});

t.test('a source guessing many extensions is banned as a whole', async (t) => {
  const g = new AuthGuard({ ...AUTH_GUARD_DEFAULTS, sourceMaxFailures: 3, delayMs: 0 });
  t.same(g.failure('1001', ATTACKER, T0), []);
  t.same(g.failure('1002', ATTACKER, T0), []);
  t.same(
    g.failure('1003', ATTACKER, T0).map((b) => b.reason),
    ['source'],
  );
  t.equal(
    g.blocked('1004', ATTACKER, T0 + 1, false),
    'source',
    'every extension, even unauthenticated',
  );
  t.equal(g.blocked('1004', PHONE, T0 + 1, true), undefined);
});

t.test('extension-wide ban spares sources that authenticated the extension', async (t) => {
  const g = new AuthGuard({ ...AUTH_GUARD_DEFAULTS, extensionMaxFailures: 10, delayMs: 0 });
  g.success('1001', PHONE, T0);
  // 10 sources, one guess each: no pair or source limit is reached.
  const bans = [];
  for (let i = 1; i <= 10; i++) bans.push(...g.failure('1001', `198.51.100.${i}`, T0 + i));
  t.same(
    bans.map((b) => b.reason),
    ['extension'],
  );
  t.equal(g.blocked('1001', '198.51.100.99', T0 + 20, true), 'extension', 'a new source: banned');
  t.equal(g.blocked('1001', PHONE, T0 + 20, true), undefined, 'the phone that registered: exempt');
  t.equal(
    g.blocked('1001', PHONE, T0 + AUTH_GUARD_DEFAULTS.trustTimeMs + 1, true),
    undefined,
    'ban over by then anyway',
  );
  // A trusted source mistyping does not count toward the extension-wide limit.
  const h = new AuthGuard({ ...AUTH_GUARD_DEFAULTS, extensionMaxFailures: 2, delayMs: 0 });
  h.success('1001', PHONE, T0);
  h.failure('1001', PHONE, T0 + 1);
  h.failure('1001', PHONE, T0 + 2);
  t.equal(h.blocked('1001', '198.51.100.1', T0 + 3, true), undefined);
});

t.test('success forgives the pair but not the source count', async (t) => {
  const g = new AuthGuard({ ...AUTH_GUARD_DEFAULTS, sourceMaxFailures: 4, delayMs: 0 });
  for (let i = 0; i < 3; i++) g.failure('1001', ATTACKER, T0 + i);
  g.success('1001', ATTACKER, T0 + 10);
  t.same(
    g.failure('1002', ATTACKER, T0 + 11).map((b) => b.reason),
    ['source'],
    'guesses at other extensions are not washed away by one valid account',
  );
});

t.test('memory stays bounded under a flood of sources', async (t) => {
  const g = new AuthGuard({ ...AUTH_GUARD_DEFAULTS, maxKeys: 100, maxFailures: 1 });
  for (let i = 0; i < 1000; i++) {
    const a = `10.0.${i >> 8}.${i & 255}`;
    g.failure('1001', a, T0);
    g.success('1002', a, T0);
  }
  // 1000 pairs banned, but at most maxKeys of them (and of each table) are kept.
  t.ok(g.bannedCount(T0) <= 300, `${g.bannedCount(T0)} bans tracked`);
  t.equal(g.blocked('1001', '10.0.3.231', T0 + 1, true), 'extension-source', 'recent kept');
});
