/**
 * The reference deployment reproduced with network namespaces (issue 7): topology.sh builds
 * both Pis, their LANs, one client on each LAN and the routed link, and starts FRR (zebra,
 * ospfd) with the committed config/pi/frr and routing's capability set; then every netsvc
 * container of compose.yaml (in pi1) and compose.pi2.yaml (in pi2) whose service is
 * registered starts natively with its exact container command (native-container.ts), after
 * routing is healthy as depends_on says. Checks, from real clients only:
 *   DHCP lease on every client from its own LAN's server · OSPF FULL both ways · every client
 *   reaches 192.168.0.2-.6 · a pi2 client resolves www.TIC2023.com, fetches web1 and web2 by
 *   name (curl), downloads Admin.txt over active FTP and uploads a file · SIP 2001 and 2002
 *   register from different LANs (sipp) · a call with RTP through the relay (not written yet:
 *   the relay is not implemented).
 * A check whose service is not registered in services/index.ts is skipped with that reason.
 * Prints the RSS of every netsvc and FRR process next to the reference's figures.
 * `npm run test:topology` (root; iproute2, util-linux, libcap2-bin, busybox, frr, curl,
 * bind9-dnsutils, sip-tester). Cleans up every namespace, process and file it made.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { services } from '../../services/index.js';
import { REPO, loadCompose } from './compose-model.js';
import {
  missingTools,
  prepareRunDir,
  startNative,
  waitHealthy,
  procStatus,
  hostPathFor,
  type NativeContainer,
} from './native-container.js';
import { inNs, run } from './netns.js';

const missing = [...missingTools()];
for (const tool of ['vtysh', 'curl', 'dig', 'sipp'])
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) missing.push(tool);
if (!existsSync('/usr/lib/frr/zebra')) missing.push('frr');
if (missing.length > 0) {
  t.plan(0, `needs ${missing.join(', ')}`);
  process.exit(0);
}

const registered = new Set(services.map((s) => s.name));
const notRegistered = (svc: string): string | false =>
  registered.has(svc) ? false : `service "${svc}" not yet registered in services/index.ts`;
const RUN = `/tmp/nstopo-run-${process.pid}`;
const SCRIPT = join(REPO, 'test/topology/topology.sh');
const dirs = prepareRunDir(join(RUN, 'containers'));
const procs: NativeContainer[] = [];
const clients = [
  { ns: 'nstopo-c0', lan: '192.168.0', pi: 'pi1' },
  { ns: 'nstopo-c1', lan: '192.168.1', pi: 'pi1' },
  { ns: 'nstopo-c2', lan: '192.168.2', pi: 'pi1' },
  { ns: 'nstopo-c4', lan: '192.168.4', pi: 'pi2' },
  { ns: 'nstopo-c5', lan: '192.168.5', pi: 'pi2' },
] as const;
const clientIp = new Map<string, string>();

t.teardown(async () => {
  await Promise.all(procs.map((p) => p.stop(3000)));
  run(SCRIPT, ['down', RUN], { allowFail: true });
  rmSync(RUN, { recursive: true, force: true });
});

run(SCRIPT, ['up', RUN], { timeoutMs: 60_000 });

const pis = [
  { ns: 'nstopo-pi1', pi: 'pi1', model: loadCompose('compose.yaml') },
  { ns: 'nstopo-pi2', pi: 'pi2', model: loadCompose('compose.pi2.yaml') },
];
const vtysh = (pi: string, ...cmds: string[]): string =>
  inNs(`nstopo-${pi}`, 'vtysh', [
    '--vty_socket',
    `/var/run/frr/nstopo-${pi}`,
    ...cmds.flatMap((c) => ['-c', c]),
  ]);

// Same secrets for a service on both Pis (a client logs in with them).
const secrets: Record<string, string> = {};
for (const s of ['ftp_admin', 'ftp_user1', 'sip_2001', 'sip_2002', 'sip_2003', 'sip_2004'])
  secrets[s] = `nstopo-${s}-pw`;

await t.test(
  'routing healthy on both Pis (compose healthcheck: daemons answer, frr.conf addresses set)',
  async (t) => {
    for (const { ns, pi, model } of pis) {
      const routing = model.services.find((s) => s.name === 'routing')!;
      const ok = await waitHealthy(routing, ns, {
        timeoutMs: 20_000,
        env: {
          VTYSH: `vtysh --vty_socket /var/run/frr/nstopo-${pi}`,
          FRR_CONF: hostPathFor(routing, '/etc/frr/frr.conf'),
        },
      });
      t.ok(ok, `${pi}: routing healthy`);
    }
  },
);

await t.test('netsvc containers started as compose would, each healthy', async (t) => {
  for (const { ns, model } of pis) {
    for (const spec of model.services) {
      if (!spec.netsvc) continue;
      const why = notRegistered(spec.netsvc);
      if (why) {
        t.skip(`${model.file} ${spec.name}: ${why}`, () => {});
        continue;
      }
      procs.push(startNative(spec, { netns: ns, dirs, secrets, instance: `${ns}-${spec.name}` }));
    }
  }
  for (const p of procs) {
    const ns = p.spec.file === 'compose.yaml' ? 'nstopo-pi1' : 'nstopo-pi2';
    const ok = await waitHealthy(p.spec, ns, { proc: p, timeoutMs: 30_000 });
    t.ok(ok, `${ns} ${p.spec.name} healthy`, ok ? {} : { output: p.output() });
  }
});

const hook = join(RUN, 'udhcpc.sh');
writeFileSync(
  hook,
  `#!/bin/sh
# udhcpc hook: address and default route in the client's namespace, resolver file, lease facts.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    gw=\${router%% *}
    [ -n "$gw" ] && ip route replace default via "$gw"
    mkdir -p "/etc/netns/$NSTOPO_NS"
    : > "/etc/netns/$NSTOPO_NS/resolv.conf"
    for d in $dns; do echo "nameserver $d" >> "/etc/netns/$NSTOPO_NS/resolv.conf"; done
    echo "ip=$ip mask=$mask router=$gw dns=$dns server=$serverid lease=$lease" > "$NSTOPO_LEASE"
    ;;
esac
`,
);
chmodSync(hook, 0o755);

await t.test(
  'every client gets a DHCP lease on its own LAN',
  { skip: notRegistered('dhcp') },
  async (t) => {
    for (const c of clients) {
      const leaseFile = join(RUN, `${c.ns}.lease`);
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          c.ns,
          'busybox',
          'udhcpc',
          '-i',
          'eth0',
          '-f',
          '-q',
          '-n',
          '-t',
          '6',
          '-T',
          '1',
          '-s',
          hook,
        ],
        {
          encoding: 'utf8',
          timeout: 20_000,
          env: { ...process.env, NSTOPO_NS: c.ns, NSTOPO_LEASE: leaseFile },
        },
      );
      const lease = existsSync(leaseFile) ? readFileSync(leaseFile, 'utf8').trim() : '';
      const ip = /ip=(\S+)/.exec(lease)?.[1] ?? '';
      t.match(
        ip,
        new RegExp(`^${c.lan.replace(/\./g, '\\.')}\\.(\\d+)$`),
        `${c.ns}: lease ${lease || '(none)'}`,
        {
          udhcpc: r.stdout + r.stderr,
        },
      );
      const host = Number(ip.split('.')[3]);
      t.ok(host >= 10 && host <= 100, `${c.ns}: from the pool .10-.100`);
      t.match(lease, `router=${c.lan}.1 `, `${c.ns}: router is its ${c.pi} interface`);
      t.match(lease, `server=${c.lan}.1 `, `${c.ns}: served by ${c.pi}'s DHCP on that LAN`);
      t.match(lease, /dns=192\.168\.0\.2 /, `${c.ns}: DNS 192.168.0.2 first`);
      clientIp.set(c.ns, ip);
    }
  },
);

// Without DHCP (not registered yet) the clients get static addresses, so the other checks run.
for (const c of clients)
  if (!clientIp.has(c.ns)) {
    const ip = `${c.lan}.50`;
    inNs(c.ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    inNs(c.ns, 'ip', ['route', 'replace', 'default', 'via', `${c.lan}.1`]);
    mkdirSync(`/etc/netns/${c.ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${c.ns}/resolv.conf`, 'nameserver 192.168.0.2\n');
    clientIp.set(c.ns, ip);
  }

await t.test("OSPF: pi1 and pi2 adjacent (Full), routes to the other Pi's LANs", async (t) => {
  const deadline = Date.now() + 60_000;
  const state = (pi: string, peer: string): string => {
    const j = JSON.parse(vtysh(pi, 'show ip ospf neighbor json')) as {
      neighbors?: Record<string, { converged?: string }[]>;
    };
    return j.neighbors?.[peer]?.[0]?.converged ?? 'none';
  };
  let s1 = 'none';
  let s2 = 'none';
  while (Date.now() < deadline) {
    s1 = state('pi1', '10.0.1.2');
    s2 = state('pi2', '10.0.1.1');
    if (s1 === 'Full' && s2 === 'Full') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  t.equal(s1, 'Full', 'pi1 sees 10.0.1.2 Full');
  t.equal(s2, 'Full', 'pi2 sees 10.0.1.1 Full');
  for (const [pi, prefix] of [
    ['pi2', '192.168.0.0/24'],
    ['pi2', '192.168.1.0/24'],
    ['pi1', '192.168.4.0/24'],
    ['pi1', '192.168.5.0/24'],
  ] as const) {
    let route = '';
    while (Date.now() < deadline + 30_000) {
      route = inNs(`nstopo-${pi}`, 'ip', ['route', 'show', prefix]);
      if (/proto ospf/.test(route)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    t.match(route, /via 10\.0\.1\.\d .* proto ospf/, `${pi}: ${prefix} via OSPF (${route.trim()})`);
  }
});

/** TCP connect from a client: connected or refused (RST from the host) = reachable. */
function probe(ns: string, host: string, port: number): string {
  const js =
    `const s=require('net').connect({host:'${host}',port:${port},timeout:3000});` +
    `s.on('connect',()=>{console.log('open');s.destroy()});` +
    `s.on('error',e=>console.log(e.code));s.on('timeout',()=>{console.log('timeout');s.destroy()})`;
  return inNs(ns, process.execPath, ['-e', js], { allowFail: true, timeoutMs: 8000 }).trim();
}

