/**
 * Scrapes one netsvc admin listener for the monitor and the operator CLI: `GET /readyz`
 * (which services run, ready or not), `GET /metrics` (Prometheus text), `GET /state/<svc>`
 * per service (JSON; a 404 means it publishes none), and on request `GET /services` (their
 * key counters; a 404 means an older netsvc). Plain node:http with a deadline per request
 * and a bounded body.
 */
import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import { parseExposition } from './exposition.js';
import type { ServiceDescription } from '../service.js';
import { readServices } from './key-counters.js';
import type { TargetInput } from './snapshot.js';

/** A body larger than this is cut off: 4 MiB is ~40 000 metric lines. */
const MAX_BODY = 4 * 1024 * 1024;

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

export function httpGet(url: string, timeoutMs: number): Promise<HttpResult> {
  return new Promise((ok, fail) => {
    const u = new URL(url);
    const get = u.protocol === 'https:' ? requestTls : request;
    const req = get(u, { method: 'GET', timeout: timeoutMs, headers: { accept: '*/*' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          req.destroy(new Error(`response larger than ${MAX_BODY} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', fail);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', fail);
    req.end();
  });
}

/** One target's scrape: the shape the snapshot core takes (snapshot.ts TargetInput). */
export type TargetScrape = TargetInput;

function join(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

export async function scrapeTarget(
  target: { name: string; url: string },
  timeoutMs: number,
  opts: { state: boolean } = { state: true },
): Promise<TargetScrape> {
  const at = Date.now();
  const t0 = performance.now();
  const done = (r: Omit<TargetScrape, 'target' | 'url' | 'at' | 'ms'>): TargetScrape => ({
    target: target.name,
    url: target.url,
    at,
    ms: performance.now() - t0,
    ...r,
  });
  let ready = false;
  let services: Record<string, boolean> = {};
  try {
    const [rz, mx] = await Promise.all([
      httpGet(join(target.url, '/readyz'), timeoutMs),
      httpGet(join(target.url, '/metrics'), timeoutMs),
    ]);
    if (mx.status !== 200) throw new Error(`/metrics answered ${mx.status}`);
    try {
      const r = JSON.parse(rz.body) as { ready?: unknown; services?: unknown };
      ready = r.ready === true;
      if (r.services && typeof r.services === 'object') {
        for (const [k, v] of Object.entries(r.services as Record<string, unknown>))
          services[k] = v === true;
      }
    } catch {
      services = {};
    }
    const samples = parseExposition(mx.body).samples;
    const state: Record<string, unknown> = {};
    if (opts.state) {
      await Promise.all(
        Object.keys(services).map(async (svc) => {
          try {
            const r = await httpGet(
              join(target.url, `/state/${encodeURIComponent(svc)}`),
              timeoutMs,
            );
            if (r.status === 200) state[svc] = JSON.parse(r.body) as unknown;
          } catch {
            // a service without state, or an admin listener without /state/: nothing to show
          }
        }),
      );
    }
    return done({ up: true, ready, services, samples, state });
  } catch (e) {
    return done({
      up: false,
      error: (e as Error).message,
      ready: false,
      services,
      samples: [],
      state: {},
    });
  }
}

/**
 * A target's `GET /services`: its services and their key counters, or undefined when it
 * does not describe itself (404 or a body that is not a list: a netsvc older than the
 * route). A network failure or another status rejects, so the caller asks again later.
 */
export async function fetchServices(
  target: { url: string },
  timeoutMs: number,
): Promise<ServiceDescription[] | undefined> {
  const r = await httpGet(join(target.url, '/services'), timeoutMs);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`/services answered ${r.status}`);
  return readServices(r.body);
}
