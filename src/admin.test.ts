/**
 * Admin listener on 127.0.0.1 port 0 with fake hooks: /healthz, /readyz, /metrics,
 * POST /reload, /services, 404, close().
 */
import t from 'tap';
import { request } from 'node:http';
import { Counter } from 'prom-client';
import { startAdmin, type AdminHooks } from './admin.js';
import { createRegistry } from './metrics.js';
import type { ServiceDescription } from './service.js';

interface Reply {
  status: number;
  type: string | undefined;
  cache: string | undefined;
  body: string;
}

function call(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        ok({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'],
          cache: res.headers['cache-control'],
          body,
        }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

t.test('admin endpoints', async (t) => {
  const registry = createRegistry({ defaults: false });
  const counter = new Counter({
    name: 'test_queries_total',
    help: 'Queries seen by the test',
    labelNames: ['rcode'],
    registers: [registry],
  });
  counter.inc({ rcode: 'NOERROR' }, 3);

  let ready = true;
  let reloadOk = true;
  let reloads = 0;
  const described: ServiceDescription[] = [
    {
      name: 'dns',
      keyCounters: {
        requests: [{ metric: 'dns_queries_total' }],
        errors: [{ metric: 'dns_queries_total', labels: { rcode: 'SERVFAIL' } }],
      },
    },
    { name: 'http', keyCounters: null },
  ];
  const hooks: AdminHooks = {
    services: () => described,
    readiness: () => ({ ready, services: { dns: ready, http: true } }),
    reload: async () => {
      reloads++;
      if (reloadOk) return { ok: true, results: { dns: 'reloaded' } };
      return { ok: false, results: { dns: 'zone.db:3: bad TTL' } };
    },
  };
  const admin = await startAdmin({ address: '127.0.0.1', port: 0, registry, hooks });
  t.teardown(() => admin.close());
  t.ok(admin.port > 0, `listening on ${admin.port}`);

  t.test('GET /healthz', async (t) => {
    const r = await call(admin.port, 'GET', '/healthz');
    t.equal(r.status, 200);
    t.equal(r.body, 'ok\n');
    t.equal(r.cache, 'no-store');
  });

  t.test('GET /readyz: 200 when ready, 503 with the list otherwise', async (t) => {
    ready = true;
    let r = await call(admin.port, 'GET', '/readyz');
    t.equal(r.status, 200);
    t.equal(r.type, 'application/json');
    t.same(JSON.parse(r.body), { ready: true, services: { dns: true, http: true } });
    ready = false;
    r = await call(admin.port, 'GET', '/readyz?verbose=1');
    t.equal(r.status, 503, 'query string ignored');
    t.same(JSON.parse(r.body), { ready: false, services: { dns: false, http: true } });
    ready = true;
  });

  t.test('GET /metrics', async (t) => {
    const r = await call(admin.port, 'GET', '/metrics');
    t.equal(r.status, 200);
    t.match(r.type, /^text\/plain/);
    t.match(r.body, /# HELP test_queries_total Queries seen by the test/);
    t.match(r.body, /# TYPE test_queries_total counter/);
    t.match(r.body, /test_queries_total\{rcode="NOERROR"\} 3/);
  });

  t.test('POST /reload: 200 when every service reloaded, 500 otherwise', async (t) => {
    reloadOk = true;
    let r = await call(admin.port, 'POST', '/reload');
    t.equal(r.status, 200);
    t.same(JSON.parse(r.body), { ok: true, results: { dns: 'reloaded' } });
    reloadOk = false;
    r = await call(admin.port, 'POST', '/reload');
    t.equal(r.status, 500);
    t.same(JSON.parse(r.body), { ok: false, results: { dns: 'zone.db:3: bad TTL' } });
    t.equal(reloads, 2);
  });

  t.test('GET /services: the services run, with their key counters', async (t) => {
    const r = await call(admin.port, 'GET', '/services');
    t.equal(r.status, 200);
    t.equal(r.type, 'application/json');
    t.equal(r.cache, 'no-store');
    t.same(JSON.parse(r.body), described, 'JSON round trip of the hook');
    t.equal((await call(admin.port, 'POST', '/services')).status, 404, 'read-only');
  });

  t.test('everything else is 404', async (t) => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/reload'],
      ['POST', '/healthz'],
      ['GET', '/metrics/extra'],
      ['DELETE', '/readyz'],
    ] as const) {
      const r = await call(admin.port, method, path);
      t.equal(r.status, 404, `${method} ${path}`);
      t.equal(r.body, 'not found\n');
    }
    t.equal(reloads, 2, 'GET /reload did not reload');
  });

  t.test('a hook that throws is a 500, and the listener keeps serving', async (t) => {
    const bad = await startAdmin({
      address: '127.0.0.1',
      port: 0,
      registry,
      hooks: {
        readiness: () => ({ ready: true, services: {} }),
        reload: () => Promise.reject(new Error('reload exploded')),
      },
    });
    const r = await call(bad.port, 'POST', '/reload');
    t.equal(r.status, 500);
    t.equal(r.body, 'reload exploded\n');
    t.equal((await call(bad.port, 'GET', '/healthz')).status, 200);
    await bad.close();
  });
});

t.test('close() releases the port, even with a keep-alive client connected', async (t) => {
  const registry = createRegistry({ defaults: false });
  const admin = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    registry,
    hooks: {
      readiness: () => ({ ready: true, services: {} }),
      reload: async () => ({ ok: true, results: {} }),
    },
  });
  const port = admin.port;
  // A keep-alive request leaves an idle connection open.
  await new Promise<void>((ok, fail) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/healthz', headers: { connection: 'keep-alive' } },
      (res) => {
        res.resume();
        res.on('end', ok);
      },
    );
    req.on('error', fail);
    req.end();
  });
  const t0 = performance.now();
  await admin.close();
  t.ok(performance.now() - t0 < 3000, 'closed promptly');
  await t.rejects(call(port, 'GET', '/healthz'), { code: 'ECONNREFUSED' });
  // The port can be bound again.
  const again = await startAdmin({
    address: '127.0.0.1',
    port,
    registry,
    hooks: {
      readiness: () => ({ ready: true, services: {} }),
      reload: async () => ({ ok: true, results: {} }),
    },
  });
  t.equal(again.port, port);
  await again.close();
});

t.test('without a services hook, GET /services is 404 (as an older netsvc answers)', async (t) => {
  const admin = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    registry: createRegistry({ defaults: false }),
    hooks: {
      readiness: () => ({ ready: true, services: {} }),
      reload: async () => ({ ok: true, results: {} }),
    },
  });
  t.teardown(() => admin.close());
  const r = await call(admin.port, 'GET', '/services');
  t.equal(r.status, 404);
  t.equal(r.body, 'not found\n');
});

t.test('a port in use rejects startAdmin', async (t) => {
  const registry = createRegistry({ defaults: false });
  const hooks: AdminHooks = {
    readiness: () => ({ ready: true, services: {} }),
    reload: async () => ({ ok: true, results: {} }),
  };
  const first = await startAdmin({ address: '127.0.0.1', port: 0, registry, hooks });
  t.teardown(() => first.close());
  await t.rejects(startAdmin({ address: '127.0.0.1', port: first.port, registry, hooks }), {
    code: 'EADDRINUSE',
  });
});
