/**
 * Reverse proxy of a path prefix to an upstream (nginx `location /p/ { proxy_pass URL; }`),
 * HTTP/1.1 to the upstream with keep-alive.
 *
 * - Prefix matching is done on the decoded, normalised path (so `%2e%2e` cannot step out of
 *   a prefix); the longest prefix wins.
 * - URL mapping follows proxy_pass: an upstream with a path replaces the matched prefix,
 *   one without a path receives the request path unchanged (RFC 9112 §3.2.1 origin-form).
 * - Header fields: hop-by-hop fields are not forwarded either way (RFC 9110 §7.6.1:
 *   Connection and the fields it names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding,
 *   Upgrade); Host becomes the upstream's unless `preserveHost`; X-Forwarded-For /
 *   -Proto / -Host are set, and `Via: 1.1 netsvc` added (§7.6.3).
 * - Failures: connection errors → 502, connect or read timeouts → 504 (nginx's codes).
 *
 * Left out: WebSocket upgrade, response buffering, upstream TLS verification options,
 * load balancing over several upstreams, retries.
 */
import { request as httpRequest, Agent, type IncomingMessage, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { ProxyRoute } from './config.js';

export interface CompiledProxy {
  readonly prefix: string;
  readonly url: URL;
  /** Path of the upstream URL, or null when it has none (pass the path unchanged). */
  readonly basePath: string | null;
  readonly preserveHost: boolean;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly agent: Agent;
}

export function compileProxy(routes: readonly ProxyRoute[]): CompiledProxy[] {
  return routes
    .map((r) => {
      const url = new URL(r.upstream);
      const hasPath = url.pathname !== '/' || r.upstream.replace(/^https?:\/\/[^/]*/, '') === '/';
      const agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new Agent({ keepAlive: true, maxSockets: 64 });
      return {
        prefix: r.prefix,
        url,
        basePath: hasPath ? url.pathname : null,
        preserveHost: r.preserveHost,
        connectTimeoutMs: r.connectTimeoutMs,
        readTimeoutMs: r.readTimeoutMs,
        agent,
      };
    })
    .sort((a, b) => b.prefix.length - a.prefix.length);
}

export function matchProxy(routes: readonly CompiledProxy[], path: string): CompiledProxy | undefined {
  for (const r of routes) {
    if (path.startsWith(r.prefix)) return r;
    // `location /app/` also takes `/app` (nginx redirects it; we forward it as `/app/`'s base)
    if (r.prefix.endsWith('/') && path === r.prefix.slice(0, -1)) return r;
  }
  return undefined;
}

/** Path + query sent upstream (proxy_pass URI rules). */
export function upstreamTarget(r: CompiledProxy, path: string, rawPath: string, query: string): string {
  if (r.basePath === null) return rawPath + query;
  const rest = rawPath.startsWith(r.prefix) ? rawPath.slice(r.prefix.length) : encodeURI(path.slice(Math.min(r.prefix.length, path.length)));
  return r.basePath + rest + query;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
]);

function connectionListed(h: IncomingHttpHeaders): Set<string> | undefined {
  const c = h.connection;
  if (c === undefined) return undefined;
  return new Set(c.split(',').map((s) => s.trim().toLowerCase()));
}

export interface ForwardInfo {
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
}

/** Request header fields to send upstream (RFC 9110 §7.6.1, §7.6.3). */
export function forwardRequestHeaders(h: IncomingHttpHeaders, r: CompiledProxy, info: ForwardInfo): OutgoingHttpHeaders {
  const listed = connectionListed(h);
  const out: OutgoingHttpHeaders = {};
  for (const k of Object.keys(h)) {
    if (HOP_BY_HOP.has(k) || listed?.has(k) || k === 'host') continue;
    out[k] = h[k];
  }
  out.host = r.preserveHost && info.host !== undefined ? info.host : r.url.host;
  const xff = h['x-forwarded-for'];
  out['x-forwarded-for'] = xff === undefined ? info.clientIp : `${Array.isArray(xff) ? xff.join(', ') : xff}, ${info.clientIp}`;
  out['x-forwarded-proto'] = info.proto;
  if (info.host !== undefined) out['x-forwarded-host'] = info.host;
  const via = h.via;
  out.via = via === undefined ? '1.1 netsvc' : `${via}, 1.1 netsvc`;
  return out;
}

/** Response header fields to pass back to the client (hop-by-hop removed). */
export function forwardResponseHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const listed = connectionListed(h);
  const out: Record<string, string | string[]> = {};
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (v === undefined || HOP_BY_HOP.has(k) || listed?.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export class UpstreamError extends Error {
  constructor(
    readonly status: 502 | 504,
    message: string,
  ) {
    super(message);
  }
  readonly code = 'ERR_HTTP_UPSTREAM';
}

/** Send one request upstream; resolves with the upstream response or rejects with UpstreamError. */
export function proxyRequest(
  r: CompiledProxy,
  method: string,
  target: string,
  headers: OutgoingHttpHeaders,
  body: Readable | undefined,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const make = r.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make({
      protocol: r.url.protocol,
      hostname: r.url.hostname.replace(/^\[|\]$/g, ''),
      port: r.url.port || (r.url.protocol === 'https:' ? 443 : 80),
      method,
      path: target,
      headers,
      agent: r.agent,
    });
    let settled = false;
    const fail = (e: UpstreamError) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(e);
    };
    const connectTimer = setTimeout(
      () => fail(new UpstreamError(504, `upstream timed out (${r.connectTimeoutMs} ms) while connecting to ${r.url.host}`)),
      r.connectTimeoutMs,
    );
    req.on('socket', (s) => {
      if (!s.connecting) clearTimeout(connectTimer);
      else s.once('connect', () => clearTimeout(connectTimer));
    });
    req.setTimeout(r.readTimeoutMs, () => fail(new UpstreamError(504, `upstream timed out (${r.readTimeoutMs} ms) while reading from ${r.url.host}`)));
    req.on('error', (e) => {
      clearTimeout(connectTimer);
      fail(new UpstreamError(502, `${(e as NodeJS.ErrnoException).code ?? e.message} while connecting to upstream ${r.url.host}`));
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      resolve(res);
    });
    if (body !== undefined && method !== 'GET' && method !== 'HEAD') body.pipe(req);
    else req.end();
  });
}
