import t from 'tap';
import { existsSync } from 'node:fs';
import { startDaemon, freePort, processRss } from './daemon.js';

// A daemon that listens on TCP port 0, prints the port, and forks a child that just sleeps:
// readiness comes from the log line, then from a TCP probe on the printed port.
const script = `
const net = require('node:net');
const { spawn } = require('node:child_process');
const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
const srv = net.createServer((s) => { s.on('error', () => {}); s.end('hi'); });
srv.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port + ' child ' + c.pid));
`;

const alive = (pid: number): boolean =>
  existsSync(`/proc/${pid}/status`) && processRss(pid) !== undefined;

t.test('waits for readiness, reports RSS, kills the whole tree', async (t) => {
  let port = 0;
  let checks = 0;
  const d = await startDaemon({
    name: 'node-listener',
    command: process.execPath,
    args: ['-e', script],
    ready: [
      { log: /listening \d+ child \d+/ },
      // A custom check that only passes on its third call.
      { check: async () => ++checks >= 3 },
    ],
    teardown: t,
  });
  const m = /listening (\d+) child (\d+)/.exec(d.output());
  t.ok(m, 'ready line seen');
  t.ok(checks >= 3, 'custom check polled until true');
  port = Number(m?.[1]);
  const childPid = Number(m?.[2]);
  t.ok(port > 0, `listening on ${port}`);
  t.ok(d.running());
  t.ok(d.pids().includes(childPid), 'child found among descendants');
  const rss = d.peakRss();
  t.ok(rss !== undefined && rss.totalKb > 1000, `peak RSS ${rss?.totalKb} kB`);
  t.equal(rss?.processes.length, 2, rss?.note ?? 'no rss');

  // A second daemon gated on a TCP probe of the port the first one printed.
  const d2 = await startDaemon({
    name: 'tcp-probe',
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    ready: { tcp: { host: '127.0.0.1', port } },
    teardown: t,
  });
  t.ok(d2.startupMs >= 0);
  await d2.stop();

  const res = await d.stop();
  t.equal(
    res.signal,
    'SIGTERM',
    `leader stopped by SIGTERM (${JSON.stringify({ code: res.code, signal: res.signal })})`,
  );
  t.equal(res.killed, false);
  t.ok(res.rss && res.rss.totalKb > 0, 'RSS sampled before stop');
  // The grandchild is in the same process group: it must be gone too.
  for (let i = 0; i < 40 && alive(childPid); i++) await new Promise((r) => setTimeout(r, 50));
  t.notOk(alive(childPid), 'child killed');
  t.notOk(d.running());
  t.same(await d.stop(), res, 'stop is idempotent');
});

t.test('escalates to SIGKILL when SIGTERM is ignored', async (t) => {
  const d = await startDaemon({
    name: 'stubborn',
    command: process.execPath,
    args: ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"],
    ready: { log: /up/ },
    stopTimeoutMs: 300,
    teardown: t,
  });
  const res = await d.stop();
  t.equal(res.killed, true);
  t.equal(res.signal, 'SIGKILL');
});

t.test('rejects with the output when the daemon exits before it is ready', async (t) => {
  await t.rejects(
    startDaemon({
      name: 'crasher',
      command: process.execPath,
      args: ['-e', "console.error('boom: bad config'); process.exit(3)"],
      ready: { http: 'http://127.0.0.1:1/readyz' },
    }),
    /crasher exited before it was ready \(exit code 3.*\n.*boom: bad config/s,
  );
});

t.test('rejects when readiness never comes, and kills the process', async (t) => {
  const port = await freePort();
  let pid = 0;
  await t.rejects(
    startDaemon({
      name: 'never-ready',
      command: process.execPath,
      args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'],
      ready: { tcp: { host: '127.0.0.1', port } },
      readyTimeoutMs: 500,
      onLine: (l) => {
        pid = Number(l);
      },
    }),
    /never-ready not ready after 500 ms/,
  );
  t.ok(pid > 0);
  for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  t.notOk(alive(pid), 'killed after the readiness timeout');
});

t.test('missing binary is reported', async (t) => {
  await t.rejects(
    startDaemon({ name: 'nope', command: '/nonexistent/bin', ready: { log: /x/ } }),
    /nope: cannot spawn|nope exited before it was ready.*ENOENT/s,
  );
});
