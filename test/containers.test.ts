/**
 * The container side, checked without a Docker engine (issue 7): compose.yaml (Pi I) and
 * compose.pi2.yaml (Pi II) against the Compose Specification schema (dclint ships
 * compose-spec's schema) and, when Debian's docker-compose is installed, its `config`
 * parser; containers/Dockerfile through dockerfile-utils' validator plus the house rules
 * below; and the consistency of compose files, Dockerfile, config/pi and config/pi/frr:
 * every service in services/index.ts has its containers, each (profile-gated ones included)
 * with host networking, a restart policy, a read-only root, cap_drop ALL + exactly the
 * capabilities its services need, its admin port probed by its healthcheck, its volumes,
 * secrets for every /run/secrets path its config reads, and an environment the config
 * loader accepts with zero issues. Per layout (default, profile per-interface, profile
 * small: compose-model.ts LAYOUTS): profile-gated services stay out of the default, admin
 * ports are distinct, every service runs once, DHCP serves the same subnets and options,
 * the monitor scrapes the layout's admin ports.
 * Services not registered yet (sip, …) are checked as far as the compose file goes and join
 * the loader checks once registered. Fast, no root, no network.
 */
import t from 'tap';
import { readFileSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DCLinter } from 'dclint';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { loadServices } from '../services/index.js';
import { loadConfigDir, formatIssue } from '../src/config.js';
import { REFERENCE_VARIABLES } from '../services/dhcp/reference-env.js';
import type { DhcpConfig } from '../services/dhcp/config.js';
import {
  REPO,
  COMPOSE_FILES,
  DOCKERFILE,
  loadCompose,
  parseDockerfile,
  imageRuntime,
  healthcheckPort,
  layoutServices,
  LAYOUTS,
  type ContainerSpec,
} from './topology/compose-model.js';

const services = await loadServices();

/** The five services of the reference and the one capability each needs (containers/README.md). */
const NEEDED_CAPS: Record<string, readonly string[]> = {
  dns: ['NET_BIND_SERVICE'], // 53
  dhcp: ['NET_BIND_SERVICE'], // 67; SO_BINDTODEVICE needs no NET_RAW on Linux >= 5.7
  ftp: ['NET_BIND_SERVICE'], // 21, and 20 as the source of active-mode data connections
  http: ['NET_BIND_SERVICE'], // 80
  sip: ['NET_BIND_SERVICE'], // 5060 is above 1024, but the image's file capability needs it in the bounding set
  monitor: ['NET_BIND_SERVICE'], // 8888 is above 1024; same reason as sip
};
const ROUTING_CAPS = [
  'NET_ADMIN',
  'NET_RAW',
  'SYS_ADMIN',
  'NET_BIND_SERVICE',
  'SETUID',
  'SETGID',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'KILL',
];
const registered = new Set(services.map((s) => s.name));
const models = COMPOSE_FILES.map((f) => loadCompose(f));
const read = (p: string): string => readFileSync(join(REPO, p), 'utf8');

t.test('compose files: Compose Specification schema (dclint)', async (t) => {
  // Ordering rules are style (anchors come first, services in deployment order); every other
  // dclint rule applies.
  const linter = new DCLinter({
    rules: {
      'service-keys-order': 0,
      'services-alphabetical-order': 0,
      'top-level-properties-order': 0,
      'require-project-name-field': 0,
    },
    quiet: false,
    debug: false,
    exclude: [],
  });
  for (const r of linter.lintFiles(
    COMPOSE_FILES.map((f) => join(REPO, f)),
    false,
  )) {
    t.same(
      r.messages.map(
        (m: { line: number; column: number; rule: string; message: string }) =>
          `${m.line}:${m.column} ${m.rule} ${m.message}`,
      ),
      [],
      `${r.filePath.slice(REPO.length)}: no schema error and no lint finding`,
    );
  }
  // The linter must actually reject a bad file (guards against a silent no-op).
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-compose-'));
  writeFileSync(
    join(dir, 'compose.yaml'),
    'services:\n  a:\n    image: x\n    network_mode: 5\n    capadd: [X]\n',
  );
  const [bad] = linter.lintFiles([join(dir, 'compose.yaml')], false);
  rmSync(dir, { recursive: true });
  t.ok((bad?.errorCount ?? 0) > 0, 'a file breaking the schema is rejected');
});

