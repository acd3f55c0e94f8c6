/**
 * The socket adapter: a plain HTTP listener and, when enabled, an HTTPS one (certificate
 * picked per site by SNI, RFC 6066 §3), both handing requests to the Fastify app built by
 * app.ts. Node's HTTP/1.1 parser (RFC 9112) enforces the connection limits:
 *
 *   maxHeaderBytes     → 431, or 414 when the request line alone overflows (nginx
 *                        large_client_header_buffers: 414 for the line, 400/431 for fields)
 *   headersTimeoutMs   → 408 when the head is not complete in time (slowloris);
 *                        nginx client_header_timeout. Checked every ≤1 s.
 *   requestTimeoutMs   → 408 for the whole request
 *   idleTimeoutMs      → socket closed after that much inactivity mid-request/response
 *   keepAliveTimeoutMs → idle keep-alive connections closed (reference: 65 s)
 *   keepAliveRequests  → connection closed after that many requests (nginx keepalive_requests)
 *   maxConnections     → at the cap, the connection waiting longest for a request head is
 *                        closed to admit the new one; refused only when all are mid-request
 *                        (nginx worker_connections + reusable connections; connection-slots.ts)
 *   maxConnectionsPerSource → more connections from one client address (both listeners
 *                        together) are closed at accept (nginx limit_conn)
 *
 * The two connection limits are enforced here, not by Node's `server.maxConnections`
 * (which can only refuse the newcomer): every accepted TCP socket takes a slot, Node's
 * 'request' event (the head is complete) marks it busy, the end of its response marks it
 * waiting again. Closed connections are counted in http_connections_shed_total{reason}.
 *
 * Malformed requests get 400 from the `clientError` handler (RFC 9112 §2.2, §3); responses
 * written there close the connection (§9.6). Each refusal is counted in
 * http_client_errors_total.
 *
 * stop(): stop accepting, close idle keep-alive connections, give in-flight requests
 * `graceMs`, then cut the rest.
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HttpConfig } from './config.js';
import { ConnectionsPerSource } from '../../src/net/connections-per-source.js';
import { LogLimit } from '../../src/log-limit.js';
import { ConnectionSlots, type ShedReason } from './connection-slots.js';
import { defaultErrorBody, reasonPhrase } from './error-page.js';
import { closeUpstreams } from './upstream-adapter.js';

export interface HttpServer {
  readonly app: FastifyInstance;
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
  /** Bound addresses (after start). */
  readonly addresses: { http?: AddressInfo; https?: AddressInfo };
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * 414 when the request line alone did not fit (no line end within the limit), else 431.
 * `rawPacket` is the chunk the parser was working on when the limit was hit.
 */
export function overflowStatus(rawPacket: Buffer | undefined, maxHeaderBytes: number): 414 | 431 {
  if (rawPacket === undefined) return 431;
  const nl = rawPacket.indexOf(0x0a);
  return nl === -1 || nl >= maxHeaderBytes ? 414 : 431;
}

/**
 * The TCP socket under a request's socket: HTTPS requests arrive on a TLSSocket wrapping
 * the socket the listener accepted (Node keeps it as `_parent`), plain HTTP on that socket.
 */
function transportOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket | null })._parent ?? socket;
}

