/**
 * Runner: start in order, stop in reverse, deadlines, readable start errors, readiness,
 * reload. Services are fakes that record what the runner asks of them.
 */
import t from 'tap';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { Type } from '@sinclair/typebox';
import { defineService, registerService, type Service, type ServiceContext } from './service.js';
import { Runner, RunnerError, explainStartError, type PlannedService } from './runner.js';
import { createRegistry } from './metrics.js';

const FakeConfig = Type.Object(
  { enabled: Type.Boolean({ default: true }) },
  { additionalProperties: false, default: {} },
);

interface Behaviour {
  start?: () => Promise<void>;
  stop?: () => Promise<void>;
  reload?: (() => Promise<void>) | null;
  ready?: () => boolean;
}

function harness(dir: string, opts: { startTimeoutMs?: number; stopTimeoutMs?: number } = {}) {
  const events: string[] = [];
  const contexts = new Map<string, ServiceContext>();
  const metrics = createRegistry({ defaults: false });
  const dataDir = join(dir, 'data', 'nested');
  const runner = new Runner({
    log: pino({ level: 'silent' }),
    metrics,
    dataDir,
    configDir: '/etc/netsvc',
    startTimeoutMs: opts.startTimeoutMs ?? 1000,
    stopTimeoutMs: opts.stopTimeoutMs ?? 1000,
  });
  const fake = (name: string, b: Behaviour = {}): PlannedService => {
    const def = defineService({
      name,
      config: FakeConfig,
      create(cfg, ctx) {
        events.push(`create ${name}`);
        contexts.set(name, ctx);
        const svc: Service = {
          async start() {
            events.push(`start ${name}`);
            await b.start?.();
          },
          async stop() {
            events.push(`stop ${name}`);
            await b.stop?.();
          },
          ready: () => b.ready?.() ?? true,
        };
        if (b.reload !== null) {
          svc.reload = async () => {
            events.push(`reload ${name}`);
            await b.reload?.();
          };
        }
        return svc;
      },
    });
    return { def: registerService(def), config: { enabled: true } };
  };
  return { runner, events, contexts, metrics, dataDir, fake };
}

const fail = (e: Error) => async (): Promise<void> => {
  throw e;
};
const errno = (
  code: string,
  address?: string,
  port?: number,
): NodeJS.ErrnoException & { address?: string; port?: number } =>
  Object.assign(new Error(`bind ${code} ${address}:${port}`), {
    code,
    syscall: 'bind',
    address,
    port,
  });

t.test('starts in order, stops in reverse; creates the data dir; passes the context', async (t) => {
  const h = harness(t.testdir());
  await h.runner.start([h.fake('a'), h.fake('b'), h.fake('c')]);
  t.same(h.events, ['create a', 'start a', 'create b', 'start b', 'create c', 'start c']);
  t.ok(existsSync(h.dataDir), 'data dir created');
  const ctx = h.contexts.get('b')!;
  t.equal(ctx.dataDir, h.dataDir);
  t.equal(ctx.configDir, '/etc/netsvc');
  t.equal(ctx.metrics, h.metrics);
  t.equal(typeof ctx.clock.now, 'function');
  t.match(await h.metrics.metrics(), /netsvc_service_up\{svc="b"\} 1/);

  h.events.length = 0;
  await h.runner.stop();
  t.same(h.events, ['stop c', 'stop b', 'stop a']);
  t.match(await h.metrics.metrics(), /netsvc_service_up\{svc="a"\} 0/);
});

