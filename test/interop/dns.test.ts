/**
 * Interop: netsvc's DNS service, started from a temporary copy of config/dev on free ports,
 * queried with the real clients dig (bind9-dnsutils) and kdig (knot-dnsutils) over UDP and
 * TCP. It checks what reference-deployment.md "DNS" promises: every record of TIC2023.com and
 * 0.168.192.in-addr.arpa, CNAMEs chased inside the zone, case-insensitive matching that keeps
 * the zone's case, NXDOMAIN and NODATA with the SOA, REFUSED outside our zones, TC over UDP
 * and dig's retry over TCP, AXFR refused by default and allowed by `transfer.allow`, and
 * version.bind hidden. Run by `npm run test:interop` (needs `npm run build` first).
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { freePorts, type Daemon } from '../../src/testing/daemon.js';
import { repoRoot, startNetsvcDir, which } from '../../bench/dns-servers.js';

const root = repoRoot();
const DIG = which('dig');
const KDIG = which('kdig');
if (DIG === undefined) {
  t.fail('dig not installed (apt-get install bind9-dnsutils)');
  process.exit(1);
}

// ---- expectations from reference-deployment.md -------------------------------------
const Z = 'TIC2023.com.';
const hosts: Record<string, string> = {
  ns1: '192.168.0.2',
  dhcp: '192.168.0.3',
  ftp: '192.168.0.4',
  www: '192.168.0.5',
  voip: '192.168.0.6',
  monitor: '192.168.0.7',
};
const SOA = 'TIC2023.com. root.TIC2023.com. 2 604800 86400 2419200 604800';
const REV = '0.168.192.in-addr.arpa.';

// A test-only zone whose TXT RRset (about 4 KB) cannot fit in 1232 or 512 bytes over UDP.
const BIG = 'big.test';
const BIG_TXT_COUNT = 60;
const bigZone = [
  '$TTL 300',
  `@ IN SOA ns.${BIG}. hostmaster.${BIG}. 1 3600 600 86400 300`,
  `@ IN NS ns.${BIG}.`,
  'ns IN A 127.0.0.1',
  ...Array.from(
    { length: BIG_TXT_COUNT },
    (_, i) => `many IN TXT "record ${String(i).padStart(2, '0')} ${'x'.repeat(48)}"`,
  ),
  '',
].join('\n');

// ---- dig ---------------------------------------------------------------------------
interface Rr {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}
interface DigResult {
  raw: string;
  status: string | undefined;
  flags: string[];
  answer: Rr[];
  authority: Rr[];
  additional: Rr[];
  /** "UDP" or "TCP" from the ";; SERVER:" line. */
  transport: string | undefined;
  truncatedRetry: boolean;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000 }, (_err, stdout, stderr) =>
      resolve(`${stdout}${stderr}`),
    );
  });
}

function parseRr(line: string): Rr | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 5 || line.startsWith(';')) return undefined;
  return {
    name: f[0] ?? '',
    ttl: Number(f[1]),
    class: f[2] ?? '',
    type: f[3] ?? '',
    data: f.slice(4).join(' '),
  };
}

function parseDig(raw: string): DigResult {
  const res: DigResult = {
    raw,
    status: /status: ([A-Z]+)/.exec(raw)?.[1],
    flags: (/;; flags: ([a-z ]*);/.exec(raw)?.[1] ?? '').split(' ').filter(Boolean),
    answer: [],
    authority: [],
    additional: [],
    transport: /;; SERVER: .*\((UDP|TCP)\)/.exec(raw)?.[1],
    truncatedRetry: raw.includes('Truncated, retrying in TCP mode'),
  };
  let section: Rr[] | undefined;
  for (const line of raw.split('\n')) {
    if (line.startsWith(';; ANSWER SECTION')) section = res.answer;
    else if (line.startsWith(';; AUTHORITY SECTION')) section = res.authority;
    else if (line.startsWith(';; ADDITIONAL SECTION')) section = res.additional;
    else if (line.trim() === '' || line.startsWith(';'))
      section = line.trim() === '' ? undefined : section;
    else if (section) {
      const rr = parseRr(line);
      if (rr) section.push(rr);
    }
  }
  return res;
}

// ---- server ------------------------------------------------------------------------
interface Instance {
  port: number;
  adminPort: number;
  dir: string;
  daemon: Daemon;
}

