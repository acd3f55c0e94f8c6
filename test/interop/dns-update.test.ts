/**
 * Interop, issue 11: RFC 2136 UPDATE with TSIG into netsvc's DNS (the built CLI on a copy
 * of config/dev whose TIC2023.com grants `ddns-key` every name below it):
 * - nsupdate (bind9-dnsutils) with the key adds and deletes records; dig sees them;
 * - the change survives a restart (journal in the data dir) and a reload (SIGHUP);
 * - a wrong secret is refused (NOTAUTH/BADSIG) and an unsigned update REFUSED; nothing
 *   changes;
 * - the DHCP service's DDNS client publishes a lease's name into netsvc itself.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { pino } from 'pino';
import { freePorts, startDaemon, type Daemon } from '../../src/testing/daemon.js';
import { mkdirSync } from 'node:fs';
import { repoRoot, startNetsvcDir, which } from '../../bench/dns-servers.js';
import { DdnsClient } from '../../services/dhcp/ddns-client.js';
import { keyFromTriple } from '../../services/dns/tsig.js';
import { ipFromText } from '../../services/dhcp/ipv4.js';

const root = repoRoot();
const DIG = which('dig');
const NSUPDATE = which('nsupdate');
const SECRET = Buffer.from('netsvc dns update interop key 32').toString('base64');

if (DIG === undefined || NSUPDATE === undefined) {
  if (process.env.CI) t.fail('dig or nsupdate (bind9-dnsutils) missing in CI');
  else t.plan(0, 'dig or nsupdate missing: skipped');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-dns-update-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['netsvc.yaml', 'dns.yaml', 'zones'])
    cpSync(join(root, 'config', 'dev', f), join(dir, f), { recursive: true });
  const [port, adminPort, bindPort] = (await freePorts(3)) as [number, number, number];
  writeFileSync(
    join(dir, 'ddns.key'),
    `key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "${SECRET}";\n};\n`,
  );
  const dns = parse(readFileSync(join(dir, 'dns.yaml'), 'utf8')) as Record<string, unknown>;
  dns.listen = [{ address: '127.0.0.1', port }];
  dns.keys = [{ name: 'ddns-key', secretFile: 'ddns.key' }];
  dns.zones = (dns.zones as Record<string, unknown>[]).map((z) =>
    String(z.origin).toLowerCase() === 'tic2023.com'
      ? {
          ...z,
          update: { allow: [{ key: 'ddns-key', match: 'zonesub' }] },
          notify: [`127.0.0.1:${bindPort}`],
        }
      : z,
  );
  // BIND's secondary transfers from us (AXFR, and IXFR answered in AXFR form).
  dns.transfer = { allow: ['127.0.0.1/32'] };
  writeFileSync(join(dir, 'dns.yaml'), stringify(dns));
  const main = parse(readFileSync(join(dir, 'netsvc.yaml'), 'utf8')) as Record<string, unknown>;
  main.admin = { ...(main.admin as object), address: '127.0.0.1', port: adminPort };
  main.dataDir = join(dir, 'data');
  main.log = { ...(main.log as object), level: 'info', format: 'json' };
  writeFileSync(join(dir, 'netsvc.yaml'), stringify(main));
  const start = (): Promise<Daemon> => startNetsvcDir({ configDir: dir, adminPort, teardown: t });

  const dig = (name: string, type = 'A'): string =>
    execFileSync(
      DIG,
      ['@127.0.0.1', '-p', String(port), '+short', '+time=2', '+tries=1', name, type],
      {
        encoding: 'utf8',
      },
    ).trim();
  const nsupdate = (script: string, key = `hmac-sha256:ddns-key:${SECRET}`) =>
    spawnSync(NSUPDATE, key === '' ? [] : ['-y', key], {
      input: `server 127.0.0.1 ${port}\nzone TIC2023.com\n${script}\nsend\n`,
      encoding: 'utf8',
      timeout: 15_000,
    });

  let server = await start();

  t.test('nsupdate adds and deletes; dig sees it', async (t) => {
    const add = nsupdate(
      'update add pc9.TIC2023.com. 300 A 192.168.1.99\nupdate add pc9.TIC2023.com. 300 TXT "lab"',
    );
    t.equal(add.status, 0, add.stderr);
    t.equal(dig('pc9.TIC2023.com'), '192.168.1.99');
    t.equal(dig('pc9.TIC2023.com', 'TXT'), '"lab"');
    const soa = dig('TIC2023.com', 'SOA').split(' ');
    t.ok(Number(soa[2]) > 0, `serial ${soa[2]}`);
    const del = nsupdate('update delete pc9.TIC2023.com. TXT');
    t.equal(del.status, 0, del.stderr);
    t.equal(dig('pc9.TIC2023.com', 'TXT'), '');
    t.equal(
      Number(dig('TIC2023.com', 'SOA').split(' ')[2]),
      Number(soa[2]) + 1,
      'serial +1 per update',
    );
  });

  t.test('a wrong secret and an unsigned update change nothing', async (t) => {
    const bad = nsupdate(
      'update add evil.TIC2023.com. 300 A 192.0.2.66',
      `hmac-sha256:ddns-key:${Buffer.from('wrong secret wrong secret wrong!!').toString('base64')}`,
    );
    t.not(bad.status, 0, 'nsupdate reports the failure');
    t.match(bad.stdout + bad.stderr, /NOTAUTH|BADSIG|tsig/i);
    const unsigned = nsupdate('update add evil.TIC2023.com. 300 A 192.0.2.66', '');
    t.not(unsigned.status, 0);
    t.match(unsigned.stdout + unsigned.stderr, /REFUSED/);
    t.equal(dig('evil.TIC2023.com'), '');
  });

  t.test('kept across a reload and a restart', async (t) => {
    process.kill(server.pid, 'SIGHUP');
    await new Promise((ok) => setTimeout(ok, 1500));
    t.equal(dig('pc9.TIC2023.com'), '192.168.1.99', 'after SIGHUP');
    await server.stop();
    server = await start();
    t.equal(dig('pc9.TIC2023.com'), '192.168.1.99', 'after a restart');
    t.match(server.output(), /"msg":"journal replayed"/);
  });

  t.test(
    'BIND 9 as secondary follows an update on the NOTIFY',
    { skip: which('named') === undefined && 'named (bind9) missing' },
    async (t) => {
      const bdir = join(dir, 'named');
      mkdirSync(bdir, { recursive: true });
      writeFileSync(
        join(bdir, 'named.conf'),
        `options { directory "${bdir}"; pid-file none; listen-on port ${bindPort} { 127.0.0.1; };
  listen-on-v6 { none; }; recursion no; dnssec-validation no; notify no; allow-notify { 127.0.0.1; }; };
controls { };
zone "TIC2023.com" { type secondary; primaries { 127.0.0.1 port ${port}; }; file "${join(bdir, 'tic.db')}"; };
`,
      );
      const bdig = (name: string): string =>
        execFileSync(
          DIG!,
          ['@127.0.0.1', '-p', String(bindPort), '+short', '+time=1', '+tries=1', name, 'A'],
          {
            encoding: 'utf8',
          },
        ).trim();
      const named = await startDaemon({
        name: 'named-secondary',
        command: which('named')!,
        args: ['-g', '-c', join(bdir, 'named.conf')],
        cwd: bdir,
        ready: { check: async () => bdig('pc9.TIC2023.com') === '192.168.1.99' },
        teardown: t,
      });
      t.equal(
        bdig('pc9.TIC2023.com'),
        '192.168.1.99',
        'the secondary transferred the zone with its dynamic records',
      );
      const t0 = performance.now();
      const r = nsupdate('update add pc10.TIC2023.com. 300 A 192.168.1.100');
      t.equal(r.status, 0, r.stderr);
      let seen = '';
      while (seen === '' && performance.now() - t0 < 10_000) {
        seen = bdig('pc10.TIC2023.com');
        if (seen === '') await new Promise((ok) => setTimeout(ok, 20));
      }
      const ms = performance.now() - t0;
      t.equal(seen, '192.168.1.100', 'the secondary answers the new record');
      t.ok(ms < 5000, `followed within ${ms.toFixed(0)} ms (refresh is 1 h: it was the NOTIFY)`);
      t.comment(`update on the primary to the answer from BIND's secondary: ${ms.toFixed(0)} ms`);
      // The secondary already holds serial N-1: it asks by IXFR, and the journal answers
      // with the delta (RFC 1995 §4): old SOA, new SOA, the A record, around the current
      // SOA: far fewer records than the first, full transfer.
      const counts = (): number[] =>
        [...named.output().matchAll(/Transfer completed: \d+ messages, (\d+) records/g)].map((x) =>
          Number(x[1]),
        );
      for (let i = 0; i < 100 && counts().length < 2; i++)
        await new Promise((ok) => setTimeout(ok, 50));
      const [first, ...later] = counts();
      t.comment(`records per transfer: ${counts().join(', ')}`);
      t.ok(later.length > 0 && later.at(-1)! < first!, 'the follow-up transfer was incremental');
      t.equal(later.at(-1), 5, 'SOA, old SOA, new SOA, one A, SOA');
      const m = await fetch(`http://127.0.0.1:${adminPort}/metrics`).then((x) => x.text());
      t.match(m, /dns_notify_total\{event="answered"\} [1-9]/, 'BIND answered our NOTIFY');
    },
  );

  t.test("the DHCP service's DDNS client publishes into netsvc DNS", async (t) => {
    const c = new DdnsClient(
      {
        server: { address: '127.0.0.1', port },
        key: keyFromTriple(`hmac-sha256:ddns-key:${SECRET}`),
        forwardZone: 'TIC2023.com',
        reverseZone: () => undefined,
        ttl: 120,
        timeoutMs: 2000,
        maxAttempts: 2,
        now: () => Date.now() / 1000,
      },
      pino({ level: 'silent' }),
    );
    await c.start();
    t.teardown(() => c.stop());
    const lease = {
      address: ipFromText('192.168.1.42'),
      subnet: '192.168.1.0/24',
      clientKey: 'hw:01020000000042',
      chaddr: '02:00:00:00:00:42',
      hostname: 'printer',
      state: 'bound' as const,
      starts: Date.now(),
      ends: Date.now() + 120_000,
    };
    c.leaseBound(lease);
    await c.idle();
    t.equal(dig('printer.TIC2023.com'), '192.168.1.42');
    t.match(dig('printer.TIC2023.com', 'DHCID'), /^AAAB/);
    c.leaseBound({ ...lease, clientKey: 'hw:01020000000043' });
    await c.idle();
    t.equal(
      dig('printer.TIC2023.com'),
      '192.168.1.42',
      "another client's claim refused (RFC 4703)",
    );
    c.leaseGone(lease.clientKey);
    await c.idle();
    t.equal(dig('printer.TIC2023.com'), '', 'released');
  });
}
