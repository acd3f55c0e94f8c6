/**
 * Start the DNS servers we compare — netsvc, BIND9 (named) and Knot (knotd) — each in the
 * foreground in its own scratch folder, serving the given zone files on 127.0.0.1:PORT, with
 * a readiness check that is the same for all: an SOA query over UDP for the first zone gets
 * an authoritative NOERROR (plus `/readyz` for netsvc). Used by bench/dns.ts and by the interop
 * tests in test/interop/. Configs follow shared/peers.md §3; pitfalls §9.2 (no systemd: run in
 * the foreground) and §9.4 (named-checkzone first; `named -g` to see the log).
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { cleanEnv, freePort, startDaemon, type Daemon } from '../src/testing/daemon.js';

export interface ZoneSpec {
  /** Zone origin, as written in the config (case kept). */
  readonly origin: string;
  /** Absolute path of the zone file. */
  readonly file: string;
}

export interface DnsServerOptions {
  /** Scratch folder owned by this server (created). */
  readonly dir: string;
  readonly port: number;
  readonly zones: readonly ZoneSpec[];
  /** Allow AXFR from 127.0.0.1 (default: refused). */
  readonly allowTransfer?: boolean;
  /** Echo the daemon's log lines with a prefix (debugging). */
  readonly verbose?: boolean;
  readonly teardown?: { teardown(fn: () => unknown): void };
}

export interface RunningDnsServer {
  readonly name: string;
  readonly port: number;
  readonly daemon: Daemon;
}

import { repoRoot } from './repo-root.js';
import { imageMemoryEnv, imageNodeFlags } from './image-runtime.js';

export { repoRoot };

