/**
 * Schema of `monitor.yaml`: every default lives here with a description per field.
 *
 * The monitor scrapes the admin listener of every netsvc process named in `targets`
 * (`/readyz`, `/metrics`, `/state/<svc>`), reads the host's /proc and /sys, keeps a bounded
 * history in SQLite, and serves a read-only page and JSON API on `listen`.
 *
 * Auth: with neither `auth.basic` nor `auth.tokenFile` the page is open to whoever can reach
 * `listen` (keep it on a private address). Passwords are scrypt hashes from `netsvc passwd`;
 * the token lives in a file (a Docker secret), never in the repository.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AdminTarget } from '../../src/observe/admin-target.js';
import { isPasswordHash } from '../../src/password-hash.js';

export const MonitorConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Run the monitor' }),
    listen: Type.Object(
      {
        address: Type.String({
          default: '127.0.0.1',
          description: 'Address of the page and API (a private one)',
        }),
        port: Type.Integer({
          default: 18888,
          minimum: 0,
          maximum: 65535,
          description: 'Port; 0 picks a free one',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    targets: Type.Array(AdminTarget, {
      default: [{ name: 'netsvc', url: 'http://127.0.0.1:10090' }],
      description: 'Admin listeners to scrape; one per netsvc process',
    }),
    scrapeIntervalSeconds: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 300,
      description:
        'Time between two scrapes of every target and the host (Prometheus default: 1 min; 10 s here, like RPi-Monitor)',
    }),
    scrapeTimeoutMs: Type.Integer({
      default: 3000,
      minimum: 100,
      description:
        'Deadline of one HTTP request to a target; a target that misses it counts as down',
    }),
    history: Type.Object(
      {
        rawHours: Type.Integer({
          default: 24,
          minimum: 1,
          maximum: 168,
          description: 'How long samples are kept at the scrape interval',
        }),
        rollupSeconds: Type.Integer({
          default: 300,
          minimum: 60,
          description: 'Width of the averaged buckets kept after rawHours',
        }),
        rollupDays: Type.Integer({
          default: 30,
          minimum: 1,
          maximum: 400,
          description: 'How long the averaged buckets are kept',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    host: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Sample CPU, load, memory, temperature, network of the host',
        }),
        procDir: Type.String({ default: '/proc', description: 'Where /proc is mounted' }),
        sysDir: Type.String({
          default: '/sys',
          description: 'Where /sys is mounted (thermal zones)',
        }),
        interfaces: Type.Array(Type.String(), {
          default: [],
          description: 'Interfaces whose bytes are charted; empty = every interface but lo',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        basic: Type.Array(
          Type.Object(
            {
              user: Type.String({ minLength: 1, pattern: '^[^:]+$', description: 'Login name' }),
              passwordHash: Type.String({
                description: 'scrypt$… hash printed by `netsvc passwd`',
              }),
            },
            { additionalProperties: false },
          ),
          { default: [], description: 'HTTP basic auth users; empty = no basic auth' },
        ),
        tokenFile: Type.Union([Type.Null(), Type.String({ minLength: 1 })], {
          default: null,
          description:
            'File holding a bearer token (a Docker secret, e.g. /run/secrets/monitor_token); relative to the config dir. Sent as `Authorization: Bearer …` or `?token=`',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    storeFile: Type.String({
      default: 'monitor.sqlite',
      description: 'History database, relative to the data dir',
    }),
  },
  { additionalProperties: false },
);
export type MonitorConfig = Static<typeof MonitorConfig>;

/** Semantic checks beyond the schema, as `/path: message`. */
export function checkMonitorConfig(cfg: MonitorConfig): string[] {
  const issues: string[] = [];
  const names = new Set<string>();
  cfg.targets.forEach((t, i) => {
    if (names.has(t.name)) issues.push(`/targets/${i}/name: duplicate target name "${t.name}"`);
    names.add(t.name);
    try {
      new URL(t.url);
    } catch {
      issues.push(`/targets/${i}/url: not a URL`);
    }
  });
  cfg.auth.basic.forEach((u, i) => {
    if (!isPasswordHash(u.passwordHash)) {
      issues.push(
        `/auth/basic/${i}/passwordHash: not a scrypt hash; make one with \`netsvc passwd\``,
      );
    }
  });
  return issues;
}
