/**
 * Configuration: YAML per service → environment overrides → schema defaults → validation
 * (every issue at once) → deep freeze. DESIGN.md rule 3.
 *
 * Files: `<configDir>/netsvc.yaml` for the runtime (admin listener, data dir, logging) and
 * `<configDir>/<service>.yaml` per service. A missing service file means "not configured":
 * the service is off unless named on the command line, where it runs on its defaults.
 *
 * Environment overrides (so one image serves several containers):
 *   NETSVC_<SERVICE>__<KEY>[__<KEY>…]=<value>   e.g. NETSVC_DNS__UDPSIZE=4096
 *   NETSVC_<RUNTIME KEY>[__<KEY>…]=<value>      e.g. NETSVC_ADMIN__PORT=0, NETSVC_LOG__LEVEL=debug
 * Keys match the schema case-insensitively; a numeric segment indexes an array
 * (NETSVC_DNS__LISTEN__0__PORT=5300); the value is parsed as YAML, so `4096` is a number,
 * `true` a boolean and `[10.0.0.0/8, 192.168.0.0/16]` a list. NETSVC_CONFIG_DIR and
 * NETSVC_DATA_DIR set the two directories. An override naming an unknown key is an issue,
 * reported like a bad key in a file.
 */
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { Type, type Static, type TSchema, Kind } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export interface ConfigIssue {
  readonly file: string;
  readonly path: string;
  readonly message: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file} ${i.path || '/'}: ${i.message}`;
}

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => '  ' + formatIssue(i)).join('\n')}`);
  }
}

export const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  { default: 'info', description: 'Minimum level written to the log' },
);