await t.test(
  'every client reaches 192.168.0.2-.6 (pi2 clients across the routed hop)',
  async (t) => {
    for (const c of clients)
      for (const a of [2, 3, 4, 5, 6]) {
        const r = probe(c.ns, `192.168.0.${a}`, 9);
        t.ok(
          r === 'open' || r === 'ECONNREFUSED',
          `${c.ns} (${clientIp.get(c.ns)}) → 192.168.0.${a}: ${r}`,
        );
      }
  },
);

await t.test(
  'pi2 client: DNS, and web1 and web2 by name',
  { skip: notRegistered('dns') || notRegistered('http') },
  async (t) => {
    const ns = 'nstopo-c4';
    const dig = inNs(ns, 'dig', [
      '+short',
      '+time=2',
      '+tries=2',
      '@192.168.0.2',
      'www.TIC2023.com',
      'A',
    ]).trim();
    t.equal(dig, '192.168.0.5', `dig @192.168.0.2 www.TIC2023.com → ${dig}`);
    const cname = inNs(ns, 'dig', ['+short', '+time=2', '@192.168.0.2', 'web1.TIC2023.com']).trim();
    t.match(cname, /www\.TIC2023\.com\.\n192\.168\.0\.5/i, 'web1 is a CNAME to www, chased');
    for (const site of ['web1', 'web2']) {
      // Name resolution through the client's resolver (its DHCP-given DNS server).
      const body = inNs(ns, 'curl', ['-sS', '--max-time', '10', `http://${site}.TIC2023.com/`]);
      t.equal(
        body,
        readFileSync(join(REPO, `config/sites/${site}/index.html`), 'utf8'),
        `curl http://${site}.TIC2023.com/ → ${site}'s index.html`,
      );
    }
  },
);

