/** Wiring of the DHCP service: config schema and checks, metrics, the socket adapter. */
import { defineService } from '../../src/service.js';
import { DhcpConfig, checkDhcpConfig } from './config.js';
import { createDhcpMetrics } from './metrics.js';
import { DhcpServer } from './server.js';
import { referenceEnvOverrides } from './reference-env.js';

export default defineService({
  name: 'dhcp',
  config: DhcpConfig,
  check: (cfg) => checkDhcpConfig(cfg),
  envOverrides: referenceEnvOverrides,
  create(cfg, ctx) {
    const server = new DhcpServer(cfg, {
      dataDir: ctx.dataDir,
      log: ctx.log,
      metrics: createDhcpMetrics(ctx.metrics),
      clock: ctx.clock,
    });
    return {
      start: () => server.start(),
      stop: () => server.stop(),
      ready: () => server.ready(),
    };
  },
});
