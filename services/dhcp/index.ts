/** Wiring of the DHCP service: config schema and checks, metrics, the socket adapter. */
import { defineService } from '../../src/service.js';
import { DhcpConfig, checkDhcpConfig } from './config.js';
import { createDhcpMetrics } from './metrics.js';
import type { DhcpServer } from './server.js';
import type { DdnsClient } from './ddns-client.js';
import { startDdns } from './ddns-wiring.js';
import { referenceEnvOverrides } from './reference-env.js';
import { ipToText } from './ipv4.js';

export default defineService({
  name: 'dhcp',
  config: DhcpConfig,
  check: (cfg) => checkDhcpConfig(cfg),
  envOverrides: referenceEnvOverrides,
  // Messages received / bugs, and requests no free address could answer (pool exhausted).
  keyCounters: {
    requests: [{ metric: 'dhcp_packets_received_total' }],
    errors: [{ metric: 'dhcp_internal_errors_total' }, { metric: 'dhcp_pool_exhausted_total' }],
  },
  create(cfg, ctx) {
    // The adapter (SQLite, the native socket addon) loads only when the service starts.
    let server: DhcpServer | undefined;
    let ddns: DdnsClient | undefined;
    return {
      async start() {
        const { DhcpServer } = await import('./server.js');
        ddns = cfg.ddns.enabled ? await startDdns(cfg, ctx) : undefined;
        server = new DhcpServer(cfg, {
          dataDir: ctx.dataDir,
          log: ctx.log,
          metrics: createDhcpMetrics(ctx.metrics),
          clock: ctx.clock,
          ...(ddns ? { ddns } : {}),
        });
        await server.start();
      },
      stop: async () => {
        await server?.stop();
        await ddns?.stop();
      },
      ready: () => server?.ready() ?? false,
      // Admin `GET /state/dhcp`: bound, unexpired leases (the monitor's table, `netsvc leases`).
      state: () => {
        const now = ctx.clock.now();
        const leases = [];
        for (const l of server?.leases.leases() ?? []) {
          if (l.state !== 'bound' || l.ends <= now) continue;
          leases.push({
            address: ipToText(l.address),
            mac: l.chaddr,
            hostname: l.hostname,
            subnet: l.subnet,
            starts: l.starts,
            ends: l.ends,
          });
        }
        return { leases };
      },
    };
  },
});