await t.test(
  'pi2 client: active FTP download of Admin.txt and an upload',
  { skip: notRegistered('ftp') || notRegistered('dns') },
  async (t) => {
    const ns = 'nstopo-c4';
    const url = `ftp://admin:${secrets.ftp_admin}@ftp.TIC2023.com`;
    const got = inNs(ns, 'curl', [
      '-sS',
      '--max-time',
      '15',
      '--ftp-port',
      '-',
      `${url}/Admin.txt`,
    ]);
    t.equal(
      got,
      readFileSync(join(REPO, 'config/pi/ftp/admin/Admin.txt'), 'utf8'),
      'Admin.txt identical (active mode, PORT/EPRT)',
    );
    const up = join(RUN, 'upload.txt');
    writeFileSync(up, `uploaded from ${clientIp.get(ns)} through the routed hop\n`);
    inNs(ns, 'curl', ['-sS', '--max-time', '15', '--ftp-port', '-', '-T', up, `${url}/upload.txt`]);
    const back = inNs(ns, 'curl', [
      '-sS',
      '--max-time',
      '15',
      '--ftp-port',
      '-',
      `${url}/upload.txt`,
    ]);
    t.equal(back, readFileSync(up, 'utf8'), 'uploaded file reads back identical');
  },
);

await t.test(
  'SIP: 2001 (pi1 LAN) and 2002 (pi2 LAN) register with digest auth',
  { skip: notRegistered('sip') },
  async (t) => {
    for (const [user, ns] of [
      ['2001', 'nstopo-c1'],
      ['2002', 'nstopo-c4'],
    ] as const) {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'timeout',
          '20',
          'sipp',
          '192.168.0.6:5060',
          '-sf',
          join(REPO, 'test/topology/sipp/register.xml'),
          '-s',
          user,
          '-au',
          user,
          '-ap',
          secrets[`sip_${user}`]!,
          '-i',
          clientIp.get(ns)!,
          '-p',
          '5062',
          '-m',
          '1',
          '-timeout',
          '15s',
          '-nostdin',
          '-trace_err',
          '-error_file',
          join(RUN, `sipp-${user}.err`),
        ],
        { encoding: 'utf8', timeout: 25_000, cwd: RUN },
      );
      const errFile = join(RUN, `sipp-${user}.err`);
      const err = existsSync(errFile) ? readFileSync(errFile, 'utf8') : '';
      // sipp 3.6 answers only the first challenge and only with MD5; netsvc offers SHA-256
      // first (RFC 8760). Known interop gap, tracked as a todo, not hidden: any other failure fails.
      const md5Only = /authentication must use MD5/.test(err);
      t.equal(r.status, 0, `${user} registered from ${clientIp.get(ns)}`, {
        sipp: (r.stdout ?? '').slice(-1500) + err.slice(0, 500),
        ...(md5Only
          ? { todo: 'sipp 3.6 only does MD5 and the pi profile challenges with SHA-256 first' }
          : {}),
      });
    }
    t.todo(
      '2001 calls 2002 with RTP through the relay, QoS report 0 % loss: the RTP relay is not implemented yet (config/pi/sip.yaml rtp)',
      () => {},
    );
  },
);

