/**
 * Wiring of the DNS service: config schema, metrics and the socket adapter. The adapter
 * module is imported when the service starts, so a process running other services only
 * (one container per service) does not load it.
 */
import { join } from 'node:path';
import { defineService } from '../../src/service.js';
import { DnsConfig, checkDnsConfig } from './config.js';
import { createDnsMetrics } from './metrics.js';
import type { DnsServer } from './server.js';

export default defineService({
  name: 'dns',
  config: DnsConfig,
  check: checkDnsConfig,
  // Queries / SERVFAIL answers and bugs caught at the adapter (NXDOMAIN is the client's).
  keyCounters: {
    requests: [{ metric: 'dns_queries_total' }],
    errors: [
      { metric: 'dns_queries_total', labels: { rcode: 'SERVFAIL' } },
      { metric: 'dns_internal_errors_total' },
    ],
  },
  create(cfg, ctx) {
    let server: DnsServer | undefined;
    return {
      async start() {
        const { DnsServer } = await import('./server.js');
        server = new DnsServer(
          cfg,
          ctx.configDir,
          ctx.log,
          createDnsMetrics(ctx.metrics),
          join(ctx.dataDir, 'dns-journal.sqlite'),
          join(ctx.dataDir, 'secondary'),
        );
        await server.start();
      },
      stop: async () => server?.stop(),
      reload: async () => server?.reload(),
      ready: () => server?.ready() ?? false,
      // Admin `GET /state/dns`: what UPDATEs changed, per dynamic zone; secondary zones'
      // serial, expiry and next check.
      state: () => ({
        dynamic: server?.dynamicState() ?? {},
        secondary: server?.secondaryState() ?? {},
      }),
    };
  },
});
