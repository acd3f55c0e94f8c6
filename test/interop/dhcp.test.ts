/**
 * Interop: netsvc's DHCP service in a network namespace with two veth interfaces (two
 * subnets), real clients in two other namespaces: ISC dhclient, busybox udhcpc and dhcpcd
 * each get a lease of their link's subnet with router and DNS options; a foreign REQUEST
 * gets a NAK; after `kill -9` and a restart the clients keep their addresses (dhclient's
 * INIT-REBOOT, a RENEWING unicast). The server runs as `nobody` with only
 * CAP_NET_BIND_SERVICE and CAP_NET_RAW (setpriv), as the container does.
 *
 * Started as the CLI would (`node dist/src/main.js dhcp --config DIR`) when services/index.ts
 * registers dhcp, else by a launcher doing what main.ts does for one service.
 * Needs root, `npm run build`, and isc-dhcp-client, udhcpc, dhcpcd-base. Namespaces and
 * links are named nsdhcp-* and removed at the end, also on failure.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon, type Daemon } from '../../src/testing/daemon.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const S = 'nsdhcp-srv';
const C1 = 'nsdhcp-c1';
const C2 = 'nsdhcp-c2';

function sh(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean; timeout?: number } = {},
): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 30_000 });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.status} ${r.stderr}${r.stdout}`);
  return (r.stdout ?? '') + (r.stderr ?? '');
}
const nsx = (
  ns: string,
  cmd: string,
  args: string[],
  opts?: { allowFail?: boolean; timeout?: number },
) => sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);

const missing = ['dhclient', 'udhcpc', 'dhcpcd', 'setpriv'].filter(
  (b) => spawnSync('which', [b]).status !== 0,
);
if (process.getuid?.() !== 0 || missing.length > 0) {
  t.plan(0, `needs root and ${missing.join(', ') || 'nothing else'}`);
  process.exit(0);
}
if (!existsSync(join(ROOT, 'dist/services/dhcp/index.js'))) {
  t.fail('dist missing: run npm run build');
  process.exit(1);
}

function cleanup(): void {
  for (const ns of [S, C1, C2]) sh('ip', ['netns', 'del', ns], { allowFail: true });
}
cleanup();
t.teardown(cleanup);
process.on('exit', cleanup);

// ---- topology: nsdhcp-a0 (10.77.1.1/24) ↔ C1, nsdhcp-b0 (10.77.2.1/24) ↔ C2 --------------
for (const ns of [S, C1, C2]) {
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}
for (const [srv, cli, ns, net] of [
  ['nsdhcp-a0', 'nsdhcp-a1', C1, '10.77.1'],
  ['nsdhcp-b0', 'nsdhcp-b1', C2, '10.77.2'],
] as const) {
  sh('ip', ['link', 'add', srv, 'type', 'veth', 'peer', 'name', cli]);
  sh('ip', ['link', 'set', srv, 'netns', S]);
  sh('ip', ['link', 'set', cli, 'netns', ns]);
  sh('ip', ['-n', S, 'addr', 'add', `${net}.1/24`, 'dev', srv]);
  sh('ip', ['-n', S, 'link', 'set', srv, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', cli, 'up']);
}

const work = mkdtempSync(join(tmpdir(), 'nsdhcp-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
chmodSync(work, 0o755);
const cfgDir = join(work, 'config');
const dataDir = join(work, 'data');
mkdirSync(cfgDir);
mkdirSync(dataDir);
chmodSync(dataDir, 0o777);
writeFileSync(
  join(cfgDir, 'netsvc.yaml'),
  'admin: { enabled: false }\nlog: { level: info, format: json }\n',
);
writeFileSync(
  join(cfgDir, 'dhcp.yaml'),
  `enabled: true
listen: [{ interface: nsdhcp-a0 }, { interface: nsdhcp-b0 }]
subnets:
  - subnet: 10.77.1.0/24
    pools: [{ start: 10.77.1.10, end: 10.77.1.100 }]
    options: { routers: [10.77.1.1], dnsServers: [10.77.1.2, 1.1.1.1] }
  - subnet: 10.77.2.0/24
    pools: [{ start: 10.77.2.10, end: 10.77.2.100 }]
    options: { routers: [10.77.2.1], dnsServers: [10.77.2.2, 8.8.8.8] }
`,
);

async function registeredInCli(): Promise<boolean> {
  try {
    const m = (await import(join(ROOT, 'dist/services/index.js'))) as {
      services: { name: string }[];
    };
    return m.services.some((s) => s.name === 'dhcp');
  } catch {
    return false;
  }
}

const launcher = join(work, 'launch.mjs');
writeFileSync(
  launcher,
  `// What main.ts does, for the dhcp service only (used until services/index.ts registers it).
import { loadConfigDir, formatIssue } from '${ROOT}dist/src/config.js';
import { createRegistry } from '${ROOT}dist/src/metrics.js';
import { systemClock } from '${ROOT}dist/src/clock.js';
import def from '${ROOT}dist/services/dhcp/index.js';
import pino from '${ROOT}node_modules/pino/pino.js';
const loaded = loadConfigDir(process.argv[2], [def], process.env);
if (loaded.issues.length) { console.error(loaded.issues.map(formatIssue).join('\\n')); process.exit(2); }
const log = pino({ level: 'info' }).child({ svc: 'dhcp' });
const svc = def.create(loaded.services.get('dhcp').value, { log, metrics: createRegistry(), dataDir: process.env.NETSVC_DATA_DIR, configDir: process.argv[2], clock: systemClock });
await svc.start();
process.on('SIGTERM', async () => { await svc.stop(); process.exit(0); });
`,
);

const viaCli = await registeredInCli();
const caps = [
  '--reuid=nobody',
  '--regid=nogroup',
  '--clear-groups',
  '--inh-caps=-all,+net_bind_service,+net_raw',
  '--ambient-caps=+net_bind_service,+net_raw',
  '--bounding-set=-all,+net_bind_service,+net_raw',
];

async function startServer(): Promise<Daemon> {
  const node = process.execPath;
  const args = viaCli
    ? [join(ROOT, 'dist/src/main.js'), 'dhcp', '--config', cfgDir]
    : [launcher, cfgDir];
  return startDaemon({
    name: 'netsvc-dhcp',
    command: 'ip',
    args: ['netns', 'exec', S, 'setpriv', ...caps, node, ...args],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NETSVC_DATA_DIR: dataDir,
      NETSVC_CONFIG_DIR: cfgDir,
    },
    ready: [{ log: /listening on nsdhcp-a0/ }, { log: /listening on nsdhcp-b0/ }],
    readyTimeoutMs: 15_000,
  });
}

let server = await startServer();
t.teardown(() => server.stop());
t.comment(
  `server started ${viaCli ? 'by the CLI' : 'by the create() launcher'} as nobody with CAP_NET_BIND_SERVICE+CAP_NET_RAW`,
);

t.test('the server process has no capabilities beyond bind-service and raw', async (t) => {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const eff = /CapEff:\s*([0-9a-f]+)/.exec(status)?.[1];
  // CAP_NET_BIND_SERVICE = 10, CAP_NET_RAW = 13
  t.equal(BigInt('0x' + eff), (1n << 10n) | (1n << 13n));
  t.match(status, /Uid:\s+65534/);
});

const leaseFile = join(work, 'dhclient.leases');
const pidFile = join(work, 'dhclient.pid');
function dhclient(): string {
  const out = nsx(
    C1,
    'dhclient',
    ['-1', '-v', '-sf', '/bin/true', '-lf', leaseFile, '-pf', pidFile, 'nsdhcp-a1'],
    { timeout: 30_000 },
  );
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()));
  } catch {
    /* already gone */
  }
  return out;
}

