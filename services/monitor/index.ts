/**
 * Wiring of the `monitor` service: a read-only web page and JSON API over the scraped
 * /metrics and /state of every netsvc process and the host. See README.md.
 */
import { defineService, type Service, type ServiceContext } from '../../src/service.js';
import { MonitorConfig, checkMonitorConfig } from './config.js';
import { createMonitorMetrics } from './metrics.js';
import { MonitorServer } from './server.js';

export interface MonitorService extends Service {
  readonly server: MonitorServer;
}

export function createMonitorService(cfg: MonitorConfig, ctx: ServiceContext): MonitorService {
  const server = new MonitorServer(cfg, {
    log: ctx.log,
    clock: ctx.clock,
    dataDir: ctx.dataDir,
    configDir: ctx.configDir,
    metrics: createMonitorMetrics(ctx.metrics),
  });
  return {
    server,
    start: async () => {
      try {
        await server.start();
      } catch (e) {
        await server.stop().catch(() => undefined);
        throw e;
      }
    },
    stop: () => server.stop(),
    ready: () => server.ready(),
  };
}

export default defineService({
  name: 'monitor',
  config: MonitorConfig,
  check: (cfg) => checkMonitorConfig(cfg),
  create: createMonitorService,
});
