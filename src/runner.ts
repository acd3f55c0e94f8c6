/**
 * The runner: starts services in order under a deadline, stops them in reverse, turns
 * signals into a clean stop, and reports readiness.
 *
 * A start failure stops the services already started and becomes a RunnerError whose
 * message a person can act on (port in use, permission denied for a privileged port,
 * a bad zone line). Errors that escape a service at run time are logged with their stack
 * and counted; the process keeps serving (DESIGN.md rule 2), except for errors flagged
 * `fatal` by a service that can no longer serve: then the process exits non-zero so the
 * container's restart policy brings it back.
 */
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RegisteredService, Service } from './service.js';
import { serviceUpGauge } from './metrics.js';
import { systemClock } from './clock.js';

export class RunnerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Turn a listen/bind error into a sentence with the fix. */
export function explainStartError(svc: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = err.address !== undefined ? ` ${err.address}:${err.port ?? ''}` : '';
  switch (err.code) {
    case 'EADDRINUSE':
      return `${svc}: address${where} already in use; stop the other server or change the port in ${svc}.yaml`;
    case 'EACCES':
    case 'EPERM':
      return (
        `${svc}: permission denied to listen on${where}; ports below 1024 need CAP_NET_BIND_SERVICE ` +
        `(the containers grant it) or use the dev profile (config/dev, ports 10000 + standard)`
      );
    case 'EADDRNOTAVAIL':
      return `${svc}: address${where} is not configured on this host; fix the listen address in ${svc}.yaml`;
    default:
      return `${svc}: ${err.message ?? String(e)}`;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(
      () => fail(new RunnerError('ERR_RUNNER_TIMEOUT', `${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export interface PlannedService {
  readonly def: RegisteredService;
  readonly config: Record<string, unknown>;
}

export class Runner {
  private readonly started: { name: string; svc: Service }[] = [];
  private readonly up;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly opts: {
      log: Logger;
      metrics: Registry;
      dataDir: string;
      configDir: string;
      startTimeoutMs: number;
      stopTimeoutMs: number;
    },
  ) {
    this.up = serviceUpGauge(opts.metrics);
  }

  /** Start every planned service in order; on failure stop those started and throw. */
  async start(plan: readonly PlannedService[]): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    for (const { def, config } of plan) {
      const log = this.opts.log.child({ svc: def.name });
      const t0 = performance.now();
      let svc: Service | undefined;
      try {
        svc = def.create(config, {
          log,
          metrics: this.opts.metrics,
          dataDir: this.opts.dataDir,
          configDir: this.opts.configDir,
          clock: systemClock,
        });
        await withDeadline(svc.start(), this.opts.startTimeoutMs, `${def.name} start`);
      } catch (e) {
        const message = e instanceof RunnerError ? e.message : explainStartError(def.name, e);
        log.error({ err: e }, 'start failed');
        // Release what the failed service had bound before it failed, then the others.
        if (svc) {
          await withDeadline(svc.stop(), this.opts.stopTimeoutMs, `${def.name} stop`).catch(
            (err: unknown) => log.warn({ err }, 'stop after failed start'),
          );
        }
        await this.stop();
        throw new RunnerError('ERR_RUNNER_START', message);
      }
      this.started.push({ name: def.name, svc });
      this.up.set({ svc: def.name }, 1);
      log.info({ ms: Math.round(performance.now() - t0) }, 'started');
    }
  }

  readiness(): { ready: boolean; services: Record<string, boolean> } {
    const services: Record<string, boolean> = {};
    let ready = this.started.length > 0 && this.stopping === undefined;
    for (const { name, svc } of this.started) {
      const r = svc.ready();
      services[name] = r;
      this.up.set({ svc: name }, r ? 1 : 0);
      if (!r) ready = false;
    }
    return { ready, services };
  }

  /** A started service's `state()` (admin `GET /state/<name>`); undefined if none. */
  state(name: string): unknown {
    const svc = this.started.find((s) => s.name === name)?.svc;
    return svc?.state?.();
  }

  async reload(): Promise<{ ok: boolean; results: Record<string, string> }> {
    const results: Record<string, string> = {};
    let ok = true;
    for (const { name, svc } of this.started) {
      if (!svc.reload) continue;
      try {
        await svc.reload();
        results[name] = 'reloaded';
      } catch (e) {
        ok = false;
        results[name] = (e as Error).message;
        this.opts.log.child({ svc: name }).error({ err: e }, 'reload failed; previous state kept');
      }
    }
    return { ok, results };
  }

  /** Stop in reverse order within the stop deadline. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const all = (async () => {
        while (this.started.length > 0) {
          const { name, svc } = this.started.pop()!;
          this.up.set({ svc: name }, 0);
          try {
            await svc.stop();
            this.opts.log.info({ svc: name }, 'stopped');
          } catch (e) {
            this.opts.log.error({ svc: name, err: e }, 'stop failed');
          }
        }
      })();
      await withDeadline(all, this.opts.stopTimeoutMs, 'stop');
    })();
    return this.stopping;
  }
}
