/**
 * Read compose.yaml / compose.pi2.yaml and containers/Dockerfile into plain data: what each
 * container runs (argv, environment, user, capabilities, mounts, secrets, healthcheck), and
 * which containers each documented way of bringing a Pi up starts (LAYOUTS: the default,
 * the `per-interface` DHCP profile, the `small` one-container profile).
 * Shared by test/containers.test.ts (consistency checks), test/interop/containers.test.ts
 * and test/topology/ (native runs of the exact container command). No I/O beyond reading
 * the files; nothing here needs root.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const COMPOSE_FILES = ['compose.yaml', 'compose.pi2.yaml'] as const;
export const DOCKERFILE = 'containers/Dockerfile';

export interface Mount {
  readonly type: 'bind' | 'volume' | 'tmpfs';
  readonly source?: string;
  readonly target: string;
  readonly readOnly: boolean;
  readonly size?: number;
}

export interface ContainerSpec {
  readonly file: string;
  /** compose service name (dns, dhcp-eth1, routing, …) */
  readonly name: string;
  readonly image: string;
  /** built from containers/Dockerfile (runs `netsvc …`) */
  readonly netsvcImage: boolean;
  /**
   * netsvc-image containers: the services its command names (the words before the first
   * option); empty = every service enabled in its config dir (`netsvc --config DIR`)
   */
  readonly runs: readonly string[];
  /** the one netsvc service it runs, when its command names exactly one */
  readonly netsvc?: string;
  readonly command: readonly string[];
  /** compose `profiles`: empty = started by a plain `docker compose up` */
  readonly profiles: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly user?: string;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly securityOpt: readonly string[];
  readonly readOnly: boolean;
  readonly networkMode?: string;
  readonly restart?: string;
  readonly mounts: readonly Mount[];
  readonly secrets: readonly string[];
  readonly healthcheck?: readonly string[];
  readonly dependsOn: Readonly<Record<string, string>>;
  readonly raw: Record<string, unknown>;
}

export interface ComposeModel {
  readonly file: string;
  readonly doc: Record<string, unknown>;
  /** what a plain `docker compose up -d` starts: the services without `profiles` */
  readonly services: readonly ContainerSpec[];
  /** every service of the file, profile-gated ones included */
  readonly all: readonly ContainerSpec[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function envOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const e of v) {
      const s = String(e);
      const i = s.indexOf('=');
      if (i > 0) out[s.slice(0, i)] = s.slice(i + 1);
    }
  } else if (isObj(v)) {
    for (const [k, val] of Object.entries(v))
      out[k] = val === null || val === undefined ? '' : String(val);
  }
  return out;
}

function mountOf(v: unknown): Mount {
  if (typeof v === 'string') {
    const [source = '', target = '', mode = ''] = v.split(':');
    const type = source.startsWith('.') || source.startsWith('/') ? 'bind' : 'volume';
    return { type, source, target, readOnly: mode.split(',').includes('ro') };
  }
  if (!isObj(v)) throw new Error(`unsupported volume entry ${JSON.stringify(v)}`);
  const type = v.type as Mount['type'];
  const tmpfs = isObj(v.tmpfs) ? v.tmpfs : {};
  return {
    type,
    ...(typeof v.source === 'string' ? { source: v.source } : {}),
    target: String(v.target),
    readOnly: v.read_only === true,
    ...(typeof tmpfs.size === 'number' ? { size: tmpfs.size } : {}),
  };
}

/** Substitute `${VAR:-default}` the way compose does, with an empty environment. */
function interpolate(s: string): string {
  return s.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g,
    (_m, _n: string, d: string | undefined) => d ?? '',
  );
}

export function loadCompose(file: string): ComposeModel {
  const text = readFileSync(join(REPO, file), 'utf8');
  const doc = parse(text, { merge: true }) as Obj;
  const services: ContainerSpec[] = [];
  for (const [name, raw] of Object.entries(isObj(doc.services) ? doc.services : {})) {
    if (!isObj(raw)) continue;
    const image = interpolate(String(raw.image ?? ''));
    const command = Array.isArray(raw.command) ? raw.command.map(String) : [];
    const isNetsvc = isObj(raw.build) && String(raw.build.dockerfile ?? '') === DOCKERFILE;
    const firstOption = command.findIndex((a) => a.startsWith('-'));
    const runs = isNetsvc ? command.slice(0, firstOption < 0 ? command.length : firstOption) : [];
    const hc =
      isObj(raw.healthcheck) && Array.isArray(raw.healthcheck.test)
        ? raw.healthcheck.test.map(String)
        : undefined;
    const dependsOn: Record<string, string> = {};
    if (isObj(raw.depends_on))
      for (const [k, v] of Object.entries(raw.depends_on))
        dependsOn[k] = isObj(v) ? String(v.condition ?? 'service_started') : 'service_started';
    else if (Array.isArray(raw.depends_on))
      for (const k of raw.depends_on) dependsOn[String(k)] = 'service_started';
    services.push({
      file,
      name,
      image,
      netsvcImage: isNetsvc,
      runs,
      ...(runs.length === 1 ? { netsvc: runs[0]! } : {}),
      command,
      profiles: Array.isArray(raw.profiles) ? raw.profiles.map(String) : [],
      environment: envOf(raw.environment),
      ...(raw.user !== undefined ? { user: String(raw.user) } : {}),
      capAdd: Array.isArray(raw.cap_add) ? raw.cap_add.map(String) : [],
      capDrop: Array.isArray(raw.cap_drop) ? raw.cap_drop.map(String) : [],
      securityOpt: Array.isArray(raw.security_opt) ? raw.security_opt.map(String) : [],
      readOnly: raw.read_only === true,
      ...(typeof raw.network_mode === 'string' ? { networkMode: raw.network_mode } : {}),
      ...(typeof raw.restart === 'string' ? { restart: raw.restart } : {}),
      mounts: Array.isArray(raw.volumes) ? raw.volumes.map(mountOf) : [],
      secrets: Array.isArray(raw.secrets)
        ? raw.secrets.map((s) => (isObj(s) ? String(s.source) : String(s)))
        : [],
      ...(hc ? { healthcheck: hc } : {}),
      dependsOn,
      raw,
    });
  }
  return { file, doc, services: services.filter((s) => s.profiles.length === 0), all: services };
}

