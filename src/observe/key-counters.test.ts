import t from 'tap';
import type { Sample } from './exposition.js';
import { compileKeyCounters, genericKeyCounters, readServices } from './key-counters.js';

const sample = (name: string, labels: Record<string, string> = {}): Sample => ({
  name,
  labels,
  value: 1,
});

t.test('label patterns are anchored regular expressions', async (t) => {
  const c = compileKeyCounters({
    requests: [{ metric: 'sip_requests_total' }],
    errors: [
      { metric: 'sip_responses_total', labels: { class: '5.*' } },
      { metric: 'dns_queries_total', labels: { rcode: 'SERVFAIL' } },
    ],
  });
  t.ok(c.request(sample('sip_requests_total', { method: 'INVITE' })), 'labels not named: any');
  t.notOk(c.request(sample('sip_requests_total_x')), 'metric names match whole');
  t.ok(c.error(sample('sip_responses_total', { class: '5xx' })));
  t.ok(c.error(sample('sip_responses_total', { class: '503' })));
  t.notOk(c.error(sample('sip_responses_total', { class: '15xx' })), 'anchored at the start');
  t.notOk(c.error(sample('dns_queries_total', { rcode: 'SERVFAILED' })), 'anchored at the end');
  t.notOk(c.error(sample('dns_queries_total')), 'a missing label is the empty value');
  t.ok(c.error(sample('dns_queries_total', { rcode: 'SERVFAIL' })));
  t.throws(() =>
    compileKeyCounters({ requests: [{ metric: 'a', labels: { x: '(' } }], errors: [] }),
  );
});

t.test('the generic rule', async (t) => {
  const c = compileKeyCounters(genericKeyCounters('tftp'));
  t.ok(c.request(sample('tftp_requests_total', { op: 'read' })));
  t.ok(c.error(sample('tftp_internal_errors_total')));
  t.notOk(c.request(sample('tftp_internal_errors_total')));
});

t.test('readServices: a /services answer from another process, checked', async (t) => {
  const kc = { requests: [{ metric: 'dns_queries_total' }], errors: [] };
  t.same(
    readServices(
      JSON.stringify([
        { name: 'dns', keyCounters: kc },
        { name: 'ftp', keyCounters: null },
        { name: 'sip' },
        {
          name: 'http',
          keyCounters: { requests: [{ metric: 'h', labels: { c: '[' } }], errors: [] },
        },
        { name: 'dhcp', keyCounters: { requests: 'dhcp_packets_received_total' } },
        { keyCounters: kc },
        'monitor',
        null,
      ]),
    ),
    [
      { name: 'dns', keyCounters: kc },
      { name: 'ftp', keyCounters: null },
      { name: 'sip', keyCounters: null },
      { name: 'http', keyCounters: null },
      { name: 'dhcp', keyCounters: null },
    ],
    'a bad rule degrades that service to none; an entry without a name is dropped',
  );
  t.equal(readServices('not found\n'), undefined, 'not JSON');
  t.equal(readServices('{"dns":{}}'), undefined, 'not a list');
  t.same(readServices('[]'), []);
});
