import t from 'tap';
import { StreamResetRate } from './stream-reset-rate.js';

t.test('burst, then refilled at the rate', async (t) => {
  const r = new StreamResetRate(4, 2);
  for (let i = 0; i < 4; i++) t.ok(r.reset(1000), `reset ${i + 1} of the burst`);
  t.notOk(r.reset(1000), 'the 5th at the same instant is over budget');
  t.notOk(r.reset(1400), '0.4 s later: 0.8 of a token');
  t.ok(r.reset(1500), '0.5 s later: one token');
  t.notOk(r.reset(1500));
});

t.test('a client cancelling now and then never runs out', async (t) => {
  const r = new StreamResetRate(256, 128);
  let now = 0;
  let refused = 0;
  for (let i = 0; i < 10_000; i++) {
    now += 10; // 100 resets a second, below the rate
    if (!r.reset(now)) refused++;
  }
  t.equal(refused, 0, '10 000 resets at 100/s, none refused');
});

t.test('the rapid-reset pattern is cut after the burst', async (t) => {
  const r = new StreamResetRate(256, 128);
  let ok = 0;
  for (let i = 0; i < 5000; i++) if (r.reset(i / 100)) ok++; // 100 000 resets a second
  t.ok(ok >= 256 && ok < 270, `${ok} allowed`);
});

t.test('the refill is capped at the burst; time going backwards adds nothing', async (t) => {
  const r = new StreamResetRate(3, 1000);
  t.ok(r.reset(0));
  let ok = 0;
  for (let i = 0; i < 10; i++) if (r.reset(60_000)) ok++;
  t.equal(ok, 3, 'a long pause refills the burst only');
  t.notOk(r.reset(59_000));
});
