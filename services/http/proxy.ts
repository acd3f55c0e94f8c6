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
 * - Failures (upstream-adapter.ts): connection errors → 502, connect or read timeouts →
 *   504 (nginx's codes).
 *
 * This file is pure; upstream-adapter.ts sends the request. Left out: WebSocket upgrade, response buffering, upstream TLS verification options,
 * load balancing over several upstreams, retries.
 */
import type { ProxyRoute } from './config.js';

/** Header fields as Node gives them (lower-case names). */
export type HeaderMap = Record<string, string | string[] | undefined>;

export interface CompiledProxy {
  readonly prefix: string;
  readonly url: URL;
  /** Path of the upstream URL, or null when it has none (pass the path unchanged). */
  readonly basePath: string | null;
  readonly preserveHost: boolean;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

export function compileProxy(routes: readonly ProxyRoute[]): CompiledProxy[] {
  return routes
    .map((r) => {
      const url = new URL(r.upstream);
      const hasPath = url.pathname !== '/' || r.upstream.replace(/^https?:\/\/[^/]*/, '') === '/';
      return {
        prefix: r.prefix,
        url,
        basePath: hasPath ? url.pathname : null,
        preserveHost: r.preserveHost,
        connectTimeoutMs: r.connectTimeoutMs,
        readTimeoutMs: r.readTimeoutMs,
      };
    })
    .sort((a, b) => b.prefix.length - a.prefix.length);
}

export function matchProxy(
  routes: readonly CompiledProxy[],
  path: string,
): CompiledProxy | undefined {
  for (const r of routes) {
    if (path.startsWith(r.prefix)) return r;
    // `location /app/` also takes `/app` (nginx redirects it; we forward it as `/app/`'s base)
    if (r.prefix.endsWith('/') && path === r.prefix.slice(0, -1)) return r;
  }
  return undefined;
}

/** Path + query sent upstream (proxy_pass URI rules). */
export function upstreamTarget(
  r: CompiledProxy,
  path: string,
  rawPath: string,
  query: string,
): string {
  if (r.basePath === null) return rawPath + query;
  const rest = rawPath.startsWith(r.prefix)
    ? rawPath.slice(r.prefix.length)
    : encodeURI(path.slice(Math.min(r.prefix.length, path.length)));
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

function connectionListed(h: HeaderMap): Set<string> | undefined {
  const c = h.connection;
  if (c === undefined) return undefined;
  return new Set(
    String(c)
      .split(',')
      .map((s) => s.trim().toLowerCase()),
  );
}

export interface ForwardInfo {
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
}

/** Request header fields to send upstream (RFC 9110 §7.6.1, §7.6.3). */
export function forwardRequestHeaders(
  h: HeaderMap,
  r: CompiledProxy,
  info: ForwardInfo,
): HeaderMap {
  const listed = connectionListed(h);
  const out: HeaderMap = {};
  for (const k of Object.keys(h)) {
    // RFC 9113 §8.3: pseudo-header fields (`:method`, `:authority` …) of an HTTP/2 request
    // "are not HTTP header fields"; the upstream speaks HTTP/1.1 and gets Host instead
    if (HOP_BY_HOP.has(k) || listed?.has(k) || k === 'host' || k.startsWith(':')) continue;
    out[k] = h[k];
  }
  out.host = r.preserveHost && info.host !== undefined ? info.host : r.url.host;
  const xff = h['x-forwarded-for'];
  out['x-forwarded-for'] =
    xff === undefined
      ? info.clientIp
      : `${Array.isArray(xff) ? xff.join(', ') : xff}, ${info.clientIp}`;
  out['x-forwarded-proto'] = info.proto;
  if (info.host !== undefined) out['x-forwarded-host'] = info.host;
  const via = h.via;
  out.via = via === undefined ? '1.1 netsvc' : `${via}, 1.1 netsvc`;
  return out;
}

/** Response header fields to pass back to the client (hop-by-hop removed). */
export function forwardResponseHeaders(h: HeaderMap): Record<string, string | string[]> {
  const listed = connectionListed(h);
  const out: Record<string, string | string[]> = {};
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (v === undefined || HOP_BY_HOP.has(k) || listed?.has(k)) continue;
    out[k] = v;
  }
  return out;
}
