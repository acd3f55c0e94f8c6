/** Wiring of the FTP service: config schema, checks, metrics and the socket adapter. */
import { defineService } from '../../src/service.js';
import { FtpConfig, checkFtpConfig } from './config.js';
import { createFtpMetrics } from './metrics.js';
import type { FtpServer } from './server.js';

export default defineService({
  name: 'ftp',
  config: FtpConfig,
  check: checkFtpConfig,
  // Commands / failed transfers and bugs (a wrong password is the client's mistake).
  keyCounters: {
    requests: [{ metric: 'ftp_commands_total' }],
    errors: [
      { metric: 'ftp_internal_errors_total' },
      { metric: 'ftp_transfers_total', labels: { result: 'failed' } },
    ],
  },
  create(cfg, ctx) {
    // The adapter loads only when the service starts (one-service containers stay small).
    let server: FtpServer | undefined;
    return {
      async start() {
        const { FtpServer } = await import('./server.js');
        server = new FtpServer(cfg, {
          log: ctx.log,
          metrics: createFtpMetrics(ctx.metrics),
          configDir: ctx.configDir,
          dataDir: ctx.dataDir,
          clock: ctx.clock,
        });
        await server.start();
      },
      stop: async () => server?.stop(),
      ready: () => server?.ready() ?? false,
    };
  },
});
