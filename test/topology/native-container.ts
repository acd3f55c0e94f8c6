/**
 * Run a netsvc container's exact command natively, as the container would run it, inside a
 * network namespace (root only). What is reproduced, and how:
 *
 *   host networking      the process runs in a netns holding the Pi's interfaces and addresses
 *   USER 1000:1000       setpriv --reuid/--regid, no supplementary groups
 *   cap_drop ALL +       setpriv --bounding-set=-all,+<cap_add…>, no inheritable/ambient caps;
 *   cap_add              the image's file capability: a copy of node with
 *                        `setcap cap_net_bind_service=ep`, bind-mounted over /usr/bin/node
 *   read_only: true      the repository (= the image's /app) remounted read-only
 *   volumes / tmpfs      private mount namespace: a directory per named volume bound at its
 *                        target (chowned 1000 as Docker seeds it from the image), tmpfs mounts
 *   secrets              tmpfs at /run holding /run/secrets/<name> (mode 0444)
 *   environment          the Dockerfile's ENV + the compose environment, nothing else
 *   argv                 `node dist/src/main.js <compose command>` in the image's WORKDIR
 *                        (= the repository root); tini is left out (pid = node's pid)
 *
 * The healthcheck is run the same way (the compose test argv; `wget` is busybox's, as in
 * Alpine).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
  chownSync,
  existsSync,
  chmodSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  REPO,
  imageRuntime,
  setprivCaps,
  type ContainerSpec,
  type ImageRuntime,
} from './compose-model.js';

export const NODE_BIN = '/usr/bin/node';

export interface RunDirs {
  readonly root: string;
  /** node with the image's file capability */
  readonly nodeWithCap: string;
}

/** Tools a native container run needs; returns the missing ones. */
export function missingTools(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const tool of ['ip', 'setpriv', 'setcap', 'unshare', 'busybox', 'mount'])
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      missing.push(tool);
    }
  if (!existsSync(join(REPO, 'dist/src/main.js'))) missing.push('dist/src/main.js (npm run build)');
  return missing;
}

/** Prepare a run dir with the capability-carrying copy of node (the image's /usr/local/bin/node). */
export function prepareRunDir(root: string): RunDirs {
  mkdirSync(root, { recursive: true });
  const nodeWithCap = join(root, 'node');
  if (!existsSync(nodeWithCap)) {
    copyFileSync(NODE_BIN, nodeWithCap);
    chmodSync(nodeWithCap, 0o755);
    execFileSync('setcap', ['cap_net_bind_service=ep', nodeWithCap]);
  }
  return { root, nodeWithCap };
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Map a container path to the host path that stands for it (WORKDIR = the repository). */
export function hostPathFor(
  spec: ContainerSpec,
  containerPath: string,
  image: ImageRuntime = imageRuntime(),
): string {
  for (const m of spec.mounts) {
    if (m.type !== 'bind' || !m.source) continue;
    if (containerPath === m.target || containerPath.startsWith(m.target + '/'))
      return resolve(REPO, m.source) + containerPath.slice(m.target.length);
  }
  if (containerPath === image.workdir || containerPath.startsWith(image.workdir + '/'))
    return REPO + containerPath.slice(image.workdir.length);
  return containerPath;
}

export interface NativeContainer {
  readonly spec: ContainerSpec;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly secrets: Readonly<Record<string, string>>;
  output(): string;
  exited(): { code: number | null; signal: string | null } | undefined;
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: string | null }>;
}

export interface StartOptions {
  readonly netns: string;
  readonly dirs: RunDirs;
  /** extra setpriv options (e.g. --no-new-privs to show why the compose file omits it) */
  readonly extraSetpriv?: readonly string[];
  /** secret values by name; missing ones get a random value */
  readonly secrets?: Readonly<Record<string, string>>;
  /** name of this run's instance (volume dirs are per compose service) */
  readonly instance?: string;
}

