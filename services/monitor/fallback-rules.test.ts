/**
 * The key counters the services declare, and the monitor's fallbacks, against a table of
 * samples: what counts as a request and as an error for each service (the rules the
 * monitor hard-coded before services described themselves, README.md "Series").
 */
import t from 'tap';
import { extract } from '../../src/observe/derive-series.js';
import { parseExposition } from '../../src/observe/exposition.js';
import { describeService, registerService } from '../../src/service.js';
import dhcp from '../dhcp/index.js';
import dns from '../dns/index.js';
import ftp from '../ftp/index.js';
import http from '../http/index.js';
import sip from '../sip/index.js';
import { FALLBACK_KEY_COUNTERS, keyCountersFor } from './fallback-rules.js';

const SAMPLES = parseExposition(
  [
    'dns_queries_total{rcode="NOERROR"} 100',
    'dns_queries_total{rcode="NXDOMAIN"} 20',
    'dns_queries_total{rcode="SERVFAIL"} 3',
    'dns_internal_errors_total 1',
    'dns_dropped_total 50',
    'dhcp_packets_received_total{type="DISCOVER"} 40',
    'dhcp_packets_received_total{type="REQUEST"} 30',
    'dhcp_internal_errors_total 2',
    'dhcp_pool_exhausted_total 5',
    'dhcp_naks_total 7',
    'ftp_commands_total{command="USER"} 10',
    'ftp_commands_total{command="RETR"} 15',
    'ftp_transfers_total{direction="download",result="ok"} 12',
    'ftp_transfers_total{direction="download",result="failed"} 4',
    'ftp_internal_errors_total 1',
    'ftp_logins_total{result="failed"} 9',
    'http_requests_total{site="www",class="2xx"} 60',
    'http_requests_total{site="www",class="4xx"} 30',
    'http_requests_total{site="www",class="5xx"} 6',
    'http_upstream_errors_total 2',
    'sip_requests_total{method="REGISTER"} 25',
    'sip_requests_total{method="INVITE"} 5',
    'sip_responses_total{method="INVITE",class="4xx"} 8',
    'sip_responses_total{method="INVITE",class="5xx"} 3',
    'sip_responses_total{method="INVITE",class="6xx"} 1',
    'sip_internal_errors_total 1',
  ].join('\n'),
).samples;

// [requests, errors] per service: client mistakes (NXDOMAIN, 404, a failed login, 4xx) are
// requests, never errors.
const EXPECTED: Record<string, [number, number]> = {
  dns: [123, 4],
  dhcp: [70, 7],
  ftp: [25, 5],
  http: [96, 8],
  sip: [30, 4],
};

t.test('declared by every service; the http fallback gives the same figures', async (t) => {
  // One registerService call per module, as services/index.ts does: each keeps its own type.
  const declared = [
    registerService(dns),
    registerService(dhcp),
    registerService(ftp),
    registerService(http),
    registerService(sip),
  ].map(describeService);
  for (const d of declared) t.ok(d.keyCounters, `${d.name} declares key counters`);
  const services = keyCountersFor(Object.keys(EXPECTED), declared);
  const ex = extract('p1', SAMPLES, services);
  // An older target that does not describe itself: http from the fallback, same numbers.
  const old = extract('p1', SAMPLES, keyCountersFor(['http'], []));
  t.same(
    [old.counters.get('svc/http/req'), old.counters.get('svc/http/err')],
    EXPECTED.http,
    'http fallback = http declared',
  );
  for (const [svc, [req, err]] of Object.entries(EXPECTED)) {
    t.same(
      [ex.counters.get(`svc/${svc}/req`), ex.counters.get(`svc/${svc}/err`)],
      [req, err],
      `${svc}: requests, errors`,
    );
  }
  for (const d of declared) {
    const kc = d.keyCounters!;
    for (const m of [...kc.requests, ...kc.errors])
      t.ok(m.metric.startsWith(`${d.name}_`), `${d.name}: ${m.metric} has the service's prefix`);
  }
});

t.test('a target that does not describe itself', async (t) => {
  t.same(keyCountersFor(['http', 'tftp'], undefined), [
    { name: 'http', keyCounters: FALLBACK_KEY_COUNTERS.http },
    { name: 'tftp', keyCounters: null },
  ]);
  const without = extract('p1', SAMPLES, keyCountersFor(['dns'], undefined));
  t.equal(without.counters.get('svc/dns/req'), 0, 'dns without a description: generic rule');
  t.same(
    keyCountersFor(['http'], [{ name: 'http', keyCounters: null }]),
    [{ name: 'http', keyCounters: FALLBACK_KEY_COUNTERS.http }],
    'a described service without key counters: still the fallback',
  );
});
