/**
 * The FTP socket adapter: control listeners, session limits, and what sessions share
 * (accounts, quota accounting, passive port range, TLS context, log files, metrics).
 *
 * Limits at accept time (RFC 959 §5.4 lets the server answer 421 "Service not
 * available, closing control connection"): `maxClients` (vsftpd max_clients) and
 * `maxPerIp` (vsftpd max_per_ip, counted by src/net/connections-per-source.ts), with
 * vsftpd's texts, and sources banned by the failed-login back-off (fail2ban blocks them
 * at the firewall; here they get 421 at once and hold no session). Everything per session
 * lives in connection-adapter.ts; the back-off (login-guard.ts) is shared by all of them.
 */
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import type { FtpConfig } from './config.js';
import type { FtpMetrics } from './metrics.js';
import { AccountStore } from './account-store.js';
import { QuotaStore } from './quota-store.js';
import { PassivePorts } from './data-channel-adapter.js';
import { FtpConnection, type ConnectionContext } from './connection-adapter.js';
import { LogFile } from './log-file-adapter.js';
import { canonicalAddress } from './data-address.js';
import { reply } from './reply.js';
import { LoginGuard } from './login-guard.js';
import { ConnectionsPerSource } from '../../src/net/connections-per-source.js';
import { LogLimit } from '../../src/log-limit.js';

export interface FtpServerDeps {
  readonly log: Logger;
  readonly metrics: FtpMetrics;
  readonly configDir: string;
  readonly dataDir: string;
  readonly clock: Clock;
}

export class FtpServer {
  private readonly listeners: Server[] = [];
  private readonly conns = new Set<FtpConnection>();
  private perSource = new ConnectionsPerSource(0);
  /** 10 lines per message per 10 s, as journald's RateLimitBurst per interval. */
  private readonly logLimit = new LogLimit({ intervalMs: 10_000, burst: 10 });
  private ctx: ConnectionContext | undefined;
  private nextId = 1;
  private started = false;
  /** Bound control addresses after start (port 0 resolved), for tests. */
  readonly bound: { address: string; port: number }[] = [];

  constructor(
    private readonly cfg: FtpConfig,
    private readonly deps: FtpServerDeps,
  ) {}