/** Absolute path of an executable on PATH (plus the sbin folders), or undefined. */
export function which(cmd: string): string | undefined {
  const path = (process.env.PATH ?? '')
    .split(':')
    .concat(['/usr/sbin', '/sbin', '/usr/local/sbin']);
  for (const d of path) {
    if (d === '') continue;
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Send one DNS message over UDP and return the first reply with the same ID (or undefined). */
export function udpExchange(
  port: number,
  query: Uint8Array,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<Buffer | undefined> {
  return new Promise((resolvePromise) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const id = query.length >= 2 ? ((query[0] ?? 0) << 8) | (query[1] ?? 0) : -1;
    const finish = (r: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.close();
      resolvePromise(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) finish(msg);
    });
    sock.on('error', () => finish(undefined));
    sock.send(query, port, host);
  });
}

/** Readiness: SOA of `origin` answered authoritatively with NOERROR. */
export function soaCheck(port: number, origin: string): () => Promise<boolean> {
  return async () => {
    const q = dnsPacket.encode({
      type: 'query',
      id: 4242,
      flags: 0,
      questions: [{ type: 'SOA', class: 'IN', name: origin }],
    });
    const r = await udpExchange(port, q, 500);
    if (r === undefined) return false;
    const p = dnsPacket.decode(r);
    return (p as { rcode?: string }).rcode === 'NOERROR' && (p.answers?.length ?? 0) > 0;
  };
}

const firstOrigin = (zones: readonly ZoneSpec[]): string => zones[0]?.origin ?? '.';

function echo(name: string, verbose: boolean | undefined): ((l: string) => void) | undefined {
  return verbose ? (l) => process.stderr.write(`[${name}] ${l}\n`) : undefined;
}

// ---------------------------------------------------------------------------------------
// netsvc

/** The netsvc entry point built by `npm run build`. */
export function netsvcMain(): string {
  return join(repoRoot(), 'dist', 'src', 'main.js');
}

export interface NetsvcOptions extends DnsServerOptions {
  /** Admin port (/readyz); default: a free port. */
  readonly adminPort?: number;
  /** Extra keys merged into dns.yaml (e.g. { version: 'x', udpSize: 4096 }). */
  readonly dnsExtra?: Record<string, unknown>;
  /** Extra environment (NETSVC_… overrides). */
  readonly env?: Record<string, string>;
  readonly logLevel?: string;
}

/**
 * Write `netsvc.yaml` and `dns.yaml` into `dir` (zone files are copied to dir/zones/ and
 * referenced relative to it, as in config/dev) and start `node dist/src/main.js dns`.
 */
export async function startNetsvc(
  opts: NetsvcOptions,
): Promise<RunningDnsServer & { adminPort: number }> {
  const { stringify } = await import('yaml');
  mkdirSync(join(opts.dir, 'zones'), { recursive: true });
  mkdirSync(join(opts.dir, 'data'), { recursive: true });
  const adminPort = opts.adminPort ?? (await freePort());
  const zones = opts.zones.map((z) => {
    const rel = join('zones', basename(z.file));
    copyFileSync(z.file, join(opts.dir, rel));
    return { origin: z.origin, file: rel };
  });
  writeFileSync(
    join(opts.dir, 'netsvc.yaml'),
    stringify({
      admin: { address: '127.0.0.1', port: adminPort },
      dataDir: join(opts.dir, 'data'),
      log: { level: opts.logLevel ?? 'warn' },
    }),
  );
  writeFileSync(
    join(opts.dir, 'dns.yaml'),
    stringify({
      enabled: true,
      listen: [{ address: '127.0.0.1', port: opts.port }],
      zones,
      transfer: { allow: opts.allowTransfer ? ['127.0.0.1/32'] : [] },
      version: null,
      ...opts.dnsExtra,
    }),
  );
  const daemon = await startNetsvcDir({
    configDir: opts.dir,
    adminPort,
    checks: [soaCheck(opts.port, firstOrigin(opts.zones))],
    env: opts.env,
    verbose: opts.verbose,
    teardown: opts.teardown,
  });
  return { name: 'netsvc', port: opts.port, adminPort, daemon };
}

/** Start netsvc (dns only) on an existing config folder; ready when /readyz says 200. */
export async function startNetsvcDir(opts: {
  configDir: string;
  adminPort: number;
  adminAddress?: string;
  checks?: Array<() => Promise<boolean>>;
  env?: Record<string, string> | undefined;
  verbose?: boolean | undefined;
  teardown?: { teardown(fn: () => unknown): void } | undefined;
}): Promise<Daemon> {
  const main = netsvcMain();
  if (!existsSync(main)) throw new Error(`${main} missing: run npm run build`);
  return startDaemon({
    name: 'netsvc',
    command: process.execPath,
    // As the image runs it (containers/Dockerfile ENTRYPOINT and ENV).
    args: [...imageNodeFlags(), main, 'dns', '--config', opts.configDir],
    cwd: opts.configDir,
    env: cleanEnv({ ...imageMemoryEnv(), ...(opts.env ?? {}) }),
    ready: [
      { http: `http://${opts.adminAddress ?? '127.0.0.1'}:${opts.adminPort}/readyz` },
      ...(opts.checks ?? []).map((check) => ({ check })),
    ],
    onLine: echo('netsvc', opts.verbose),
    ...(opts.teardown ? { teardown: opts.teardown } : {}),
  });
}

// ---------------------------------------------------------------------------------------
// BIND9

export interface NamedOptions extends DnsServerOptions {
  /** Extra statements for the options block (e.g. 'minimal-responses yes;'). */
  readonly extraOptions?: string;
  /** Top-level statements (e.g. a `key` for TSIG). */
  readonly extraConfig?: string;
  /** Statements inside every zone block (e.g. `update-policy { … };`). */
  readonly zoneOptions?: string;
}

/** Check every zone with named-checkzone (peers.md pitfall 4); throws with its output. */
export function namedCheckzones(zones: readonly ZoneSpec[]): void {
  const bin = which('named-checkzone');
  if (bin === undefined) throw new Error('named-checkzone not found (apt-get install bind9)');
  for (const z of zones) {
    try {
      execFileSync(bin, ['-q', z.origin, z.file], { stdio: 'pipe' });
    } catch {
      let out = '';
      try {
        execFileSync(bin, [z.origin, z.file], { stdio: 'pipe' });
      } catch (e) {
        const err = e as { stdout?: Buffer; stderr?: Buffer };
        out = `${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`;
      }
      throw new Error(`named-checkzone ${z.origin} ${z.file} failed:\n${out}`);
    }
  }
}

export async function startNamed(opts: NamedOptions): Promise<RunningDnsServer> {
  const bin = which('named');
  if (bin === undefined) throw new Error('named not found (apt-get install bind9)');
  namedCheckzones(opts.zones);
  mkdirSync(opts.dir, { recursive: true });
  const conf = join(opts.dir, 'named.conf');
  const zoneStanzas = opts.zones
    .map(
      (z) =>
        `zone "${z.origin}" { type primary; file "${resolve(z.file)}"; ${opts.zoneOptions ?? ''} };`,
    )
    .join('\n');
  writeFileSync(
    conf,
    `options {
  directory "${opts.dir}";
  pid-file none;
  session-keyfile "${join(opts.dir, 'session.key')}";
  listen-on port ${opts.port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { any; };
  allow-transfer { ${opts.allowTransfer ? '127.0.0.1;' : 'none;'} };
  dnssec-validation no;
  notify no;
  version none;
  ${opts.extraOptions ?? ''}
};
controls { };
${opts.extraConfig ?? ''}
${zoneStanzas}
`,
  );
  // -g: foreground, log to stderr (peers.md pitfall 4); runs as root without -u, as in peers.md.
  const daemon = await startDaemon({
    name: 'named',
    command: bin,
    args: ['-g', '-c', conf],
    cwd: opts.dir,
    ready: { check: soaCheck(opts.port, firstOrigin(opts.zones)) },
    onLine: echo('named', opts.verbose),
    ...(opts.teardown ? { teardown: opts.teardown } : {}),
  });
  return { name: 'bind9', port: opts.port, daemon };
}

// ---------------------------------------------------------------------------------------
// Knot

export async function startKnot(opts: DnsServerOptions): Promise<RunningDnsServer> {
  const bin = which('knotd');
  const ctl = which('knotc');
  if (bin === undefined || ctl === undefined)
    throw new Error('knotd not found (apt-get install knot)');
  for (const d of ['run', 'db', 'zones']) mkdirSync(join(opts.dir, d), { recursive: true });
  const conf = join(opts.dir, 'knot.conf');
  const zones = opts.zones
    .map(
      (z) =>
        `  - domain: ${z.origin}\n    file: "${resolve(z.file)}"\n` +
        (opts.allowTransfer ? '    acl: local_xfr\n' : ''),
    )
    .join('');
  writeFileSync(
    conf,
    `server:
    rundir: "${join(opts.dir, 'run')}"
    listen: 127.0.0.1@${opts.port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: "${join(opts.dir, 'db')}"

acl:
  - id: local_xfr
    address: 127.0.0.1
    action: transfer

template:
  - id: default
    storage: "${join(opts.dir, 'zones')}"
    zonefile-sync: -1
    journal-content: none

zone:
${zones}`,
  );
  try {
    execFileSync(ctl, ['-c', conf, 'conf-check'], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `knotc conf-check failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`,
    );
  }
  const daemon = await startDaemon({
    name: 'knotd',
    command: bin,
    args: ['-c', conf],
    cwd: opts.dir,
    ready: { check: soaCheck(opts.port, firstOrigin(opts.zones)) },
    onLine: echo('knotd', opts.verbose),
    ...(opts.teardown ? { teardown: opts.teardown } : {}),
  });
  return { name: 'knot', port: opts.port, daemon };
}
