/** Wiring of the FTP service: config schema, checks, metrics and the socket adapter. */
import { defineService } from '../../src/service.js';
import { FtpConfig, checkFtpConfig } from './config.js';
import { createFtpMetrics } from './metrics.js';
import { FtpServer } from './server.js';

export default defineService({
  name: 'ftp',
  config: FtpConfig,
  check: checkFtpConfig,
  create(cfg, ctx) {
    const server = new FtpServer(cfg, {
      log: ctx.log,
      metrics: createFtpMetrics(ctx.metrics),
      configDir: ctx.configDir,
      dataDir: ctx.dataDir,
      clock: ctx.clock,
    });
    return {
      start: () => server.start(),
      stop: () => server.stop(),
      ready: () => server.ready(),
    };
  },
});
