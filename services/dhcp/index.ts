/** Wiring of the DHCP service: config schema and checks, metrics, the socket adapter. */
import { defineService } from '../../src/service.js';
import { DhcpConfig, checkDhcpConfig } from './config.js';
import { createDhcpMetrics } from './metrics.js';
import type { DhcpServer } from './server.js';
import { referenceEnvOverrides } from './reference-env.js';

export default defineService({
  name: 'dhcp',
  config: DhcpConfig,
  check: (cfg) => checkDhcpConfig(cfg),
  envOverrides: referenceEnvOverrides,
  create(cfg, ctx) {
    // The adapter (SQLite, the native socket addon) loads only when the service starts.
    let server: DhcpServer | undefined;
    return {
      async start() {
        const { DhcpServer } = await import('./server.js');
        server = new DhcpServer(cfg, {
          dataDir: ctx.dataDir,
          log: ctx.log,
          metrics: createDhcpMetrics(ctx.metrics),
          clock: ctx.clock,
        });
        await server.start();
      },
      stop: async () => server?.stop(),
      ready: () => server?.ready() ?? false,
    };
  },
});