export function createHttpServer(cfg: HttpConfig, app: FastifyInstance, log: Logger): HttpServer {
  const l = cfg.limits;
  const state = app.http;
  const metrics = state.metrics;
  const servers: Server[] = [];
  const addresses: { http?: AddressInfo; https?: AddressInfo } = {};
  const routing = app.routing.bind(app) as unknown as (
    req: IncomingMessage,
    res: ServerResponse,
  ) => void;
  // answers already in memory skip Fastify (app.ts fastServe); the rest is routed by it
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!state.fastServe(req, res)) routing(req, res);
  };

  const opts = {
    maxHeaderSize: l.maxHeaderBytes,
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs === 0 ? 0 : Math.max(l.requestTimeoutMs, l.headersTimeoutMs),
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // how often Node checks the two timeouts above (its default, 30 s, would let a slow
    // client hold a connection up to 30 s past the deadline)
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(1000, Math.floor(l.headersTimeoutMs / 4) || 1000),
    ),
    requireHostHeader: false, // app.ts answers 400 itself, so inject() and sockets agree
  };

  // one count per client address for both listeners, like one nginx limit_conn zone
  const perSource = new ConnectionsPerSource(l.maxConnectionsPerSource);
  // a flood of refused connections (from any number of addresses) logs a few lines per
  // reason a minute, then a count; the counters have the totals
  const logLimit = new LogLimit({ intervalMs: 60_000, burst: 5 });
  const shed = (reason: ShedReason, remote: string | undefined): void => {
    metrics.connectionShed(reason);
    // kept as before: a refusal at maxConnections is also a 503 client error
    if (reason === 'max_connections') metrics.clientError(503);
    const { write, suppressed } = logLimit.admit(reason, Date.now());
    if (write) log.warn({ reason, remote, suppressed }, 'connection closed by limit');
  };

  function harden(server: Server): void {
    server.keepAliveTimeout = l.keepAliveTimeoutMs;
    server.maxRequestsPerSocket = l.keepAliveRequests;
    server.setTimeout(l.idleTimeoutMs);
    const slots = new ConnectionSlots<Socket>(l.maxConnections, perSource);
    // 'connection' is the accepted TCP socket on both listeners (before any TLS handshake)
    server.on('connection', (s: Socket) => {
      metrics.connections++;
      s.once('close', () => {
        metrics.connections--;
        slots.close(s);
      });
      const admission = slots.open(s, s.remoteAddress);
      if (!admission.accept) {
        shed(admission.reason, s.remoteAddress);
        s.destroy();
        return;
      }
      if (admission.evict !== undefined) {
        shed('evicted_header_incomplete', admission.evict.remoteAddress);
        admission.evict.destroy();
      }
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const s = transportOf(req.socket);
      slots.headReceived(s);
      res.once('close', () => slots.responseDone(s));
    });
    server.on(
      'clientError',
      (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
        if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
          socket.destroy();
          return;
        }
        let status: number;
        if (err.code === 'HPE_HEADER_OVERFLOW')
          status = overflowStatus(err.rawPacket, l.maxHeaderBytes);
        else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408;
        else if (
          err.code === 'HPE_CB_headers_complete' ||
          err.code === 'HPE_INVALID_TRANSFER_ENCODING'
        )
          status = 400;
        else status = 400;
        metrics.clientError(status);
        log.debug({ code: err.code, status, remote: socket.remoteAddress }, 'client error');
        const body = defaultErrorBody(status);
        socket.end(
          `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nContent-Type: text/html; charset=utf-8\r\n` +
            `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('latin1')}`,
          'latin1',
        );
        // a client that does not read its error must not keep the socket
        setTimeout(() => socket.destroy(), 1000).unref();
      },
    );
    servers.push(server);
  }

  return {
    app,
    addresses,
    async start() {
      await app.ready();
      const plain = createServer(opts, handler);
      harden(plain);
      addresses.http = await listen(plain, cfg.listen.port, cfg.listen.address);
      if (cfg.https.enabled) {
        const contexts = new Map<string, SecureContext>();
        let fallback: { cert: Buffer; key: Buffer } | undefined;
        for (const s of state.sites) {
          if (s.tls === null) continue;
          fallback ??= s.tls;
          contexts.set(s.name, createSecureContext({ cert: s.tls.cert, key: s.tls.key }));
        }
        if (fallback === undefined)
          throw new Error('ERR_HTTP_NO_CERTIFICATE: https.enabled but no site has tls');
        const tls = createTlsServer(
          {
            ...opts,
            cert: fallback.cert,
            key: fallback.key,
            minVersion: 'TLSv1.2',
            SNICallback: (servername, cb) => {
              const site = state.hosts.select(servername);
              cb(null, contexts.get(site.name) ?? undefined);
            },
          },
          handler,
        ) as TlsServer;
        harden(tls as unknown as Server);
        tls.on('tlsClientError', (e: Error) => {
          metrics.clientError(400);
          log.debug({ err: e.message }, 'TLS handshake failed');
        });
        addresses.https = await listen(tls as unknown as Server, cfg.https.port, cfg.https.address);
        if (cfg.https.port === 0) state.httpsPort = addresses.https.port;
      }
      log.info(
        { http: addresses.http, https: addresses.https, sites: state.sites.map((s) => s.name) },
        'http listening',
      );
    },
    async stop(graceMs = 5000) {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => s.closeAllConnections(), graceMs);
              timer.unref();
              s.close(() => {
                clearTimeout(timer);
                resolve();
              });
              s.closeIdleConnections();
            }),
        ),
      );
      servers.length = 0;
      closeUpstreams();
      await app.close();
    },
  };
}
