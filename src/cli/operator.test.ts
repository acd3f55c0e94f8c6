/**
 * The operator commands against a fake admin listener on 127.0.0.1 port 0: status as a
 * table and as JSON, leases, the empty SIP tables, an unreachable process (exit 1), usage
 * errors (exit 2), and passwd reading stdin.
 */
import t from 'tap';
import { Counter } from 'prom-client';
import { startAdmin } from '../admin.js';
import { createRegistry } from '../metrics.js';
import { verifyPassword } from '../password-hash.js';
import { runOperatorCommand } from './operator.js';
import { formatTable } from './table.js';

async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

t.test('status, leases, registrations, calls', async (t) => {
  const registry = createRegistry();
  new Counter({
    name: 'dns_queries_total',
    help: 'q',
    labelNames: ['rcode'],
    registers: [registry],
  }).inc({ rcode: 'NOERROR' }, 42);
  const admin = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    registry,
    hooks: {
      readiness: () => ({ ready: false, services: { dns: true, dhcp: false } }),
      reload: async () => ({ ok: true, results: {} }),
      state: (n) =>
        n === 'dhcp'
          ? {
              leases: [
                {
                  address: '192.168.1.10',
                  mac: '52:54:00:aa:bb:cc',
                  hostname: 'laptop',
                  subnet: '192.168.1.0/24',
                  ends: Date.now() + 90_000,
                },
              ],
            }
          : undefined,
    },
  });
  t.teardown(() => admin.close());
  const url = ['--url', `http://127.0.0.1:${admin.port}`];

  const st = await capture(() => runOperatorCommand('status', url, {}));
  t.equal(st.code, 0);
  t.match(st.out, /^SERVICE\s+STATE\s+UPTIME\s+PROCESS\s+RSS\s+COUNTERS\n/);
  t.match(st.out, /\ndns\s+ready\s+\d+s\s+netsvc\s+[\d.]+ MiB\s+queries=42\n/);
  t.match(st.out, /\ndhcp\s+not ready/);
  const js = JSON.parse(
    (await capture(() => runOperatorCommand('status', [...url, '--json'], {}))).out,
  );
  t.equal(js.services[0].counters.dns_queries_total, 42);

  const leases = await capture(() => runOperatorCommand('leases', url, {}));
  t.match(
    leases.out,
    /^IP\s+MAC\s+HOSTNAME\s+EXPIRES\s+SUBNET\s+PROCESS\n192\.168\.1\.10\s+52:54:00:aa:bb:cc\s+laptop\s+in 1m \d+s\s+192\.168\.1\.0\/24\s+netsvc\n$/,
  );
  const lj = JSON.parse(
    (await capture(() => runOperatorCommand('leases', [...url, '--json'], {}))).out,
  );
  t.equal(lj[0].mac, '52:54:00:aa:bb:cc');

  const regs = await capture(() => runOperatorCommand('registrations', url, {}));
  t.match(regs.out, /no sip state/);
  t.equal((await capture(() => runOperatorCommand('calls', [...url, '--json'], {}))).out, '[]\n');
});

t.test('unreachable process and usage', async (t) => {
  const st = await capture(() => runOperatorCommand('status', ['--url', 'http://127.0.0.1:1'], {}));
  t.equal(st.code, 1);
  t.match(st.out, /DOWN/);
  const l = await capture(() => runOperatorCommand('leases', ['--url', 'http://127.0.0.1:1'], {}));
  t.equal(l.code, 1);
  t.match(l.err, /cannot reach/);
  t.equal((await capture(() => runOperatorCommand('status', ['--bogus'], {}))).code, 2);
});

t.test('table layout', async (t) => {
  t.equal(
    formatTable(
      ['a', 'num'],
      [
        ['xx', '1'],
        ['y', '10'],
      ],
      [1],
    ),
    'A   NUM\nxx    1\ny    10\n',
  );
});

t.test('passwd reads the first line of stdin', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const script = `import { runOperatorCommand } from ${JSON.stringify(fileURLToPath(new URL('./operator.ts', import.meta.url)))};
process.exitCode = await runOperatorCommand('passwd', ['--stdin'], {});`;
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, '--input-type=module', '-e', script],
    {
      input: 'hunter2\nignored\n',
      encoding: 'utf8',
    },
  );
  t.equal(r.status, 0, r.stderr);
  const hash = r.stdout.trim();
  t.match(hash, /^scrypt\$16384\$8\$1\$/);
  t.ok(await verifyPassword('hunter2', hash));
});
