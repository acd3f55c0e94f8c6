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
 * HTTP/2 (the second half of this file) shares both ports: on the plain one a connection
 * opening with the RFC 9113 §3.4 preface is handed to HTTP/2 (h2c with prior knowledge,
 * §3.3), on the TLS one ALPN `h2` is (§3.2); everything else stays HTTP/1.1. Node's HTTP/1.1
 * server stays the listener (its timeouts, connection tracking and close() keep working);
 * its own connection handler is called by ours once the first bytes are known. h2
 * connections take the same slots, count against the same per-source cap and go to the
 * same handler.
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
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import {
  constants,
  createServer as createH2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type Http2Stream,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HttpConfig } from './config.js';
import { ConnectionsPerSource } from '../../src/net/connections-per-source.js';
import { LogLimit } from '../../src/log-limit.js';
import { ConnectionSlots, type ShedReason } from './connection-slots.js';
import { defaultErrorBody, reasonPhrase } from './error-page.js';
import { closeUpstreams } from './upstream-adapter.js';
import type { H2CloseReason, HttpMetrics } from './metrics.js';
import { classifyPreface } from './connection-preface.js';
import { StreamResetRate } from './stream-reset-rate.js';

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

type ConnectionListener = (this: unknown, socket: Socket) => void;

/**
 * Take Node's own listeners of `event` off `server` (the HTTP/1.1 connection handler that
 * http.Server / https.Server install), so ours can decide first who gets the connection.
 */