const dhclientMac = nsx(C1, 'cat', ['/sys/class/net/nsdhcp-a1/address']).trim();

t.test('ISC dhclient on link 1 gets 10.77.1.x with router and DNS', async (t) => {
  const out = dhclient();
  t.match(out, /bound to 10\.77\.1\.10/);
  const lease = readFileSync(leaseFile, 'utf8');
  t.match(lease, /option routers 10\.77\.1\.1;/);
  t.match(lease, /option domain-name-servers 10\.77\.1\.2,1\.1\.1\.1;/);
  t.match(lease, /option dhcp-lease-time 120;/);
});

const udhcpcEnv = join(work, 'udhcpc.env');
const udhcpcScript = join(work, 'udhcpc.sh');
writeFileSync(
  udhcpcScript,
  `#!/bin/sh\ncase "$1" in bound|renew)\n  ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"\n  echo "ip=$ip router=$router dns=$dns lease=$lease" > ${udhcpcEnv};;\nesac\nexit 0\n`,
);
chmodSync(udhcpcScript, 0o755);

t.test(
  'busybox udhcpc on link 2 gets 10.77.2.x with router and DNS (second interface, second subnet)',
  async (t) => {
    const out = nsx(
      C2,
      'busybox',
      ['udhcpc', '-i', 'nsdhcp-b1', '-f', '-q', '-n', '-t', '3', '-s', udhcpcScript],
      { timeout: 30_000 },
    );
    t.match(out, /lease of 10\.77\.2\.10 obtained from 10\.77\.2\.1/);
    t.match(
      readFileSync(udhcpcEnv, 'utf8'),
      /ip=10\.77\.2\.10 router=10\.77\.2\.1 dns=10\.77\.2\.2 8\.8\.8\.8 lease=120/,
    );
  },
);

