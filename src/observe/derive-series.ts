/**
 * From scraped samples to series (README of services/monitor, "Series"): `extract()` reads
 * one target's samples into cumulative counters and gauges, `svc/<svc>/req|err` by the
 * service's key counters (key-counters.ts); `rates()` turns two extracts into per-second
 * rates (a decrease is a reset, PromQL's rate() rule: counts again from zero);
 * `mergeSeries()` sums a key over targets (three DHCP containers give one `svc/dhcp/req`).
 * Shared by the monitor and `netsvc status`. Leaves out: histograms (no quantiles yet).
 */
import type { KeyCounters, ServiceDescription } from '../service.js';
import type { Sample } from './exposition.js';
import {
  compileKeyCounters,
  genericKeyCounters,
  type CompiledKeyCounters,
} from './key-counters.js';

export interface Extract {
  /** Cumulative values, turned into rates by `rates()`. */
  readonly counters: Map<string, number>;
  /** Point values stored as they are. */
  readonly gauges: Map<string, number>;
}

/** Compiled once per rule object: the monitor keeps a target's descriptions across scrapes. */
const compiled = new WeakMap<KeyCounters, CompiledKeyCounters>();

function ruleFor(d: ServiceDescription): CompiledKeyCounters {
  const kc = d.keyCounters ?? genericKeyCounters(d.name);
  let c = compiled.get(kc);
  if (!c) compiled.set(kc, (c = compileKeyCounters(kc)));
  return c;
}

const SIP_REGISTRATIONS = /^sip_registrations(_active)?$/;
const SIP_CALLS = /^sip_(calls|calls_active|active_calls)$/;

function add(m: Map<string, number>, key: string, v: number): void {
  if (!Number.isFinite(v)) return;
  m.set(key, (m.get(key) ?? 0) + v);
}

/**
 * One target's samples → counters and gauges. `services`: those the target runs, with the
 * key counters that make `svc/<svc>/req` and `/err` (null: the generic rule).
 */
export function extract(
  target: string,
  samples: readonly Sample[],
  services: readonly ServiceDescription[],
): Extract {
  const counters = new Map<string, number>();
  const gauges = new Map<string, number>();
  const rules = services.map((d) => [d.name, ruleFor(d)] as const);
  for (const [svc] of rules) {
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
      // A service counts only its own metrics (DESIGN.md rule 6: the prefix is its name), so
      // a description naming another's cannot double-count it.
      if (!s.name.startsWith(svc + '_')) continue;
      if (rule.request(s)) add(counters, `svc/${svc}/req`, s.value);
      if (rule.error(s)) add(counters, `svc/${svc}/err`, s.value);
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