/** The shell script run as root in a private mount namespace before dropping to the service user. */
export function containerScript(
  spec: ContainerSpec,
  opts: StartOptions,
  image: ImageRuntime = imageRuntime(),
): {
  script: string;
  secrets: Record<string, string>;
} {
  if (!spec.netsvcImage) throw new Error(`${spec.name} is not a netsvc container`);
  const inst = opts.instance ?? `${spec.file.replace(/\W/g, '_')}-${spec.name}`;
  const base = join(opts.dirs.root, inst);
  const [uid = '1000', gid = uid] = (spec.user ?? image.user).split(':');
  const lines: string[] = ['set -e', `mount --bind ${q(opts.dirs.nodeWithCap)} ${NODE_BIN}`];
  // /var/lib and /run are replaced by empty tmpfs so that only the volumes and secrets exist.
  const varlibTargets = spec.mounts.filter((m) => m.type === 'volume').map((m) => m.target);
  for (const t of varlibTargets)
    if (!t.startsWith('/var/lib/'))
      throw new Error(`${spec.name}: volume target ${t} outside /var/lib is not emulated`);
  lines.push('mount -t tmpfs -o mode=755 nstopo-varlib /var/lib');
  for (const m of [...spec.mounts].sort((a, b) => a.target.length - b.target.length)) {
    if (m.type === 'volume') {
      const dir = join(base, 'volumes', m.source ?? m.target.replace(/\W/g, '_'));
      mkdirSync(dir, { recursive: true });
      chownSync(dir, Number(uid), Number(gid));
      lines.push(`mkdir -p ${q(m.target)}`, `mount --bind ${q(dir)} ${q(m.target)}`);
    } else if (m.type === 'bind') {
      const host = resolve(REPO, m.source ?? '');
      const stands = hostPathFor(spec, m.target, image);
      if (host !== stands)
        throw new Error(`${spec.name}: bind ${m.source}:${m.target} is not under WORKDIR`);
      if (!m.readOnly) throw new Error(`${spec.name}: bind ${m.target} must be read-only`);
    }
  }
  const secrets: Record<string, string> = {};
  const secretDir = join(base, 'secrets');
  mkdirSync(secretDir, { recursive: true, mode: 0o700 });
  for (const s of spec.secrets) {
    // A *_key secret is a TSIG key file (containers/make-secrets.sh writes ddns_key so).
    secrets[s] =
      opts.secrets?.[s] ??
      (s.endsWith('_key')
        ? `key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "${randomBytes(32).toString('base64')}";\n};\n`
        : 'nstopo-' + randomBytes(9).toString('hex'));
    writeFileSync(join(secretDir, s), secrets[s]!, { mode: 0o444 });
  }
  lines.push('mount -t tmpfs -o mode=755 nstopo-run /run', 'mkdir -p /run/secrets');
  for (const s of spec.secrets)
    lines.push(`cp ${q(join(secretDir, s))} /run/secrets/${s}`, `chmod 444 /run/secrets/${s}`);
  // A checkout that lives under a tmpfs target (a CI clone in /tmp) would vanish under the
  // new tmpfs: park it on a bind mount first and put it back at the same path afterwards.
  const hidden = spec.mounts.some(
    (m) => m.type === 'tmpfs' && (REPO + '/').startsWith(m.target.replace(/\/?$/, '/')),
  );
  if (hidden) lines.push('mkdir -p /mnt/nstopo-app', `mount --bind ${q(REPO)} /mnt/nstopo-app`);
  for (const m of spec.mounts)
    if (m.type === 'tmpfs')
      lines.push(
        `mount -t tmpfs -o mode=1777${m.size ? `,size=${m.size}` : ''} nstopo-tmpfs ${q(m.target)}`,
      );
  if (hidden) lines.push(`mkdir -p ${q(REPO)}`, `mount --bind /mnt/nstopo-app ${q(REPO)}`);
  if (spec.readOnly)
    lines.push(`mount --bind ${q(REPO)} ${q(REPO)}`, `mount -o remount,bind,ro ${q(REPO)}`);
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/home/node',
    ...image.env,
    ...spec.environment,
  };
  const argv = [
    'node',
    ...image.entrypoint.slice(image.entrypoint.indexOf('node') + 1),
    ...spec.command,
  ];
  lines.push(
    `cd ${q(hostPathFor(spec, image.workdir, image))}`,
    `exec env -i ${Object.entries(env)
      .map(([k, v]) => q(`${k}=${v}`))
      .join(' ')} setpriv --reuid=${uid} --regid=${gid} --clear-groups --inh-caps=-all ` +
      `--bounding-set=${setprivCaps(spec)} ${(opts.extraSetpriv ?? []).join(' ')} -- ${argv.map(q).join(' ')}`,
  );
  return { script: lines.join('\n'), secrets };
}