  async start(): Promise<void> {
    const { cfg, deps } = this;
    const accounts = new AccountStore(cfg, deps.configDir, deps.dataDir, deps.log);
    let secureContext: SecureContext | undefined;
    if (cfg.tls.enabled) {
      secureContext = createSecureContext({
        cert: readFileSync(resolve(deps.configDir, cfg.tls.cert)),
        key: readFileSync(resolve(deps.configDir, cfg.tls.key)),
        minVersion: 'TLSv1.2',
      });
    }
    const logFile = (p: string | null): LogFile | undefined =>
      p === null ? undefined : new LogFile(resolve(deps.dataDir, p), deps.log);
    const l = cfg.limits;
    this.perSource = new ConnectionsPerSource(l.maxPerIp);
    const b = cfg.loginBackoff;
    const mask = (m: string): number => parseInt(m, 8) & 0o777;
    this.ctx = {
      sessionOptions: {
        banner: cfg.banner,
        activeEnabled: cfg.active.enabled,
        passiveEnabled: cfg.passive.enabled,
        passiveAddress: cfg.passive.address ?? undefined,
        tlsAvailable: secureContext !== undefined,
        tlsRequiredForLogin: secureContext !== undefined && cfg.tls.requireForLogin,
        tlsRequiredForData: secureContext !== undefined && cfg.tls.requireForData,
        maxLoginFails: l.maxLoginFails,
        failedLoginDelayMs: l.failedLoginDelayMs,
        idleTimeoutMs: l.idleTimeoutMs,
        dataTimeoutMs: l.dataTimeoutMs,
        dataOpenTimeoutMs: l.dataOpenTimeoutMs,
        maxQueuedLines: l.maxQueuedLines,
        loginTimeoutMs: l.loginTimeoutMs,
        chmodEnabled: cfg.siteChmod.enabled,
        chmodFileMask: mask(cfg.siteChmod.fileModeMask),
        chmodDirMask: mask(cfg.siteChmod.dirModeMask),
      },
      loginGuard: new LoginGuard({
        findTimeMs: b.findTimeMs,
        banTimeMs: b.banTimeMs,
        delayMs: b.delayMs,
        maxDelayMs: b.maxDelayMs,
        maxFailuresPerSource: b.maxFailuresPerSource,
        maxFailuresPerAccountSource: b.maxFailuresPerAccountSource,
        maxFailuresPerAccount: b.maxFailuresPerAccount,
      }),
      logLimit: this.logLimit,
      maxLineBytes: l.maxLineBytes,
      umask: parseInt(cfg.umask, 8),
      activeSourcePort: cfg.active.sourcePort,
      accounts,
      quota: new QuotaStore(),
      passivePorts: new PassivePorts(cfg.passive.portMin, cfg.passive.portMax),
      secureContext,
      metrics: deps.metrics,
      log: deps.log,
      clock: deps.clock,
      protocolLog: logFile(cfg.protocolLog),
      xferlog: logFile(cfg.xferlog),
    };
    for (const li of cfg.listen) {
      const srv = createServer({ noDelay: true }, (s) => this.onConnection(s));
      await new Promise<void>((ok, fail) => {
        srv.once('error', fail);
        srv.listen(li.port, li.address, () => {
          srv.off('error', fail);
          ok();
        });
      });
      srv.on('error', (e) => deps.log.error({ err: e }, 'ftp listener error'));
      this.listeners.push(srv);
      const port = (srv.address() as AddressInfo).port;
      this.bound.push({ address: li.address, port });
      deps.log.info(
        {
          address: li.address,
          port,
          users: accounts.names(),
          active: cfg.active.enabled,
          passive: cfg.passive.enabled,
          tls: cfg.tls.enabled,
        },
        'listening',
      );
    }
    this.started = true;
  }

  private onConnection(s: Socket): void {
    const ctx = this.ctx;
    if (!ctx || !this.started) {
      s.destroy();
      return;
    }
    s.on('error', () => {});
    const ip = canonicalAddress(s.remoteAddress ?? '')?.host ?? '?';
    const l = this.cfg.limits;
    const refuse = (result: string, text: string): void => {
      this.deps.metrics.connections.inc([result]);
      const { write, suppressed } = this.logLimit.admit(
        `connection refused ${result}`,
        this.deps.clock.now(),
      );
      if (write)
        this.deps.log.warn(
          { client: ip, result, ...(suppressed > 0 ? { suppressed } : {}) },
          'connection refused',
        );
      // RFC 959 §5.4: "421 Service not available, closing control connection".
      s.end(reply(421, text).text);
      setTimeout(() => s.destroy(), 1000).unref();
    };
    if (this.conns.size >= l.maxClients)
      return refuse('too_many', 'There are too many connected users, please try later.');
    if (ctx.loginGuard.sourceBanned(ip, this.deps.clock.now()))
      return refuse('banned', 'Too many failed logins from your internet address.');
    if (!this.perSource.acquire(ip))
      return refuse(
        'too_many_per_ip',
        'There are too many connections from your internet address.',
      );
    this.deps.metrics.connections.inc(['accepted']);
    this.deps.metrics.sessions.inc();
    const conn = new FtpConnection(s, ctx, this.nextId++, () => {
      this.conns.delete(conn);
      this.perSource.release(ip);
      this.deps.metrics.sessions.dec();
    });
    this.conns.add(conn);
    conn.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    const closing = this.listeners.map((srv) => new Promise<void>((ok) => srv.close(() => ok())));
    for (const c of [...this.conns]) c.destroy();
    await Promise.all(closing);
    this.listeners.length = 0;
    await this.ctx?.protocolLog?.close();
    await this.ctx?.xferlog?.close();
  }

  ready(): boolean {
    return this.started;
  }

  sessionCount(): number {
    return this.conns.size;
  }
}