export const RuntimeConfig = Type.Object(
  {
    admin: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Serve /healthz, /readyz, /metrics, POST /reload',
        }),
        address: Type.String({
          default: '127.0.0.1',
          description: 'Admin listener address (keep it private)',
        }),
        port: Type.Integer({
          default: 10090,
          minimum: 0,
          maximum: 65535,
          description: 'Admin port; 0 picks a free one',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    dataDir: Type.String({
      default: 'data',
      description:
        'Directory for SQLite state, relative to the config dir; NETSVC_DATA_DIR overrides',
    }),
    log: Type.Object(
      {
        level: LogLevel,
        format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
          default: 'auto',
          description: 'auto: pretty on a terminal, JSON lines otherwise',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    startTimeoutMs: Type.Integer({
      default: 15000,
      minimum: 100,
      description: 'Deadline for each service start',
    }),
    stopTimeoutMs: Type.Integer({
      default: 10000,
      minimum: 100,
      description: 'Deadline for stopping all services',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type RuntimeConfig = Static<typeof RuntimeConfig>;

export const RUNTIME_FILE = 'netsvc.yaml';
const ENV_PREFIX = 'NETSVC_';
const RESERVED_ENV = new Set(['NETSVC_CONFIG_DIR', 'NETSVC_DATA_DIR']);

export interface EnvOverride {
  readonly source: string;
  readonly segments: readonly string[];
  readonly raw: string;
}

/** Split NETSVC_* variables into per-target override lists (target = service name or ''). */
export function collectEnvOverrides(
  env: NodeJS.ProcessEnv,
  serviceNames: readonly string[],
): Map<string, EnvOverride[]> {
  const out = new Map<string, EnvOverride[]>();
  const names = new Set(serviceNames.map((n) => n.toLowerCase()));
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(ENV_PREFIX) || RESERVED_ENV.has(k) || v === undefined) continue;
    const segments = k
      .slice(ENV_PREFIX.length)
      .split('__')
      .filter((s) => s.length > 0);
    if (segments.length === 0) continue;
    const first = segments[0]!.toLowerCase();
    const target = names.has(first) && segments.length > 1 ? first : '';
    const rest = target ? segments.slice(1) : segments;
    const list = out.get(target) ?? [];
    list.push({ source: k, segments: rest, raw: v });
    out.set(target, list);
  }
  return out;
}

function schemaChild(
  schema: TSchema | undefined,
  seg: string,
): { key: string | number; schema?: TSchema } | undefined {
  if (!schema) return undefined;
  const kind = (schema as { [Kind]?: string })[Kind];
  if (kind === 'Object') {
    const props = (schema as unknown as { properties: Record<string, TSchema> }).properties;
    const key = Object.keys(props).find((p) => p.toLowerCase() === seg.toLowerCase());
    return key === undefined ? undefined : { key, schema: props[key] };
  }
  if (kind === 'Array' && /^[0-9]+$/.test(seg)) {
    return { key: Number(seg), schema: (schema as unknown as { items: TSchema }).items };
  }
  if (kind === 'Union') {
    for (const s of (schema as unknown as { anyOf: TSchema[] }).anyOf) {
      const c = schemaChild(s, seg);
      if (c) return c;
    }
  }
  return undefined;
}

/** Apply overrides in place; returns issues for keys the schema does not know. */
export function applyEnvOverrides(
  data: Record<string, unknown>,
  schema: TSchema,
  overrides: readonly EnvOverride[],
  file: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const o of overrides) {
    let node: Record<string | number, unknown> = data;
    let s: TSchema | undefined = schema;
    const path: (string | number)[] = [];
    for (let i = 0; i < o.segments.length; i++) {
      const c = schemaChild(s, o.segments[i]!);
      if (!c) {
        issues.push({
          file,
          path: '/' + [...path, o.segments[i]].join('/'),
          message: `unknown key set by environment variable ${o.source}; check its spelling against the service README`,
        });
        break;
      }
      path.push(c.key);
      s = c.schema;
      if (i === o.segments.length - 1) {
        let value: unknown;
        try {
          value = parseYaml(o.raw);
        } catch {
          value = o.raw;
        }
        // A bare string schema keeps the text as written (a zone name "1e3" stays text).
        if (s && (s as { type?: string }).type === 'string') value = o.raw;
        node[c.key] = value;
      } else {
        const existing = node[c.key];
        if (existing === undefined || existing === null || typeof existing !== 'object') {
          // The container follows the child's schema (an array element is usually an object);
          // a schema without a plain type (a union) follows the next segment.
          const type = (s as { type?: string } | undefined)?.type;
          const isArray =
            type === 'array' || (type === undefined && /^[0-9]+$/.test(o.segments[i + 1]!));
          node[c.key] = isArray ? [] : {};
        }
        node = node[c.key] as Record<string | number, unknown>;
      }
    }
  }
  return issues;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** Read and parse a YAML file; issues for a syntax error (with line) or a non-mapping. */
export function readYamlFile(file: string): {
  data: Record<string, unknown>;
  issues: ConfigIssue[];
} {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return {
      data: {},
      issues: [{ file, path: '', message: `cannot read: ${(e as Error).message}` }],
    };
  }
  try {
    const parsed: unknown = parseYaml(text);
    if (parsed === null || parsed === undefined) return { data: {}, issues: [] };
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      return {
        data: {},
        issues: [{ file, path: '', message: 'must be a YAML mapping of keys to values' }],
      };
    }
    return { data: parsed as Record<string, unknown>, issues: [] };
  } catch (e) {
    const line = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    return {
      data: {},
      issues: [
        {
          file,
          path: '',
          message: `YAML syntax error${line}: ${(e as Error).message.split('\n')[0]}`,
        },
      ],
    };
  }
}

/** Defaults, validation and freezing of one already-parsed document. */
export function finishConfig<S extends TSchema>(
  schema: S,
  data: Record<string, unknown>,
  file: string,
): { value: Static<S>; issues: ConfigIssue[] } {
  const value = Value.Default(schema, Value.Clone(data)) as Static<S>;
  const issues: ConfigIssue[] = [];
  for (const e of Value.Errors(schema, value)) {
    // Union errors repeat for every branch; keep the first per path.
    if (issues.some((i) => i.path === e.path)) continue;
    const hint =
      e.message === 'Unexpected property'
        ? 'unknown key (remove it or check its spelling)'
        : e.message.toLowerCase();
    issues.push({ file, path: e.path, message: hint });
  }
  return { value: deepFreeze(value), issues };
}

export interface ServiceSchemaInfo {
  readonly name: string;
  readonly config: TSchema;
  readonly check?: (cfg: unknown, configDir: string) => string[];
  readonly envOverrides?: (env: NodeJS.ProcessEnv) => readonly EnvOverride[];
}

export interface LoadedConfig {
  readonly configDir: string;
  readonly dataDir: string;
  readonly runtime: RuntimeConfig;
  /** Per service: its validated config, and whether its file exists. */
  readonly services: ReadonlyMap<
    string,
    { value: { enabled?: boolean } & Record<string, unknown>; present: boolean }
  >;
  readonly issues: readonly ConfigIssue[];
}

/**
 * Load the runtime file and every service file of a config dir, applying env overrides.
 * Never throws for bad content: every problem is an issue.
 */
export function loadConfigDir(
  configDir: string,
  services: readonly ServiceSchemaInfo[],
  env: NodeJS.ProcessEnv = process.env,
  /** Every service name (default: those loaded): their env variables and files are not typos. */
  knownServices: readonly string[] = services.map((s) => s.name),
): LoadedConfig {
  const dir = resolve(configDir);
  const issues: ConfigIssue[] = [];
  if (!existsSync(dir)) {
    issues.push({
      file: dir,
      path: '',
      message: 'config directory does not exist (set --config or NETSVC_CONFIG_DIR)',
    });
  }
  const overrides = collectEnvOverrides(env, knownServices);

  const runtimeFile = join(dir, RUNTIME_FILE);
  const rt = existsSync(runtimeFile) ? readYamlFile(runtimeFile) : { data: {}, issues: [] };
  issues.push(...rt.issues);
  issues.push(...applyEnvOverrides(rt.data, RuntimeConfig, overrides.get('') ?? [], runtimeFile));
  const runtime = finishConfig(RuntimeConfig, rt.data, runtimeFile);
  issues.push(...runtime.issues);

  const loaded = new Map<
    string,
    { value: { enabled?: boolean } & Record<string, unknown>; present: boolean }
  >();
  for (const svc of services) {
    const file = join(dir, `${svc.name}.yaml`);
    const present = existsSync(file);
    const doc = present ? readYamlFile(file) : { data: {}, issues: [] };
    issues.push(...doc.issues);
    const envList = [...(svc.envOverrides?.(env) ?? []), ...(overrides.get(svc.name) ?? [])];
    issues.push(...applyEnvOverrides(doc.data, svc.config, envList, file));
    const fin = finishConfig(svc.config, doc.data, file);
    issues.push(...fin.issues);
    // Semantic checks (files exist, sites defined…) only for a service that is configured.
    if (fin.issues.length === 0 && present && svc.check) {
      for (const msg of svc.check(fin.value, dir)) {
        const m = /^(\/\S*):\s*(.*)$/s.exec(msg);
        issues.push({ file, path: m ? m[1]! : '', message: m ? m[2]! : msg });
      }
    }
    loaded.set(svc.name, {
      value: fin.value as { enabled?: boolean } & Record<string, unknown>,
      present,
    });
  }

  // A YAML file nobody reads is almost always a typo of a service name.
  if (existsSync(dir)) {
    const known = new Set([RUNTIME_FILE, ...knownServices.map((n) => `${n}.yaml`)]);
    for (const f of readdirSync(dir)) {
      if ((f.endsWith('.yaml') || f.endsWith('.yml')) && !known.has(f)) {
        issues.push({
          file: join(dir, f),
          path: '',
          message: `not a known config file; expected ${[...known].join(', ')}`,
        });
      }
    }
  }

  const dataDir = env.NETSVC_DATA_DIR
    ? resolve(env.NETSVC_DATA_DIR)
    : resolve(dir, runtime.value.dataDir);
  return { configDir: dir, dataDir, runtime: runtime.value, services: loaded, issues };
}
