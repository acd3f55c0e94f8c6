import t from 'tap';
import { parseExposition } from './exposition.js';
import type { ServiceDescription } from '../service.js';
import { extract, mergeSeries, rates } from './derive-series.js';

const scrape = (lines: string[]) => parseExposition(lines.join('\n')).samples;

// As the services declare them (the real declarations are checked in services/monitor).
const DESCRIBED: ServiceDescription[] = [
  {
    name: 'dns',
    keyCounters: {
      requests: [{ metric: 'dns_queries_total' }],
      errors: [
        { metric: 'dns_queries_total', labels: { rcode: 'SERVFAIL' } },
        { metric: 'dns_internal_errors_total' },
      ],
    },
  },
  {
    name: 'http',
    keyCounters: {
      requests: [{ metric: 'http_requests_total' }],
      errors: [
        { metric: 'http_requests_total', labels: { class: '5xx' } },
        { metric: 'http_upstream_errors_total' },
      ],
    },
  },
];

t.test('request, error and per-label rates; counter reset', async (t) => {
  const a = extract(
    'p1',
    scrape([
      'netsvc_process_cpu_seconds_total 1',
      'netsvc_process_resident_memory_bytes 1000',
      'netsvc_service_up{svc="dns"} 1',
      'dns_queries_total{qtype="A",rcode="NOERROR",transport="udp"} 10',
      'dns_queries_total{qtype="A",rcode="SERVFAIL",transport="udp"} 1',
      'http_requests_total{site="www",class="2xx"} 5',
      'http_requests_total{site="www",class="5xx"} 1',
      'dhcp_leases{subnet="10.0.0.0/24",pool="10.0.0.10-10.0.0.20",state="active"} 2',
      'sip_registrations_active 3',
    ]),
    DESCRIBED,
  );
  t.equal(a.gauges.get('proc/p1/rss'), 1000);
  t.equal(a.gauges.get('svc/dns/ready'), 1);
  t.equal(a.gauges.get('dhcp/leases/10.0.0.10-10.0.0.20/active'), 2);
  t.equal(a.gauges.get('sip/registrations'), 3);
  t.equal(a.counters.get('svc/dns/req'), 11);
  t.equal(a.counters.get('svc/dns/err'), 1);
  t.equal(a.counters.get('svc/http/req'), 6);
  t.equal(a.counters.get('svc/http/err'), 1);
  const b = extract(
    'p1',
    scrape([
      'netsvc_process_cpu_seconds_total 1.5',
      'dns_queries_total{qtype="A",rcode="NOERROR",transport="udp"} 30',
      'dns_queries_total{qtype="A",rcode="SERVFAIL",transport="udp"} 1',
      'http_requests_total{site="www",class="2xx"} 2',
    ]),
    DESCRIBED,
  );
  const r = rates(a, b, 10);
  t.equal(r.get('proc/p1/cpu'), 5, '0.5 s of CPU in 10 s = 5 %');
  t.equal(r.get('svc/dns/req'), 2);
  t.equal(r.get('svc/dns/err'), 0);
  t.equal(r.get('dns/rcode/NOERROR'), 2);
  t.equal(r.get('http/req/www/2xx'), 0.2, 'a decrease is a reset: counts from zero');
  t.equal(r.get('svc/http/req'), 0.2);
  t.notOk(r.has('http/req/www/5xx'), 'a series gone from the scrape has no rate');
  t.same([...rates(undefined, b, 10).keys()], [...b.gauges.keys()], 'first scrape: gauges only');
});

t.test(
  'a service without key counters: the generic rule; only its own metrics count',
  async (t) => {
    const samples = scrape([
      'tftp_requests_total{op="read"} 4',
      'tftp_requests_total{op="write"} 1',
      'tftp_internal_errors_total 2',
      'tftp_timeouts_total 9',
      'dns_queries_total{rcode="NOERROR"} 50',
    ]);
    const generic = extract('p1', samples, [{ name: 'tftp', keyCounters: null }]);
    t.equal(generic.counters.get('svc/tftp/req'), 5);
    t.equal(generic.counters.get('svc/tftp/err'), 2);
    const stray = extract('p1', samples, [
      {
        name: 'tftp',
        keyCounters: {
          requests: [{ metric: 'dns_queries_total' }, { metric: 'tftp_timeouts_total' }],
          errors: [],
        },
      },
    ]);
    t.equal(stray.counters.get('svc/tftp/req'), 9, "another service's metric is not counted");
    t.equal(stray.counters.get('svc/tftp/err'), 0, 'present even when nothing matched');
    t.notOk(extract('p1', samples, []).counters.has('svc/tftp/req'), 'no service, no series');
  },
);

t.test('merge sums the same key over processes', async (t) => {
  const m = mergeSeries([
    new Map([
      ['svc/dhcp/req', 1],
      ['x', 2],
    ]),
    new Map([['svc/dhcp/req', 2.5]]),
  ]);
  t.same(Object.fromEntries(m), { 'svc/dhcp/req': 3.5, x: 2 });
});