export function startNative(spec: ContainerSpec, opts: StartOptions): NativeContainer {
  const { script, secrets } = containerScript(spec, opts);
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      opts.netns,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      script,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  let exit: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      res(exit);
    }),
  );
  return {
    spec,
    pid: child.pid!,
    child,
    secrets,
    output: () => out,
    exited: () => exit,
    async stop(timeoutMs = 12_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

/** Run the container's compose healthcheck natively in its netns; resolves to its exit code. */
export function runHealthcheck(
  spec: ContainerSpec,
  netns: string,
  env: Record<string, string> = {},
): Promise<number> {
  const test = spec.healthcheck;
  if (!test || test.length < 2) return Promise.resolve(1);
  let argv = test[0] === 'CMD-SHELL' ? ['sh', '-c', test.slice(1).join(' ')] : test.slice(1);
  if (argv[0] === 'wget') argv = ['busybox', ...argv]; // Alpine's wget is busybox's
  argv = argv.map((a) => (a.startsWith('/') ? hostPathFor(spec, a) : a));
  return new Promise((res) => {
    const c = spawn('ip', ['netns', 'exec', netns, ...argv], {
      stdio: 'ignore',
      env: { ...process.env, ...env },
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    c.on('exit', (code) => {
      clearTimeout(timer);
      res(code ?? 1);
    });
    c.on('error', () => res(127));
  });
}

/** Poll the healthcheck until it passes (true), the process exits or the deadline passes (false). */
export async function waitHealthy(
  spec: ContainerSpec,
  netns: string,
  opts: { timeoutMs?: number; proc?: NativeContainer; env?: Record<string, string> } = {},
): Promise<boolean> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (opts.proc?.exited()) return false;
    if ((await runHealthcheck(spec, netns, opts.env)) === 0) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

export interface ProcStatus {
  readonly uid: string;
  readonly capEff: string;
  readonly capBnd: string;
  readonly vmRssKiB: number;
  readonly vmHwmKiB: number;
  readonly noNewPrivs: string;
}

export function procStatus(pid: number): ProcStatus {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const f = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(s)?.[1]?.trim() ?? '';
  return {
    uid: f('Uid').split(/\s+/)[0] ?? '',
    capEff: f('CapEff'),
    capBnd: f('CapBnd'),
    vmRssKiB: parseInt(f('VmRSS'), 10),
    vmHwmKiB: parseInt(f('VmHWM'), 10),
    noNewPrivs: f('NoNewPrivs'),
  };
}

/** Capability bit mask of compose cap names, as /proc/PID/status prints CapEff. */
export function capMask(caps: readonly string[]): string {
  const bits: Record<string, number> = {
    CHOWN: 0,
    DAC_OVERRIDE: 1,
    FOWNER: 3,
    KILL: 5,
    SETGID: 6,
    SETUID: 7,
    NET_BIND_SERVICE: 10,
    NET_ADMIN: 12,
    NET_RAW: 13,
    SYS_ADMIN: 21,
  };
  let m = 0n;
  for (const c of caps) {
    const b = bits[c.toUpperCase()];
    if (b === undefined) throw new Error(`capMask: add ${c}`);
    m |= 1n << BigInt(b);
  }
  return m.toString(16).padStart(16, '0');
}
