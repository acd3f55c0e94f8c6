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

t.test(
  'no copy yet: retries back off from 5 s to 60 s, then the first contact resets it',
  async (t) => {
    const c = new SecondaryClock(undefined, undefined, undefined, 0);
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      t.same(c.tick(now), { kind: 'check' });
      c.failed(now);
      waits.push((c.next() - now) / S);
      now = c.next();
    }
    t.same(waits, [5, 10, 20, 40, 60, 60, 60]);
    c.tick(now);
    t.ok(c.soaAnswered(3, TIMERS, now));
    c.transferred(3, TIMERS, now);
    const at = c.next();
    c.tick(at);
    c.failed(at);
    t.equal(c.next(), at + 600 * S, 'with a copy: its SOA RETRY');
  },
);

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
  t.notOk(c.notify(5 * S + 200), 'a second NOTIFY before the check: the same check');
  t.same(c.tick(5 * S), { kind: 'check' });
  t.equal(c.next(), Infinity, 'one check at a time');
  t.notOk(c.notify(10 * S), 'during a check: not now...');
  t.ok(c.soaAnswered(8, TIMERS, 10 * S), 'serial 8: transfer');
  c.transferred(8, TIMERS, 11 * S);
  t.equal(c.next(), 11 * S, '...but right after it (the change it announced may be newer)');
  t.same(c.tick(11 * S), { kind: 'check' });
  t.ok(c.soaAnswered(9, TIMERS, 11 * S), 'serial 9');
  c.transferred(9, TIMERS, 11 * S + 100);
  t.equal(c.next(), 11 * S + 100 + 3600 * S, 'nothing owed: back to REFRESH');
});

t.test(
  'two changes 50 ms apart: the second NOTIFY is never lost (BIND primary interop)',
  async (t) => {
    const c = new SecondaryClock(1, TIMERS, 0, 0);
    c.tick(0);
    c.soaAnswered(1, TIMERS, 0);
    t.ok(c.notify(100 * S), 'first NOTIFY: check now');
    t.same(c.tick(100 * S), { kind: 'check' });
    t.ok(c.soaAnswered(2, TIMERS, 100 * S + 10));
    t.notOk(c.notify(100 * S + 50), 'second NOTIFY during the IXFR');
    c.transferred(2, TIMERS, 100 * S + 60);
    t.equal(c.next(), 100 * S + 60, 'one more check right after the running one');
    t.same(c.tick(100 * S + 60), { kind: 'check' });
    t.ok(c.soaAnswered(3, TIMERS, 100 * S + 70), 'it finds serial 3');

    // Held (not during a check): a NOTIFY 100 ms after a check began and ended.
    const d = new SecondaryClock(1, TIMERS, 0, 0);
    d.tick(0);
    d.soaAnswered(1, TIMERS, 0);
    t.ok(d.notify(10 * S));
    d.tick(10 * S);
    d.soaAnswered(1, TIMERS, 10 * S + 5);
    t.ok(d.notify(10 * S + 100), 'within the 200 ms hold: due at its end');
    t.equal(d.next(), 10 * S + 200);
  },
);

t.test('a NOTIFY announcing a serial we hold starts no check (RFC 1996 §3.11)', async (t) => {
  const c = new SecondaryClock(5, TIMERS, 0, 0);
  c.tick(0);
  c.soaAnswered(5, TIMERS, 0);
  t.notOk(c.notify(10 * S, 5), 'same serial: a resend');
  t.notOk(c.notify(11 * S, 4), 'older: reordered');
  t.equal(c.next(), 3600 * S, 'REFRESH unchanged');
  t.ok(c.notify(12 * S, 6), 'newer: check now');
  t.equal(c.next(), 12 * S);
  const none = new SecondaryClock(undefined, undefined, undefined, 0);
  none.tick(0);
  none.failed(0);
  t.ok(none.notify(S, 1), 'no copy yet: any NOTIFY checks');
});
