/**
 * The monitor's adapter: opens the history store, reads the token file, builds the app,
 * listens on `listen`, and runs the collector. Stop: the collector, then the listener
 * (live connections are ended), then the store.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { AccessCheck } from './access.js';
import { buildApp } from './app-adapter.js';
import { Collector } from './collector-adapter.js';
import type { MonitorConfig } from './config.js';
import { HistoryStore } from './history-store.js';
import type { MonitorMetrics } from './metrics.js';

export interface MonitorServerDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly dataDir: string;
  readonly configDir: string;
  readonly metrics: MonitorMetrics;
}

export class MonitorServer {
  private app: FastifyInstance | undefined;
  private history: HistoryStore | undefined;
  collector: Collector | undefined;
  address: AddressInfo | undefined;

  constructor(
    private readonly cfg: MonitorConfig,
    private readonly deps: MonitorServerDeps,
  ) {}

  async start(): Promise<void> {
    const { cfg, deps } = this;
    let token: string | undefined;
    if (cfg.auth.tokenFile !== null) {
      const file = resolve(deps.configDir, cfg.auth.tokenFile);
      try {
        token = readFileSync(file, 'utf8').trim();
      } catch (e) {
        throw new Error(`auth.tokenFile ${file}: ${(e as Error).message}`);
      }
      if (token.length < 16)
        throw new Error(`auth.tokenFile ${file}: the token must be at least 16 characters`);
    }
    const history = new HistoryStore(join(deps.dataDir, cfg.storeFile), {
      rawSeconds: cfg.history.rawHours * 3600,
      rollupSeconds: cfg.history.rollupSeconds,
      rollupKeepSeconds: cfg.history.rollupDays * 86400,
    });
    this.history = history;
    const collector = new Collector(cfg, {
      history,
      log: deps.log,
      clock: deps.clock,
      metrics: deps.metrics,
    });
    this.collector = collector;
    const access = new AccessCheck({
      basic: cfg.auth.basic,
      ...(token !== undefined ? { token } : {}),
    });
    if (access.open)
      deps.log.info(
        { address: cfg.listen.address },
        'monitor has no auth: reachable by anyone who can reach its address',
      );
    this.app = buildApp({
      collector,
      history,
      access,
      metrics: deps.metrics,
      now: () => deps.clock.now(),
    });
    await this.app.listen({ host: cfg.listen.address, port: cfg.listen.port });
    this.address = this.app.server.address() as AddressInfo;
    // The first round runs after start: the other services (and this process's own admin
    // listener) are up by then.
    collector.start();
    deps.log.info(
      { address: this.address.address, port: this.address.port, targets: cfg.targets.length },
      'monitor listening',
    );
  }

  ready(): boolean {
    return this.address !== undefined;
  }

  async stop(): Promise<void> {
    await this.collector?.stop();
    await this.app?.close();
    this.app = undefined;
    this.address = undefined;
    this.history?.close();
    this.history = undefined;
  }
}