t.test('dhcpcd on link 1 gets 10.77.1.x with router and DNS', async (t) => {
  const dump = join(work, 'dhcpcd.env');
  const hook = join(work, 'dhcpcd.sh');
  writeFileSync(
    hook,
    `#!/bin/sh\n[ "$reason" = BOUND ] && echo "ip=$new_ip_address routers=$new_routers dns=$new_domain_name_servers" > ${dump}\nexit 0\n`,
  );
  chmodSync(hook, 0o755);
  const dbdir = join(work, 'dhcpcd-db');
  mkdirSync(dbdir);
  // A second client on link 1: another MAC, so another address.
  nsx(C1, 'ip', ['link', 'set', 'nsdhcp-a1', 'address', '02:00:00:77:01:02']);
  const out = nsx(
    C1,
    'dhcpcd',
    ['-4', '-1', '-B', '-d', '-c', hook, '--noipv4ll', '--nohook', 'resolv.conf', 'nsdhcp-a1'],
    {
      timeout: 40_000,
      allowFail: true,
    },
  );
  rmSync('/var/lib/dhcpcd/nsdhcp-a1.lease', { force: true });
  t.match(out, /leased 10\.77\.1\.\d+ for 120 seconds/);
  t.match(
    readFileSync(dump, 'utf8'),
    /ip=10\.77\.1\.\d+ routers=10\.77\.1\.1 dns=10\.77\.1\.2 1\.1\.1\.1/,
  );
  nsx(C1, 'ip', ['addr', 'flush', 'dev', 'nsdhcp-a1']);
});

/** A raw client in a namespace: sends one message from port 68 on a device, prints replies. */
function probe(
  ns: string,
  dev: string,
  to: string,
  message: Record<string, unknown>,
): { type: number; yiaddr: string; message?: string }[] {
  const script = `
import { createSocket } from 'node:dgram';
import { openDeviceSocket } from '${ROOT}dist/services/dhcp/interface-adapter.js';
import { encode, decode } from '${ROOT}dist/services/dhcp/codec.js';
import { clientMessage, macFromText } from '${ROOT}dist/services/dhcp/client-messages.js';
import { ipFromText, ipToText } from '${ROOT}dist/services/dhcp/ipv4.js';
const m = ${JSON.stringify(message)};
const s = await openDeviceSocket(${JSON.stringify(dev)}, 68);
const out = [];
s.on('message', (b) => { const p = decode(b); if (p.xid !== m.xid) return; out.push({ type: p.options.get(53)[0], yiaddr: ipToText(p.yiaddr), message: p.options.get(56) ? Buffer.from(p.options.get(56)).toString() : undefined }); });
const id = { mac: macFromText(m.mac), ...(m.clientId ? { clientId: Buffer.from(m.clientId, 'hex') } : {}) };
const f = { xid: m.xid, ...(m.requested ? { requested: ipFromText(m.requested) } : {}), ...(m.ciaddr ? { ciaddr: ipFromText(m.ciaddr) } : {}) };
s.send(encode(clientMessage(m.type, id, f)).bytes, 67, ${JSON.stringify(to)});
setTimeout(() => { console.log(JSON.stringify(out)); s.close(); }, 1500);
`;
  const file = join(work, `probe-${Date.now()}.mjs`);
  writeFileSync(file, script);
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, file], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as {
    type: number;
    yiaddr: string;
    message?: string;
  }[];
}

t.test(
  'a foreign REQUEST (INIT-REBOOT for an address leased to another client) gets a NAK',
  async (t) => {
    nsx(C1, 'ip', ['addr', 'add', '10.77.1.250/24', 'dev', 'nsdhcp-a1']);
    const replies = probe(C1, 'nsdhcp-a1', '255.255.255.255', {
      type: 3,
      mac: '02:00:00:77:09:09',
      xid: 4242,
      requested: '10.77.1.10',
    });
    nsx(C1, 'ip', ['addr', 'flush', 'dev', 'nsdhcp-a1']);
    t.equal(replies.length, 1);
    t.equal(replies[0]?.type, 6, 'DHCPNAK');
    t.match(replies[0]?.message, /another client/);
  },
);

t.test(
  'kill -9, restart: dhclient INIT-REBOOT and a RENEWING unicast keep their addresses',
  async (t) => {
    process.kill(server.pid, 'SIGKILL');
    await server.stop();
    server = await startServer();
    // dhclient restarts from its lease file: DHCPREQUEST for its old address (INIT-REBOOT).
    nsx(C1, 'ip', ['link', 'set', 'nsdhcp-a1', 'address', dhclientMac]);
    const out = dhclient();
    t.match(out, /DHCPREQUEST for 10\.77\.1\.10/);
    t.match(out, /bound to 10\.77\.1\.10/);
    t.notMatch(out, /DHCPDISCOVER/, 'no new DISCOVER: the lease was on disk');
    // udhcpc's client (id 01+MAC) renews by unicast from its bound address.
    const mac = nsx(C2, 'cat', ['/sys/class/net/nsdhcp-b1/address']).trim();
    const replies = probe(C2, 'nsdhcp-b1', '10.77.2.1', {
      type: 3,
      mac,
      clientId: '01' + mac.replace(/:/g, ''),
      xid: 777,
      ciaddr: '10.77.2.10',
    });
    t.same(
      replies.map((r) => [r.type, r.yiaddr]),
      [[5, '10.77.2.10']],
      'DHCPACK, same address',
    );
    await new Promise((ok) => setTimeout(ok, 200));
    t.match(server.output(), /DHCPACK on 10\.77\.2\.10/, server.output().slice(-2000));
  },
);
