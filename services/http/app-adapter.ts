/**
 * `buildApp(cfg, deps)`: the Fastify instance serving every site, without listening
 * (tests drive it with `inject()`; server.ts puts it behind the listeners). An adapter in
 * DESIGN.md's sense: it writes responses and streams files; the decisions live in the
 * pure files it calls (vhost, request-target, static-files, conditional, range, proxy).
 *
 * One catch-all route takes every method and path; methods Fastify does not route land in
 * the not-found handler, which is the same function. Per request:
 *   1. request target too long → 414 (nginx large_client_header_buffers), target not
 *      origin/absolute-form, bad percent-encoding or traversal → 400 (request-target.ts);
 *   2. HTTP/1.1 without Host, or an invalid Host → 400 (RFC 9112 §3.2); otherwise the site
 *      is chosen by vhost.ts (absolute-form authority first, RFC 9112 §3.2.2);
 *   3. declared body larger than maxBodyBytes → 413 (RFC 9110 §15.5.14);
 *   4. plain HTTP to a site with redirectToHttps → 301 to https;
 *   5. a proxy prefix → proxy.ts; else only GET and HEAD → 405 with Allow (§15.5.6);
 *   6. static-files.ts makes a plan, written here. Error statuses use the site's error
 *      page when it has one (nginx error_page), the built-in page otherwise.
 * The onResponse hook counts (metrics.ts) and writes the access log line; errors a site
 * would want to know (404, 403, 5xx) go to its error log.
 *
 * Hot path: `fastServe` (used by server.ts ahead of Fastify) takes the same decisions and
 * writes answers that are already in memory directly; everything else goes through Fastify.
 *
 * Bugs (exceptions) are logged with their stack, counted and answered 500; serving goes on.
 *
 * HTTP/2 streams (server.ts) arrive as Node's compatibility objects, which Fastify routes
 * like its own `http2: true` servers do; the only differences handled here are the
 * authority (`:authority`, RFC 9113 §8.3.1) and connection-specific fields (§8.2.2).
 *
 * Left out: trailers.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createGzip, createBrotliCompress, gzip, brotliCompress, constants as zc } from 'node:zlib';
import { promisify } from 'node:util';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { HttpConfig } from './config.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { buildHostTable, isValidHost, type HostTable } from './vhost.js';
import { parseTarget } from './request-target.js';
import { FileCache } from './file-store.js';
import { serveStatic, type Compressor, type Plan, type StaticRequest } from './static-files.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { defaultErrorBody } from './error-page.js';
import { renderAutoindex } from './autoindex.js';
import { combinedLine, errorLine } from './access-log.js';
import { createHttpMetrics, type HttpMetrics } from './metrics.js';
import { compileSites, type Site } from './site-store.js';
import {
  matchProxy,
  upstreamTarget,
  forwardRequestHeaders,
  forwardResponseHeaders,
  type CompiledProxy,
} from './proxy.js';
import { proxyRequest, UpstreamError } from './upstream-adapter.js';

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as { then?: unknown }).then === 'function';

declare module 'fastify' {
  interface FastifyRequest {
    /** The site serving this request (set by the handler; the default one before routing). */
    site: Site | null;
    /** Body bytes sent, for the access log and metrics. */
    bodyBytes: number;
  }
  interface FastifyInstance {
    http: HttpState;
  }
}

export interface AppDeps {
  readonly configDir: string;
  readonly dataDir?: string;
  readonly log?: Logger;
  readonly registry?: Registry;
  readonly clock?: Clock;
}

/** What the service and the server adapter need to reach inside the app. */
export interface HttpState {
  readonly sites: readonly Site[];
  readonly hosts: HostTable<Site>;
  readonly cache: FileCache;
  readonly metrics: HttpMetrics;
  /** Port used in https redirects (set by server.ts once listening). */
  httpsPort: number;
  /** Close the log files. */
  closeLogs(): Promise<void>;
  /** Forget cached files and reopen logs (SIGHUP / POST /reload). */
  reload(): Promise<void>;
  /** Answer from memory without Fastify when possible (server.ts calls it first). */
  fastServe(req: RawRequest, res: RawResponse): boolean;
}

