/**
 * Process-wide metrics in the Prometheus text format (served by admin.ts on /metrics).
 *
 * One prom-client Registry per process; each service registers `<svc>_<noun>_<unit|total>`
 * metrics on it (DESIGN.md rule 5). Process metrics (RSS, CPU, heap, event-loop lag) come
 * from prom-client's default collectors, prefixed `netsvc_` so a scrape of several netsvc
 * containers can be told apart from other Node programs by name.
 */
import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';

export function createRegistry(opts: { defaults: boolean } = { defaults: true }): Registry {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'netsvc_' });
  return registry;
}

/** `netsvc_service_up{svc}`: 1 while a service is started and ready. */
export function serviceUpGauge(registry: Registry): Gauge<'svc'> {
  return new Gauge({
    name: 'netsvc_service_up',
    help: '1 while the service is started and ready, 0 otherwise',
    labelNames: ['svc'],
    registers: [registry],
  });
}

/**
 * Hot-path metrics. prom-client's labelled `inc()` hashes its label object on every call,
 * which costs more than answering a cached DNS query. These keep plain numbers in a Map
 * and a Float64Array and render them only when /metrics is scraped.
 */
interface RenderedMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: { value: number; labels?: Record<string, string | number>; metricName?: string }[];
  aggregator: 'sum';
}

interface CustomMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  get(): Promise<RenderedMetric>;
  reset(): void;
}

/** A counter keyed by a tuple of label values; `inc(key)` with a precomputed key string. */
export class FastCounter<L extends string> implements CustomMetric {
  readonly type = 'counter';
  private readonly counts = new Map<string, { labels: Record<L, string>; n: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** Label values in the order of labelNames. */
  inc(values: readonly string[], by = 1): void {
    const key = values.join('\u0000');
    const c = this.counts.get(key);
    if (c) {
      c.n += by;
      return;
    }
    const labels = {} as Record<L, string>;
    this.labelNames.forEach((l, i) => (labels[l] = values[i] ?? ''));
    this.counts.set(key, { labels, n: by });
  }

  value(values: readonly string[]): number {
    return this.counts.get(values.join('\u0000'))?.n ?? 0;
  }

  async get(): Promise<RenderedMetric> {
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      values: [...this.counts.values()].map((c) => ({ value: c.n, labels: c.labels })),
      aggregator: 'sum',
    };
  }

  reset(): void {
    this.counts.clear();
  }
}

/** A histogram without labels; bucket upper bounds in the unit of the metric name. */
export class FastHistogram implements CustomMetric {
  readonly type = 'histogram';
  private readonly counts: Float64Array;
  private sum = 0;
  private total = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    this.counts = new Float64Array(buckets.length);
    registry.registerMetric(this as never);
  }

  observe(v: number): void {
    this.sum += v;
    this.total++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  get count(): number {
    return this.total;
  }

  async get(): Promise<RenderedMetric> {
    const values: RenderedMetric['values'] = [];
    let acc = 0;
    this.buckets.forEach((le, i) => {
      acc += this.counts[i]!;
      values.push({ value: acc, labels: { le }, metricName: `${this.name}_bucket` });
    });
    values.push({ value: this.total, labels: { le: '+Inf' }, metricName: `${this.name}_bucket` });
    values.push({ value: this.sum, metricName: `${this.name}_sum` });
    values.push({ value: this.total, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.total = 0;
  }
}
