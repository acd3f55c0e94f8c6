/**
 * FTP against a brute-force tool (issue 18): hydra guesses the admin password from its
 * own network namespace (attacker-ns.ts; root) with a 50-word list whose last word is the real one, four tasks in parallel,
 * against the built server (`node dist/src/main.js ftp`). The shared back-off must ban
 * the source before the end of the list, so hydra never finds the password, while the
 * real user logs in from 127.0.0.2 with curl and lftp. The accepted (checked) guess rate
 * is read from the admin port's /metrics and printed.
 *
 * Needs hydra and dist/ (npm run build); curl and lftp each run when present. Without
 * hydra or dist/ the file is skipped, except under CI where that is a failure.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon, freePorts } from '../../src/testing/daemon.js';
import { attackerNamespace, canCreateNamespaces } from './attacker-ns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const PASSWORD = 'hostile-interop-pw';

function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((ok) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (status) => {
      clearTimeout(timer);
      ok({ status, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Sum of a counter's samples whose labels include every `want` pair. */
function sample(text: string, name: string, want: Record<string, string> = {}): number {
  let n = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      (m[1] ?? '')
        .split(',')
        .filter((x) => x !== '')
        .map((kv) => {
          const [k, v] = kv.split('=');
          return [k!, (v ?? '').replace(/"/g, '')];
        }),
    );
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) n += Number(m[2]);
  }
  return n;
}

if (!has('hydra') || !existsSync(join(ROOT, 'dist/src/main.js')) || !canCreateNamespaces()) {
  if (process.env.CI) t.fail('hydra, dist/ or root (netns) missing in CI');
  else t.plan(0, 'hydra, dist/ (npm run build) or root for a netns missing: skipped');
} else {
  const ns = attackerNamespace('ftp', 2);
  t.teardown(() => ns.remove());
  const work = mkdtempSync(join(tmpdir(), 'netsvc-ftp-hostile-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const cfgDir = join(work, 'config');
  mkdirSync(cfgDir, { recursive: true });
  cpSync(join(ROOT, 'config/dev/ftp'), join(cfgDir, 'ftp'), { recursive: true });
  const [port, adminPort, pmin] = await freePorts(3);
  const cfg = {
    // The user's listener and the one the attacker's namespace reaches.
    listen: [
      { address: '127.0.0.1', port },
      { address: ns.server, port },
    ],
    users: [
      {
        name: 'admin',
        password: PASSWORD,
        home: 'ftp/admin',
        seed: 'ftp/admin',
        permissions: ['read'],
      },
    ],
    active: { sourcePort: 0 },
    passive: { portMin: pmin, portMax: pmin! + 20 },
    // Shipped thresholds (5 per account and source, 10 per source, 30 per account);
    // shorter delays so the run stays within seconds.
    loginBackoff: { delayMs: 200, maxDelayMs: 1000 },
    protocolLog: null,
    xferlog: null,
  };
  writeFileSync(join(cfgDir, 'ftp.yaml'), JSON.stringify(cfg, null, 2));
  writeFileSync(
    join(cfgDir, 'netsvc.yaml'),
    `admin: {enabled: true, address: 127.0.0.1, port: ${adminPort}}\n` +
      `dataDir: ${join(work, 'data')}\nlog: {level: warn, format: json}\n`,
  );
  await startDaemon({
    name: 'netsvc-ftp',
    command: process.execPath,
    args: [join(ROOT, 'dist/src/main.js'), 'ftp', '--config', cfgDir],
    ready: { tcp: { host: '127.0.0.1', port: port! } },
    teardown: t,
  });
  const metrics = async (): Promise<string> =>
    (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();

  t.test('hydra from its namespace is banned before it reaches the password', async (t) => {
    const words = [...Array.from({ length: 49 }, (_, i) => `guess-${i + 1}`), PASSWORD];
    writeFileSync(join(work, 'words.txt'), words.join('\n') + '\n');
    const r = await run(
      'ip',
      ns.exec('hydra', [
        '-I',
        '-l',
        'admin',
        '-P',
        'words.txt',
        '-s',
        String(port),
        '-t',
        '4',
        ns.server,
        'ftp',
      ]),
      work,
      90_000,
    );
    t.comment(r.stdout.trim().split('\n').slice(-4).join('\n'));
    t.notOk(r.stdout.includes(PASSWORD), 'hydra did not find the password');
    t.match(r.stdout, /0 valid passwords? found/);
    const m = await metrics();
    const failed = sample(m, 'ftp_logins_total', { result: 'failed' });
    const unchecked = sample(m, 'ftp_login_refused_total');
    const checked = failed - unchecked;
    t.ok(sample(m, 'ftp_login_bans_total', { key: 'account_source' }) >= 1, 'account+source ban');
    t.ok(sample(m, 'ftp_login_bans_total', { key: 'source' }) >= 1, 'source ban');
    t.ok(checked <= 10, `at most maxFailuresPerSource guesses checked (${checked} of 50)`);
    t.ok(sample(m, 'ftp_connections_total', { result: 'banned' }) >= 1, 'later connections 421');
    t.comment(
      `accepted guesses: ${checked} in ${(r.ms / 1000).toFixed(1)} s ` +
        `(${((checked * 1000) / r.ms).toFixed(2)}/s), then none for banTimeMs; ` +
        `${unchecked} refused unchecked`,
    );
    // The real password from the banned source is refused too.
    if (!has('curl')) return;
    const banned = await run(
      'ip',
      ns.exec('curl', [
        '-sS',
        '--max-time',
        '10',
        `ftp://admin:${PASSWORD}@${ns.server}:${port}/Admin.txt`,
      ]),
      work,
      15_000,
    );
    t.not(banned.status, 0, 'curl from the banned source fails');
  });

  t.test(
    'curl from 127.0.0.2 still logs in',
    { skip: !has('curl') && 'curl missing' },
    async (t) => {
      const r = await run(
        'curl',
        [
          '-sS',
          '--max-time',
          '15',
          '--interface',
          '127.0.0.2',
          `ftp://admin:${PASSWORD}@127.0.0.1:${port}/Admin.txt`,
        ],
        work,
        20_000,
      );
      t.equal(r.status, 0, r.stderr);
      t.match(r.stdout, /Admin file/);
    },
  );

  t.test(
    'lftp from 127.0.0.2 still logs in',
    { skip: !has('lftp') && 'lftp missing' },
    async (t) => {
      const script = [
        'set cmd:fail-exit yes',
        'set net:max-retries 1',
        'set net:timeout 10',
        'set net:socket-bind-ipv4 127.0.0.2',
        `open -u admin,${PASSWORD} -p ${port} 127.0.0.1`,
        'cat Admin.txt',
      ].join('; ');
      const r = await run('lftp', ['-c', script], work, 30_000);
      t.equal(r.status, 0, r.stderr);
      t.match(r.stdout, /Admin file/);
    },
  );
}
