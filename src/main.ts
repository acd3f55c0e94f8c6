#!/usr/bin/env node
/**
 * `netsvc [service…] [--config DIR] [--check]`
 * `netsvc check [--config DIR]`      validate the config dir and exit 0/1
 * `netsvc reload [--config DIR]`     ask a running process (its admin port) to reload
 * `netsvc status|leases|registrations|calls|passwd …`  operator commands (src/cli/operator.ts)
 *
 * With no service named, runs every service enabled in the config dir in this one process
 * (what `npm start` does); with names, only those (what a container runs).
 * Exit codes: 0 clean stop, 1 config or start failure, 2 usage.
 */
import { resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { request } from 'node:http';
import { loadServices, serviceNames, isServiceName } from '../services/index.js';
import { describeService, type RegisteredService } from './service.js';
import { loadConfigDir, formatIssue, type LoadedConfig } from './config.js';
import { createRootLogger } from './log.js';
import { createRegistry } from './metrics.js';
import { Runner, RunnerError, type PlannedService } from './runner.js';
import { startAdmin, type AdminServer } from './admin.js';
import { isOperatorCommand, OPERATOR_USAGE } from './cli/commands.js';

const USAGE = `usage: netsvc [service…] [--config DIR] [--check]
       netsvc check [--config DIR]
       netsvc reload [--config DIR]
${OPERATOR_USAGE}
services: ${serviceNames.join(', ')}
env: NETSVC_CONFIG_DIR, NETSVC_DATA_DIR, NETSVC_<SERVICE>__<KEY>=value (see README)`;

interface Args {
  command: 'run' | 'check' | 'reload' | 'help';
  names: string[];
  configDir: string;
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Args | string {
  const names: string[] = [];
  let configDir = env.NETSVC_CONFIG_DIR ?? 'config/dev';
  let command: Args['command'] = 'run';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') {
      const v = argv[++i];
      if (!v) return '--config needs a directory';
      configDir = v;
    } else if (a.startsWith('--config=')) configDir = a.slice('--config='.length);
    else if (a === '--check') command = 'check';
    else if (a === '--help' || a === '-h') command = 'help';
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else if (names.length === 0 && command === 'run' && (a === 'check' || a === 'reload'))
      command = a;
    else names.push(a);
  }
  for (const n of names) if (!isServiceName(n)) return `unknown service "${n}"`;
  return { command, names, configDir: resolve(configDir) };
}

function plan(
  cfg: LoadedConfig,
  services: readonly RegisteredService[],
  names: readonly string[],
): PlannedService[] {
  const out: PlannedService[] = [];
  for (const def of services) {
    const entry = cfg.services.get(def.name);
    if (!entry) continue;
    // Named on the command line: run it. Otherwise: only when configured and enabled.
    if (names.length === 0 && (!entry.present || entry.value.enabled === false)) continue;
    out.push({ def, config: entry.value });
  }
  return out;
}

async function reloadRemote(cfg: LoadedConfig): Promise<number> {
  const { address, port } = cfg.runtime.admin;
  return new Promise((done) => {
    const req = request({ host: address, port, path: '/reload', method: 'POST' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        process.stdout.write(body);
        done(res.statusCode === 200 ? 0 : 1);
      });
    });
    req.on('error', (e) => {
      process.stderr.write(
        `netsvc reload: cannot reach the admin port ${address}:${port}: ${e.message}\n`,
      );
      done(1);
    });
    req.end();
  });
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (isOperatorCommand(argv[0])) {
    const { runOperatorCommand } = await import('./cli/operator.js');
    return runOperatorCommand(argv[0], argv.slice(1), env);
  }
  const args = parseArgs(argv, env);
  if (typeof args === 'string') {
    process.stderr.write(`netsvc: ${args}\n${USAGE}\n`);
    return 2;
  }
  if (args.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  // Only the services named are loaded and validated (a container runs one); the other
  // names still count as known for their env variables and config files.
  const services = await loadServices(args.names.length > 0 ? args.names : serviceNames);
  const cfg = loadConfigDir(args.configDir, services, env, serviceNames);
  if (cfg.issues.length > 0) {
    for (const i of cfg.issues) process.stderr.write(formatIssue(i) + '\n');
    process.stderr.write(`netsvc: ${cfg.issues.length} config issue(s) in ${cfg.configDir}\n`);
    return 1;
  }
  if (args.command === 'check') {
    const p = plan(cfg, services, args.names);
    process.stdout.write(
      `config ${cfg.configDir} OK: ${p.map((s) => s.def.name).join(', ') || 'no service enabled'}\n`,
    );
    return 0;
  }
  if (args.command === 'reload') return reloadRemote(cfg);

  const log = createRootLogger({
    level: cfg.runtime.log.level as 'info',
    format: cfg.runtime.log.format,
  });
  const metrics = createRegistry();
  const runner = new Runner({
    log,
    metrics,
    dataDir: cfg.dataDir,
    configDir: cfg.configDir,
    startTimeoutMs: cfg.runtime.startTimeoutMs,
    stopTimeoutMs: cfg.runtime.stopTimeoutMs,
  });
  const planned = plan(cfg, services, args.names);
  if (planned.length === 0) {
    process.stderr.write(`netsvc: no service enabled in ${cfg.configDir}\n`);
    return 1;
  }

  let exitCode = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let admin: AdminServer | undefined;
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'stopping');
    Promise.all([runner.stop(), admin?.close()])
      .catch((e: unknown) => {
        log.error({ err: e }, 'stop did not complete');
        exitCode = 1;
      })
      .finally(resolveDone);
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    void runner.reload();
  });
  process.on('uncaughtException', (e) => {
    // A bug escaped a handler: log with its stack and keep serving (DESIGN.md rule 2).
    log.error({ err: e }, 'uncaught exception');
  });
  process.on('unhandledRejection', (e) => log.error({ err: e }, 'unhandled rejection'));

  try {
    await runner.start(planned);
  } catch (e) {
    process.stderr.write(`netsvc: ${(e as Error).message}\n`);
    log.flush?.();
    return 1;
  }
  if (cfg.runtime.admin.enabled) {
    try {
      admin = await startAdmin({
        address: cfg.runtime.admin.address,
        port: cfg.runtime.admin.port,
        registry: metrics,
        hooks: {
          readiness: () => runner.readiness(),
          reload: () => runner.reload(),
          state: (n) => runner.state(n),
          services: () => planned.map((p) => describeService(p.def)),
        },
      });
    } catch (e) {
      await runner.stop();
      process.stderr.write(
        `netsvc: admin listener ${cfg.runtime.admin.address}:${cfg.runtime.admin.port}: ${(e as Error).message}` +
          ` (change admin.port in netsvc.yaml or NETSVC_ADMIN__PORT)\n`,
      );
      return 1;
    }
  }
  log.info(
    { services: planned.map((p) => p.def.name), admin: admin?.port ?? null, dataDir: cfg.dataDir },
    'ready',
  );
  await done;
  return exitCode;
}

// Run when executed directly, also through the npm bin symlink.
const isEntry =
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isEntry) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
      // Lingering handles must not keep a stopped process alive.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (e: unknown) => {
      process.stderr.write(
        `netsvc: ${e instanceof RunnerError ? e.message : (e as Error).stack}\n`,
      );
      process.exit(1);
    },
  );
}
