import t from 'tap';
import { AnswerCache } from './answer-cache.js';

t.test(
  'hit copies the reply with the query ID; keyed by transport and bytes after the ID',
  async (t) => {
    const c = new AnswerCache(2);
    const q1 = Uint8Array.of(0xaa, 0xbb, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
    const reply = Uint8Array.of(0, 0, 0x84, 0, 9);
    c.set(AnswerCache.key('udp', q1), reply);
    const q1b = Uint8Array.from(q1);
    q1b[0] = 0x11;
    q1b[1] = 0x22;
    const hit = c.get(AnswerCache.key('udp', q1b), q1b);
    t.same([...hit!], [0x11, 0x22, 0x84, 0, 9]);
    t.same([...reply], [0, 0, 0x84, 0, 9], 'stored reply untouched');
    t.equal(c.get(AnswerCache.key('tcp', q1b), q1b), undefined, 'transport is part of the key');
  },
);

t.test('bounded, first in first out, clear', async (t) => {
  const c = new AnswerCache(2);
  const q = (n: number) => Uint8Array.of(0, 0, 0, n);
  c.set(AnswerCache.key('udp', q(1)), q(1));
  c.set(AnswerCache.key('udp', q(2)), q(2));
  c.set(AnswerCache.key('udp', q(3)), q(3));
  t.equal(c.size, 2);
  t.equal(c.get(AnswerCache.key('udp', q(1)), q(1)), undefined);
  t.ok(c.get(AnswerCache.key('udp', q(3)), q(3)));
  c.clear();
  t.equal(c.size, 0);
  const off = new AnswerCache(0);
  off.set('x', q(1));
  t.equal(off.size, 0, 'entries: 0 disables');
});
