import t from 'tap';
import { parseExposition } from './exposition.js';
import { extract, mergeSeries, rates } from './derive-series.js';

const scrape = (lines: string[]) => parseExposition(lines.join('\n')).samples;

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
    ['dns', 'http'],
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
    ['dns', 'http'],
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
