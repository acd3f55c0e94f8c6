/**
 * Which key counters the monitor uses for a target's services: what the target declares on
 * `GET /services` (each ServiceDefinition's `keyCounters`), else, for a service the monitor
 * knew before services described themselves, its rule here, else the generic one
 * (`<svc>_requests_total` / `<svc>_internal_errors_total`, src/observe/key-counters.ts).
 * Only http is left here: it moves into services/http/index.ts's definition, after which a
 * target older than `GET /services` is the only user of this table.
 */
import type { KeyCounters, ServiceDescription } from '../../src/service.js';

/** http responses / 5xx + upstream errors (a 404 is the client's mistake, not an error). */
export const FALLBACK_KEY_COUNTERS: Readonly<Record<string, KeyCounters>> = {
  http: {
    requests: [{ metric: 'http_requests_total' }],
    errors: [
      { metric: 'http_requests_total', labels: { class: '5xx' } },
      { metric: 'http_upstream_errors_total' },
    ],
  },
};

/**
 * `names` (the services the target runs, from /readyz) with the key counters to use.
 * `described`: the target's /services answer, undefined when it gave none.
 */
export function keyCountersFor(
  names: readonly string[],
  described: readonly ServiceDescription[] | undefined,
): ServiceDescription[] {
  return names.map((name) => ({
    name,
    keyCounters:
      described?.find((d) => d.name === name)?.keyCounters ?? FALLBACK_KEY_COUNTERS[name] ?? null,
  }));
}
