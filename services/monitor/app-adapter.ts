/**
 * The monitor's HTTP app (Fastify, built apart from listen(); tests use inject()):
 *
 *   GET /                     the page (page.ts)
 *   GET /assets/…             its script and style, and uPlot from node_modules (no CDN)
 *   GET /api/status           targets and services: up, ready, uptime, CPU, RSS, rates
 *   GET /api/keys             every series key in the history
 *   GET /api/series           ?prefix=a,b&range=3600&points=600 (or from=&to=, unix s)
 *   GET /api/latest           latest value of every series
 *   GET /api/state[/<svc>]    the services' /state documents merged over targets
 *   GET /api/events           Server-Sent Events: `round` after every scrape
 *
 * Read-only: only GET and HEAD are routed; nothing here can change the network.
 * `/` and `/api/*` require auth when configured (access.ts); assets carry no data.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { AccessCheck } from './access.js';
import type { Collector, Round } from './collector-adapter.js';
import type { HistoryStore } from './history-store.js';
import type { MonitorMetrics } from './metrics.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js';

/** Live connections at once: a family's phones and laptops, with room to spare. */
const MAX_EVENT_CLIENTS = 32;

export interface AppDeps {
  readonly collector: Collector;
  readonly history: HistoryStore;
  readonly access: AccessCheck;
  readonly metrics: MonitorMetrics;
  readonly now: () => number;
}

const require = createRequire(import.meta.url);
function uplotFile(name: string): string {
  return readFileSync(require.resolve(`uplot/dist/${name}`), 'utf8');
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ logger: false, return503OnClosing: true });
  const assets: Record<string, { type: string; body: string }> = {
    'app.js': { type: 'text/javascript; charset=utf-8', body: PAGE_JS },
    'app.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
    'uplot.js': { type: 'text/javascript; charset=utf-8', body: uplotFile('uPlot.iife.min.js') },
    'uplot.css': { type: 'text/css; charset=utf-8', body: uplotFile('uPlot.min.css') },
  };
  const clients = new Set<FastifyReply>();

  app.addHook('onRequest', async (req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) void reply.header(k, v);
    if (req.url.startsWith('/assets/')) return;
    const token = (req.query as Record<string, unknown> | undefined)?.token;
    const r = await deps.access.check(
      req.headers.authorization,
      typeof token === 'string' ? token : undefined,
    );
    if (r !== 'ok') {
      return reply
        .code(401)
        .header('www-authenticate', deps.access.challenge)
        .send({ error: 'unauthorized' });
    }
  });

  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAGE_HTML),
  );
  app.get<{ Params: { name: string } }>('/assets/:name', async (req, reply) => {
    const a = assets[req.params.name];
    if (!a) return reply.code(404).send({ error: 'not found' });
    return reply.type(a.type).header('cache-control', 'public, max-age=3600').send(a.body);
  });

  const api = (reply: FastifyReply, body: unknown): FastifyReply =>
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(body);

  app.get('/api/status', async (_req, reply) => {
    const last = deps.collector.last;
    if (!last) return reply.code(503).send({ error: 'no scrape yet' });
    return api(reply, last.status);
  });
  app.get('/api/latest', async (_req, reply) =>
    api(reply, { ts: deps.collector.last?.ts ?? null, values: deps.collector.last?.values ?? {} }),
  );
  app.get('/api/keys', async (_req, reply) => api(reply, { keys: deps.history.keys() }));
  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/api/series',
    async (req, reply) => {
      const q = req.query;
      const now = Math.floor(deps.now() / 1000);
      const num = (s: string | undefined, dflt: number): number => {
        const v = s === undefined ? NaN : Number(s);
        return Number.isFinite(v) ? v : dflt;
      };
      const range = Math.max(60, Math.min(400 * 86400, num(q.range, 3600)));
      const to = num(q.to, now);
      const from = num(q.from, to - range);
      if (!(from < to)) return reply.code(400).send({ error: 'from must be before to' });
      const prefixes = (q.prefix ?? '').split(',').filter((p) => p.length > 0);
      if (prefixes.length === 0)
        return reply.code(400).send({ error: 'prefix is required, e.g. prefix=svc/,host/cpu/' });
      return api(
        reply,
        deps.history.query({ prefixes, from, to, points: num(q.points, 600) }, now),
      );
    },
  );
  app.get('/api/state', async (_req, reply) => api(reply, deps.collector.last?.state ?? {}));
  app.get<{ Params: { svc: string } }>('/api/state/:svc', async (req, reply) => {
    const s = deps.collector.last?.state[req.params.svc];
    if (s === undefined) return reply.code(404).send({ error: `no state for ${req.params.svc}` });
    return api(reply, s);
  });

  app.get('/api/events', async (req, reply) => {
    if (clients.size >= MAX_EVENT_CLIENTS)
      return reply.code(503).send({ error: 'too many live connections' });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const send = (r: Round): void => {
      // A client that does not read (a phone asleep) is dropped rather than buffered.
      if (res.writableLength > 1 << 20) {
        res.destroy();
        return;
      }
      res.write(`event: round\ndata: ${JSON.stringify(r)}\n\n`);
    };
    res.write('retry: 5000\n\n');
    if (deps.collector.last) send(deps.collector.last);
    const unsubscribe = deps.collector.subscribe(send);
    const ping = setInterval(() => res.write(': ping\n\n'), 25_000);
    ping.unref();
    clients.add(reply);
    deps.metrics.clients.set(clients.size);
    req.raw.on('close', () => {
      unsubscribe();
      clearInterval(ping);
      clients.delete(reply);
      deps.metrics.clients.set(clients.size);
    });
  });

  // preClose: before the server waits for open connections, end the live ones.
  app.addHook('preClose', async () => {
    for (const c of clients) c.raw.end();
    clients.clear();
  });
  return app;
}
