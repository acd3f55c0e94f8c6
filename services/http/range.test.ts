import t from 'tap';
import fc from 'fast-check';
import { holds } from '../../src/testing/property.js';
import { parseRange } from './range.js';

t.test('byte ranges (RFC 9110 §14.1.2)', async (t) => {
  const size = 1000;
  const cases: [string, unknown][] = [
    ['bytes=0-99', { kind: 'range', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'range', start: 100, end: 999 }],
    ['bytes=-100', { kind: 'range', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'range', start: 0, end: 999 }],
    ['bytes=990-5000', { kind: 'range', start: 990, end: 999 }],
    ['BYTES = 0-0', { kind: 'range', start: 0, end: 0 }],
    ['bytes=0-0,', { kind: 'range', start: 0, end: 0 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=5000-6000', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', { kind: 'none' }], // several ranges: whole body
    ['bytes=0-1,5000-6000', { kind: 'range', start: 0, end: 1 }],
    ['bytes=5-1', { kind: 'none' }],
    ['bytes=a-b', { kind: 'none' }],
    ['bytes=', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=0-99999999999999999999', { kind: 'none' }],
  ];
  for (const [h, want] of cases) t.same(parseRange(h, size), want, h);
  t.same(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=-1', 0), { kind: 'unsatisfiable' });
});

t.test('property: a range is always inside the representation', async (t) => {
  holds(
    t,
    fc.property(fc.string(), fc.nat(10_000), (s, size) => {
      const r = parseRange('bytes=' + s, size);
      return r.kind !== 'range' || (r.start >= 0 && r.start <= r.end && r.end < size);
    }),
  );
  holds(
    t,
    fc.property(fc.nat(2000), fc.option(fc.nat(2000)), fc.nat(1500), (a, b, size) => {
      const r = parseRange(`bytes=${a}-${b ?? ''}`, size);
      return r.kind !== 'range' || (r.start === a && r.end === Math.min(b ?? size - 1, size - 1));
    }),
  );
});