async function startInstance(
  tt: Test,
  opts: { allowTransfer?: boolean; env?: Record<string, string> } = {},
): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-interop-dns-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Only the files the dns service needs: other services' files in config/dev are not ours.
  for (const f of ['netsvc.yaml', 'dns.yaml', 'zones'])
    cpSync(join(root, 'config', 'dev', f), join(dir, f), { recursive: true });
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  writeFileSync(join(dir, 'zones', `${BIG}.zone`), bigZone);
  const dns = parse(readFileSync(join(dir, 'dns.yaml'), 'utf8')) as Record<string, unknown>;
  dns.listen = [{ address: '127.0.0.1', port }];
  dns.zones = [...((dns.zones as unknown[]) ?? []), { origin: BIG, file: `zones/${BIG}.zone` }];
  if (opts.allowTransfer) dns.transfer = { allow: ['127.0.0.1/32'] };
  writeFileSync(join(dir, 'dns.yaml'), stringify(dns));
  const main = parse(readFileSync(join(dir, 'netsvc.yaml'), 'utf8')) as Record<string, unknown>;
  main.admin = { ...(main.admin as object), address: '127.0.0.1', port: adminPort };
  main.dataDir = join(dir, 'data');
  main.log = { ...(main.log as object), level: 'info', format: 'json' };
  writeFileSync(join(dir, 'netsvc.yaml'), stringify(main));
  const daemon = await startNetsvcDir({
    configDir: dir,
    adminPort,
    env: opts.env,
    verbose: process.env.INTEROP_VERBOSE === '1',
    teardown: tt,
  });
  return { port, adminPort, dir, daemon };
}

