/** Wiring of the DNS service: config schema, metrics and the socket adapter. */
import { defineService } from '../../src/service.js';
import { DnsConfig, checkDnsConfig } from './config.js';
import { createDnsMetrics } from './metrics.js';
import { DnsServer } from './server.js';

export default defineService({
  name: 'dns',
  config: DnsConfig,
  check: checkDnsConfig,
  create(cfg, ctx) {
    const server = new DnsServer(cfg, ctx.configDir, ctx.log, createDnsMetrics(ctx.metrics));
    return {
      start: () => server.start(),
      stop: () => server.stop(),
      reload: () => server.reload(),
      ready: () => server.ready(),
    };
  },
});
