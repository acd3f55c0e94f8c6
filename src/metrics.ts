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

/** One counter cell: its label values and its count. */
export type CounterEntry = [values: string[], n: number];

/** A histogram's state, to move between processes. */
export interface HistogramSnapshot {
  counts: number[];
  sum: number;
  total: number;
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
  /** Cumulative counts reported by other processes (DNS UDP workers), by source. */
  private readonly external = new Map<string, readonly CounterEntry[]>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** This process's counts as label values and numbers (to send to a parent process). */
  snapshot(): CounterEntry[] {
    return [...this.counts.values()].map((c) => [this.labelNames.map((l) => c.labels[l]), c.n]);
  }

  /** Replace the cumulative counts of another process, added in at scrape time. */
  setExternal(source: string, entries: readonly CounterEntry[]): void {
    this.external.set(source, entries);
  }

  /**
   * The cell for these label values, created at 0 if new. A hot path may keep it and
   * increment `n` directly (the DNS answer cache stores one per cached reply).
   */
  cell(values: readonly string[]): { n: number } {
    const key = values.join('\u0000');
    let c = this.counts.get(key);
    if (!c) {
      const labels = {} as Record<L, string>;
      this.labelNames.forEach((l, i) => (labels[l] = values[i] ?? ''));
      c = { labels, n: 0 };
      this.counts.set(key, c);
    }
    return c;
  }

  /** Label values in the order of labelNames. */
  inc(values: readonly string[], by = 1): void {
    this.cell(values).n += by;
  }

  value(values: readonly string[]): number {
    return this.counts.get(values.join('\u0000'))?.n ?? 0;
  }

  async get(): Promise<RenderedMetric> {
    const merged = new Map<string, { labels: Record<string, string>; n: number }>();
    for (const [k, c] of this.counts) merged.set(k, { labels: c.labels, n: c.n });
    for (const entries of this.external.values()) {
      for (const [values, n] of entries) {
        const k = values.join('\u0000');
        const m = merged.get(k);
        if (m) m.n += n;
        else {
          const labels: Record<string, string> = {};
          this.labelNames.forEach((l, i) => (labels[l] = values[i] ?? ''));
          merged.set(k, { labels, n });
        }
      }
    }
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      values: [...merged.values()].map((c) => ({ value: c.n, labels: c.labels })),
      aggregator: 'sum',
    };
  }

  reset(): void {
    this.counts.clear();
    this.external.clear();
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

  private readonly external = new Map<string, HistogramSnapshot>();

  snapshot(): HistogramSnapshot {
    return { counts: [...this.counts], sum: this.sum, total: this.total };
  }

  setExternal(source: string, snap: HistogramSnapshot): void {
    if (snap.counts.length === this.buckets.length) this.external.set(source, snap);
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
    let total = this.total;
    let sum = this.sum;
    for (const e of this.external.values()) {
      total += e.total;
      sum += e.sum;
    }
    this.buckets.forEach((le, i) => {
      acc += this.counts[i]!;
      for (const e of this.external.values()) acc += e.counts[i] ?? 0;
      values.push({ value: acc, labels: { le }, metricName: `${this.name}_bucket` });
    });
    values.push({ value: total, labels: { le: '+Inf' }, metricName: `${this.name}_bucket` });
    values.push({ value: sum, metricName: `${this.name}_sum` });
    values.push({ value: total, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.total = 0;
    this.external.clear();
  }
}