t.test('netsvc dns against dig and kdig', async (t) => {
  const srv = await startInstance(t);
  const dig = async (...args: string[]): Promise<DigResult> =>
    parseDig(
      await run(DIG, [`@127.0.0.1`, '-p', String(srv.port), '+time=2', '+tries=1', ...args]),
    );

  t.match(srv.daemon.output(), /"msg":"ready"/, 'logs a JSON "ready" line');

  for (const transport of ['udp', 'tcp'] as const) {
    const q = (...args: string[]): Promise<DigResult> =>
      dig(...args, transport === 'tcp' ? '+tcp' : '+notcp');
    t.test(`${transport}: A records of TIC2023.com`, async (t) => {
      for (const [host, addr] of Object.entries(hosts)) {
        const r = await q(`${host}.TIC2023.com`, 'A');
        t.equal(r.status, 'NOERROR', `${host} status`);
        t.ok(r.flags.includes('aa'), `${host} AA`);
        t.same(
          r.answer.map((a) => [a.name, a.ttl, a.type, a.data]),
          [[`${host}.${Z}`, 604800, 'A', addr]],
          `${host} A ${addr}`,
        );
        t.equal(r.transport, transport.toUpperCase(), `${host} answered over ${transport}`);
      }
    });
    t.test(`${transport}: SOA and NS of both zones`, async (t) => {
      for (const zone of [Z, REV]) {
        const soa = await q(zone, 'SOA');
        t.equal(soa.status, 'NOERROR');
        t.ok(soa.flags.includes('aa'));
        t.same(
          soa.answer.map((a) => [a.name, a.type, a.data]),
          [[zone, 'SOA', SOA]],
          `${zone} SOA`,
        );
        const ns = await q(zone, 'NS');
        t.same(
          ns.answer.map((a) => [a.name, a.type, a.data]),
          [[zone, 'NS', `ns1.${Z}`]],
          `${zone} NS`,
        );
      }
    });
    t.test(`${transport}: CNAMEs chased to www's A`, async (t) => {
      for (const alias of ['web1', 'web2']) {
        const r = await q(`${alias}.TIC2023.com`, 'A');
        t.equal(r.status, 'NOERROR');
        t.ok(r.flags.includes('aa'));
        t.same(
          r.answer.map((a) => [a.name, a.type, a.data]),
          [
            [`${alias}.${Z}`, 'CNAME', `www.${Z}`],
            [`www.${Z}`, 'A', '192.168.0.5'],
          ],
          `${alias} → www → 192.168.0.5`,
        );
        const c = await q(`${alias}.TIC2023.com`, 'CNAME');
        t.same(
          c.answer.map((a) => [a.type, a.data]),
          [['CNAME', `www.${Z}`]],
          `${alias} CNAME query`,
        );
      }
    });
    t.test(`${transport}: every PTR`, async (t) => {
      for (const [host, addr] of Object.entries(hosts)) {
        const r = await q('-x', addr);
        t.equal(r.status, 'NOERROR', `${addr} status`);
        t.ok(r.flags.includes('aa'));
        const last = addr.split('.')[3] ?? '';
        t.same(
          r.answer.map((a) => [a.name, a.type, a.data]),
          [[`${last}.${REV}`, 'PTR', `${host}.${Z}`]],
          `${addr} → ${host}`,
        );
      }
    });
    t.test(`${transport}: case-insensitive match keeps the zone's case`, async (t) => {
      const r = await q('wWw.tIc2023.COM', 'A');
      t.equal(r.status, 'NOERROR');
      t.same(
        r.answer.map((a) => [a.name, a.data]),
        [[`www.${Z}`, '192.168.0.5']],
        'owner written as in the zone',
      );
      t.match(r.raw, /;wWw\.tIc2023\.COM\.\s+IN\s+A/, 'question echoed as sent');
      const p = await q('-x', '192.168.0.6');
      t.equal(p.answer[0]?.data, `voip.${Z}`, 'PTR target keeps the zone case');
      const rev = await q('6.0.168.192.IN-ADDR.ARPA', 'PTR');
      t.equal(rev.answer[0]?.data, `voip.${Z}`, 'upper-case reverse name');
    });
    t.test(`${transport}: NXDOMAIN with the SOA`, async (t) => {
      const r = await q('nosuchhost.TIC2023.com', 'A');
      t.equal(r.status, 'NXDOMAIN');
      t.ok(r.flags.includes('aa'));
      t.equal(r.answer.length, 0);
      t.same(
        r.authority.map((a) => [a.name, a.type, a.data]),
        [[Z, 'SOA', SOA]],
      );
      t.equal(r.authority[0]?.ttl, 604800, 'SOA TTL = min(SOA TTL, minimum)');
      const p = await q('-x', '192.168.0.99');
      t.equal(p.status, 'NXDOMAIN', 'unknown reverse name');
      t.same(
        p.authority.map((a) => [a.name, a.type]),
        [[REV, 'SOA']],
      );
    });
    t.test(`${transport}: NODATA (AAAA of www) with the SOA`, async (t) => {
      const r = await q('www.TIC2023.com', 'AAAA');
      t.equal(r.status, 'NOERROR');
      t.ok(r.flags.includes('aa'));
      t.equal(r.answer.length, 0);
      t.same(
        r.authority.map((a) => [a.name, a.type, a.data]),
        [[Z, 'SOA', SOA]],
      );
      const mx = await q('TIC2023.com', 'MX');
      t.equal(mx.status, 'NOERROR', 'MX at apex: NODATA');
      t.same(
        mx.authority.map((a) => a.type),
        ['SOA'],
      );
    });
    t.test(`${transport}: REFUSED outside our zones`, async (t) => {
      for (const name of ['example.org', 'com', 'TIC2023.org']) {
        const r = await q(name, 'A', '+norecurse');
        t.equal(r.status, 'REFUSED', `${name} (RD=0)`);
        t.notOk(r.flags.includes('aa'), `${name} not authoritative`);
        t.equal(r.answer.length, 0);
      }
      const rd = await q('example.org', 'A');
      t.equal(rd.status, 'REFUSED', 'example.org with RD=1 (no recursion configured)');
      t.notOk(rd.flags.includes('ra'), 'RA clear');
    });
    t.test(`${transport}: version.bind hidden`, async (t) => {
      // Hidden = no TXT answer: REFUSED (dns.yaml's first documented behaviour) or NODATA
      // with the CH zone's SOA (what BIND does with `version none;`) are both accepted.
      const r = await q('version.bind', 'TXT', '-c', 'CH');
      t.ok(r.status === 'REFUSED' || r.status === 'NOERROR', `status ${r.status}`);
      t.equal(r.answer.length, 0, 'no version string');
      t.notMatch(r.raw, /\bTXT\s+"/, 'no TXT record anywhere');
    });
  }

  t.test('TC over UDP and dig retrying over TCP', async (t) => {
    const small = await dig(`many.${BIG}`, 'TXT', '+bufsize=512', '+notcp', '+ignore');
    t.equal(small.status, 'NOERROR');
    t.ok(small.flags.includes('tc'), 'TC set with a 512-byte EDNS buffer');
    t.equal(small.transport, 'UDP');
    const noedns = await dig(`many.${BIG}`, 'TXT', '+noedns', '+notcp', '+ignore');
    t.ok(noedns.flags.includes('tc'), 'TC set without EDNS (512 bytes)');
    const big = await dig(`many.${BIG}`, 'TXT', '+bufsize=4096', '+notcp', '+ignore');
    t.ok(big.flags.includes('tc'), 'TC set even when the client offers 4096: udpSize 1232 caps it');
    const retry = await dig(`many.${BIG}`, 'TXT', '+bufsize=512');
    t.ok(retry.truncatedRetry, 'dig saw TC and retried');
    t.equal(retry.transport, 'TCP', 'final answer over TCP');
    t.notOk(retry.flags.includes('tc'));
    t.equal(retry.answer.length, BIG_TXT_COUNT, `all ${BIG_TXT_COUNT} TXT records over TCP`);
    const dflt = await dig(`many.${BIG}`, 'TXT');
    t.equal(dflt.answer.length, BIG_TXT_COUNT, 'dig defaults (1232, UDP then TCP) get everything');
  });

  t.test('AXFR refused with the default ACL', async (t) => {
    const r = await run(DIG, [
      '@127.0.0.1',
      '-p',
      String(srv.port),
      '+time=2',
      '+tries=1',
      'TIC2023.com',
      'AXFR',
    ]);
    t.match(r, /Transfer failed|REFUSED/, 'dig reports the transfer failed');
    t.notMatch(r, /XFR size/);
    if (KDIG) {
      const k = await run(KDIG, [
        '@127.0.0.1',
        '-p',
        String(srv.port),
        '+time=2',
        'TIC2023.com',
        'AXFR',
      ]);
      t.match(k, /REFUSED/, 'kdig sees REFUSED');
    }
  });

  if (KDIG) {
    t.test('kdig over UDP and TCP', async (t) => {
      for (const flag of ['+notcp', '+tcp']) {
        const k = await run(KDIG, [
          '@127.0.0.1',
          '-p',
          String(srv.port),
          flag,
          '-x',
          '192.168.0.4',
        ]);
        t.match(k, /status: NOERROR/, `${flag} status`);
        t.match(
          k,
          /4\.0\.168\.192\.in-addr\.arpa\.\s+604800\s+IN\s+PTR\s+ftp\.TIC2023\.com\./,
          `${flag} PTR`,
        );
        const w = await run(KDIG, [
          '@127.0.0.1',
          '-p',
          String(srv.port),
          flag,
          'web2.tic2023.com',
          'A',
        ]);
        t.match(
          w,
          /web2\.TIC2023\.com\.\s+604800\s+IN\s+CNAME\s+www\.TIC2023\.com\./,
          `${flag} CNAME`,
        );
        t.match(w, /www\.TIC2023\.com\.\s+604800\s+IN\s+A\s+192\.168\.0\.5/, `${flag} chased A`);
      }
    });
  }

  t.test('SIGTERM stops it with exit code 0', async (t) => {
    const pids = srv.daemon.pids();
    const res = await srv.daemon.stop();
    t.equal(res.killed, false, 'stopped within the grace period');
    t.equal(res.code, 0, 'exit code 0');
    t.ok(res.rss, `peak RSS ${res.rss?.totalKb ?? '?'} kB`);
    for (const p of pids) t.notOk(readProc(p), `pid ${p} gone`);
  });
});

t.test('AXFR allowed with transfer.allow: [127.0.0.1/32]; env overrides', async (t) => {
  // NETSVC_DNS__VERSION exercises the env override mechanism (value parsed as YAML).
  const srv = await startInstance(t, {
    allowTransfer: true,
    env: { NETSVC_DNS__VERSION: 'netsvc-interop' },
  });
  for (const [zone, expected] of [
    [Z, 2 + Object.keys(hosts).length + 2], // SOA, NS, 6 A, 2 CNAME
    [REV, 2 + Object.keys(hosts).length], // SOA, NS, 6 PTR
  ] as const) {
    const raw = await run(DIG, [
      '@127.0.0.1',
      '-p',
      String(srv.port),
      '+time=2',
      '+tries=1',
      zone,
      'AXFR',
    ]);
    const rrs = raw
      .split('\n')
      .map(parseRr)
      .filter((r): r is Rr => r !== undefined);
    t.equal(rrs[0]?.type, 'SOA', `${zone} starts with the SOA`);
    t.equal(rrs.at(-1)?.type, 'SOA', `${zone} ends with the SOA`);
    t.equal(rrs.length, expected + 1, `${zone}: ${expected} records + closing SOA`);
    t.match(raw, new RegExp(`XFR size: ${expected + 1} records`), 'dig XFR size line');
    if (zone === Z) {
      for (const [host, addr] of Object.entries(hosts))
        t.ok(
          rrs.some((r) => r.name === `${host}.${Z}` && r.type === 'A' && r.data === addr),
          `${host} A in AXFR`,
        );
      t.ok(
        rrs.some((r) => r.name === `web1.${Z}` && r.type === 'CNAME'),
        'web1 CNAME in AXFR',
      );
    }
    if (KDIG) {
      const k = await run(KDIG, ['@127.0.0.1', '-p', String(srv.port), zone, 'AXFR']);
      t.match(
        k,
        new RegExp(
          `Received .* records?: ${expected + 1}|Received \\d+ B \\(\\d+ messages?, ${expected + 1} records?\\)`,
        ),
        `kdig AXFR ${zone}`,
      );
    }
  }
  const v = parseDig(
    await run(DIG, [
      '@127.0.0.1',
      '-p',
      String(srv.port),
      '+time=2',
      '+tries=1',
      'version.bind',
      'TXT',
      '-c',
      'CH',
    ]),
  );
  t.equal(v.status, 'NOERROR', 'version.bind answered when a version string is set');
  t.equal(v.answer[0]?.data, '"netsvc-interop"', 'version string from NETSVC_DNS__VERSION');
  const res = await srv.daemon.stop();
  t.equal(res.code, 0);
});

function readProc(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

t.test('150 one-byte-a-second TCP clients do not lock dig +tcp out (issue 18)', async (t) => {
  const srv = await startInstance(t, { env: { NETSVC_DNS__TCP__MESSAGETIMEOUTMS: '2000' } });
  // The attacker, from 127.0.0.2: 150 connections, each starting a message and then sending
  // one byte every 500 ms, reconnecting whenever closed; bounded to 8 s.
  const sockets = new Set<Socket>();
  let closedByServer = 0;
  let stop = false;
  const open = (): void => {
    if (stop) return;
    const s = connect({ host: '127.0.0.1', port: srv.port, localAddress: '127.0.0.2' });
    sockets.add(s);
    let tick: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      s.write(Uint8Array.of(0x00, 0x40)); // announces a 64-byte message, never completes it
      tick = setInterval(() => s.write(Uint8Array.of(0)), 500);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(tick);
      sockets.delete(s);
      if (!stop) {
        closedByServer++;
        setTimeout(open, 50);
      }
    });
  };
  for (let i = 0; i < 150; i++) open();
  t.teardown(() => {
    stop = true;
    for (const s of sockets) s.destroy();
  });
  await sleep(500);
  let answered = 0;
  for (let i = 0; i < 6; i++) {
    const r = parseDig(
      await run(DIG, [
        '@127.0.0.1',
        '-p',
        String(srv.port),
        '+tcp',
        '+time=2',
        '+tries=1',
        Z,
        'SOA',
      ]),
    );
    if (r.status === 'NOERROR') answered++;
    await sleep(1000);
  }
  stop = true;
  for (const s of sockets) s.destroy();
  t.equal(answered, 6, 'every dig +tcp from 127.0.0.1 answered during the attack');
  t.ok(closedByServer >= 140, `${closedByServer} attacker connections closed by the server`);
  const metrics = await new Promise<string>((done, fail) =>
    get(`http://127.0.0.1:${srv.adminPort}/metrics`, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => done(b));
    }).on('error', fail),
  );
  t.match(metrics, /dns_tcp_closed_total\{reason="per_source_limit"\} [1-9]/);
  t.match(metrics, /dns_tcp_closed_total\{reason="message_timeout"\} [1-9]/);
});
