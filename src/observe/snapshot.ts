/**
 * One scrape round turned into what the monitor page and `netsvc status` show: per target
 * (process) up, ready, uptime, CPU and RSS; per service up/ready (up when every process
 * running it answers, ready when every one says ready), its request and error rates and a
 * few counters; and the `/state/<svc>` documents merged over targets (three DHCP
 * containers give one lease table; each row gains a `target` field).
 */
import type { Sample } from './exposition.js';

export interface TargetInput {
  readonly target: string;
  readonly url: string;
  readonly up: boolean;
  readonly error?: string;
  readonly ready: boolean;
  /** Services the process runs: from /readyz, or the last ones known while it is down. */
  readonly services: Readonly<Record<string, boolean>>;
  readonly samples: readonly Sample[];
  readonly state: Readonly<Record<string, unknown>>;
  readonly at: number;
  readonly ms: number;
}

export interface TargetStatus {
  readonly name: string;
  readonly url: string;
  readonly up: boolean;
  readonly ready: boolean;
  readonly error?: string;
  readonly services: string[];
  /** Unix seconds when the process started (netsvc_process_start_time_seconds). */
  readonly startedAt?: number;
  readonly uptimeSeconds?: number;
  readonly rssBytes?: number;
  readonly cpuPercent?: number;
  readonly scrapeMs: number;
  readonly at: number;
}

export interface ServiceStatus {
  readonly name: string;
  readonly targets: string[];
  readonly up: boolean;
  readonly ready: boolean;
  readonly uptimeSeconds?: number;
  readonly requestsPerSecond?: number;
  readonly errorsPerSecond?: number;
  /** A few counters worth a glance (`netsvc status`): metric name → value (summed). */
  readonly counters: Record<string, number>;
}

export interface Status {
  /** Unix seconds of the scrape round. */
  readonly ts: number;
  readonly intervalSeconds: number;
  readonly targets: TargetStatus[];
  readonly services: ServiceStatus[];
}

/** Counters shown by `netsvc status` and the service tiles, per service. */
export const KEY_COUNTERS: Readonly<Record<string, readonly string[]>> = {
  dns: ['dns_queries_total', 'dns_dropped_total'],
  dhcp: ['dhcp_packets_received_total', 'dhcp_leases{state=active}'],
  ftp: ['ftp_sessions', 'ftp_transfers_total', 'ftp_logins_total'],
  http: ['http_requests_total', 'http_connections'],
  sip: ['sip_requests_total', 'sip_registrations_active', 'sip_calls_active'],
  monitor: ['monitor_scrapes_total'],
};

function sumOf(samples: readonly Sample[], spec: string): number | undefined {
  const m = /^([a-zA-Z_:][\w:]*)(?:\{(\w+)=([^}]*)\})?$/.exec(spec);
  if (!m) return undefined;
  let total: number | undefined;
  for (const s of samples) {
    if (s.name !== m[1]) continue;
    if (m[2] !== undefined && s.labels[m[2]] !== m[3]) continue;
    total = (total ?? 0) + s.value;
  }
  return total;
}

export function buildStatus(
  ts: number,
  intervalSeconds: number,
  inputs: readonly TargetInput[],
  values: ReadonlyMap<string, number>,
): Status {
  const targets: TargetStatus[] = inputs.map((i) => {
    const startedAt = sumOf(i.samples, 'netsvc_process_start_time_seconds');
    const rss = values.get(`proc/${i.target}/rss`);
    const cpu = values.get(`proc/${i.target}/cpu`);
    return {
      name: i.target,
      url: i.url,
      up: i.up,
      ready: i.ready,
      ...(i.error !== undefined ? { error: i.error } : {}),
      services: Object.keys(i.services),
      ...(startedAt !== undefined && i.up
        ? { startedAt, uptimeSeconds: Math.max(0, ts - startedAt) }
        : {}),
      ...(rss !== undefined && i.up ? { rssBytes: rss } : {}),
      ...(cpu !== undefined && i.up ? { cpuPercent: cpu } : {}),
      scrapeMs: Math.round(i.ms * 10) / 10,
      at: i.at,
    };
  });
  const names = [...new Set(inputs.flatMap((i) => Object.keys(i.services)))];
  const services: ServiceStatus[] = names.map((name) => {
    const running = inputs.filter((i) => name in i.services);
    const up = running.every((i) => i.up);
    const ready = up && running.every((i) => i.services[name] === true);
    const uptimes = targets.filter(
      (t) => t.services.includes(name) && t.uptimeSeconds !== undefined,
    );
    const counters: Record<string, number> = {};
    for (const spec of KEY_COUNTERS[name] ?? [`${name}_requests_total`]) {
      let total: number | undefined;
      for (const i of running) {
        const v = sumOf(i.samples, spec);
        if (v !== undefined) total = (total ?? 0) + v;
      }
      if (total !== undefined) counters[spec] = total;
    }
    const req = values.get(`svc/${name}/req`);
    const err = values.get(`svc/${name}/err`);
    return {
      name,
      targets: running.map((i) => i.target),
      up,
      ready,
      ...(uptimes.length > 0
        ? { uptimeSeconds: Math.min(...uptimes.map((t) => t.uptimeSeconds!)) }
        : {}),
      ...(req !== undefined ? { requestsPerSecond: req } : {}),
      ...(err !== undefined ? { errorsPerSecond: err } : {}),
      counters,
    };
  });
  return { ts, intervalSeconds, targets, services };
}

/**
 * Merge `/state/<svc>` documents over targets. Object documents are merged key by key:
 * arrays are concatenated with `target` added to each object row, other values are kept
 * from the first target that has them. A non-object document is kept per target.
 */
export function mergeState(inputs: readonly TargetInput[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const i of inputs) {
    for (const [svc, doc] of Object.entries(i.state)) {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        const per = (out[svc] ??= { byTarget: {} }) as { byTarget: Record<string, unknown> };
        per.byTarget[i.target] = doc;
        continue;
      }
      const merged = (out[svc] ??= {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
        if (Array.isArray(v)) {
          const rows = v.map((r: unknown) =>
            r !== null && typeof r === 'object' && !Array.isArray(r)
              ? { ...(r as object), target: i.target }
              : r,
          );
          const prev = merged[k];
          merged[k] = Array.isArray(prev) ? [...(prev as unknown[]), ...rows] : rows;
        } else if (!(k in merged)) merged[k] = v;
      }
    }
  }
  return out;
}
