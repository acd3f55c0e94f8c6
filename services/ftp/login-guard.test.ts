/**
 * The shared failed-login back-off on a manual clock: per source, per account and source,
 * account-wide; attempts while blocked are refused unchecked and grow the delay; a clean
 * source still logs in to an account another source is banned for.
 */
import t from 'tap';
import { LoginGuard, type LoginGuardOptions } from './login-guard.js';

const OPTS: LoginGuardOptions = {
  findTimeMs: 600_000,
  banTimeMs: 600_000,
  delayMs: 1000,
  maxDelayMs: 10_000,
  maxFailuresPerSource: 10,
  maxFailuresPerAccountSource: 5,
  maxFailuresPerAccount: 30,
};

t.test('one source: growing delay, unchecked refusals while blocked, then a ban', async (t) => {
  const g = new LoginGuard(OPTS);
  let now = 0;
  t.equal(g.admit('admin', '10.0.0.1', now), undefined, 'first attempt is checked');
  t.same(g.result('admin', '10.0.0.1', false, now), { delayMs: 1000, banned: false, newBans: [] });
  // A parallel connection of the same source within the delay: not checked, delay grows.
  const r = g.admit('admin', '::ffff:10.0.0.1', now + 10);
  t.equal(r?.blockedBy, 'source', 'IPv4-mapped counts as the same source');
  t.equal(r?.delayMs, 2000);
  t.equal(r?.banned, false);
  // Wait out the delays, fail until the account+source ban (5).
  let checked = 1;
  let last;
  for (let i = 0; i < 20 && !(last?.banned ?? false); i++) {
    now += 20_000;
    const a = g.admit('admin', '10.0.0.1', now);
    if (a) {
      last = a;
      continue;
    }
    checked++;
    last = g.result('admin', '10.0.0.1', false, now);
  }
  t.ok(last?.banned, 'banned');
  t.ok(checked <= 5, `at most 5 checked guesses (${checked})`);
  t.same(last?.newBans, ['account-source']);
  // While banned, even the right password is never checked.
  now += 1000;
  const b = g.admit('admin', '10.0.0.1', now);
  t.equal(b?.blockedBy, 'account-source');
  t.equal(b?.banned, true);
  // A clean source logs in to the same account.
  t.equal(g.admit('admin', '10.0.0.2', now), undefined, 'another source is checked');
  t.same(g.result('admin', '10.0.0.2', true, now), { delayMs: 0, banned: false, newBans: [] });
  // The ban ends after banTimeMs.
  now += 600_001;
  t.equal(g.admit('admin', '10.0.0.1', now), undefined, 'unbanned after bantime');
});

t.test('per source across accounts: spraying many names still bans the source', async (t) => {
  const g = new LoginGuard(OPTS);
  let now = 0;
  let banned = false;
  let checked = 0;
  for (let i = 0; i < 40 && !banned; i++) {
    now += 20_000;
    const user = `u${i}`;
    if (g.admit(user, '10.0.0.9', now)) continue;
    checked++;
    banned = g.result(user, '10.0.0.9', false, now).banned;
  }
  t.ok(banned, 'banned by the source key');
  t.equal(checked, 10);
  t.ok(g.sourceBanned('10.0.0.9', now), 'the listener can refuse it');
  t.equal(g.admit('anyone', '10.0.0.9', now)?.blockedBy, 'source');
  t.same(g.bans(now), { source: 1, 'account-source': 0, account: 0 });
});

t.test('account-wide cap: many sources with few guesses each lock the account', async (t) => {
  const g = new LoginGuard(OPTS);
  const now = 1000;
  let checked = 0;
  let bannedAt = -1;
  // Two guesses per source, far below its own limits, all within findTime.
  for (let k = 0; k < 2; k++) {
    for (let src = 1; src <= 40; src++) {
      const at = now + k * 20_000 + src * 10;
      if (g.admit('admin', `10.1.0.${src}`, at)) continue;
      checked++;
      const v = g.result('admin', `10.1.0.${src}`, false, at);
      if (v.newBans.includes('account') && bannedAt < 0) bannedAt = checked;
    }
  }
  t.equal(bannedAt, 30, 'the 30th checked failure bans the account');
  t.equal(checked, 30, 'nothing is checked after the account ban');
  // The account-wide ban also stops the real user: the documented trade-off.
  t.equal(g.admit('admin', '10.9.9.9', now + 60_000)?.blockedBy, 'account');
});

t.test('success clears the source and pair, not the account-wide count', async (t) => {
  const g = new LoginGuard({ ...OPTS, maxFailuresPerAccount: 3 });
  g.result('admin', '10.0.0.1', false, 0);
  g.result('admin', '10.0.0.1', true, 5000);
  t.equal(g.admit('admin', '10.0.0.1', 5001), undefined, 'no delay after a success');
  g.result('admin', '10.0.0.2', false, 6000);
  const v = g.result('admin', '10.0.0.3', false, 7000);
  t.same(v.newBans, ['account'], 'the first failure still counted account-wide');
});
