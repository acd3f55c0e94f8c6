/**
 * FTP interop with real clients (npm run test:interop): curl in passive (EPSV, and PASV
 * with --disable-epsv) and active mode (--ftp-port - and --ftp-port 127.0.0.1), lftp and
 * Python's ftplib, each downloading and uploading; FTPS (AUTH TLS, PROT P) with curl
 * --ssl-reqd against a throwaway self-signed certificate made with openssl.
 *
 * The server runs as the CLI runs it (`node dist/src/main.js ftp --config DIR`) when ftp
 * is registered in services/index.ts, otherwise in-process through the same FtpServer.
 * Binaries that are missing skip their test (Debian: curl lftp python3 openssl).
 */
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
  existsSync,
  rmSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { serviceNames } from '../../services/index.js';
import { startDaemon, freePort } from '../../src/testing/daemon.js';
import { startFixture } from '../../services/ftp/testing-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const registered = serviceNames.includes('ftp');

/** Run a client without blocking the event loop (the server may run in this process). */
function run(
  cmd: string,
  args: string[],
  opts: { timeout?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? 30000);
    p.on('close', (status) => {
      clearTimeout(timer);
      ok({ status, stdout, stderr });
    });
  });
}

interface Running {
  port: number;
  home: string;
  /** Directory holding the TLS files (when tls). */
  certDir: string;
}

