import t from 'tap';
import { checkPortRange, PortPool } from './port-pool.js';
import type { Rng } from '../../src/clock.js';

const seeded = (seed: number): Rng => {
  let s = seed >>> 0;
  const next = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
  return {
    int: (max) => next() % max,
    bytes: (n) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
};

t.test('even RTP / odd RTCP pairs within the range', async (t) => {
  const pool = new PortPool({ min: 30001, max: 30010 });
  t.equal(pool.capacity, 4, '30002..30009 → 4 pairs (30010 has no odd partner)');
  const pairs = [pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()];
  t.same(pairs, [
    { rtp: 30002, rtcp: 30003 },
    { rtp: 30004, rtcp: 30005 },
    { rtp: 30006, rtcp: 30007 },
    { rtp: 30008, rtcp: 30009 },
  ]);
  t.equal(pool.allocate(), undefined, 'exhausted');
  t.equal(pool.inUse, 4);
  t.ok(pool.release(30004));
  t.notOk(pool.release(30004), 'double free ignored');
  t.notOk(pool.release(12345), 'unknown port ignored');
  t.same(pool.allocate(), { rtp: 30004, rtcp: 30005 });
});

t.test('freed ports go to the tail (not reused at once)', async (t) => {
  const pool = new PortPool({ min: 30000, max: 30007 });
  const a = pool.allocate()!;
  pool.release(a.rtp);
  t.not(pool.allocate()!.rtp, a.rtp);
});

t.test('random start with an injected Rng; every pair handed out once', async (t) => {
  const pool = new PortPool({ min: 10000, max: 20000 }, seeded(42));
  t.equal(pool.capacity, 5000);
  const seen = new Set<number>();
  let bad = 0;
  for (let p = pool.allocate(); p; p = pool.allocate()) {
    if (p.rtp % 2 !== 0 || p.rtcp !== p.rtp + 1 || p.rtp < 10000 || p.rtcp > 20000) bad++;
    seen.add(p.rtp);
  }
  t.equal(bad, 0, 'every pair even/odd within the range');
  t.equal(seen.size, 5000);
  const first = new PortPool({ min: 10000, max: 20000 }, seeded(7)).allocate()!.rtp;
  t.not(first, 10000, 'not the bottom of the range');
});

t.test('range checks', async (t) => {
  t.equal(checkPortRange({ min: 30000, max: 30999 }), undefined);
  t.equal(checkPortRange({ min: 30001, max: 30002 })?.code, 'ERR_SIP_PORT_RANGE');
  t.equal(checkPortRange({ min: 80, max: 30002 })?.code, 'ERR_SIP_PORT_RANGE');
  t.throws(() => new PortPool({ min: 5, max: 4 }));
});
