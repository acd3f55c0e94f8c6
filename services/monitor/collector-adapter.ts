/**
 * The scrape loop: every `scrapeIntervalSeconds`, scrape every target and the host, turn
 * the samples into series (src/observe/derive-series.ts, host-stats.ts), store them
 * (history-store.ts), build the status and the merged state (src/observe/snapshot.ts) and
 * hand a `Round` to listeners (the SSE clients). A target's `GET /services` (its key
 * counters) is asked on its first scrape and again when it restarts or its services change.
 * A round still running when the next is due makes that one skip (no pile-up).
 */
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { extract, mergeSeries, rates, type Extract } from '../../src/observe/derive-series.js';
import { fetchServices, scrapeTarget, type TargetScrape } from '../../src/observe/scrape-client.js';
import {
  buildStatus,
  mergeState,
  type Status,
  type TargetInput,
} from '../../src/observe/snapshot.js';
import type { ServiceDescription } from '../../src/service.js';
import type { MonitorConfig } from './config.js';
import { keyCountersFor } from './fallback-rules.js';
import { hostSeries, type HostReading } from './host-stats.js';
import { readHost } from './host-adapter.js';
import type { HistoryStore } from './history-store.js';
import type { MonitorMetrics } from './metrics.js';

export interface Round {
  readonly ts: number;
  /** Latest value of every series. */
  readonly values: Record<string, number>;
  readonly status: Status;
  readonly state: Record<string, unknown>;
}

export class Collector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly prev = new Map<string, { at: number; ex: Extract }>();
  private readonly known = new Map<string, Record<string, boolean>>();
  /** Per target: its /services answer (undefined: it has none) and when it was asked. */
  private readonly described = new Map<
    string,
    { stamp: string; services: ServiceDescription[] | undefined }
  >();
  private host: { at: number; reading: HostReading } | undefined;
  private readonly listeners = new Set<(r: Round) => void>();
  last: Round | undefined;

  constructor(
    private readonly cfg: MonitorConfig,
    private readonly deps: {
      history: HistoryStore;
      log: Logger;
      clock: Clock;
      metrics: MonitorMetrics;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.cfg.scrapeIntervalSeconds * 1000);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  subscribe(fn: (r: Round) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** One round now (also what the timer calls); resolves when it is stored and sent. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.round()
      .catch((e: unknown) => this.deps.log.error({ err: e }, 'monitor round failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * Ask a target for its /services when it is new, restarted (another process start time)
   * or runs other services than when last asked; one request per change, not per scrape.
   * A failed request is asked again next round; meanwhile the fallback rules apply.
   */
  private async describe(s: TargetScrape): Promise<void> {
    if (!s.up) {
      this.described.delete(s.target);
      return;
    }
    const started = s.samples.find((x) => x.name === 'netsvc_process_start_time_seconds');
    const stamp = `${started?.value ?? ''} ${Object.keys(s.services).sort().join(',')}`;
    if (this.described.get(s.target)?.stamp === stamp) return;
    try {
      const services = await fetchServices(s, this.cfg.scrapeTimeoutMs);
      this.described.set(s.target, { stamp, services });
    } catch (e) {
      this.described.delete(s.target);
      this.deps.log.debug({ err: e, target: s.target }, 'GET /services failed; asking again');
    }
  }

  private async round(): Promise<void> {
    const { cfg, deps } = this;
    const now = deps.clock.now();
    // Floor, as the API does for "now": a rounded-up stamp would lie in the future of a
    // query made in the same second and be left out of it.
    const ts = Math.floor(now / 1000);
    const [scrapes, reading] = await Promise.all([
      Promise.all(cfg.targets.map((t) => scrapeTarget(t, cfg.scrapeTimeoutMs))),
      cfg.host.enabled ? readHost(cfg.host.procDir, cfg.host.sysDir) : Promise.resolve(undefined),
    ]);
    await Promise.all(scrapes.map((s) => this.describe(s)));
    const parts: Map<string, number>[] = [];
    const inputs: TargetInput[] = [];
    for (const s of scrapes) {
      deps.metrics.scrapes.inc([s.target, s.up ? 'ok' : 'down']);
      deps.metrics.scrapeSeconds.set({ target: s.target }, s.ms / 1000);
      if (s.up && Object.keys(s.services).length > 0) this.known.set(s.target, { ...s.services });
      const services = s.up
        ? s.services
        : Object.fromEntries(Object.keys(this.known.get(s.target) ?? {}).map((k) => [k, false]));
      inputs.push({ ...s, services });
      const values = new Map<string, number>([[`proc/${s.target}/up`, s.up ? 1 : 0]]);
      if (s.up) {
        const described = this.described.get(s.target)?.services;
        const ex = extract(s.target, s.samples, keyCountersFor(Object.keys(services), described));
        const p = this.prev.get(s.target);
        for (const [k, v] of rates(p?.ex, ex, p ? (s.at - p.at) / 1000 : 0)) values.set(k, v);
        this.prev.set(s.target, { at: s.at, ex });
      } else {
        this.prev.delete(s.target);
        for (const svc of Object.keys(services)) values.set(`svc/${svc}/ready`, 0);
      }
      parts.push(values);
    }
    if (reading) {
      const seconds = this.host ? (now - this.host.at) / 1000 : 0;
      parts.push(hostSeries(this.host?.reading, reading, seconds, cfg.host.interfaces));
      this.host = { at: now, reading };
    }
    const values = mergeSeries(parts);
    const state = mergeState(inputs);
    // SIP gauges from its state when the service does not export them as metrics.
    const sip = state.sip as { registrations?: unknown; calls?: unknown } | undefined;
    if (sip && !values.has('sip/registrations') && Array.isArray(sip.registrations)) {
      values.set('sip/registrations', sip.registrations.length);
    }
    if (sip && !values.has('sip/calls') && Array.isArray(sip.calls))
      values.set('sip/calls', sip.calls.length);

    deps.history.insert(ts, values);
    deps.metrics.series.set(deps.history.keys().length);
    const round: Round = {
      ts,
      values: Object.fromEntries(values),
      status: buildStatus(ts, cfg.scrapeIntervalSeconds, inputs, values),
      state,
    };
    this.last = round;
    for (const fn of this.listeners) {
      try {
        fn(round);
      } catch (e) {
        deps.log.warn({ err: e }, 'monitor listener failed');
      }
    }
  }
}
