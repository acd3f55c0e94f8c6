/**
 * Interop, issue 11: Knot DNS (knotd, as an unprivileged process on 127.0.0.1) is a
 * secondary of netsvc's DNS (the built CLI on a copy of config/dev):
 * - Knot transfers TIC2023.com (AXFR) and serves the same SOA serial and the same records;
 * - after a TSIG-signed nsupdate into netsvc, netsvc's NOTIFY makes Knot fetch the change
 *   (by IXFR from netsvc's journal) and serve the new record and serial within seconds;
 * - a delete propagates the same way;
 * - with `transfer: { allow: [], keys: [xfr-key] }` Knot transfers only when its remote
 *   signs with that key (TSIG on the SOA query and the transfer, and the answers signed),
 *   and follows an update that way; an unsigned AXFR and a Knot with a wrong secret get
 *   nothing.
 */
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePorts, startDaemon, type Daemon } from '../../src/testing/daemon.js';
import { chownTree, lookupUser } from './daemon-user.js';
import { pollUntil } from '../../src/testing/poll.js';
import { repoRoot, startNetsvcDir, which } from '../../bench/dns-servers.js';

const root = repoRoot();
const run = promisify(execFile);
const DIG = which('dig');
const KDIG = which('kdig');
const NSUPDATE = which('nsupdate');
const KNOTD = which('knotd');
const KNOTC = which('knotc');
const ZONE = 'TIC2023.com';
const UPDATE_SECRET = Buffer.from('netsvc dns update interop key 32').toString('base64');
const XFR_SECRET = Buffer.from('netsvc knot transfer key, 32 by.').toString('base64');
const WRONG_SECRET = Buffer.from('not the transfer key, 32 bytes!!').toString('base64');

const missing = [
  ['knotd', KNOTD],
  ['knotc', KNOTC],
  ['kdig', KDIG],
  ['dig', DIG],
  ['nsupdate', NSUPDATE],
].flatMap(([name, path]) => (path === undefined ? [name] : []));

