/**
 * The contract between the runner and a service.
 *
 * A service definition names itself, brings the TypeBox schema of its YAML file (which holds
 * every default), and a `create()` that receives the frozen, validated config and a context
 * (logger, metrics registry, data dir, clock) and returns a started-on-demand Service.
 * The runner calls `start()` in the order of services/index.ts under a deadline and `stop()`
 * in reverse order. `reload()` is optional (SIGHUP, admin `POST /reload`). `keyCounters`
 * tells the monitor which metrics are its requests and errors (admin `GET /services`).
 */
import type { TSchema, Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from './clock.js';
import type { EnvOverride } from './config.js';

export interface ServiceContext {
  /** Child logger tagged `{ svc: name }`. */
  readonly log: Logger;
  /** Process-wide metrics registry; metric names start with `<svc>_`. */
  readonly metrics: Registry;
  /** Directory for this process's persistent state (SQLite files). Created by the runner. */
  readonly dataDir: string;
  /** Directory the config file was read from; relative paths in a config resolve here. */
  readonly configDir: string;
  readonly clock: Clock;
}

export interface Service {
  /** Bind sockets, load state. Resolves when the service is ready to serve. */
  start(): Promise<void>;
  /** Stop accepting, finish or drop in-flight work, release every resource. */
  stop(): Promise<void>;
  /** Re-read what can change without a restart (zones, sites). Must not drop traffic. */
  reload?(): Promise<void>;
  /** True while the service can serve (drives /readyz). */
  ready(): boolean;
  /**
   * Optional read-only state for operators, served as JSON on the admin listener at
   * `GET /state/<name>` (the monitor's tables, `netsvc leases`): a plain JSON-able value,
   * computed on demand, no secrets. Shapes per service: services/monitor/README.md.
   */
  state?(): unknown;
}

/**
 * One metric's samples, optionally narrowed by labels. Plain JSON data, because the admin
 * listener serves it (`GET /services`) to monitors that may run another version. Each label
 * value is a regular expression the whole value must match, as PromQL's `=~` is anchored:
 * `{ rcode: 'SERVFAIL' }` is that exact value, `{ class: '5..' }` any 5xx class.
 */
export interface SeriesMatch {
  readonly metric: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * What counts as a request and as an error of a service, summed over every matching sample.
 * Errors are failures a person should look at (SERVFAIL, 5xx, a bug caught at an adapter),
 * not a client's own mistake (NXDOMAIN, 404, a wrong password). Metrics start `<svc>_`.
 */
export interface KeyCounters {
  readonly requests: readonly SeriesMatch[];
  readonly errors: readonly SeriesMatch[];
}

/** A running service as the admin listener describes it (`GET /services`). */
export interface ServiceDescription {
  readonly name: string;
  /** null: the service declares none (the monitor uses `<svc>_requests_total` …). */
  readonly keyCounters: KeyCounters | null;
}

export interface ServiceDefinition<S extends TSchema = TSchema> {
  readonly name: string;
  /** Schema of `<name>.yaml`; must have `enabled` and `additionalProperties: false`. */
  readonly config: S;
  /** Optional semantic checks beyond the schema: return `/path: message` strings. */
  readonly check?: (cfg: Static<S>, configDir: string) => string[];
  /**
   * Optional: the service's own legacy environment variables turned into overrides,
   * applied before NETSVC_<SVC>__… (the DHCP service reads the reference's IFDHCP…).
   */
  readonly envOverrides?: (env: NodeJS.ProcessEnv) => readonly EnvOverride[];
  /** Optional: the metrics the monitor charts as this service's requests and errors. */
  readonly keyCounters?: KeyCounters;
  readonly create: (cfg: Static<S>, ctx: ServiceContext) => Service;
}

export function defineService<S extends TSchema>(def: ServiceDefinition<S>): ServiceDefinition<S> {
  return def;
}

/**
 * A definition with its config type hidden, as the registry, the config loader and the
 * runner hold a list of them. The config reaches `check` and `create` only through
 * `Value.Check` against the definition's own schema (a type guard), so the link between
 * schema and value is kept by the checker instead of a cast; loadConfigDir validated the
 * value already, so the guard never fails for a value it produced.
 */
export interface RegisteredService {
  readonly name: string;
  readonly config: TSchema;
  readonly envOverrides?: (env: NodeJS.ProcessEnv) => readonly EnvOverride[];
  readonly keyCounters?: KeyCounters;
  check(value: unknown, configDir: string): string[];
  create(value: unknown, ctx: ServiceContext): Service;
}

export function registerService<S extends TSchema>(def: ServiceDefinition<S>): RegisteredService {
  const valid = (value: unknown): Static<S> => {
    if (Value.Check(def.config, value)) return value;
    const first = Value.Errors(def.config, value).First();
    throw new Error(
      `${def.name}: config does not match its schema at ${first?.path || '/'}: ` +
        `${first?.message ?? 'invalid'} (load it with loadConfigDir)`,
    );
  };
  return {
    name: def.name,
    config: def.config,
    ...(def.envOverrides ? { envOverrides: def.envOverrides } : {}),
    ...(def.keyCounters ? { keyCounters: def.keyCounters } : {}),
    check: (value, configDir) => def.check?.(valid(value), configDir) ?? [],
    create: (value, ctx) => def.create(valid(value), ctx),
  };
}

/** What `GET /services` says about a registered service. */
export function describeService(def: RegisteredService): ServiceDescription {
  return { name: def.name, keyCounters: def.keyCounters ?? null };
}