/**
 * The documented ways to bring a Pi up (containers/README.md) and what each starts:
 *   default        `docker compose up -d`: every service without `profiles`
 *   per-interface  `docker compose --profile per-interface up -d --scale dhcp=0`: the
 *                  reference's one DHCP container per interface instead of `dhcp`
 *   small          `docker compose up -d netsvc-all`: the targeted service (its profile is
 *                  enabled by naming it) and what it depends_on, transitively
 * A file without the layout's services starts its default set.
 */
export const LAYOUTS = ['default', 'per-interface', 'small'] as const;
export type Layout = (typeof LAYOUTS)[number];

export function layoutServices(model: ComposeModel, layout: Layout): readonly ContainerSpec[] {
  if (layout === 'per-interface') {
    const gated = model.all.filter((s) => s.profiles.includes('per-interface'));
    if (gated.length === 0) return model.services;
    return [...model.services.filter((s) => s.name !== 'dhcp'), ...gated];
  }
  if (layout === 'small') {
    const target = model.all.find((s) => s.name === 'netsvc-all');
    if (!target) return model.services;
    const names = new Set<string>();
    const visit = (name: string): void => {
      if (names.has(name)) return;
      names.add(name);
      for (const dep of Object.keys(model.all.find((s) => s.name === name)?.dependsOn ?? {}))
        visit(dep);
    };
    visit(target.name);
    return model.all.filter((s) => names.has(s.name));
  }
  return model.services;
}

export interface DockerfileStage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: readonly {
    readonly keyword: string;
    readonly args: string;
    readonly line: number;
  }[];
}

/** Split a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): {
  args: Record<string, string>;
  stages: DockerfileStage[];
} {
  const lines = text.split('\n');
  const instructions: { keyword: string; args: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    const start = i + 1;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      l = l.replace(/\\\s*$/, ' ');
      i++;
      const next = lines[i]!;
      if (!/^\s*#/.test(next)) l += next;
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(l);
    if (m) instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  }
  const args: Record<string, string> = {};
  const stages: { from: string; name?: string; instructions: typeof instructions }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.args)!;
      const from = m[1]!.replace(/\$\{(\w+)\}/g, (_x, n: string) => args[n] ?? '');
      stages.push({ from, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else if (stages.length === 0 && ins.keyword === 'ARG') {
      const [k, v = ''] = ins.args.split('=');
      args[k!] = v;
    } else stages.at(-1)?.instructions.push(ins);
  }
  return { args, stages };
}

export interface ImageRuntime {
  readonly env: Readonly<Record<string, string>>;
  readonly user: string;
  readonly workdir: string;
  readonly entrypoint: readonly string[];
}

/** ENV, USER, WORKDIR and ENTRYPOINT of the Dockerfile's last stage (the runtime image). */
export function imageRuntime(text = readFileSync(join(REPO, DOCKERFILE), 'utf8')): ImageRuntime {
  const { stages } = parseDockerfile(text);
  const last = stages.at(-1);
  if (!last) throw new Error('Dockerfile has no stage');
  const env: Record<string, string> = {};
  let user = 'root';
  let workdir = '/';
  let entrypoint: string[] = [];
  for (const ins of last.instructions) {
    if (ins.keyword === 'ENV') {
      for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g))
        env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    } else if (ins.keyword === 'USER') user = ins.args;
    else if (ins.keyword === 'WORKDIR') workdir = ins.args;
    else if (ins.keyword === 'ENTRYPOINT') entrypoint = JSON.parse(ins.args) as string[];
  }
  return { env, user, workdir, entrypoint };
}

/** The argv a container runs: the image's entrypoint followed by the compose command. */
export function containerArgv(spec: ContainerSpec, image: ImageRuntime = imageRuntime()): string[] {
  return [...image.entrypoint, ...spec.command];
}

/** compose capability names (NET_BIND_SERVICE) → setpriv's (net_bind_service). */
export function setprivCaps(spec: ContainerSpec): string {
  const dropsAll = spec.capDrop.map((c) => c.toUpperCase()).includes('ALL');
  if (!dropsAll)
    throw new Error(`${spec.name}: cap_drop must be [ALL] for a least-privilege emulation`);
  return ['-all', ...spec.capAdd.map((c) => '+' + c.toLowerCase().replace(/^cap_/, ''))].join(',');
}

/** Admin port the container's healthcheck probes (http://127.0.0.1:PORT/readyz), if any. */
export function healthcheckPort(spec: ContainerSpec): number | undefined {
  const url = spec.healthcheck?.find((a) => a.startsWith('http://'));
  const m = url ? /^http:\/\/127\.0\.0\.1:(\d+)\/readyz$/.exec(url) : null;
  return m ? Number(m[1]) : undefined;
}