if (missing.length > 0) {
  if (process.env.CI)
    t.fail(`${missing.join(', ')} missing in CI (knot, knot-dnsutils, bind9-dnsutils)`);
  else t.plan(0, `${missing.join(', ')} missing: skipped`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-dns-knot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // knotd must not run as root: when we are root, it drops to the `knot` user (or nobody)
  // with `server.user`, and its folders are given to that user.
  const asRoot = userInfo().uid === 0;
  const knotUser = asRoot ? (lookupUser('knot') ?? lookupUser('nobody')) : undefined;
  if (knotUser) chmodSync(dir, 0o755);

  const bindKey = (name: string, secret: string): string =>
    `key "${name}" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`;

  /** A copy of config/dev in dir/<name> with DNS on `port`, changed by `edit`. */
  const netsvcDir = (
    name: string,
    port: number,
    adminPort: number,
    edit: (dns: Record<string, unknown>) => void,
  ): string => {
    const d = join(dir, name);
    mkdirSync(d);
    for (const f of ['netsvc.yaml', 'dns.yaml', 'zones'])
      cpSync(join(root, 'config', 'dev', f), join(d, f), { recursive: true });
    writeFileSync(join(d, 'ddns.key'), bindKey('ddns-key', UPDATE_SECRET), { mode: 0o600 });
    writeFileSync(join(d, 'xfr.key'), bindKey('xfr-key', XFR_SECRET), { mode: 0o600 });
    const dns = parse(readFileSync(join(d, 'dns.yaml'), 'utf8')) as Record<string, unknown>;
    dns.listen = [{ address: '127.0.0.1', port }];
    edit(dns);
    writeFileSync(join(d, 'dns.yaml'), stringify(dns));
    const main = parse(readFileSync(join(d, 'netsvc.yaml'), 'utf8')) as Record<string, unknown>;
    main.admin = { ...(main.admin as object), address: '127.0.0.1', port: adminPort };
    main.dataDir = join(d, 'data');
    main.log = { ...(main.log as object), level: 'info', format: 'json' };
    writeFileSync(join(d, 'netsvc.yaml'), stringify(main));
    return d;
  };
  const withZone = (
    dns: Record<string, unknown>,
    extra: Record<string, unknown>,
  ): Record<string, unknown>[] =>
    (dns.zones as Record<string, unknown>[]).map((z) =>
      String(z.origin).toLowerCase() === ZONE.toLowerCase() ? { ...z, ...extra } : z,
    );

  /** Start knotd as a secondary of 127.0.0.1@primaryPort for TIC2023.com. */
  const startKnot = async (
    name: string,
    port: number,
    primaryPort: number,
    key: string | undefined,
    tt: { teardown(fn: () => unknown): void },
  ): Promise<Daemon> => {
    const kdir = join(dir, name);
    for (const d of ['run', 'db', 'zones']) mkdirSync(join(kdir, d), { recursive: true });
    const conf = join(kdir, 'knot.conf');
    writeFileSync(
      conf,
      `server:
    rundir: "${join(kdir, 'run')}"
    listen: 127.0.0.1@${port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
${knotUser ? `    user: ${knotUser.name}:${knotUser.group}\n` : ''}
log:
  - target: stderr
    any: info

database:
    storage: "${join(kdir, 'db')}"
${key === undefined ? '' : `\nkey:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: ${key}\n`}
remote:
  - id: netsvc
    address: 127.0.0.1@${primaryPort}
${key === undefined ? '' : '    key: xfr-key\n'}
acl:
  - id: notify_from_netsvc
    address: 127.0.0.1
    action: notify
  - id: local_transfer
    address: 127.0.0.1
    action: transfer

template:
  - id: default
    storage: "${join(kdir, 'zones')}"
    zonefile-sync: -1
    zonefile-load: none

zone:
  - domain: ${ZONE}
    master: netsvc
    acl: [notify_from_netsvc, local_transfer]
`,
    );
    if (knotUser) chownTree(kdir, knotUser.uid, knotUser.gid);
    const check = spawnSync(KNOTC!, ['-c', conf, 'conf-check'], { encoding: 'utf8' });
    if (check.status !== 0)
      throw new Error(`knotc conf-check failed:\n${check.stdout}${check.stderr}`);
    return startDaemon({
      name,
      command: KNOTD!,
      args: ['-c', conf, '-s', join(kdir, 'run', 'knot.sock')],
      cwd: kdir,
      ready: { log: /server started/ },
      teardown: tt,
    });
  };

  const query = async (tool: 'dig' | 'kdig', port: number, name: string, type: string) => {
    const args =
      tool === 'dig'
        ? ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1']
        : ['@127.0.0.1', '-p', String(port), '+time=1', '+retry=0'];
    const { stdout } = await run(tool === 'dig' ? DIG! : KDIG!, [...args, '+short', name, type], {
      encoding: 'utf8',
      timeout: 5000,
    }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith(';'))
      .map((l) => l.toLowerCase())
      .sort()
      .join('\n');
  };
  const serialOf = (soa: string): number => Number(soa.split(' ')[2]);
  /** Poll `probe` every 50 ms until it holds, at most `ms`; returns the time taken or undefined. */
  const until = (probe: () => Promise<boolean>, ms = 10_000) => pollUntil(probe, ms, 50);
  /** A whole-zone transfer, as sorted lowercase record lines (the closing SOA dropped). */
  const axfr = async (tool: 'dig' | 'kdig', port: number): Promise<string[]> => {
    const { stdout } = await run(
      tool === 'dig' ? DIG! : KDIG!,
      ['@127.0.0.1', '-p', String(port), '+nocomments', '+nostats', ZONE, 'AXFR'],
      { encoding: 'utf8', timeout: 10_000 },
    );
    const lines = stdout
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith(';'))
      .map((l) => l.trim().split(/\s+/).join(' ').toLowerCase());
    return [...new Set(lines)].sort();
  };

  const [port, adminPort, knotPort, port2, adminPort2, knotPort2, knotPort3] = (await freePorts(
    7,
  )) as [number, number, number, number, number, number, number];

  const cfg1 = netsvcDir('netsvc', port, adminPort, (dns) => {
    dns.keys = [{ name: 'ddns-key', secretFile: 'ddns.key' }];
    dns.zones = withZone(dns, {
      update: { allow: [{ key: 'ddns-key', match: 'zonesub' }] },
      notify: [`127.0.0.1:${knotPort}`],
    });
    dns.transfer = { allow: ['127.0.0.1/32'] };
  });
  const nsupdate = (script: string, to = port) =>
    spawnSync(NSUPDATE!, ['-y', `hmac-sha256:ddns-key:${UPDATE_SECRET}`], {
      input: `server 127.0.0.1 ${to}\nzone ${ZONE}\n${script}\nsend\n`,
      encoding: 'utf8',
      timeout: 15_000,
    });
  const server = await startNetsvcDir({ configDir: cfg1, adminPort, teardown: t });
  const knot = await startKnot('knot', knotPort, port, undefined, t);
  const knotLog = (): string[] =>
    knot
      .output()
      .split('\n')
      .filter((l) => /ixfr|axfr|refresh|notify/i.test(l));

  t.test('Knot transfers TIC2023.com from netsvc (AXFR)', async (t) => {
    const primarySoa = await query('dig', port, ZONE, 'SOA');
    const ms = await until(async () => (await query('kdig', knotPort, ZONE, 'SOA')) === primarySoa);
    t.ok(ms !== undefined, `Knot serves netsvc's SOA (${primarySoa})`);
    if (ms === undefined) t.comment(knot.output().split('\n').slice(-30).join('\n'));
    t.equal(serialOf(primarySoa), 2, 'the serial of config/dev/zones/TIC2023.com.zone');
    for (const [name, type] of [
      [ZONE, 'NS'],
      [`ns1.${ZONE}`, 'A'],
      [`www.${ZONE}`, 'A'],
      [`monitor.${ZONE}`, 'A'],
      [`web1.${ZONE}`, 'CNAME'],
    ] as const) {
      const want = await query('dig', port, name, type);
      t.not(want, '', `netsvc answers ${name} ${type}`);
      t.equal(await query('kdig', knotPort, name, type), want, `Knot: ${name} ${type} = ${want}`);
    }
    t.equal(
      await query('kdig', knotPort, `www.${ZONE}`, 'A'),
      '192.168.0.5',
      'www as in the zone file',
    );
    t.same(await axfr('kdig', knotPort), await axfr('dig', port), 'the same whole zone');
    t.match(knot.output(), /AXFR, incoming, remote 127\.0\.0\.1@\d+, finished/i, 'by AXFR');
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${knot.pid}/status`, 'utf8'))?.[1];
    t.not(uid, '0', `knotd runs unprivileged (uid ${uid})`);
  });

  /** Wait (bounded) for Knot to have logged `n` incoming transfers of any kind. */
  const transfersIn = (): string[] =>
    knotLog().filter((l) => /[AI]XFR, incoming, remote .*, finished/i.test(l));

  t.test('an update reaches Knot on the NOTIFY, by IXFR', async (t) => {
    const before = serialOf(await query('kdig', knotPort, ZONE, 'SOA'));
    const seen = transfersIn().length;
    const t0 = performance.now();
    const r = nsupdate(`update add pc9.${ZONE}. 300 A 192.168.1.99`);
    const updateMs = performance.now() - t0;
    t.equal(r.status, 0, `nsupdate add ${r.stderr}`);
    const ms = await until(
      async () =>
        (await query('kdig', knotPort, `pc9.${ZONE}`, 'A')) === '192.168.1.99' &&
        serialOf(await query('kdig', knotPort, ZONE, 'SOA')) === before + 1,
    );
    const total = performance.now() - t0;
    t.ok(ms !== undefined, 'Knot serves the new record and the new serial');
    t.ok(total < 5000, `within ${total.toFixed(0)} ms (refresh is 1 week: it was the NOTIFY)`);
    t.comment(
      `update on netsvc to the answer from Knot: ${total.toFixed(0)} ms (nsupdate itself ${updateMs.toFixed(0)} ms)`,
    );
    t.equal(
      serialOf(await query('dig', port, ZONE, 'SOA')),
      before + 1,
      'netsvc bumped the serial once',
    );
    await until(async () => transfersIn().length > seen, 2000);
    const lines = knotLog().slice(-12);
    t.comment(`Knot's log:\n${lines.join('\n')}`);
    t.match(knot.output(), /notify, incoming, remote 127\.0\.0\.1@\d+/i, 'Knot got our NOTIFY');
    t.match(
      lines.join('\n'),
      /IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/i,
      'Knot took the change by IXFR',
    );
    t.notMatch(lines.join('\n'), /AXFR-style IXFR|fallback to AXFR/i, 'and not in AXFR form');
  });

  t.test('a delete reaches Knot too', async (t) => {
    const before = serialOf(await query('kdig', knotPort, ZONE, 'SOA'));
    const seen = transfersIn().length;
    const t0 = performance.now();
    const r = nsupdate(`update delete pc9.${ZONE}. A`);
    t.equal(r.status, 0, `nsupdate delete ${r.stderr}`);
    t.equal(await query('dig', port, `pc9.${ZONE}`, 'A'), '', 'gone from netsvc');
    const ms = await until(
      async () =>
        (await query('kdig', knotPort, `pc9.${ZONE}`, 'A')) === '' &&
        serialOf(await query('kdig', knotPort, ZONE, 'SOA')) === before + 1,
    );
    t.ok(ms !== undefined, 'gone from Knot, with the new serial');
    t.comment(`delete on netsvc to Knot's answer: ${(performance.now() - t0).toFixed(0)} ms`);
    await until(async () => transfersIn().length > seen, 2000);
    t.comment(`Knot's log:\n${knotLog().slice(-5).join('\n')}`);
    t.match(transfersIn().at(-1) ?? '', /IXFR/, 'by IXFR');
    t.same(await axfr('kdig', knotPort), await axfr('dig', port), 'the same whole zone again');
  });

  t.test('TSIG on transfers: transfer.keys', async (t) => {
    // Only the pair of this subtest runs from here on.
    await knot.stop();
    await server.stop();
    const cfg2 = netsvcDir('netsvc-tsig', port2, adminPort2, (dns) => {
      dns.keys = [
        { name: 'ddns-key', secretFile: 'ddns.key' },
        { name: 'xfr-key', secretFile: 'xfr.key' },
      ];
      dns.zones = withZone(dns, {
        update: { allow: [{ key: 'ddns-key', match: 'zonesub' }] },
        notify: [`127.0.0.1:${knotPort2}`],
      });
      dns.transfer = { allow: [], keys: ['xfr-key'] };
    });
    let server2: Daemon;
    try {
      server2 = await startNetsvcDir({ configDir: cfg2, adminPort: adminPort2, teardown: t });
    } catch (e) {
      const msg = (e as Error).message;
      t.comment(msg.split('\n').slice(-6).join('\n'));
      t.fail(
        /\/transfer.*keys|keys.*additional/i.test(msg)
          ? 'netsvc does not know transfer.keys yet (config rejected)'
          : 'netsvc did not start',
      );
      return;
    }
    const unsigned = await run(
      DIG!,
      ['@127.0.0.1', '-p', String(port2), '+nocomments', '+nostats', ZONE, 'AXFR'],
      { encoding: 'utf8', timeout: 10_000 },
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    t.notMatch(unsigned.stdout, /\sIN\s+SOA\s/, 'an unsigned AXFR gets no zone');

    const good = await startKnot('knot-tsig', knotPort2, port2, XFR_SECRET, t);
    const bad = await startKnot('knot-wrong-key', knotPort3, port2, WRONG_SECRET, t);
    const primarySoa = await query('dig', port2, ZONE, 'SOA');
    const ms = await until(
      async () => (await query('kdig', knotPort2, ZONE, 'SOA')) === primarySoa,
    );
    t.ok(ms !== undefined, `Knot with the key transfers the zone (${primarySoa})`);
    t.equal(
      await query('kdig', knotPort2, `www.${ZONE}`, 'A'),
      '192.168.0.5',
      'www as in the zone file',
    );
    const goodLog = good
      .output()
      .split('\n')
      .filter((l) => /xfr|refresh|tsig/i.test(l));
    t.comment(`Knot (right key):\n${goodLog.slice(-8).join('\n')}`);
    t.notMatch(goodLog.join('\n'), /TSIG|BADSIG|BADKEY/, 'no TSIG complaint');

    // On the NOTIFY Knot asks for the SOA and then the IXFR, both signed with the key.
    const r = nsupdate(`update add pc11.${ZONE}. 300 A 192.168.1.111`, port2);
    t.equal(r.status, 0, `nsupdate add ${r.stderr}`);
    const followed = await until(
      async () => (await query('kdig', knotPort2, `pc11.${ZONE}`, 'A')) === '192.168.1.111',
    );
    t.ok(followed !== undefined, 'Knot with the key follows an update (signed SOA query, IXFR)');
    t.comment(
      `Knot (right key), after the update:\n${good
        .output()
        .split('\n')
        .filter((l) => /xfr|refresh|tsig/i.test(l))
        .slice(-4)
        .join('\n')}`,
    );
    await until(async () => /IXFR, incoming, remote [^\n]*, finished/i.test(good.output()), 2000);
    t.match(good.output(), /IXFR, incoming, remote [^\n]*, finished/i, 'by a signed IXFR');
    t.notMatch(good.output(), /AXFR-style IXFR|fallback to AXFR/i, 'not in AXFR form');

    // The wrong secret: Knot's refresh fails on TSIG and it never serves the zone.
    const failed = await until(async () => /refresh, .*failed/i.test(bad.output()));
    const badLog = bad
      .output()
      .split('\n')
      .filter((l) => /xfr|refresh|tsig|failed/i.test(l));
    t.comment(`Knot (wrong key):\n${badLog.slice(-8).join('\n')}`);
    t.ok(failed !== undefined, "Knot's refresh with the wrong key failed");
    t.match(badLog.join('\n'), /TSIG|BADSIG|BADKEY|NOTAUTH/i, 'because of TSIG');
    t.equal(await query('kdig', knotPort3, `www.${ZONE}`, 'A'), '', 'Knot serves no zone');
    const soa3 = await query('kdig', knotPort3, ZONE, 'SOA');
    t.equal(soa3, '', 'not even its SOA');
    const refusals = server2
      .output()
      .split('\n')
      .filter((l) => /tsig|badsig|badkey|notauth|refus/i.test(l));
    t.comment(`netsvc on the wrong key:\n${refusals.slice(-4).join('\n')}`);
  });
}
