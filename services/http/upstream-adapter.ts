/**
 * Sends one reverse-proxied request to its upstream (proxy.ts decides what and where):
 * HTTP/1.1 with keep-alive, one agent per upstream origin, request body streamed.
 * Connection errors become UpstreamError 502, connect and idle-read deadlines 504
 * (nginx proxy_connect_timeout / proxy_read_timeout).
 */
import {
  request as httpRequest,
  Agent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { CompiledProxy, HeaderMap } from './proxy.js';

const agents = new Map<string, Agent>();

function agentFor(url: URL): Agent {
  let a = agents.get(url.origin);
  if (a === undefined) {
    // 64 sockets per upstream: nginx keeps none by default; a Pi's upstreams are small
    a =
      url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, maxSockets: 64 })
        : new Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(url.origin, a);
  }
  return a;
}

/** Close idle upstream connections (service stop). */
export function closeUpstreams(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
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
  headers: HeaderMap,
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
      headers: headers as OutgoingHttpHeaders,
      agent: agentFor(r.url),
    });
    let settled = false;
    const fail = (e: UpstreamError) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(e);
    };
    const connectTimer = setTimeout(
      () =>
        fail(
          new UpstreamError(
            504,
            `upstream timed out (${r.connectTimeoutMs} ms) while connecting to ${r.url.host}`,
          ),
        ),
      r.connectTimeoutMs,
    );
    req.on('socket', (s) => {
      if (!s.connecting) clearTimeout(connectTimer);
      else s.once('connect', () => clearTimeout(connectTimer));
    });
    req.setTimeout(r.readTimeoutMs, () =>
      fail(
        new UpstreamError(
          504,
          `upstream timed out (${r.readTimeoutMs} ms) while reading from ${r.url.host}`,
        ),
      ),
    );
    req.on('error', (e) => {
      clearTimeout(connectTimer);
      fail(
        new UpstreamError(
          502,
          `${(e as NodeJS.ErrnoException).code ?? e.message} while connecting to upstream ${r.url.host}`,
        ),
      );
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
