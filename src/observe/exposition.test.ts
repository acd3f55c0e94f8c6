import t from 'tap';
import fc from 'fast-check';
import { Registry, Counter, Gauge } from 'prom-client';
import { parseExposition } from './exposition.js';

t.test('parses what prom-client writes', async (t) => {
  const r = new Registry();
  const c = new Counter({ name: 'x_total', help: 'h', labelNames: ['a'], registers: [r] });
  c.inc({ a: 'with "quote" and \\ and\nnewline' }, 3);
  new Gauge({ name: 'g', help: 'h', registers: [r] }).set(-1.5e-3);
  const e = parseExposition(await r.metrics());
  t.equal(e.bad, 0);
  t.equal(e.types.get('x_total'), 'counter');
  t.same(e.samples, [
    { name: 'x_total', labels: { a: 'with "quote" and \\ and\nnewline' }, value: 3 },
    { name: 'g', labels: {}, value: -0.0015 },
  ]);
});

t.test('special values, timestamps, trailing comma, bad lines', async (t) => {
  const e = parseExposition(
    [
      'a NaN',
      'b +Inf',
      'c -Inf 1700000000000',
      'd{x="1",} 2',
      'e{x=1} 3',
      '{x="1"} 4',
      'f{x="1" 5',
      'g one',
      '# random comment',
      '',
    ].join('\n'),
  );
  t.same(
    e.samples.map((s) => [s.name, s.value]),
    [
      ['a', NaN],
      ['b', Infinity],
      ['c', -Infinity],
      ['d', 2],
    ],
  );
  t.equal(e.bad, 4);
});

t.test('random text never throws', async () => {
  fc.assert(fc.property(fc.string(), (s) => void parseExposition(s)));
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('a', '{', '}', '"', '=', ',', '\\', ' ', '1', '\n', '#')),
      (a) => void parseExposition(a.join('')),
    ),
  );
});
