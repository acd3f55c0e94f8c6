/**
 * From scraped samples to the series the monitor stores and charts.
 *
 * `extract()` reads one target's /metrics samples into named cumulative counters and
 * gauges; `rates()` turns two extracts of the same target into per-second rates (a counter
 * that went down was reset by a restart: PromQL's rate() rule, "any decrease is treated
 * as a counter reset", so the new value counts from zero); `mergeSeries()` sums the
 * same key over targets (three DHCP containers give one `svc/dhcp/req`).
 *
 * Series keys (the JSON API's vocabulary, README.md "Series"):
 *   proc/<target>/cpu   CPU % of one core (rate of netsvc_process_cpu_seconds_total × 100)
 *   proc/<target>/rss   resident memory, bytes
 *   svc/<svc>/ready     1 while the service reports ready (netsvc_service_up)
 *   svc/<svc>/req       requests/s, svc/<svc>/err errors/s (REQUEST_RULES below)
 *   dns/rcode/<rcode>   queries/s by rcode
 *   http/req/<site>/<class>  responses/s by site and status class
 *   ftp/sessions, ftp/transfers (open), ftp/xfer/<direction> (done/s), ftp/bytes/<direction> (B/s)
 *   dhcp/leases/<pool>/<state>  addresses per pool (active, offered, declined, free)
 *   sip/registrations, sip/calls  (gauges, when the SIP service exports them)
 *
 * Leaves out: histograms (latency quantiles need bucket maths the page does not show yet).
 */
import type { Sample } from './exposition.js';

export interface Extract {
  /** Cumulative values, turned into rates by `rates()`. */
  readonly counters: Map<string, number>;
  /** Point values stored as they are. */
  readonly gauges: Map<string, number>;
}

interface RequestRule {
  readonly req: (s: Sample) => boolean;
  readonly err: (s: Sample) => boolean;
}

const named =
  (...names: string[]) =>
  (s: Sample): boolean =>
    names.includes(s.name);

/**
 * What counts as a request and as an error, per service. Errors are failures a person
 * should look at: answers the server could not give (SERVFAIL, 5xx, NAK for lack of
 * space) and bugs caught at the adapters; a client's own mistake (NXDOMAIN, 404, a wrong
 * FTP password) is not one.
 */
export const REQUEST_RULES: Readonly<Record<string, RequestRule>> = {
  dns: {
    req: named('dns_queries_total'),
    err: (s) =>
      (s.name === 'dns_queries_total' && s.labels.rcode === 'SERVFAIL') ||
      s.name === 'dns_internal_errors_total',
  },
  dhcp: {
    req: named('dhcp_packets_received_total'),
    err: named('dhcp_internal_errors_total', 'dhcp_pool_exhausted_total'),
  },
  ftp: {
    req: named('ftp_commands_total'),
    err: (s) =>
      s.name === 'ftp_internal_errors_total' ||
      (s.name === 'ftp_transfers_total' && s.labels.result === 'failed'),
  },
  http: {
    req: named('http_requests_total'),
    err: (s) =>
      (s.name === 'http_requests_total' && s.labels.class === '5xx') ||
      s.name === 'http_upstream_errors_total',
  },
  sip: {
    req: named('sip_requests_total'),
    err: (s) =>
      s.name === 'sip_internal_errors_total' ||
      (s.name === 'sip_responses_total' && /^5/.test(s.labels.class ?? '')),
  },
};

/** A service without a rule: `<svc>_requests_total` and `<svc>_internal_errors_total`. */
function ruleFor(svc: string): RequestRule {
  return (
    REQUEST_RULES[svc] ?? {
      req: named(`${svc}_requests_total`),
      err: named(`${svc}_internal_errors_total`),
    }
  );
}

const SIP_REGISTRATIONS = /^sip_registrations(_active)?$/;
const SIP_CALLS = /^sip_(calls|calls_active|active_calls)$/;

function add(m: Map<string, number>, key: string, v: number): void {
  if (!Number.isFinite(v)) return;
  m.set(key, (m.get(key) ?? 0) + v);
}

/** One target's samples → counters and gauges. `services`: those the target runs. */
export function extract(
  target: string,
  samples: readonly Sample[],
  services: readonly string[],
): Extract {
  const counters = new Map<string, number>();
  const gauges = new Map<string, number>();
  const rules = services.map((svc) => [svc, ruleFor(svc)] as const);
  for (const svc of services) {
    counters.set(`svc/${svc}/req`, 0);
    counters.set(`svc/${svc}/err`, 0);
  }
  for (const s of samples) {
    const l = s.labels;
    switch (s.name) {
      case 'netsvc_process_cpu_seconds_total':
        add(counters, `proc/${target}/cpu`, s.value * 100);
        break;
      case 'netsvc_process_resident_memory_bytes':
        add(gauges, `proc/${target}/rss`, s.value);
        break;
      case 'netsvc_service_up':
        if (l.svc) add(gauges, `svc/${l.svc}/ready`, s.value);
        break;
      case 'dns_queries_total':
        add(counters, `dns/rcode/${l.rcode ?? 'unknown'}`, s.value);
        break;
      case 'http_requests_total':
        add(counters, `http/req/${l.site ?? '-'}/${l.class ?? '-'}`, s.value);
        break;
      case 'ftp_sessions':
        add(gauges, 'ftp/sessions', s.value);
        break;
      case 'ftp_active_transfers':
        add(gauges, 'ftp/transfers', s.value);
        break;
      case 'ftp_transfers_total':
        add(counters, `ftp/xfer/${l.direction ?? '-'}`, s.value);
        break;
      case 'ftp_transfer_bytes_total':
        add(counters, `ftp/bytes/${l.direction ?? '-'}`, s.value);
        break;
      case 'dhcp_leases':
        add(gauges, `dhcp/leases/${l.pool ?? l.subnet ?? '-'}/${l.state ?? '-'}`, s.value);
        break;
      default:
        if (SIP_REGISTRATIONS.test(s.name)) add(gauges, 'sip/registrations', s.value);
        else if (SIP_CALLS.test(s.name)) add(gauges, 'sip/calls', s.value);
    }
    for (const [svc, rule] of rules) {
      if (!s.name.startsWith(svc + '_')) continue;
      if (rule.req(s)) add(counters, `svc/${svc}/req`, s.value);
      if (rule.err(s)) add(counters, `svc/${svc}/err`, s.value);
    }
  }
  return { counters, gauges };
}

/** Per-second rates of the counters present in both extracts, and the current gauges. */
export function rates(
  prev: Extract | undefined,
  cur: Extract,
  seconds: number,
): Map<string, number> {
  const out = new Map(cur.gauges);
  if (!prev || !(seconds > 0)) return out;
  for (const [key, v] of cur.counters) {
    const before = prev.counters.get(key);
    if (before === undefined) continue;
    const delta = v >= before ? v - before : v; // a decrease is a reset (restart)
    out.set(key, delta / seconds);
  }
  return out;
}

/** Sum the values of the same key over several targets. */
export function mergeSeries(parts: Iterable<ReadonlyMap<string, number>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of parts) for (const [k, v] of p) add(out, k, v);
  return out;
}
