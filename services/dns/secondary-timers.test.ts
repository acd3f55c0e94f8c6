/** The secondary's refresh, retry, expire and NOTIFY handling on a manual clock. */
import t from 'tap';
import { SecondaryClock } from './secondary-timers.js';

const TIMERS = { refresh: 3600, retry: 600, expire: 86400 };
const S = 1000; // ms per second

t.test('no copy yet: check at once; a transfer starts the refresh cycle', async (t) => {
  const c = new SecondaryClock(undefined, undefined, undefined, 0);
  t.notOk(c.serving(0), 'nothing to serve');
  t.same(c.tick(0), { kind: 'check' });
  t.same(c.tick(0), { kind: 'none' }, 'one check at a time');
  t.ok(c.soaAnswered(5, TIMERS, 10), 'no copy: transfer');
  c.transferred(5, TIMERS, 20);
  t.ok(c.serving(21));
  t.equal(c.next(), 20 + 3600 * S, 'next check at REFRESH');
  t.same(c.tick(3600 * S), { kind: 'none' }, 'not yet');
  t.same(c.tick(20 + 3600 * S), { kind: 'check' });
  t.notOk(c.soaAnswered(5, TIMERS, 20 + 3600 * S), 'same serial: no transfer');
  t.equal(c.next(), 20 + 7200 * S, 'confirmed: another REFRESH');
  t.same(c.tick(20 + 7200 * S), { kind: 'check' });
  t.notOk(c.soaAnswered(4, TIMERS, 20 + 7200 * S), 'an older serial is not transferred (RFC 1982)');
  const later = c.next();
  t.same(c.tick(later), { kind: 'check' });
  t.ok(c.soaAnswered(6, TIMERS, later), 'a newer one is');
});

t.test('failures retry at RETRY; EXPIRE after the last good contact stops serving', async (t) => {
  const c = new SecondaryClock(7, TIMERS, 0, 0);
  t.ok(c.serving(1), 'a copy from disk serves until its expiry');
  t.same(c.tick(0), { kind: 'check' });
  c.failed(100);
  t.equal(c.next(), 100 + 600 * S, 'RETRY');
  let now = 100;
  while (now < 86400 * S) {
    now = c.next();
    if (now >= 86400 * S) break;
    t.same(c.tick(now), { kind: 'check' });
    c.failed(now);
  }
  t.ok(c.serving(86400 * S - 1), 'still serving just before EXPIRE');
  t.notOk(c.serving(86400 * S), 'expired: SERVFAIL from here');
  t.same(c.tick(c.next()), { kind: 'check' });
  c.transferred(8, TIMERS, 90000 * S);
  t.ok(c.serving(90000 * S + 1), 'a good transfer brings it back');
  t.equal(c.currentSerial, 8);
});

t.test('NOTIFY makes a check due now; bursts are one check', async (t) => {
  const c = new SecondaryClock(7, TIMERS, 0, 0);
  c.tick(0);
  c.soaAnswered(7, TIMERS, 0);
  t.equal(c.next(), 3600 * S);
  t.ok(c.notify(5 * S), 'NOTIFY');
  t.equal(c.next(), 5 * S, 'due now');
  t.notOk(c.notify(5 * S + 200), 'a second NOTIFY within a second does nothing');
  t.same(c.tick(5 * S), { kind: 'check' });
  t.notOk(c.notify(10 * S), 'during a check, no second one');
  t.ok(c.soaAnswered(8, TIMERS, 10 * S), 'serial 8: transfer');
  c.transferred(8, TIMERS, 11 * S);
  t.equal(c.next(), 11 * S + 3600 * S);
});
