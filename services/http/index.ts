/**
 * The `http` service: static virtual hosts with optional HTTPS and reverse-proxy prefixes,
 * replacing the reference deployment's nginx. Wiring only: config.ts (schema), app-adapter.ts
 * (Fastify app), server.ts (listeners), site-store.ts (`check`). See README.md.
 */
import type { AddressInfo } from 'node:net';
import { defineService, type Service, type ServiceContext } from '../../src/service.js';
import { HttpConfig } from './config.js';
import type { HttpServer } from './server.js';
import { checkSites } from './site-store.js';

export interface HttpService extends Service {
  /** Bound listener addresses once started (tests listen on port 0). */
  addresses(): { http?: AddressInfo; https?: AddressInfo };
}

export function createHttpService(cfg: HttpConfig, ctx: ServiceContext): HttpService {
  let server: HttpServer | undefined;
  let ready = false;
  return {
    async start() {
      // Fastify and the adapters load only when the service starts.
      const [{ buildApp }, { createHttpServer }] = await Promise.all([
        import('./app-adapter.js'),
        import('./server.js'),
      ]);
      const app = buildApp(cfg, {
        configDir: ctx.configDir,
        dataDir: ctx.dataDir,
        log: ctx.log,
        registry: ctx.metrics,
        clock: ctx.clock,
      });
      server = createHttpServer(cfg, app, ctx.log);
      try {
        await server.start();
      } catch (e) {
        await server.stop(0).catch(() => undefined);
        server = undefined;
        throw e;
      }
      ready = true;
    },
    async stop() {
      ready = false;
      await server?.stop();
      server = undefined;
    },
    // Files are re-read on demand anyway; this drops the file cache and reopens the logs
    // (rotation). A change of sites or listeners needs a restart.
    async reload() {
      await server?.app.http.reload();
    },
    ready: () => ready,
    addresses: () => server?.addresses ?? {},
  };
}

export default defineService({
  name: 'http',
  config: HttpConfig,
  check: (cfg, configDir) => checkSites(cfg, configDir),
  // Responses; 5xx answers and upstream failures are errors (a 404 is the client's mistake).
  keyCounters: {
    requests: [{ metric: 'http_requests_total' }],
    errors: [
      { metric: 'http_requests_total', labels: { class: '5xx' } },
      { metric: 'http_upstream_errors_total' },
    ],
  },
  create: createHttpService,
});
