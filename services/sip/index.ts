/** Wiring of the SIP service: config schema, secrets, metrics and the socket adapter. */
import { defineService } from '../../src/service.js';
import { cryptoRng } from '../../src/clock.js';
import { SipConfig, checkSipConfig, resolveSecrets } from './config.js';
import { createSipMetrics, registerSipGauges } from './metrics.js';
import { SipServer } from './server.js';
import { createRtpMetrics } from './rtp-metrics.js';

export default defineService({
  name: 'sip',
  config: SipConfig,
  check: (cfg, configDir) => checkSipConfig(cfg, configDir),
  // Requests / our 5xx responses and bugs (401, 404, 486 answer the client's request).
  keyCounters: {
    requests: [{ metric: 'sip_requests_total' }],
    errors: [
      { metric: 'sip_internal_errors_total' },
      { metric: 'sip_responses_total', labels: { class: '5.*' } },
    ],
  },
  create(cfg, ctx) {
    const users = resolveSecrets(cfg, ctx.configDir);
    const metrics = createSipMetrics(ctx.metrics);
    const rtpMetrics = createRtpMetrics(ctx.metrics);
    const server = new SipServer({
      cfg,
      users,
      dataDir: ctx.dataDir,
      configDir: ctx.configDir,
      log: ctx.log,
      metrics,
      rtpMetrics,
      clock: ctx.clock,
      rng: cryptoRng,
    });
    registerSipGauges(ctx.metrics, {
      registrations: () => server.core.registrar.activeCount,
      reachable: () => server.core.qualify.reachableCount,
      transactions: () => server.core.layer.serverCount + server.core.layer.clientCount,
      transactionBytes: () => server.core.layer.retainedBytes,
      tcpConnections: () => server.tcpConnections,
      calls: () => server.core.b2bua.activeCount,
      authBans: () => server.core.registrar.guard?.bannedCount(ctx.clock.now()) ?? 0,
    });
    return {
      start: () => server.start(),
      stop: () => server.stop(),
      ready: () => server.ready(),
      // Admin `GET /state/sip`: registrations and calls with live relay figures.
      state: () => server.state(),
    };
  },
});
