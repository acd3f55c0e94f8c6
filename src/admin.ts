/**
 * The admin listener: one small HTTP server per process (DESIGN.md rule 5).
 *
 *   GET  /healthz  200 while the process runs its event loop (liveness)
 *   GET  /readyz   200 when every started service reports ready, else 503 with the list
 *   GET  /metrics  Prometheus text format
 *   POST /reload   re-read zones/sites of every service that supports reload
 *   GET  /state/<svc>  JSON of a started service's optional `state()` (404 when it has none)
 *   GET  /services  JSON `[{name, keyCounters}]` of the services this process runs
 *
 * Bind it to a private address: it has no authentication (like BIND's rndc on 127.0.0.1).
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ServiceDescription } from './service.js';

export interface AdminHooks {
  readiness(): { ready: boolean; services: Record<string, boolean> };
  reload(): Promise<{ ok: boolean; results: Record<string, string> }>;
  /** A service's read-only state; undefined when not started or without `state()`. */
  state?(name: string): unknown;
  /** The services this process runs, so a monitor learns their key counters from them. */
  services?(): readonly ServiceDescription[];
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export async function startAdmin(opts: {
  address: string;
  port: number;
  registry: Registry;
  hooks: AdminHooks;
}): Promise<AdminServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (req.method === 'GET' && url === '/readyz') {
      const r = opts.hooks.readiness();
      return send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify(r) + '\n');
    }
    if (req.method === 'GET' && url === '/metrics') {
      return send(res, 200, opts.registry.contentType, await opts.registry.metrics());
    }
    if (req.method === 'GET' && url?.startsWith('/state/')) {
      const value = opts.hooks.state?.(decodeURIComponent(url.slice('/state/'.length)));
      if (value === undefined) return send(res, 404, 'text/plain', 'no state\n');
      return send(res, 200, 'application/json', JSON.stringify(value) + '\n');
    }
    if (req.method === 'GET' && url === '/services' && opts.hooks.services) {
      return send(res, 200, 'application/json', JSON.stringify(opts.hooks.services()) + '\n');
    }
    if (req.method === 'POST' && url === '/reload') {
      const r = await opts.hooks.reload();
      return send(res, r.ok ? 200 : 500, 'application/json', JSON.stringify(r) + '\n');
    }
    send(res, 404, 'text/plain', 'not found\n');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) =>
      send(res, 500, 'text/plain', `${(e as Error).message}\n`),
    );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.address, () => {
      server.off('error', fail);
      ok();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
