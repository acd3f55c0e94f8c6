/**
 * FastCounter and FastHistogram render the Prometheus text format through a prom-client
 * Registry: labels, cumulative buckets, +Inf, _sum, _count; reset; serviceUpGauge.
 */
import t from 'tap';
import { createRegistry, FastCounter, FastHistogram, serviceUpGauge } from './metrics.js';

t.test('FastCounter renders one sample per label tuple', async (t) => {
  const registry = createRegistry({ defaults: false });
  const c = new FastCounter(
    'dns_queries_total',
    'Queries answered',
    ['proto', 'rcode'] as const,
    registry,
  );
  c.inc(['udp', 'NOERROR']);
  c.inc(['udp', 'NOERROR'], 2);
  c.inc(['tcp', 'NXDOMAIN']);
  c.inc(['udp']); // a missing label value renders empty
  t.equal(c.value(['udp', 'NOERROR']), 3);
  t.equal(c.value(['tcp', 'NXDOMAIN']), 1);
  t.equal(c.value(['tcp', 'SERVFAIL']), 0, 'unseen tuple is 0');
  t.equal(
    await registry.metrics(),
    [
      '# HELP dns_queries_total Queries answered',
      '# TYPE dns_queries_total counter',
      'dns_queries_total{proto="udp",rcode="NOERROR"} 3',
      'dns_queries_total{proto="tcp",rcode="NXDOMAIN"} 1',
      'dns_queries_total{proto="udp",rcode=""} 1',
      '',
    ].join('\n'),
  );
});

t.test('FastCounter label values are escaped', async (t) => {
  const registry = createRegistry({ defaults: false });
  const c = new FastCounter('http_requests_total', 'Requests', ['host'] as const, registry);
  c.inc(['a"b\\c\nd']);
  t.match(await registry.metrics(), 'http_requests_total{host="a\\"b\\\\c\\nd"} 1\n');
});

t.test('FastCounter keys do not collide across label boundaries', async (t) => {
  const registry = createRegistry({ defaults: false });
  const c = new FastCounter('x_total', 'x', ['a', 'b'] as const, registry);
  c.inc(['ab', 'c']);
  c.inc(['a', 'bc']);
  t.equal(c.value(['ab', 'c']), 1);
  t.equal(c.value(['a', 'bc']), 1);
});

t.test('FastHistogram: cumulative buckets, +Inf, sum, count', async (t) => {
  const registry = createRegistry({ defaults: false });
  const h = new FastHistogram(
    'dns_query_duration_seconds',
    'Time to answer',
    [0.001, 0.01, 0.1, 1],
    registry,
  );
  // Binary fractions keep the sum exact: 1/1024 ≤ 0.001, 1/128 ≤ 0.01, 1/16 ≤ 0.1, 2 and 4 > 1.
  for (const v of [1 / 1024, 1 / 1024, 1 / 128, 1 / 16, 0.001, 2, 4]) h.observe(v);
  t.equal(h.count, 7);
  const sum = 2 / 1024 + 1 / 128 + 1 / 16 + 0.001 + 2 + 4;
  t.equal(
    await registry.metrics(),
    [
      '# HELP dns_query_duration_seconds Time to answer',
      '# TYPE dns_query_duration_seconds histogram',
      'dns_query_duration_seconds_bucket{le="0.001"} 3', // a value equal to a bound goes in it
      'dns_query_duration_seconds_bucket{le="0.01"} 4',
      'dns_query_duration_seconds_bucket{le="0.1"} 5',
      'dns_query_duration_seconds_bucket{le="1"} 5',
      'dns_query_duration_seconds_bucket{le="+Inf"} 7',
      `dns_query_duration_seconds_sum ${sum}`,
      'dns_query_duration_seconds_count 7',
      '',
    ].join('\n'),
  );
});

t.test('FastHistogram with no observations renders zeros', async (t) => {
  const registry = createRegistry({ defaults: false });
  new FastHistogram('ftp_transfer_bytes', 'Bytes per transfer', [1024, 65536], registry);
  const text = await registry.metrics();
  t.match(text, 'ftp_transfer_bytes_bucket{le="1024"} 0\n');
  t.match(text, 'ftp_transfer_bytes_bucket{le="65536"} 0\n');
  t.match(text, 'ftp_transfer_bytes_bucket{le="+Inf"} 0\n');
  t.match(text, 'ftp_transfer_bytes_sum 0\n');
  t.match(text, 'ftp_transfer_bytes_count 0\n');
});

t.test('reset clears both kinds (registry.resetMetrics)', async (t) => {
  const registry = createRegistry({ defaults: false });
  const c = new FastCounter('a_total', 'a', ['k'] as const, registry);
  const h = new FastHistogram('b_seconds', 'b', [1], registry);
  c.inc(['x'], 5);
  h.observe(0.5);
  h.observe(3);
  registry.resetMetrics();
  t.equal(c.value(['x']), 0);
  t.equal(h.count, 0);
  const text = await registry.metrics();
  t.notMatch(text, /a_total\{/, 'no counter samples after reset');
  t.match(text, 'b_seconds_bucket{le="1"} 0\n');
  t.match(text, 'b_seconds_sum 0\n');
  h.observe(0.25);
  t.match(await registry.metrics(), 'b_seconds_bucket{le="1"} 1\n');
});

t.test('Fast metrics sit next to prom-client ones; names are unique per registry', async (t) => {
  const registry = createRegistry({ defaults: false });
  const up = serviceUpGauge(registry);
  up.set({ svc: 'dns' }, 1);
  const c = new FastCounter('dns_x_total', 'x', ['k'] as const, registry);
  c.inc(['v']);
  const text = await registry.metrics();
  t.match(text, 'netsvc_service_up{svc="dns"} 1\n');
  t.match(text, '# TYPE netsvc_service_up gauge\n');
  t.match(text, 'dns_x_total{k="v"} 1\n');
  t.throws(
    () => new FastCounter('dns_x_total', 'again', ['k'] as const, registry),
    /already been registered/,
  );
  t.equal(registry.getSingleMetric('dns_x_total'), c as never);
});

t.test('createRegistry with defaults adds netsvc_-prefixed process metrics', async (t) => {
  const registry = createRegistry();
  const text = await registry.metrics();
  t.match(text, /# TYPE netsvc_process_resident_memory_bytes gauge/);
  t.notMatch(text, /^process_/m, 'every default metric carries the prefix');
  t.equal(createRegistry({ defaults: false }).getMetricsAsArray().length, 0, 'and none without');
});