function takeListeners(server: Server | TlsServer, event: string): ConnectionListener[] {
  const taken = server.listeners(event) as ConnectionListener[];
  server.removeAllListeners(event);
  return taken;
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
  // HTTP/2 streams through Node's compatibility API: the same two steps, the same objects'
  // shape (Fastify routes Http2ServerRequest/Response as it does for its own http2 option)
  const h2handler = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    if (!state.fastServe(req, res)) routing(req as unknown as IncomingMessage, res as never);
  };
  const h2listeners: H2Listener[] = [];
  const sniffer = createSniffer();

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

  /** An error answer on a connection no parser owns, then close (RFC 9112 §9.6). */
  function refuse(socket: Socket, status: number): void {
    metrics.clientError(status);
    const body = defaultErrorBody(status);
    socket.end(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nContent-Type: text/html; charset=utf-8\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('latin1')}`,
      'latin1',
    );
    // a client that does not read its error must not keep the socket
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  function h2For(slots: ConnectionSlots<Socket>): H2Listener {
    const h2 = createH2Listener({
      limits: l,
      slots,
      handler: h2handler,
      metrics,
      log,
      closed: (reason, remote, detail) => {
        metrics.h2SessionClosed(reason);
        const { write, suppressed } = logLimit.admit(`h2_${reason}`, Date.now());
        if (write) log.warn({ reason, remote, detail, suppressed }, 'HTTP/2 connection closed');
      },
      now: () => performance.now(),
    });
    h2listeners.push(h2);
    return h2;
  }

  function harden(server: Server): ConnectionSlots<Socket> {
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
        log.debug({ code: err.code, status, remote: socket.remoteAddress }, 'client error');
        refuse(socket, status);
      },
    );
    servers.push(server);
    return slots;
  }

  return {
    app,
    addresses,
    async start() {
      await app.ready();
      const plain = createServer(opts, handler);
      if (cfg.listen.http2) {
        const http1 = takeListeners(plain, 'connection');
        const h2 = h2For(harden(plain));
        // the first bytes must decide within the head deadline, as an HTTP/1.1 head would
        const sniffMs = l.headersTimeoutMs || l.idleTimeoutMs;
        plain.on('connection', (s: Socket) => {
          if (s.destroyed) return; // refused by the connection limits
          sniffer.sniff(
            s,
            sniffMs,
            (kind) => {
              if (kind === 'h2') return h2.accept(s, s);
              for (const fn of http1) fn.call(plain, s);
              s.resume(); // the pushed-back bytes flow into the HTTP/1.1 parser
            },
            () => {
              log.debug({ remote: s.remoteAddress }, 'client error: no request in time');
              refuse(s, 408);
            },
          );
        });
      } else harden(plain);
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
            // RFC 9113 §3.2: "h2" identifies HTTP/2 over TLS; offered first, so a client
            // offering both gets it (RFC 7301 §3.2: the server selects)
            ALPNProtocols: cfg.https.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
            SNICallback: (servername, cb) => {
              const site = state.hosts.select(servername);
              cb(null, contexts.get(site.name) ?? undefined);
            },
          },
          handler,
        ) as TlsServer;
        if (cfg.https.http2) {
          const http1 = takeListeners(tls, 'secureConnection');
          const h2 = h2For(harden(tls as unknown as Server));
          tls.on('secureConnection', (ts: TLSSocket) => {
            if (ts.alpnProtocol === 'h2') return h2.accept(ts, transportOf(ts));
            for (const fn of http1) fn.call(tls, ts);
          });
        } else harden(tls as unknown as Server);
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
      // connections still sniffed have sent no request: idle, like closeIdleConnections
      for (const s of sniffer.pending) s.destroy();
      // RFC 9113 §6.8: GOAWAY, streams already open may complete
      for (const h of h2listeners) h.close();
      const cut = setTimeout(() => h2listeners.forEach((h) => h.destroy()), graceMs);
      cut.unref();
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
      clearTimeout(cut);
      servers.length = 0;
      h2listeners.length = 0;
      closeUpstreams();
      await app.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// HTTP/2 (RFC 9113) for the two listeners, on Node's node:http2 with its
// compatibility API: every stream becomes an Http2ServerRequest/Http2ServerResponse pair
// that goes through the same `fastServe` → Fastify `routing` handler as HTTP/1.1, so vhosts,
// files, precompressed siblings, access logs and metrics are shared.
//
// How connections get here (Node's HTTP/1.1 server stays the listener):
//   - plain port: the sniffer holds the first bytes of an accepted socket; the client
//     connection preface (§3.4) sends it to `accept`, anything else back to HTTP/1.1. The
//     bytes read are pushed back (`unshift`) so either parser sees the connection whole.
//   - TLS port: ALPN (§3.2) chose `h2`; the TLS socket comes straight here.
// Each connection becomes a session of an `http2.Http2Server` that never listens itself
// (`emit('connection')`, the documented way to hand Node a socket).
//
// Limits, in step with HTTP/1.1 and nginx:
//   maxConcurrentStreams  → SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2; nginx 128)
//   maxHeaderBytes        → SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2); a larger header
//                           section resets that stream (§10.5.1), the connection stays
//   headersTimeoutMs      → the first request must arrive in time after the preface
//   keepAliveTimeoutMs    → a connection without open streams that long gets GOAWAY
//                           (§6.8; nginx keepalive_timeout applies to HTTP/2 since 1.19.7)
//   keepAliveRequests     → GOAWAY after that many streams, in-flight ones finish
//                           (nginx keepalive_requests, formerly http2_max_requests)
//   idleTimeoutMs         → no frame either way that long: the session is destroyed
//   connection slots      → the TCP socket holds its slot (connection-slots.ts); a session
//                           with open streams is busy, one without waits for a request
// Bad input (RFC 9113 §5.4.1: a connection error ends with GOAWAY): errors nghttp2 finds
// fatal (no SETTINGS frame right after the preface, §3.4: garbage, say) end the session;
// for the others nghttp2 sends GOAWAY and stops reading, but Node 20 keeps the socket, so
// the head / keep-alive deadline below closes it (and it is evictable meanwhile, having no
// open stream). `maxSessionInvalidFrames` and `maxSessionRejectedStreams` bound floods of
// invalid frames and refused streams; rapid resets (CVE-2023-44487) are bounded by
// stream-reset-rate.ts. Closures are counted in http_h2_sessions_closed_total{reason}.
//
// Left out: server push (deprecated in practice, §8.4, and refused by our SETTINGS),
// PRIORITY handling beyond Node's defaults, 421 Misdirected Request for coalesced
// connections (RFC 9110 §15.5.20: sites are chosen by :authority on any connection).
// ---------------------------------------------------------------------------------------

type H2Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

interface H2Listener {
  /**
   * Serve HTTP/2 on `socket` (a plain socket whose preface was read and pushed back, or a
   * TLS socket that negotiated h2). `transport` is the accepted TCP socket holding the slot.
   */
  accept(socket: Socket | TLSSocket, transport: Socket): void;
  /** Graceful shutdown: GOAWAY on every session (§6.8); open streams may finish. */
  close(): void;
  /** Cut every session now. */
  destroy(): void;
}

interface Conn {
  readonly transport: Socket;
  /** Streams whose request arrived and whose response has not closed. */
  inFlight: number;
  requests: number;
  closing: boolean;
  timer: NodeJS.Timeout | undefined;
  readonly resets: StreamResetRate;
}

interface H2ListenerOptions {
  readonly limits: HttpConfig['limits'];
  readonly slots: ConnectionSlots<Socket>;
  readonly handler: H2Handler;
  readonly metrics: HttpMetrics;
  readonly log: Logger;
  /** A session closed because of the client (counted and logged by the caller). */
  readonly closed: (reason: H2CloseReason, remote: string | undefined, detail?: string) => void;
  /** Monotonic milliseconds (the reset budget's clock). */
  readonly now: () => number;
}

function createH2Listener(o: H2ListenerOptions): H2Listener {
  const l = o.limits;
  const server = createH2Server({
    settings: {
      maxConcurrentStreams: l.maxConcurrentStreams,
      maxHeaderListSize: l.maxHeaderBytes,
      // §6.5.2: "A server MUST NOT explicitly set this value to 1"; 0 says we never push
      enablePush: false,
    },
    // Node's defaults are 1000 invalid frames and 100 refused streams; a well-behaved client
    // sends no invalid frame and respects the advertised concurrency, so 100 of either is
    // already hostile
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  });
  server.setTimeout(l.idleTimeoutMs);
  const conns = new Map<Http2Session, Conn>();
  let handingOver: Socket | undefined;

  const closeWith = (session: Http2Session, reason: 'rapid_reset'): void => {
    o.closed(reason, conns.get(session)?.transport.remoteAddress);
    // §5.4.1: a connection error ends with GOAWAY carrying the error code
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy();
  };

  /** No stream open: the connection owes a request within `ms`, else GOAWAY (§6.8). */
  const arm = (session: Http2Session, c: Conn, ms: number): void => {
    clearTimeout(c.timer);
    c.timer = undefined;
    if (ms <= 0 || c.closing) return;
    c.timer = setTimeout(() => {
      c.closing = true;
      session.close();
    }, ms);
    c.timer.unref();
  };

  /** A stream of `c` ended by a reset (§6.4); too many too fast closes the connection. */
  const streamReset = (session: Http2Session, c: Conn): void => {
    if (!session.destroyed && !c.resets.reset(o.now())) closeWith(session, 'rapid_reset');
  };
  const connOf = new WeakMap<Http2Stream, { session: Http2Session; c: Conn }>();

  server.on('session', (session: ServerHttp2Session) => {
    const transport = handingOver;
    if (transport === undefined) return; // only sockets handed over by accept() get here
    o.metrics.h2SessionOpened();
    const c: Conn = {
      transport,
      inFlight: 0,
      requests: 0,
      closing: false,
      timer: undefined,
      resets: new StreamResetRate(2 * l.maxConcurrentStreams, l.maxConcurrentStreams),
    };
    conns.set(session, c);
    arm(session, c, l.headersTimeoutMs);
    // Node announces a stream on the next tick, so a HEADERS frame and the RST_STREAM right
    // behind it (the rapid-reset pattern) arrive as a stream already destroyed, whose
    // `session` is gone: the stream is tied to its connection here, ahead of the
    // compatibility layer's own listener.
    const tie = { session, c };
    session.prependListener('stream', (stream: ServerHttp2Stream) => {
      connOf.set(stream, tie);
      if (stream.destroyed) streamReset(session, c);
    });
    session.once('close', () => {
      clearTimeout(c.timer);
      conns.delete(session);
    });
  });

  // Node emits 'sessionError' for the errors that end a session at once: protocol errors
  // the peer made (§5.4.1) that nghttp2 reports as fatal, frame floods past the limits
  // above, socket errors.
  server.on('sessionError', (err: NodeJS.ErrnoException, session: Http2Session) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    o.closed('protocol_error', conns.get(session)?.transport.remoteAddress, err.message);
  });

  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const tie = connOf.get(req.stream);
    // reset by the client before we got to it (§6.4 RST_STREAM): nobody to answer
    if (req.stream.destroyed || tie === undefined) return;
    const { session, c } = tie;
    c.inFlight++;
    c.requests++;
    clearTimeout(c.timer);
    c.timer = undefined;
    o.slots.headReceived(c.transport);
    if (l.keepAliveRequests > 0 && c.requests >= l.keepAliveRequests && !c.closing) {
      // §6.8: GOAWAY with the last stream id lets this and earlier streams complete
      c.closing = true;
      session.close();
    }
    res.once('close', () => {
      c.inFlight--;
      o.slots.responseDone(c.transport);
      // reset mid-response (by the client, or by us on an error) spends the reset budget
      const code = req.stream.rstCode;
      if (code !== undefined && code !== constants.NGHTTP2_NO_ERROR) streamReset(session, c);
      if (c.inFlight === 0) arm(session, c, l.keepAliveTimeoutMs);
    });
    o.handler(req, res);
  });

  return {
    accept(socket, transport) {
      // Node's HTTP/1.1 server accepts half-open sockets (a client may send FIN after its
      // request); HTTP/2 has its own end of stream, so a FIN from the client means it is
      // gone and the session must notice even while flow control blocks our writes
      socket.allowHalfOpen = false;
      handingOver = transport;
      try {
        server.emit('connection', socket);
      } finally {
        handingOver = undefined;
      }
    },
    close() {
      for (const [session, c] of conns) {
        c.closing = true;
        clearTimeout(c.timer);
        session.close();
      }
    },
    destroy() {
      for (const session of conns.keys()) session.destroy();
    },
  };
}

interface Sniffer {
  /** Sockets still being read for a preface. */
  readonly pending: Set<Socket>;
  /**
   * Read the first bytes of `socket` until they decide its protocol, push them back and call
   * `to(kind)`. After `timeoutMs` without a decision `onTimeout` is called instead.
   */
  sniff(
    socket: Socket,
    timeoutMs: number,
    to: (kind: 'h2' | 'http1') => void,
    onTimeout: () => void,
  ): void;
}

function createSniffer(): Sniffer {
  const pending = new Set<Socket>();
  return {
    pending,
    sniff(socket, timeoutMs, to, onTimeout) {
      pending.add(socket);
      let buf: Buffer = Buffer.alloc(0);
      const done = (): void => {
        clearTimeout(timer);
        pending.delete(socket);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', done);
        socket.off('end', onEnd);
      };
      const onError = (): void => void socket.destroy();
      // a client that half-closes before its protocol is known has sent no request
      const onEnd = (): void => {
        done();
        socket.destroy();
      };
      const onData = (chunk: Buffer): void => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        const kind = classifyPreface(buf);
        if (kind === 'more') return;
        done();
        // paused, so the pushed-back bytes wait in the buffer for the next reader
        socket.pause();
        socket.unshift(buf);
        to(kind);
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              done();
              onTimeout();
            }, timeoutMs)
          : undefined;
      timer?.unref();
      socket.on('data', onData);
      socket.on('error', onError);
      socket.once('end', onEnd);
      socket.once('close', done);
    },
  };
}
