import t from 'tap';
import { ConnectionsPerSource, sourceKey } from './connections-per-source.js';

t.test('caps each source and frees slots on release', (t) => {
  const c = new ConnectionsPerSource(2);
  t.equal(c.acquire('10.0.0.1'), true);
  t.equal(c.acquire('10.0.0.1'), true);
  t.equal(c.acquire('10.0.0.1'), false, 'third from the same source refused');
  t.equal(c.acquire('10.0.0.2'), true, 'another source unaffected');
  t.equal(c.count('10.0.0.1'), 2);
  c.release('10.0.0.1');
  t.equal(c.acquire('10.0.0.1'), true, 'a released slot is reusable');
  c.release('10.0.0.1');
  c.release('10.0.0.1');
  c.release('10.0.0.2');
  t.equal(c.sources, 0, 'no keys left behind');
  c.release('10.0.0.9');
  t.equal(c.sources, 0, 'a stray release does not go negative');
  t.end();
});

t.test('IPv4-mapped IPv6 counts as the IPv4 address', (t) => {
  const c = new ConnectionsPerSource(1);
  t.equal(sourceKey('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(sourceKey('2001:db8::1'), '2001:db8::1');
  t.equal(c.acquire('192.0.2.7'), true);
  t.equal(c.acquire('::ffff:192.0.2.7'), false);
  t.end();
});

t.test('0 means no per-source cap', (t) => {
  const c = new ConnectionsPerSource(0);
  for (let i = 0; i < 100; i++) t.equal(c.acquire('10.0.0.1'), true);
  t.equal(c.count('10.0.0.1'), 100);
  t.end();
});