const dockerCompose = spawnSync('sh', ['-c', 'command -v docker-compose'], {
  encoding: 'utf8',
}).stdout.trim();
t.test(
  'compose files: docker-compose config (Debian docker-compose v1)',
  { skip: dockerCompose ? false : 'docker-compose not installed' },
  async (t) => {
    for (const f of COMPOSE_FILES) {
      const r = spawnSync(dockerCompose, ['-f', f, 'config', '-q'], {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 20_000,
      });
      t.equal(r.status, 0, `${f} parses`, { stderr: r.stderr });
    }
  },
);

t.test('Dockerfile: validator and house rules', async (t) => {
  const text = read(DOCKERFILE);
  const all = ValidationSeverity.ERROR;
  const diags = validate(text, {
    deprecatedMaintainer: all,
    directiveCasing: all,
    emptyContinuationLine: all,
    instructionCasing: all,
    instructionCmdMultiple: all,
    instructionEntrypointMultiple: all,
    instructionHealthcheckMultiple: all,
    instructionJSONInSingleQuotes: all,
    instructionWorkdirRelative: all,
  });
  t.same(
    diags.map((d) => `${d.range.start.line + 1}: ${d.message}`),
    [],
    'dockerfile-utils: no diagnostics',
  );
  t.same(
    validate('FROM x\nCMD ["a"]\nCMD ["b"]\n', { instructionCmdMultiple: all }).length,
    1,
    'validator is live',
  );

  const { args, stages } = parseDockerfile(text);
  t.ok(stages.length >= 2, 'multi-stage');
  const build = stages[0]!;
  const runtime = stages.at(-1)!;
  t.match(
    args.NODE_IMAGE,
    /^node:22-alpine/,
    'Node 22 on Alpine (last line with official arm/v7 Alpine images)',
  );
  t.equal(runtime.from, args.NODE_IMAGE, 'runtime stage is the node image itself');
  const runs = (s: typeof build): string =>
    s.instructions
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join('\n');
  t.match(
    runs(build),
    /apk add --no-cache python3 make g\+\+/,
    'build stage: what better-sqlite3 needs to compile',
  );
  t.match(runs(build), /npm ci\b/, 'build stage: npm ci (lock file), never npm install');
  t.match(runs(build), /npm prune --omit=dev/, 'build stage: production dependencies only');
  for (const s of stages) {
    for (const i of s.instructions) {
      const where = `line ${i.line}`;
      t.not(i.keyword, 'ADD', `${where}: COPY, not ADD`);
      if (i.keyword === 'RUN' && /apk add/.test(i.args))
        t.match(i.args, /apk add --no-cache/, `${where}: apk add --no-cache`);
      if (i.keyword === 'ENV' || i.keyword === 'ARG')
        t.notMatch(i.args, /PASSWORD|SECRET|TOKEN|_KEY\b/i, `${where}: no secret in ${i.keyword}`);
      if (i.keyword === 'RUN')
        t.notMatch(i.args, /\bsudo\b|curl .*\|\s*sh/, `${where}: no sudo, no curl | sh`);
    }
  }
  t.notMatch(text, /:latest\b/, 'no :latest tag');
  const rt = runtime.instructions;
  const copies = rt.filter((i) => i.keyword === 'COPY').map((i) => i.args);
  t.ok(
    copies.length > 0 && copies.every((c) => c.startsWith('--from=build ')),
    'runtime: only artefacts of the build stage',
  );
  t.ok(
    copies.every((c) =>
      /\/app\/(package\.json|node_modules\/|dist\/(src|services)\/|services\/dhcp\/native\/build\/Release\/\S+\.node)/.test(
        c,
      ),
    ),
    'runtime: package.json, production node_modules, compiled JS and the compiled addon only',
  );
  const image = imageRuntime(text);
  t.match(image.user, /^[1-9]\d*:[1-9]\d*$/, 'USER is numeric and not root');
  t.same(
    image.entrypoint.slice(0, 3),
    ['/sbin/tini', '--', 'node'],
    'tini is PID 1, so signals reach node',
  );
  t.equal(image.workdir, '/app');
  t.equal(image.env.NODE_ENV, 'production');
  const hc = rt.find((i) => i.keyword === 'HEALTHCHECK');
  t.match(hc?.args ?? '', /\/readyz/, 'HEALTHCHECK probes /readyz');
  t.match(
    runs(runtime),
    /setcap cap_net_bind_service=ep \/usr\/local\/bin\/node/,
    'file capability on node (the chosen approach)',
  );
  t.match(runs(runtime), /apk add --no-cache tini/, 'tini installed');
  const labels = rt
    .filter((i) => i.keyword === 'LABEL')
    .map((i) => i.args)
    .join(' ');
  for (const l of ['title', 'description', 'version', 'revision', 'created', 'licenses'])
    t.match(labels, `org.opencontainers.image.${l}=`, `OCI label ${l}`);
  t.match(
    rt.find((i) => i.keyword === 'VOLUME')?.args ?? '',
    '/var/lib/netsvc',
    'data volume declared',
  );

  const ignore = read('.dockerignore')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  t.equal(
    ignore[0],
    '*',
    '.dockerignore is an allowlist (secrets/, .env, data never reach the context)',
  );
  t.notOk(
    ignore.some((l) => /^!(secrets|config|\.env|data)/.test(l)),
    'nothing private is re-included',
  );
  t.match(read('.gitignore'), /^secrets\/$/m, 'secrets/ is git-ignored');
});