t.test(
  'a start failure stops the failed one, then the started ones in reverse, and throws ERR_RUNNER_START',
  async (t) => {
    const h = harness(t.testdir());
    const err = await h.runner
      .start([
        h.fake('a'),
        h.fake('b'),
        h.fake('c', { start: fail(new Error('zone files have errors')) }),
        h.fake('d'),
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    t.ok(err instanceof RunnerError, 'RunnerError');
    t.equal((err as RunnerError).code, 'ERR_RUNNER_START');
    t.equal((err as RunnerError).message, 'c: zone files have errors');
    t.same(h.events, [
      'create a',
      'start a',
      'create b',
      'start b',
      'create c',
      'start c',
      'stop c',
      'stop b',
      'stop a',
    ]);
    t.same(h.runner.readiness(), { ready: false, services: {} });
  },
);

t.test('a create() that throws is a start failure too', async (t) => {
  const h = harness(t.testdir());
  const bad: PlannedService = {
    def: registerService({
      name: 'bad',
      config: FakeConfig,
      create() {
        throw new Error('cannot open database');
      },
    }),
    config: { enabled: true },
  };
  await t.rejects(h.runner.start([h.fake('a'), bad]), {
    code: 'ERR_RUNNER_START',
    message: 'bad: cannot open database',
  });
  t.same(h.events, ['create a', 'start a', 'stop a']);
});

t.test('a start that never resolves hits the deadline', async (t) => {
  const h = harness(t.testdir(), { startTimeoutMs: 50 });
  const t0 = performance.now();
  await t.rejects(
    h.runner.start([h.fake('a'), h.fake('slow', { start: () => new Promise<void>(() => {}) })]),
    {
      code: 'ERR_RUNNER_START',
      message: 'slow start did not finish within 50 ms',
    },
  );
  const ms = performance.now() - t0;
  t.ok(ms >= 45 && ms < 5000, `gave up after ${Math.round(ms)} ms`);
  t.same(h.events, ['create a', 'start a', 'create slow', 'start slow', 'stop slow', 'stop a']);
});

t.test('a stop that never resolves hits the stop deadline', async (t) => {
  const h = harness(t.testdir(), { stopTimeoutMs: 50 });
  await h.runner.start([h.fake('a'), h.fake('stuck', { stop: () => new Promise<void>(() => {}) })]);
  await t.rejects(h.runner.stop(), {
    code: 'ERR_RUNNER_TIMEOUT',
    message: 'stop did not finish within 50 ms',
  });
  t.same(h.events.slice(-1), ['stop stuck']);
});

t.test('a stop failure is logged and the others still stop', async (t) => {
  const h = harness(t.testdir());
  await h.runner.start([h.fake('a'), h.fake('b', { stop: fail(new Error('boom')) }), h.fake('c')]);
  await h.runner.stop();
  t.same(
    h.events.filter((e) => e.startsWith('stop')),
    ['stop c', 'stop b', 'stop a'],
  );
});

t.test('bind errors become a sentence with the fix', async (t) => {
  t.test('EADDRINUSE through the runner', async (t) => {
    const h = harness(t.testdir());
    const e = await h.runner
      .start([h.fake('dns', { start: fail(errno('EADDRINUSE', '127.0.0.1', 10053)) })])
      .catch((e: unknown) => e as RunnerError);
    t.equal(e?.code, 'ERR_RUNNER_START');
    t.equal(
      e?.message,
      'dns: address 127.0.0.1:10053 already in use; stop the other server or change the port in dns.yaml',
    );
  });

  t.test('EACCES names the port, the capability and the dev profile', async (t) => {
    const m = explainStartError('dns', errno('EACCES', '0.0.0.0', 53));
    t.match(m, /^dns: permission denied to listen on 0\.0\.0\.0:53; /);
    t.match(m, /ports below 1024 need CAP_NET_BIND_SERVICE/);
    t.match(m, /config\/dev/);
    t.equal(explainStartError('dns', errno('EPERM', '0.0.0.0', 53)), m, 'EPERM reads the same');
  });

  t.test('EADDRNOTAVAIL points at the listen address', async (t) => {
    t.equal(
      explainStartError('dns', errno('EADDRNOTAVAIL', '192.168.0.2', 53)),
      'dns: address 192.168.0.2:53 is not configured on this host; fix the listen address in dns.yaml',
    );
  });

  t.test('without an address, and other errors', async (t) => {
    const noAddr = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    t.equal(
      explainStartError('ftp', noAddr),
      'ftp: address already in use; stop the other server or change the port in ftp.yaml',
    );
    t.equal(explainStartError('ftp', new Error('something else')), 'ftp: something else');
  });
});

t.test('readiness reflects the services', async (t) => {
  const h = harness(t.testdir());
  t.same(h.runner.readiness(), { ready: false, services: {} }, 'nothing started: not ready');
  let bReady = true;
  await h.runner.start([h.fake('a'), h.fake('b', { ready: () => bReady })]);
  t.same(h.runner.readiness(), { ready: true, services: { a: true, b: true } });
  bReady = false;
  t.same(h.runner.readiness(), { ready: false, services: { a: true, b: false } });
  t.match(await h.metrics.metrics(), /netsvc_service_up\{svc="b"\} 0/, 'gauge follows readiness');
  bReady = true;
  t.same(h.runner.readiness().ready, true);
  const stopping = h.runner.stop();
  t.equal(h.runner.readiness().ready, false, 'not ready while stopping');
  await stopping;
  t.same(h.runner.readiness(), { ready: false, services: {} });
});

t.test('reload collects per-service results and keeps going after a failure', async (t) => {
  const h = harness(t.testdir());
  await h.runner.start([
    h.fake('a'),
    h.fake('b', { reload: fail(new Error('TIC2023.com.zone:12: bad TTL')) }),
    h.fake('noreload', { reload: null }),
    h.fake('c'),
  ]);
  h.events.length = 0;
  const r = await h.runner.reload();
  t.same(r, {
    ok: false,
    results: { a: 'reloaded', b: 'TIC2023.com.zone:12: bad TTL', c: 'reloaded' },
  });
  t.same(h.events, ['reload a', 'reload b', 'reload c']);
  const ok = await h.runner.reload();
  t.same(ok.ok, false, 'b still fails');
  await h.runner.stop();
  t.same(await h.runner.reload(), { ok: true, results: {} }, 'nothing to reload once stopped');
});

t.test('stop is idempotent', async (t) => {
  const h = harness(t.testdir());
  await h.runner.start([h.fake('a'), h.fake('b')]);
  const p1 = h.runner.stop();
  const p2 = h.runner.stop();
  t.equal(p1, p2, 'same promise while stopping');
  await Promise.all([p1, p2]);
  await h.runner.stop();
  t.same(
    h.events.filter((e) => e.startsWith('stop')),
    ['stop b', 'stop a'],
    'each service stopped once',
  );
});

t.test('stop before anything started resolves', async (t) => {
  const h = harness(t.testdir());
  await h.runner.stop();
  t.same(h.events, []);
});