async function startServer(
  t: { teardown(fn: () => unknown): void },
  opts: { tls: boolean },
): Promise<Running> {
  const work = mkdtempSync(join(tmpdir(), 'netsvc-ftp-interop-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const certDir = join(work, 'config');
  mkdirSync(certDir, { recursive: true });
  if (opts.tls) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(certDir, 'key.pem'),
        '-out',
        join(certDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
  }
  const tls = opts.tls
    ? {
        enabled: true,
        cert: 'cert.pem',
        key: 'key.pem',
        requireForLogin: true,
        requireForData: true,
      }
    : { enabled: false };
  const all = ['read', 'write', 'delete', 'mkdir', 'rename'];
  if (registered) {
    const port = await freePort();
    const [pmin, pmax] = [port + 1, port + 40];
    cpSync(join(ROOT, 'config/dev/ftp'), join(certDir, 'ftp'), { recursive: true });
    const cfg = {
      listen: [{ address: '127.0.0.1', port }],
      users: [
        {
          name: 'admin',
          password: 'interop-pw',
          home: 'ftp/admin',
          seed: 'ftp/admin',
          permissions: all,
        },
      ],
      active: { sourcePort: 0 },
      passive: { portMin: pmin, portMax: pmax },
      limits: { maxPerIp: 50 },
      tls,
    };
    writeFileSync(join(certDir, 'ftp.yaml'), JSON.stringify(cfg, null, 2));
    writeFileSync(
      join(certDir, 'netsvc.yaml'),
      `admin: {enabled: false}\ndataDir: ${join(work, 'data')}\nlog: {level: warn, format: json}\n`,
    );
    await startDaemon({
      name: 'netsvc-ftp',
      command: process.execPath,
      args: [join(ROOT, 'dist/src/main.js'), 'ftp', '--config', certDir],
      ready: { tcp: { host: '127.0.0.1', port } },
      teardown: t,
    });
    return { port, home: join(work, 'data/ftp/admin'), certDir };
  }
  const fx = await startFixture(
    {
      users: [
        {
          name: 'admin',
          password: 'interop-pw',
          home: 'homes/admin',
          seed: 'seed/admin',
          permissions: all,
        },
      ],
      tls: opts.tls
        ? { ...tls, cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') }
        : tls,
      limits: { maxPerIp: 50 },
    },
    t,
  );
  return { port: fx.port, home: fx.home('admin'), certDir };
}

const ADMIN = readFileSync(join(ROOT, 'config/dev/ftp/admin/Admin.txt'));

t.test(
  'curl: passive (EPSV, PASV) and active (-, 127.0.0.1), down and up',
  { skip: !has('curl') && 'curl missing' },
  async (t) => {
    const s = await startServer(t, { tls: false });
    const scratch = mkdtempSync(join(tmpdir(), 'ftp-curl-'));
    t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
    const payload = randomBytes(300_000);
    writeFileSync(join(scratch, 'up.bin'), payload);
    const modes: [string, string[]][] = [
      ['EPSV', []],
      ['PASV', ['--disable-epsv']],
      ['active -', ['--ftp-port', '-']],
      ['active 127.0.0.1', ['--ftp-port', '127.0.0.1']],
    ];
    for (const [name, flags] of modes) {
      const url = `ftp://admin:interop-pw@127.0.0.1:${s.port}`;
      const out = join(scratch, `down-${name}.txt`);
      const r = await run('curl', [
        '-sS',
        '--max-time',
        '20',
        ...flags,
        '-o',
        out,
        `${url}/Admin.txt`,
      ]);
      t.equal(r.status, 0, `${name} download: ${r.stderr}`);
      t.same(readFileSync(out), ADMIN, `${name}: Admin.txt identical`);
      const target = `up-${name.replace(/\W/g, '_')}.bin`;
      const u = await run('curl', [
        '-sS',
        '--max-time',
        '20',
        ...flags,
        '-T',
        join(scratch, 'up.bin'),
        `${url}/${target}`,
      ]);
      t.equal(u.status, 0, `${name} upload: ${u.stderr}`);
      t.same(readFileSync(join(s.home, target)), payload, `${name}: upload identical`);
      const l = await run('curl', ['-sS', '--max-time', '20', ...flags, `${url}/`]);
      t.match(l.stdout, /Admin\.txt/, `${name}: listing`);
    }
  },
);

t.test('lftp: get and put, EPSV and PASV', { skip: !has('lftp') && 'lftp missing' }, async (t) => {
  const s = await startServer(t, { tls: false });
  const scratch = mkdtempSync(join(tmpdir(), 'ftp-lftp-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const payload = randomBytes(100_000);
  writeFileSync(join(scratch, 'put.bin'), payload);
  for (const epsv of ['yes', 'no']) {
    const script = [
      'set cmd:fail-exit yes',
      'set net:max-retries 1',
      'set net:timeout 10',
      `set ftp:prefer-epsv ${epsv}`,
      'set ftp:passive-mode yes',
      `open -u admin,interop-pw -p ${s.port} 127.0.0.1`,
      `lcd ${scratch}`,
      `get Admin.txt -o lftp-Admin-${epsv}.txt`,
      `put put.bin -o lftp-${epsv}.bin`,
      'cls -l',
      'quit',
    ].join('; ');
    const r = await run('lftp', ['-c', script]);
    t.equal(r.status, 0, `lftp epsv=${epsv}: ${r.stderr}`);
    t.same(readFileSync(join(scratch, `lftp-Admin-${epsv}.txt`)), ADMIN, 'get identical');
    t.same(readFileSync(join(s.home, `lftp-${epsv}.bin`)), payload, 'put identical');
  }
});

t.test(
  'python ftplib: passive and active, retrbinary/storbinary',
  { skip: !has('python3') && 'python3 missing' },
  async (t) => {
    const s = await startServer(t, { tls: false });
    const py = `
import ftplib, io, sys
port = int(sys.argv[1])
for passive in (True, False):
    f = ftplib.FTP()
    f.connect('127.0.0.1', port, timeout=10)
    f.login('admin', 'interop-pw')
    f.set_pasv(passive)
    buf = io.BytesIO()
    f.retrbinary('RETR Admin.txt', buf.write)
    sys.stdout.write('%d %d\\n' % (passive, len(buf.getvalue())))
    f.storbinary('STOR py-%d.bin' % passive, io.BytesIO(b'x' * 5000))
    sys.stdout.write(' '.join(sorted(f.nlst())) + '\\n')
    sys.stdout.write(f.sendcmd('MDTM Admin.txt')[:3] + '\\n')
    f.quit()
`;
    const r = await run('python3', ['-c', py, String(s.port)]);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /^1 70\n.*Admin\.txt.*\n213\n0 70\n/s);
    t.equal(readFileSync(join(s.home, 'py-1.bin')).length, 5000);
    t.equal(readFileSync(join(s.home, 'py-0.bin')).length, 5000);
  },
);

t.test(
  'FTPS: curl --ssl-reqd (AUTH TLS, PBSZ 0, PROT P)',
  { skip: (!has('curl') || !has('openssl')) && 'curl/openssl missing' },
  async (t) => {
    const s = await startServer(t, { tls: true });
    const scratch = mkdtempSync(join(tmpdir(), 'ftp-ftps-'));
    t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
    const url = `ftp://admin:interop-pw@127.0.0.1:${s.port}`;
    const out = join(scratch, 'a.txt');
    // Active FTPS is driven by Python below: curl 7.87-7.88 (Debian 12 ships 7.88.1) drops the
    // TLS filter on active data connections and hangs (curl/curl#10666, fixed in 8.0 by #10669).
    for (const [name, flags] of [
      ['EPSV', []],
      ['PASV', ['--disable-epsv']],
    ] as [string, string[]][]) {
      const r = await run('curl', [
        '-sS',
        '--max-time',
        '20',
        '--ssl-reqd',
        '--cacert',
        join(s.certDir, 'cert.pem'),
        ...flags,
        '-o',
        out,
        `${url}/Admin.txt`,
      ]);
      t.equal(r.status, 0, `FTPS ${name} download: ${r.stderr}`);
      t.same(readFileSync(out), ADMIN, `FTPS ${name}: identical`);
      writeFileSync(join(scratch, 'u.bin'), randomBytes(50_000));
      const u = await run('curl', [
        '-sS',
        '--max-time',
        '20',
        '--ssl-reqd',
        '--cacert',
        join(s.certDir, 'cert.pem'),
        ...flags,
        '-T',
        join(scratch, 'u.bin'),
        `${url}/tls-${name}.bin`,
      ]);
      t.equal(u.status, 0, `FTPS ${name} upload: ${u.stderr}`);
      t.same(readFileSync(join(s.home, `tls-${name}.bin`)), readFileSync(join(scratch, 'u.bin')));
    }
    if (has('python3')) {
      const py = `
import ftplib, io, ssl, sys

ctx = ssl.create_default_context(cafile=sys.argv[2])
for passive in (False, True):
    f = ftplib.FTP_TLS(context=ctx)
    f.connect('127.0.0.1', int(sys.argv[1]), timeout=10)
    f.login('admin', 'interop-pw')
    f.prot_p()
    f.set_pasv(passive)
    buf = io.BytesIO()
    f.retrbinary('RETR Admin.txt', buf.write)
    f.storbinary('STOR pytls-%d.bin' % passive, io.BytesIO(b'y' * 7000))
    sys.stdout.write('%d %d\\n' % (passive, len(buf.getvalue())))
    f.quit()
`;
      const r = await run('python3', ['-c', py, String(s.port), join(s.certDir, 'cert.pem')]);
      t.equal(r.status, 0, `python FTP_TLS active and passive: ${r.stderr}`);
      t.equal(r.stdout, '0 70\n1 70\n');
      t.equal(readFileSync(join(s.home, 'pytls-0.bin')).length, 7000, 'active FTPS upload');
    }
    // Without TLS the login is refused (force_local_logins_ssl).
    const plain = await run('curl', ['-sS', '--max-time', '10', '-o', out, `${url}/Admin.txt`]);
    t.not(plain.status, 0, 'plain login refused when TLS is required');
    t.ok(existsSync(s.home));
  },
);