t.test('docker-bake.hcl: arm/v7 first, arm64, amd64; the Dockerfile', async (t) => {
  const hcl = read('docker-bake.hcl');
  t.match(hcl, /platforms\s*=\s*\["linux\/arm\/v7",\s*"linux\/arm64",\s*"linux\/amd64"\]/);
  t.match(hcl, `dockerfile = "${DOCKERFILE}"`);
});

/** Services a container runs: those its command names, else every one its config dir enables. */
function configDirOf(c: ContainerSpec): string {
  const i = c.command.indexOf('--config');
  return i >= 0 ? (c.command[i + 1] ?? '') : '';
}
function loadFor(c: ContainerSpec) {
  return loadConfigDir(join(REPO, configDirOf(c)), services, {
    ...imageRuntime().env,
    ...c.environment,
  });
}
function runsOf(c: ContainerSpec): string[] {
  if (c.runs.length > 0) return [...c.runs];
  const loaded = loadFor(c);
  return services
    .map((s) => s.name)
    .filter((n) => {
      const e = loaded.services.get(n);
      return e?.present === true && e.value.enabled !== false;
    });
}
const netsvcOf = (list: readonly ContainerSpec[]): ContainerSpec[] =>
  list.filter((s) => s.netsvcImage);

/** What the Pi's DHCP serves on each interface, from the loaded config of every DHCP container. */
interface DhcpRow {
  interface: string;
  subnet: string;
  pools: string[];
  routers: string[];
  dnsServers: string[];
  leaseTime: [number, number, number];
}
function dhcpRows(list: readonly ContainerSpec[]): DhcpRow[] {
  const rows: DhcpRow[] = [];
  for (const c of list) {
    if (!runsOf(c).includes('dhcp')) continue;
    const v = loadFor(c).services.get('dhcp')?.value as unknown as DhcpConfig | undefined;
    if (!v) continue;
    for (const l of v.listen)
      for (const s of v.subnets.filter((s) => s.interface === l.interface)) {
        const lt = { ...v.leaseTime, ...s.leaseTime };
        rows.push({
          interface: l.interface ?? '(none)',
          subnet: s.subnet,
          pools: s.pools.map((p) => `${p.start}-${p.end}`),
          routers: [...(s.options?.routers ?? v.options?.routers ?? [])],
          dnsServers: [...(s.options?.dnsServers ?? v.options?.dnsServers ?? [])],
          leaseTime: [lt.default, lt.min, lt.max],
        });
      }
  }
  return rows.sort((a, b) => a.interface.localeCompare(b.interface));
}

/** The Pi's LANs: interface → its address (wlan0 is the host's; the others are in frr.conf). */
const LANS: Record<string, Record<string, string>> = {
  'compose.yaml': { eth1: '192.168.1.1', eth2: '192.168.2.1', wlan0: '192.168.0.1' },
  'compose.pi2.yaml': { eth1: '192.168.4.1', eth2: '192.168.5.1' },
};
/** Services each Pi runs (in every layout, each exactly once). */
const PI_SERVICES: Record<string, readonly string[]> = {
  'compose.yaml': [...registered],
  'compose.pi2.yaml': ['dns', 'dhcp'],
};