/** A request as Node hands it over: HTTP/1.x, or an HTTP/2 stream (compatibility API). */
export type RawRequest = IncomingMessage | Http2ServerRequest;
export type RawResponse = ServerResponse | Http2ServerResponse;

/**
 * The authority a request names: Host for HTTP/1.x (RFC 9110 §7.2); for HTTP/2 the
 * `:authority` pseudo-header, or Host when a client sent only that (RFC 9113 §8.3.1 allows
 * either). `null` when an HTTP/2 request carries both and they differ: §8.3.1 "A server
 * SHOULD treat a request as malformed if it contains a Host header field that identifies an
 * entity that differs from the entity in the :authority pseudo-header field."
 */
export function authorityOf(raw: RawRequest): string | undefined | null {
  const host = raw.headers.host;
  if (raw.httpVersionMajor !== 2) return host;
  const authority = raw.headers[':authority'] as string | undefined;
  if (authority === undefined) return host;
  if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) return null;
  return authority;
}

const gzipP = promisify(gzip);
const brotliP = promisify(brotliCompress);
const ALLOW = 'GET, HEAD';

export function buildApp(cfg: HttpConfig, deps: AppDeps): FastifyInstance {
  const log = deps.log ?? pino({ level: 'silent' });
  const clock = deps.clock ?? systemClock;
  const metrics = createHttpMetrics(deps.registry ?? new Registry());
  const sites = compileSites(
    cfg,
    { configDir: deps.configDir, dataDir: deps.dataDir ?? deps.configDir },
    metrics,
  );
  const hosts = buildHostTable(
    sites.map((s) => ({ serverNames: s.serverNames, isDefault: s.isDefault, site: s })),
  );
  const defaultSite = hosts.select(undefined);
  const cache = new FileCache(cfg.fileCache, () => clock.monotonic());
  metrics.cacheStats = () => ({ entries: cache.size, bytes: cache.bodyBytes });
  const limits = cfg.limits;
  const pid = process.pid;

  const compressor: Compressor = {
    minBytes: cfg.compression.minBytes,
    async compress(body, coding) {
      const z =
        coding === 'gzip'
          ? await gzipP(body, { level: cfg.compression.gzipLevel })
          : await brotliP(body, {
              params: {
                [zc.BROTLI_PARAM_QUALITY]: cfg.compression.brotliQuality,
                [zc.BROTLI_PARAM_SIZE_HINT]: body.length,
              },
            });
      return z.length < body.length ? z : null;
    },
  };

  const state: HttpState = {
    sites,
    hosts,
    cache,
    metrics,
    httpsPort: cfg.https.port,
    async closeLogs() {
      for (const s of sites) {
        await s.accessLog?.close();
        await s.errorLog?.close();
      }
    },
    fastServe: () => false,
    async reload() {
      cache.clear();
      for (const s of sites) {
        await s.accessLog?.reopen();
        await s.errorLog?.reopen();
      }
    },
  };

  const app = Fastify({
    logger: false,
    requestIdHeader: false,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    bodyLimit: limits.maxBodyBytes,
    // fastify decodes the path only to route, and we route everything to one handler
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: limits.maxUriBytes },
    frameworkErrors: (err, request, reply) => {
      request.site = defaultSite;
      void sendError(request, reply, 400, err.message);
    },
  });
  app.decorate('http', state);
  app.decorateRequest('site', null);
  app.decorateRequest('bodyBytes', 0);

  // Bodies are not parsed: the static handler ignores them and the proxy streams them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  function errorLogLine(
    request: FastifyRequest,
    site: Site,
    level: 'error' | 'crit' | 'warn' | 'info',
    message: string,
  ): void {
    if (site.errorLog === null) return;
    const raw = request.raw;
    site.errorLog.line(
      errorLine(
        {
          level,
          message,
          client: raw.socket?.remoteAddress ?? '-',
          server: site.serverNames[0] ?? site.name,
          request: `${raw.method} ${raw.url} HTTP/${raw.httpVersion}`,
          host: authorityOf(raw) ?? undefined,
        },
        clock.now(),
        pid,
      ),
    );
  }

  async function sendError(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    reason: string,
    extra?: Record<string, string>,
  ): Promise<FastifyReply> {
    const site = request.site ?? defaultSite;
    reply.code(status);
    if (extra !== undefined) reply.headers(extra);
    // RFC 9112 §9.6: after a request we could not read safely, close the connection. Not
    // in HTTP/2: frames delimit every stream, and §8.2.2 forbids the Connection field.
    if (
      (status === 400 || status === 408 || status === 413 || status === 414 || status === 431) &&
      request.raw.httpVersionMajor !== 2
    )
      reply.header('connection', 'close');
    const page = site.errorPages.get(status);
    let body: Buffer | undefined;
    let type = 'text/html; charset=utf-8';
    if (page !== undefined) {
      const e = await cache.lookup(site, site.keyPrefix + page, page);
      if (e.kind === 'file') {
        body = e.body;
        type = e.contentType;
        if (body === undefined) {
          reply.header('content-type', type).header('content-length', e.size);
          request.bodyBytes = request.raw.method === 'HEAD' ? 0 : e.size;
          return reply.send(createReadStream(e.absPath));
        }
      }
    }
    body ??= defaultErrorBody(status);
    request.bodyBytes = request.raw.method === 'HEAD' ? 0 : body.length;
    return reply.header('content-type', type).header('content-length', body.length).send(body);
  }

  async function writePlan(
    request: FastifyRequest,
    reply: FastifyReply,
    site: Site,
    plan: Plan,
    isHead: boolean,
  ): Promise<FastifyReply> {
    switch (plan.kind) {
      case 'buffer':
        reply.code(plan.status).headers(plan.headers);
        if (plan.body === undefined) return reply.send();
        request.bodyBytes = isHead ? 0 : plan.body.length;
        return reply.send(isHead ? undefined : plan.body);
      case 'file': {
        reply.code(plan.status).headers(plan.headers);
        if (isHead) return reply.send();
        if (plan.end < plan.start) {
          return reply.send(Buffer.alloc(0));
        }
        const stream = createReadStream(plan.absPath, {
          start: plan.start,
          end: plan.end,
          highWaterMark: 64 * 1024,
        });
        if (plan.compress === 'identity') {
          request.bodyBytes = plan.end - plan.start + 1;
          return reply.send(stream);
        }
        const z =
          plan.compress === 'gzip'
            ? createGzip({ level: cfg.compression.gzipLevel })
            : createBrotliCompress({
                params: { [zc.BROTLI_PARAM_QUALITY]: cfg.compression.brotliQuality },
              });
        z.on('data', (c: Buffer) => (request.bodyBytes += c.length));
        stream.on('error', (e) => z.destroy(e));
        return reply.send(stream.pipe(z));
      }
      case 'redirect':
        return sendError(request, reply, 301, 'directory', { location: plan.location });
      case 'error':
        if (plan.status === 404 || plan.status === 403) {
          errorLogLine(
            request,
            site,
            'error',
            `open() "${plan.absPath ?? ''}" failed (${plan.reason})`,
          );
        }
        return sendError(request, reply, plan.status, plan.reason);
      case 'autoindex': {
        let html: Buffer;
        try {
          const ents = await readdir(plan.absPath, { withFileTypes: true });
          html = Buffer.from(
            renderAutoindex(
              plan.path,
              ents.map((d) => ({ name: d.name, isDir: d.isDirectory() })),
            ),
          );
        } catch (e) {
          errorLogLine(
            request,
            site,
            'error',
            `opendir() "${plan.absPath}" failed (${(e as Error).message})`,
          );
          return sendError(request, reply, 403, 'autoindex failed');
        }
        request.bodyBytes = isHead ? 0 : html.length;
        reply
          .code(200)
          .header('content-type', 'text/html; charset=utf-8')
          .header('content-length', html.length);
        return reply.send(isHead ? undefined : html);
      }
    }
  }

  async function proxy(
    request: FastifyRequest,
    reply: FastifyReply,
    site: Site,
    route: CompiledProxy,
    target: string,
  ): Promise<FastifyReply> {
    const raw = request.raw;
    const encrypted = (raw.socket as { encrypted?: boolean } | null)?.encrypted === true;
    const headers = forwardRequestHeaders(raw.headers, route, {
      clientIp: raw.socket?.remoteAddress ?? '-',
      proto: encrypted ? 'https' : 'http',
      host: authorityOf(raw) ?? undefined,
    });
    try {
      const up = await proxyRequest(route, raw.method ?? 'GET', target, headers, raw);
      reply.code(up.statusCode ?? 502).headers(forwardResponseHeaders(up.headers));
      const len = Number(up.headers['content-length']);
      request.bodyBytes = raw.method === 'HEAD' ? 0 : Number.isFinite(len) ? len : 0;
      if (!Number.isFinite(len)) up.on('data', (c: Buffer) => (request.bodyBytes += c.length));
      return reply.send(up);
    } catch (e) {
      if (!(e instanceof UpstreamError)) throw e;
      site.counters.upstreamErrors++;
      errorLogLine(request, site, 'error', e.message);
      return sendError(request, reply, e.status, e.message);
    }
  }

  type Decision =
    | {
        readonly kind: 'error';
        readonly status: number;
        readonly reason: string;
        readonly headers?: Record<string, string>;
        readonly log?: string;
      }
    | { readonly kind: 'proxy'; readonly route: CompiledProxy; readonly target: string }
    | { readonly kind: 'static'; readonly req: StaticRequest; readonly isHead: boolean };

  /** Steps 1-5 of the header comment: everything before the static handler. */
  function decide(raw: RawRequest): { site: Site; d: Decision } {
    const url = raw.url ?? '/';
    const target = parseTarget(url);
    const authority = authorityOf(raw);
    const host =
      target.ok && target.authority !== undefined ? target.authority : (authority ?? undefined);
    if (url.length > limits.maxUriBytes)
      return {
        site: defaultSite,
        d: { kind: 'error', status: 414, reason: 'request target too long' },
      };
    // RFC 9112 §3.2: "A server MUST respond with a 400 … to any HTTP/1.1 request message that
    // lacks a Host header field … or a Host header field with an invalid field value."
    // RFC 9113 §8.3.1: an "http"/"https" request "MUST contain either an :authority
    // pseudo-header field or a Host header field"; the two disagreeing is malformed.
    if (
      authority === null ||
      (host === undefined
        ? raw.httpVersion === '1.1' || raw.httpVersionMajor === 2
        : host !== '' && !isValidHost(host))
    ) {
      return {
        site: defaultSite,
        d: { kind: 'error', status: 400, reason: 'missing or invalid Host' },
      };
    }
    const site = hosts.select(host);
    const cl = raw.headers['content-length'];
    if (cl !== undefined && Number(cl) > limits.maxBodyBytes) {
      return {
        site,
        d: {
          kind: 'error',
          status: 413,
          reason: 'body too large',
          log: `client intended to send too large body: ${cl} bytes`,
        },
      };
    }
    if (!target.ok) {
      return {
        site,
        d: {
          kind: 'error',
          status: 400,
          reason: target.reason,
          log: `client sent invalid request target: ${target.reason}`,
        },
      };
    }
    if (
      site.redirectToHttps &&
      (raw.socket as { encrypted?: boolean } | null)?.encrypted !== true
    ) {
      const hostname = (host ?? site.serverNames[0] ?? 'localhost').replace(/:\d+$/, '');
      const port = state.httpsPort === 443 ? '' : `:${state.httpsPort}`;
      return {
        site,
        d: {
          kind: 'error',
          status: 301,
          reason: 'https redirect',
          headers: { location: `https://${hostname}${port}${target.rawPath}${target.query}` },
        },
      };
    }
    if (site.proxy.length > 0) {
      const route = matchProxy(site.proxy, target.path);
      if (route !== undefined)
        return {
          site,
          d: {
            kind: 'proxy',
            route,
            target: upstreamTarget(route, target.path, target.rawPath, target.query),
          },
        };
    }
    const method = raw.method ?? 'GET';
    const isHead = method === 'HEAD';
    if (method !== 'GET' && !isHead) {
      // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405 response"
      return {
        site,
        d: { kind: 'error', status: 405, reason: 'method not allowed', headers: { allow: ALLOW } },
      };
    }
    return {
      site,
      d: {
        kind: 'static',
        isHead,
        req: {
          method,
          path: target.path,
          rawPath: target.rawPath,
          query: target.query,
          headers: raw.headers,
        },
      },
    };
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { site, d } = decide(request.raw);
    request.site = site;
    switch (d.kind) {
      case 'error':
        if (d.log !== undefined)
          errorLogLine(request, site, d.status === 400 ? 'info' : 'error', d.log);
        return sendError(request, reply, d.status, d.reason, d.headers);
      case 'proxy':
        return proxy(request, reply, site, d.route, d.target);
      case 'static':
        return writePlan(
          request,
          reply,
          site,
          await serveStatic(d.req, site, cache, compressor),
          d.isHead,
        );
    }
  }

  /**
   * The hot path, taken by server.ts before Fastify: a GET/HEAD whose answer is already in
   * memory (fresh cache entry: 200, 206, 304, 416) is written straight to the response,
   * saving Fastify's request/reply objects and hooks. Same decisions (decide +
   * serveStatic), same counting and logging. Anything else returns false and goes through
   * Fastify.
   */
  function fastServe(req: RawRequest, res: RawResponse): boolean {
    const m = req.method;
    if (m !== 'GET' && m !== 'HEAD') return false;
    try {
      return fastServeUnsafe(req, res);
    } catch {
      // a bug: let Fastify's turn meet it again and report it (error handler → 500)
      if (!res.headersSent) return false;
      res.destroy();
      return true;
    }
  }

  function fastServeUnsafe(req: RawRequest, res: RawResponse): boolean {
    const t0 = clock.monotonic();
    const { site, d } = decide(req);
    if (d.kind !== 'static') return false;
    const plan = serveStatic(d.req, site, cache, compressor);
    if (isPromise(plan)) {
      plan.catch(() => undefined); // Fastify's turn repeats the lookup and reports errors
      return false;
    }
    if (plan.kind !== 'buffer') return false;
    res.writeHead(plan.status, plan.headers);
    const bytes = d.isHead || plan.body === undefined ? 0 : plan.body.length;
    if (bytes === 0 || plan.body === undefined) res.end();
    else res.end(plan.body);
    account(site, req, plan.status, bytes, (clock.monotonic() - t0) / 1000);
    return true;
  }
  state.fastServe = fastServe;

  function account(
    site: Site,
    raw: RawRequest,
    status: number,
    bodyBytes: number,
    seconds: number,
  ): void {
    const c = site.counters;
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) c.byClass[cls - 1]!++;
    c.bytes += bodyBytes;
    c.observe(seconds);
    if (site.accessLog !== null) {
      site.accessLog.line(
        combinedLine(
          {
            remoteAddr: raw.socket?.remoteAddress ?? '-',
            method: raw.method ?? '-',
            url: raw.url ?? '-',
            httpVersion: raw.httpVersion,
            status,
            bodyBytes,
            referer: raw.headers.referer,
            userAgent: raw.headers['user-agent'],
          },
          clock.now(),
        ),
      );
    }
  }

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '*',
    handler: handle,
  });
  app.setNotFoundHandler(handle);

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500)
      return sendError(request, reply, status, err.message);
    metrics.internalError();
    log.error({ err, url: request.raw.url }, 'ERR_HTTP_INTERNAL: unexpected error while serving');
    const site = request.site ?? defaultSite;
    errorLogLine(request, site, 'crit', `internal error: ${err.message}`);
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return reply;
    }
    reply
      .removeHeader('content-length')
      .removeHeader('content-encoding')
      .removeHeader('content-range')
      .removeHeader('etag');
    return sendError(request, reply, 500, 'internal error');
  });

  app.addHook('onResponse', (request, reply, done) => {
    account(
      request.site ?? defaultSite,
      request.raw,
      reply.statusCode,
      request.bodyBytes,
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.addHook('onClose', async () => {
    await state.closeLogs();
  });

  return app;
}
