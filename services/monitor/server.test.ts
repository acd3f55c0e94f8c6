/**
 * The monitor end to end on 127.0.0.1 port 0: a fake netsvc process (the real admin
 * listener with a registry and a state hook), one scrape round, then the JSON API, the
 * live events, the page and its assets, auth (token and basic), read-only routing, a
 * target that goes down, and key counters learnt from a target's GET /services.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { startAdmin } from '../../src/admin.js';
import { createRegistry } from '../../src/metrics.js';
import { systemClock } from '../../src/clock.js';
import { hashPasswordSync } from '../../src/password-hash.js';
import { MonitorConfig } from './config.js';
import { createMonitorMetrics } from './metrics.js';
import { MonitorServer } from './server.js';

async function fakeTarget() {
  const registry = createRegistry();
  new Counter({
    name: 'dns_queries_total',
    help: 'q',
    labelNames: ['qtype', 'rcode', 'transport'],
    registers: [registry],
  }).inc({ qtype: 'A', rcode: 'NOERROR', transport: 'udp' }, 7);
  const admin = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    registry,
    hooks: {
      readiness: () => ({ ready: true, services: { dns: true, dhcp: true } }),
      reload: async () => ({ ok: true, results: {} }),
      state: (n) =>
        n === 'dhcp'
          ? {
              leases: [
                {
                  address: '10.0.0.10',
                  mac: '52:54:00:00:00:01',
                  hostname: '<b>pc</b>',
                  ends: Date.now() + 60000,
                },
              ],
            }
          : undefined,
    },
  });
  return admin;
}

function fetchText(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((ok, fail) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function monitorFor(
  t: { teardown(fn: () => unknown): void },
  targets: { name: string; url: string }[],
  auth: Record<string, unknown> = {},
  files: Record<string, string> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-server-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const cfg = Value.Default(MonitorConfig, {
    listen: { port: 0 },
    targets,
    auth,
    scrapeIntervalSeconds: 300,
  }) as MonitorConfig;
  const server = new MonitorServer(cfg, {
    log: pino({ level: 'silent' }),
    clock: systemClock,
    dataDir: dir,
    configDir: dir,
    metrics: createMonitorMetrics(new Registry()),
  });
  await server.start();
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.collector!.tick();
  return { server, base: `http://127.0.0.1:${server.address!.port}` };
}

t.test('API, state, page and live events', async (t) => {
  const admin = await fakeTarget();
  t.teardown(() => admin.close());
  const { server, base } = await monitorFor(t, [
    { name: 'p1', url: `http://127.0.0.1:${admin.port}` },
  ]);

  const st = JSON.parse((await fetchText(base + '/api/status')).body);
  t.same(st.targets[0].services, ['dns', 'dhcp']);
  t.same(
    st.services.map((s: { name: string; up: boolean; ready: boolean }) => [s.name, s.up, s.ready]),
    [
      ['dns', true, true],
      ['dhcp', true, true],
    ],
  );
  t.equal(st.services[0].counters.dns_queries_total, 7);
  t.ok(st.targets[0].rssBytes > 0, 'RSS of the target process');

  await server.collector!.tick();
  const keys = JSON.parse((await fetchText(base + '/api/keys')).body).keys as string[];
  for (const k of [
    'proc/p1/rss',
    'proc/p1/cpu',
    'svc/dns/req',
    'dns/rcode/NOERROR',
    'host/mem/used',
  ])
    t.ok(keys.includes(k), k);
  const series = JSON.parse(
    (await fetchText(base + '/api/series?prefix=proc/,svc/dns/&range=600')).body,
  );
  t.ok(series.t.length >= 1);
  t.ok(series.series['proc/p1/rss'].some((v: number | null) => v !== null));
  t.equal((await fetchText(base + '/api/series')).status, 400, 'prefix is required');

  const dhcp = JSON.parse((await fetchText(base + '/api/state/dhcp')).body);
  t.equal(dhcp.leases[0].hostname, '<b>pc</b>', 'state passed through as data');
  t.equal(dhcp.leases[0].target, 'p1', 'rows tagged with their process');
  t.equal((await fetchText(base + '/api/state/sip')).status, 404);

  const page = await fetchText(base + '/');
  t.equal(page.status, 200);
  t.match(page.body, /<script src="\/assets\/uplot.js">/);
  t.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  t.notMatch(page.body, /https?:\/\//, 'no external resource');
  const uplot = await fetchText(base + '/assets/uplot.js');
  t.equal(uplot.status, 200);
  t.match(uplot.body, /uPlot/);
  t.equal((await fetchText(base + '/assets/nope.js')).status, 404);
  const js = await fetchText(base + '/assets/app.js');
  t.doesNotThrow(() => new Function(js.body), 'the page script parses');
  t.notMatch(js.body, /innerHTML/, 'network text is never parsed as HTML');

  // Live events: the last round at once, then one per tick.
  const events = await new Promise<string[]>((ok, fail) => {
    const got: string[] = [];
    const req = get(base + '/api/events', (res) => {
      t.match(String(res.headers['content-type']), /text\/event-stream/);
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (ev.startsWith('event: round')) got.push(ev);
          if (got.length === 1) void server.collector!.tick();
          if (got.length === 2) {
            req.destroy();
            ok(got);
          }
        }
      });
    });
    req.on('error', fail);
  });
  const round = JSON.parse(events[1]!.split('\ndata: ')[1]!);
  t.ok(round.values['proc/p1/rss'] > 0);
  t.equal(round.state.dhcp.leases.length, 1);

  // Read-only: nothing but GET/HEAD is routed.
  for (const [m, p] of [
    ['POST', '/'],
    ['PUT', '/api/status'],
    ['DELETE', '/api/state/dhcp'],
    ['POST', '/api/events'],
  ] as const) {
    t.equal((await fetchText(base + p, {}, m)).status, 404, `${m} ${p}`);
  }

  // The target goes down: the process and its services show down, the last services stay listed.
  await admin.close();
  await server.collector!.tick();
  const down = JSON.parse((await fetchText(base + '/api/status')).body);
  t.equal(down.targets[0].up, false);
  t.match(down.targets[0].error, /ECONNREFUSED|socket hang up|ECONNRESET/);
  t.same(
    down.services.map((s: { name: string; up: boolean; ready: boolean }) => [
      s.name,
      s.up,
      s.ready,
    ]),
    [
      ['dns', false, false],
      ['dhcp', false, false],
    ],
  );
});

t.test("key counters from the target's /services, else the generic rule", async (t) => {
  const registryA = createRegistry();
  const queries = new Counter({
    name: 'dns_queries_total',
    help: 'q',
    labelNames: ['rcode'],
    registers: [registryA],
  });
  queries.inc({ rcode: 'NOERROR' }, 1);
  let asked = 0;
  let runs: Record<string, boolean> = { dns: true };
  const a = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    registry: registryA,
    hooks: {
      readiness: () => ({ ready: true, services: runs }),
      reload: async () => ({ ok: true, results: {} }),
      services: () => {
        asked++;
        return [
          {
            name: 'dns',
            keyCounters: {
              requests: [{ metric: 'dns_queries_total' }],
              errors: [{ metric: 'dns_queries_total', labels: { rcode: 'SERVFAIL' } }],
            },
          },
        ];
      },
    },
  });
  t.teardown(() => a.close());
  // An older netsvc: no /services; its ftp counts only by the generic rule.
  const registryB = createRegistry();
  const counter = (name: string) => new Counter({ name, help: 'h', registers: [registryB] });
  const commands = counter('ftp_commands_total');
  const requests = counter('ftp_requests_total');
  const errors = counter('ftp_internal_errors_total');
  const b = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    registry: registryB,
    hooks: {
      readiness: () => ({ ready: true, services: { ftp: true } }),
      reload: async () => ({ ok: true, results: {} }),
    },
  });
  t.teardown(() => b.close());
  const { server, base } = await monitorFor(t, [
    { name: 'a', url: `http://127.0.0.1:${a.port}` },
    { name: 'b', url: `http://127.0.0.1:${b.port}` },
  ]);
  queries.inc({ rcode: 'NOERROR' }, 3);
  queries.inc({ rcode: 'SERVFAIL' }, 2);
  commands.inc(10);
  requests.inc(4);
  errors.inc(1);
  await server.collector!.tick();
  const v = JSON.parse((await fetchText(base + '/api/latest')).body).values;
  t.ok(v['svc/dns/req'] > 0, 'dns requests by the declared rule');
  t.ok(Math.abs(v['svc/dns/err'] / v['svc/dns/req'] - 2 / 5) < 1e-9, 'SERVFAIL: 2 of 5');
  t.ok(Math.abs(v['svc/ftp/err'] / v['svc/ftp/req'] - 1 / 4) < 1e-9, 'ftp: generic rule');
  t.equal(asked, 1, 'asked once, not per scrape');
  runs = { dns: true, sip: true };
  await server.collector!.tick();
  t.equal(asked, 2, 'asked again when the services changed');
  await server.collector!.tick();
  t.equal(asked, 2);
});

t.test('token and basic auth', async (t) => {
  const token = 'a-long-enough-token-0123456789';
  const hash = hashPasswordSync('s3cret', { N: 1024, r: 8, p: 1 });
  const { base } = await monitorFor(
    t,
    [],
    { tokenFile: 'token', basic: [{ user: 'ops', passwordHash: hash }] },
    { token: token + '\n' },
  );
  const basic = (u: string, p: string) => ({
    authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64'),
  });
  const r401 = await fetchText(base + '/api/status');
  t.equal(r401.status, 401);
  t.match(String(r401.headers['www-authenticate']), /^Basic realm=/);
  t.equal((await fetchText(base + '/')).status, 401, 'the page too');
  t.equal(
    (await fetchText(base + '/api/status', { authorization: `Bearer ${token}` })).status,
    200,
  );
  t.equal(
    (await fetchText(base + `/api/status?token=${token}`)).status,
    200,
    '?token= for EventSource',
  );
  t.equal((await fetchText(base + '/api/status?token=wrong')).status, 401);
  t.equal((await fetchText(base + '/api/status', basic('ops', 's3cret'))).status, 200);
  t.equal((await fetchText(base + '/api/status', basic('ops', 's3cret'))).status, 200, 'cached');
  t.equal((await fetchText(base + '/api/status', basic('ops', 'nope'))).status, 401);
  t.equal((await fetchText(base + '/api/status', basic('root', 's3cret'))).status, 401);
  t.equal((await fetchText(base + '/assets/app.css')).status, 200, 'assets carry no data: no auth');
});

t.test('a short or missing token file stops the start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'short'), 'abc');
  for (const [file, re] of [
    ['short', /at least 16 characters/],
    ['missing', /ENOENT/],
  ] as const) {
    const cfg = Value.Default(MonitorConfig, {
      listen: { port: 0 },
      auth: { tokenFile: file },
    }) as MonitorConfig;
    const s = new MonitorServer(cfg, {
      log: pino({ level: 'silent' }),
      clock: systemClock,
      dataDir: dir,
      configDir: dir,
      metrics: createMonitorMetrics(new Registry()),
    });
    await t.rejects(s.start(), re);
    await s.stop();
  }
});