for (const m of models) {
  t.test(`${m.file}: every container (profile-gated ones included)`, async (t) => {
    const netsvc = netsvcOf(m.all);
    const dataVolumes = new Map<string, string>();
    for (const c of netsvc) {
      t.test(c.name, async (t) => {
        // config/pi, or config/pi2 for what differs on Pi II (its DNS secondary, its DHCP).
        const profile = configDirOf(c);
        t.ok(
          c.runs.length <= 1 &&
            c.command.length === c.runs.length + 2 &&
            c.command[c.runs.length] === '--config' &&
            ['config/pi', 'config/pi2'].includes(profile),
          `command: [<service>] --config config/pi or config/pi2 (${c.command.join(' ')})`,
        );
        const runs = runsOf(c);
        t.ok(runs.length > 0, `runs ${runs.join(', ')}`);
        for (const r of runs) t.ok(r in NEEDED_CAPS, `runs one of the reference's services (${r})`);
        if (c.netsvc)
          t.match(
            c.name,
            new RegExp(`^${c.netsvc}(-[a-z0-9]+)?$`),
            'named after its service (DESIGN.md rule 6)',
          );
        else t.equal(c.name, 'netsvc-all', 'every service of its config dir: netsvc-all');
        t.equal(c.networkMode, 'host', 'network_mode: host');
        t.ok(c.restart === 'unless-stopped' || c.restart === 'always', 'restarted when it exits');
        t.equal(c.readOnly, true, 'read-only root filesystem');
        t.match(c.user ?? '', /^[1-9]\d*:[1-9]\d*$/, 'non-root user');
        t.same(c.capDrop, ['ALL'], 'cap_drop: [ALL]');
        const caps = [...new Set(runs.flatMap((r) => NEEDED_CAPS[r] ?? ['?']))].sort();
        t.same([...c.capAdd].sort(), caps, `cap_add exactly ${caps.join(', ')}`);
        t.notOk(
          c.securityOpt.some((o) => /no-new-privileges(:true)?$/.test(o)),
          'no no-new-privileges (the file capability needs exec to grant it)',
        );
        t.notOk(c.raw.privileged, 'not privileged');
        const port = healthcheckPort(c);
        t.ok(port, 'healthcheck probes http://127.0.0.1:<port>/readyz');
        t.equal(
          String(port),
          c.environment.NETSVC_ADMIN__PORT,
          'healthcheck port = NETSVC_ADMIN__PORT',
        );
        const hc = c.raw.healthcheck as Record<string, unknown>;
        t.ok(
          hc.interval && hc.retries && hc.start_period,
          'healthcheck has interval, retries, start_period',
        );
        const byTarget = new Map(c.mounts.map((mt) => [mt.target, mt]));
        const cfg = byTarget.get('/app/config');
        t.same(
          [cfg?.type, cfg?.source, cfg?.readOnly],
          ['bind', './config', true],
          'config bind-mounted read-only at /app/config',
        );
        const data = byTarget.get('/var/lib/netsvc');
        t.equal(data?.type, 'volume', 'named data volume at /var/lib/netsvc');
        if (data?.source) {
          t.notOk(dataVolumes.has(data.source), `data volume ${data.source} is its own`);
          dataVolumes.set(data.source, c.name);
        }
        t.equal(byTarget.get('/var/lib/netsvc/logs')?.type, 'volume', 'logs volume');
        t.equal(byTarget.get('/tmp')?.type, 'tmpfs', 'tmpfs /tmp');
        for (const mt of c.mounts)
          if (mt.type === 'volume')
            t.ok(
              mt.source && (m.doc.volumes as Record<string, unknown>)[mt.source] !== undefined,
              `volume ${mt.source} declared`,
            );

        // Secrets: every /run/secrets path the config of its services reads is granted, and
        // each granted secret is a file under ./secrets (git-ignored).
        const wanted = runs.flatMap((r) => {
          const yamlFile = join(REPO, profile, `${r}.yaml`);
          return existsSync(yamlFile)
            ? [...readFileSync(yamlFile, 'utf8').matchAll(/\/run\/secrets\/([\w.-]+)/g)].map(
                (x) => x[1]!,
              )
            : [];
        });
        t.same(
          [...c.secrets].sort(),
          [...new Set(wanted)].sort(),
          `secrets = the /run/secrets files ${runs.map((r) => `${r}.yaml`).join(', ')} read`,
        );
        const top = (m.doc.secrets ?? {}) as Record<string, { file?: string }>;
        for (const s of c.secrets)
          t.match(
            top[s]?.file ?? '',
            /^\.\/secrets\/[\w.-]+$/,
            `secret ${s} comes from ./secrets/`,
          );

        // Environment: NETSVC_* keys and (DHCP) the reference's variables, nothing else.
        for (const k of Object.keys(c.environment))
          t.ok(
            k.startsWith('NETSVC_') ||
              (c.netsvc === 'dhcp' && (REFERENCE_VARIABLES as readonly string[]).includes(k)),
            `environment ${k} is a netsvc override${c.netsvc === 'dhcp' ? ' or a reference DHCP variable' : ''}`,
          );

        const unregistered = runs.filter((r) => !registered.has(r));
        if (unregistered.length > 0) {
          t.skip(
            `config load with this environment: ${unregistered.join(', ')} not yet registered in services/index.ts`,
            () => {},
          );
          return;
        }
        const loaded = loadFor(c);
        t.same(
          loaded.issues.map(formatIssue),
          [],
          `${profile} loads with this environment: zero issues`,
        );
        t.equal(
          loaded.runtime.admin.port,
          port,
          'the loader sees the admin port the healthcheck probes',
        );
        t.equal(loaded.runtime.admin.address, '127.0.0.1', 'admin listener on loopback only');
        t.equal(loaded.dataDir, '/var/lib/netsvc', 'data dir = the data volume');
      });
    }
    for (const c of netsvc)
      if (c.netsvc === 'dhcp' && c.environment.IFDHCP) {
        t.test(`${c.name}: reference DHCP environment matches the FRR config`, async (t) => {
          const e = c.environment;
          t.same(c.profiles, ['per-interface'], 'only in the per-interface profile');
          t.ok(
            e.IFDHCP &&
              e.IPV4_SUBNET &&
              e.IPV4_NETMASK &&
              e.MIN_IPV4_ADDRESS &&
              e.MAX_IPV4_ADDRESS &&
              e.IPV4_GATEWAY,
            'interface, subnet, mask, pool, router',
          );
          t.equal(c.name, `dhcp-${e.IFDHCP}`, 'one container per interface, named after it');
          t.match(e.DOMAIN_NAMES_SERVER_IPV4 ?? '', /^192\.168\.0\.2\b/, 'DNS 192.168.0.2 first');
          t.same(
            [e.DEFAULT_LEASE_TIME, e.MIN_LEASE_TIME, e.MAX_LEASE_TIME],
            ['120', '60', '3600'],
            'lease times of the reference',
          );
          const pool = (a: string): string => a.split('.').slice(0, 3).join('.');
          t.equal(pool(e.MIN_IPV4_ADDRESS!), pool(e.IPV4_SUBNET!), 'pool inside the subnet');
          t.equal(e.MIN_IPV4_ADDRESS!.split('.')[3], '10');
          t.equal(e.MAX_IPV4_ADDRESS!.split('.')[3], '100');
          if (e.IFDHCP === 'wlan0') {
            t.notOk(c.dependsOn.routing, "wlan0 is the host's: no wait for routing");
            return;
          }
          t.equal(
            c.dependsOn.routing,
            'service_healthy',
            'starts after routing is healthy (routing addresses its interface)',
          );
        });
      }

    t.test('DHCP: every LAN served once, as the reference, in every layout', async (t) => {
      const routing = m.all.find((s) => s.name === 'routing')!;
      const frrDir = routing.mounts.find((mt) => mt.target === '/etc/frr')!.source!;
      const conf = read(join(frrDir, 'frr.conf'));
      const lans = LANS[m.file]!;
      const rows = dhcpRows(layoutServices(m, 'default'));
      t.same(
        rows.map((r) => r.interface),
        Object.keys(lans).sort(),
        `default layout: one subnet on each LAN (${Object.keys(lans).join(', ')})`,
      );
      for (const r of rows) {
        const gw = lans[r.interface]!;
        const net = gw.replace(/\.1$/, '');
        t.equal(r.subnet, `${net}.0/24`, `${r.interface}: ${net}.0/24`);
        t.same(r.pools, [`${net}.10-${net}.100`], `${r.interface}: pool .10-.100`);
        t.same(r.routers, [gw], `${r.interface}: router ${gw}, the interface address`);
        if (r.interface !== 'wlan0')
          t.match(
            conf,
            new RegExp(
              `^interface ${r.interface}\\n(?: .*\\n)*? ip address ${gw.replace(/\./g, '\\.')}/24$`,
              'm',
            ),
            `${frrDir}/frr.conf puts ${gw}/24 on ${r.interface}`,
          );
        t.same(
          r.dnsServers,
          m.file === 'compose.yaml'
            ? ['192.168.0.2', '1.1.1.1', '8.8.8.8']
            : ['192.168.0.2', gw, '1.1.1.1', '8.8.8.8'],
          `${r.interface}: DNS ${r.dnsServers.join(', ')} (Pi I's first${m.file === 'compose.yaml' ? '' : ', then this Pi on that LAN'})`,
        );
        t.same(r.leaseTime, [120, 60, 3600], `${r.interface}: leases 120/60/3600 s`);
      }
      for (const layout of LAYOUTS)
        if (layout !== 'default')
          t.same(
            dhcpRows(layoutServices(m, layout)),
            rows,
            `${layout} layout serves the same subnets, pools and options`,
          );
    });

    t.test('layouts: default, per-interface, small', async (t) => {
      const dflt = layoutServices(m, 'default');
      t.same(
        dflt.filter((s) => s.profiles.length > 0).map((s) => s.name),
        [],
        'a profile-gated service does not start by default',
      );
      for (const s of m.all.filter((s) => s.profiles.length > 0))
        t.ok(
          (s.name === 'netsvc-all' && s.profiles.join() === 'small') ||
            (/^dhcp-/.test(s.name) && s.profiles.join() === 'per-interface'),
          `${s.name}: profiles [${s.profiles.join(', ')}]`,
        );
      t.ok(
        m.all.some((s) => s.name === 'netsvc-all'),
        'has netsvc-all (profile small)',
      );
      t.ok(
        m.all.some((s) => s.profiles.includes('per-interface')),
        'has the per-interface DHCP containers',
      );
      for (const layout of LAYOUTS) {
        const started = layoutServices(m, layout);
        const netsvc = netsvcOf(started);
        t.ok(
          started.some((s) => s.name === 'routing'),
          `${layout}: routing starts (the LANs' addresses)`,
        );
        const ports = netsvc.map((c) => healthcheckPort(c));
        t.same(
          [...new Set(ports)].sort(),
          [...ports].sort(),
          `${layout}: admin ports distinct (${ports.join(', ')})`,
        );
        const served = netsvc.flatMap((c) => runsOf(c));
        const once = served.filter((s) => s !== 'dhcp');
        t.same(
          [...new Set(served)].sort(),
          [...PI_SERVICES[m.file]!].sort(),
          `${layout}: runs ${[...new Set(served)].join(', ')}`,
        );
        t.same(once, [...new Set(once)], `${layout}: every service but DHCP in one container`);
        // The monitor scrapes every netsvc process of its layout (the per-interface layout
        // keeps the default's list: dhcp-wlan0 is scraped as `dhcp`; containers/README.md).
        const mon = netsvc.find((c) => runsOf(c).includes('monitor'));
        if (mon && layout !== 'per-interface') {
          const targets = (
            loadFor(mon).services.get('monitor')?.value as { targets?: { url: string }[] }
          ).targets;
          t.same(
            (targets ?? []).map((x) => Number(new URL(x.url).port)).sort(),
            ports.sort(),
            `${layout}: the monitor scrapes every admin port of the layout`,
          );
        }
      }
      const all = m.all.find((s) => s.name === 'netsvc-all');
      if (all) {
        t.same(all.runs, [], 'netsvc-all names no service: every one enabled in its config dir');
        t.same(
          runsOf(all).sort(),
          [...PI_SERVICES[m.file]!].sort(),
          `netsvc-all runs ${runsOf(all).join(', ')}`,
        );
        t.same(
          layoutServices(m, 'small')
            .map((s) => s.name)
            .sort(),
          ['netsvc-all', 'routing'],
          '`docker compose up -d netsvc-all` starts it and routing (depends_on)',
        );
      }
    });

    t.test('routing', async (t) => {
      const r = m.services.find((s) => s.name === 'routing');
      t.ok(r, 'has a routing container');
      if (!r) return;
      t.match(r.image, /^frrouting\/frr:v8\.4\.\d+$/, 'official FRRouting image pinned to 8.4.x');
      t.equal(r.networkMode, 'host');
      t.ok(r.restart === 'unless-stopped' || r.restart === 'always');
      t.same(r.capDrop, ['ALL']);
      t.same(
        [...r.capAdd].sort(),
        [...ROUTING_CAPS].sort(),
        'capabilities of zebra/ospfd and the image init, nothing else',
      );
      t.notOk(r.raw.privileged, 'not privileged');
      const etc = r.mounts.find((mt) => mt.target === '/etc/frr');
      t.equal(etc?.readOnly, true, 'FRR config mounted read-only');
      const pi = m.file === 'compose.yaml' ? 'pi1' : 'pi2';
      t.equal(etc?.source, `./config/pi/frr/${pi}`, `config/pi/frr/${pi}`);
      t.same(r.healthcheck, ['CMD', 'sh', '/usr/local/bin/frr-healthcheck']);
      t.ok(
        r.mounts.some(
          (mt) =>
            mt.source === './config/pi/frr/healthcheck.sh' &&
            mt.target === '/usr/local/bin/frr-healthcheck' &&
            mt.readOnly,
        ),
      );
    });
  });
}