// RSS after the run, next to the reference's figures.
await t.test('memory after the run', async (t) => {
  const rows: string[] = [];
  for (const p of procs) {
    if (p.exited()) continue;
    const st = procStatus(p.pid);
    rows.push(
      `${p.spec.file === 'compose.yaml' ? 'pi1' : 'pi2'} ${p.spec.name}: RSS ${(st.vmRssKiB / 1024).toFixed(1)} MiB, peak ${(st.vmHwmKiB / 1024).toFixed(1)} MiB`,
    );
  }
  for (const pi of ['pi1', 'pi2'])
    for (const d of ['zebra', 'ospfd']) {
      const pidFile = join(RUN, 'frr', `${pi}-${d}.pid`);
      if (!existsSync(pidFile)) continue;
      const st = procStatus(Number(readFileSync(pidFile, 'utf8').trim()));
      rows.push(
        `${pi} ${d} (FRR 8.4, Debian): RSS ${(st.vmRssKiB / 1024).toFixed(1)} MiB, peak ${(st.vmHwmKiB / 1024).toFixed(1)} MiB`,
      );
    }
  t.comment('RSS per process after the run (node ' + process.version + ', x86-64):');
  for (const r of rows) t.comment('  ' + r);
  t.comment(
    'reference (Pi 4B, 4 GB, docker stats): DNS 1.1 % ≈ 45 MB, VoIP 0.8 % ≈ 33 MB; others not reported',
  );
  t.comment(
    'peers.md on this kind of machine: FRR zebra VmHWM 11.4 MB, ospfd 7.7 MB; vsftpd 4.0 + 2.7 MB; kamailio PSS 11.8 MB',
  );
  t.ok(rows.length > 0, 'measured');
});

// Nothing this run made is left: namespaces go in the teardown; this only confirms it.
t.teardown(() => {
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('nstopo-'));
  if (left.length > 0) process.stderr.write(`left namespaces: ${left.join(', ')}\n`);
});