t.test(
  "compose.yaml runs the five services of Pi I and the monitor, compose.pi2.yaml DHCP, routing and a DNS secondary of Pi I's zones",
  async (t) => {
    const [pi1, pi2] = models;
    t.same(pi1!.services.map((s) => s.name).sort(), [
      'dhcp',
      'dns',
      'ftp',
      'http',
      'monitor',
      'routing',
      'sip',
    ]);
    t.same(pi2!.services.map((s) => s.name).sort(), ['dhcp', 'dns', 'routing']);
    t.same(
      pi1!.all
        .filter((s) => s.profiles.length > 0)
        .map((s) => s.name)
        .sort(),
      ['dhcp-eth1', 'dhcp-eth2', 'dhcp-wlan0', 'netsvc-all'],
    );
    t.same(
      pi2!.all
        .filter((s) => s.profiles.length > 0)
        .map((s) => s.name)
        .sort(),
      ['dhcp-eth1', 'dhcp-eth2', 'netsvc-all'],
    );
    for (const name of registered)
      t.ok(
        pi1!.services.some((s) => s.netsvc === name),
        `registered service ${name} has a container in compose.yaml`,
      );
  },
);

t.test(
  'FRR config (config/pi/frr): reference address plan, OSPF area 0.0.0.1, passive LANs',
  async (t) => {
    const plan = {
      pi1: {
        id: '10.0.1.1',
        ifs: { eth1: '192.168.1.1/24', eth2: '192.168.2.1/24', eth3: '10.0.1.1/30' },
        nets: ['10.0.1.0/30', '192.168.0.0/24', '192.168.1.0/24', '192.168.2.0/24'],
      },
      pi2: {
        id: '10.0.1.2',
        ifs: { eth1: '192.168.4.1/24', eth2: '192.168.5.1/24', eth3: '10.0.1.2/30' },
        nets: ['10.0.1.0/30', '192.168.4.0/24', '192.168.5.0/24'],
      },
    };
    for (const [pi, p] of Object.entries(plan)) {
      const conf = read(`config/pi/frr/${pi}/frr.conf`);
      for (const [ifname, addr] of Object.entries(p.ifs))
        t.match(
          conf,
          new RegExp(
            `^interface ${ifname}\\n(?: .*\\n)*? ip address ${addr.replace(/\./g, '\\.')}$`,
            'm',
          ),
          `${pi}: ${ifname} ${addr}`,
        );
      t.match(conf, `ospf router-id ${p.id}`, `${pi}: router-id ${p.id}`);
      const nets = [...conf.matchAll(/^ network (\S+) area (\S+)$/gm)].map(
        (x) => `${x[1]} ${x[2]}`,
      );
      t.same(
        nets.sort(),
        p.nets.map((n) => `${n} area 0.0.0.1`.replace(' area ', ' ')).sort(),
        `${pi}: OSPF networks of the reference in area 0.0.0.1`,
      );
      t.match(conf, /^ passive-interface default$/m, `${pi}: client LANs passive`);
      t.match(
        conf,
        /^interface eth3\n(?: .*\n)*? no ip ospf passive$/m,
        `${pi}: eth3 (to the other Pi) speaks OSPF`,
      );
      const daemons = read(`config/pi/frr/${pi}/daemons`);
      t.match(daemons, /^zebra=yes$/m);
      t.match(daemons, /^ospfd=yes$/m);
      t.same(
        [...daemons.matchAll(/^(zebra|\w+d)=yes$/gm)].map((x) => x[1]),
        ['zebra', 'ospfd'],
        `${pi}: only zebra and ospfd`,
      );
    }
  },
);
