/**
 * One control connection: the socket, the line framer, the session state machine and one
 * timer; it performs the session's effects (password checks, file operations, passive
 * listeners, transfers, TLS) and feeds their results back as inputs.
 *
 * Transfers (RFC 959 §3.3 stream mode): the file is opened (or the listing built) before
 * the data connection, so "550" comes without a 150; then the data connection is opened,
 * "150" sent, bytes streamed, and "226"/"426"/"451"/"552" sent by the session. Uploads
 * with STOR go to a hidden temporary file renamed over the target at the end, so a
 * quota refusal (552) leaves nothing behind and an overwritten file survives it; an
 * upload cut by ABOR or a lost connection keeps what arrived (renamed into place, as
 * vsftpd keeps partial files) so the client can resume with REST or APPE.
 *
 * A bug (an exception not mapped to a reply) is logged with its stack, counted, answered
 * with the generic failure, and the connection keeps serving (DESIGN.md rule 2).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { rename, unlink, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { CommandLineFramer } from './command-line.js';
import {
  FtpSession,
  COMMANDS,
  type SessionOptions,
  type SessionOutput,
  type SessionInput,
  type SessionEvent,
  type FsOp,
  type FsResult,
  type TransferRequest,
  type TransferOutcome,
} from './session.js';
import { HomeFs, FsFailure, fsErrorOf } from './home-fs-adapter.js';
import { PassiveListener, PassivePorts, connectActive, wrapTls } from './data-channel-adapter.js';
import type { AccountStore, AccountRecord } from './account-store.js';
import type { QuotaStore } from './quota-store.js';
import type { FtpMetrics } from './metrics.js';
import type { LogFile } from './log-file-adapter.js';
import { listLine, mlsxLine, globMatch } from './listing.js';
import { xferlogLine, ctime } from './xferlog.js';
import { RateLimiter } from './rate-limit.js';
import { baseName } from './virtual-path.js';
import type { LoginGuard, LoginVerdict } from './login-guard.js';
import type { LogLimit } from '../../src/log-limit.js';

export interface ConnectionContext {
  readonly sessionOptions: Omit<SessionOptions, 'peerAddress' | 'localAddress'>;
  readonly maxLineBytes: number;
  readonly umask: number;
  readonly activeSourcePort: number;
  readonly accounts: AccountStore;
  readonly quota: QuotaStore;
  readonly passivePorts: PassivePorts;
  readonly secureContext: SecureContext | undefined;
  readonly metrics: FtpMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly protocolLog: LogFile | undefined;
  readonly xferlog: LogFile | undefined;
  /** Failed-login back-off shared by all sessions (per source, account+source, account). */
  readonly loginGuard: LoginGuard;
  /** Rate limit for repeated warning lines (hostile clients must not fill the log). */
  readonly logLimit: LogLimit;
}

const KNOWN_VERBS = new Set<string>(COMMANDS);

class QuotaExceeded extends Error {
  readonly code = 'ERR_FTP_QUOTA';
}
class Aborted extends Error {
  readonly code = 'ERR_FTP_ABORTED';
}

interface RunningTransfer {
  readonly id: number;
  abort(): void;
}

export class FtpConnection {
  private sock: Socket;
  private readonly session: FtpSession;
  private readonly framer: CommandLineFramer;
  private timer: NodeJS.Timeout | undefined;
  private account: AccountRecord | undefined;
  private home: HomeFs | undefined;
  private passive: PassiveListener | undefined;
  private transfer: RunningTransfer | undefined;
  private tlsStarting = false;
  private closed = false;
  private readonly peer: string;
  private readonly local: string;
  readonly log: Logger;

  constructor(
    private readonly raw: Socket,
    private readonly ctx: ConnectionContext,
    readonly id: number,
    private readonly onClosed: () => void,
  ) {
    this.sock = raw;
    this.peer = raw.remoteAddress ?? '?';
    this.local = raw.localAddress ?? '127.0.0.1';
    this.log = ctx.log.child({ session: id, client: this.peer });
    this.framer = new CommandLineFramer(ctx.maxLineBytes);
    this.session = new FtpSession(
      { ...ctx.sessionOptions, peerAddress: this.peer, localAddress: this.local },
      ctx.clock.now(),
    );
  }

  start(): void {
    this.raw.setNoDelay(true);
    this.raw.on('data', (c: Buffer) => this.onData(c));
    this.raw.on('error', (e) => this.log.debug({ err: e }, 'control connection error'));
    this.raw.on('close', () => this.cleanup());
    this.apply(this.session.greet());
  }

  /** Close at once (service stop). */
  destroy(): void {
    this.sock.destroy();
    this.cleanup();
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    for (const f of this.framer.push(chunk)) {
      if (this.closed || this.tlsStarting) return; // nothing after AUTH TLS until the handshake
      if (f.kind === 'too-long') {
        this.plog('FTP command', '<line too long>');
        this.feed({ kind: 'line-too-long' });
        continue;
      }
      const verb = f.line.split(' ', 1)[0]!.toUpperCase();
      this.ctx.metrics.commands.inc([KNOWN_VERBS.has(verb) ? verb : 'other']);
      this.plog('FTP command', verb === 'PASS' ? 'PASS <hidden>' : f.line);
      this.feed({ kind: 'line', line: f.line });
    }
  }

  private feed(input: SessionInput): void {
    if (this.closed) return;
    let outs: SessionOutput[];
    try {
      outs = this.session.handle(input, this.ctx.clock.now());
    } catch (e) {
      this.bug('session', e);
      this.write('500 Internal error.\r\n');
      return;
    }
    this.apply(outs);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const at = this.session.nextTimeout();
    if (at === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.closed) return;
        this.apply(this.session.handleTimeout(this.ctx.clock.now()));
      },
      Math.max(0, at - this.ctx.clock.now()) + 1,
    );
  }

  // ---------------------------------------------------------------- effects

  private apply(outs: readonly SessionOutput[]): void {
    for (const o of outs) {
      switch (o.kind) {
        case 'reply':
          this.write(o.reply.text);
          this.plog('FTP response', o.reply.text.replace(/\r\n$/, '').replace(/\r\n/g, ' | '));
          break;
        case 'check-password':
          void this.guard(
            'password',
            () => this.checkPassword(o.user, o.password),
            () => this.feed({ kind: 'password-checked', account: undefined }),
          );
          break;
        case 'fs':
          void this.guard(
            'fs',
            () => this.runFs(o.op),
            () => this.feed({ kind: 'fs-done', result: { ok: false, error: 'failed' } }),
          );
          break;
        case 'passive-listen':
          void this.openPassive();
          break;
        case 'close-passive':
          this.passive?.discard();
          this.passive = undefined;
          break;
        case 'transfer':
          void this.guard(
            'transfer',
            () => this.runTransfer(o.request),
            () =>
              this.feed({
                kind: 'transfer-done',
                id: o.request.id,
                outcome: 'file-error',
                bytes: 0,
              }),
          );
          break;
        case 'abort-transfer':
          if (this.transfer?.id === o.id) this.transfer.abort();
          break;
        case 'start-tls':
          this.startTls();
          break;
        case 'event':
          this.onEvent(o.event);
          break;
        case 'close':
          this.closeSoon();
          break;
      }
    }
    this.arm();
  }

  private async guard(where: string, f: () => Promise<void>, fallback: () => void): Promise<void> {
    try {
      await f();
    } catch (e) {
      this.bug(where, e);
      fallback();
    }
  }

  private bug(where: string, e: unknown): void {
    this.ctx.metrics.errors.inc([where]);
    this.log.error({ err: e, where }, 'ftp adapter bug; answered with a generic failure');
  }

  private write(text: string): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(text);
  }

  private plog(kind: string, text: string): void {
    const pl = this.ctx.protocolLog;
    if (!pl) return;
    const who = this.account?.name ?? '';
    pl.line(
      `${ctime(this.ctx.clock.now())} [session ${this.id}] [${who}] ${kind}: Client "${this.peer}", "${text}"`,
    );
  }

  private onEvent(e: SessionEvent): void {
    const m = this.ctx.metrics;
    switch (e.kind) {
      case 'login':
        m.logins.inc(['ok', e.anonymous ? 'anonymous' : 'user']);
        this.log.info({ user: e.user }, 'login');
        break;
      case 'login-failed':
        m.logins.inc(['failed', /^(anonymous|ftp)$/i.test(e.user) ? 'anonymous' : 'user']);
        this.warn({ user: e.user }, 'login failed');
        break;
      case 'refused':
        m.refused.inc([e.reason.replace('-', '_')]);
        this.warn({ reason: e.reason }, 'data connection request refused');
        break;
      case 'rejected':
        m.rejected.inc([e.reason.replace('-', '_')]);
        this.warn({ reason: e.reason }, 'request rejected');
        break;
      case 'timeout':
        m.timeouts.inc([e.which.replace('-', '_')]);
        if (e.which === 'login') this.warn({ which: e.which }, 'timeout');
        else this.log.info({ which: e.which }, 'timeout');
        break;
    }
  }

  private closeSoon(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.transfer?.abort();
    this.passive?.discard();
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  private cleanupDone = false;
  private cleanup(): void {
    if (this.cleanupDone) return;
    this.cleanupDone = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.transfer?.abort();
    this.passive?.discard();
    this.onClosed();
  }

  private startTls(): void {
    const ctx = this.ctx.secureContext;
    if (!ctx) return this.feed({ kind: 'tls-failed' });
    this.tlsStarting = true;
    this.raw.removeAllListeners('data');
    this.framer.reset();
    const t = new TLSSocket(this.raw, { isServer: true, secureContext: ctx });
    this.sock = t;
    t.on('secure', () => {
      this.tlsStarting = false;
      this.log.debug('control connection now TLS');
      this.feed({ kind: 'tls-ready' });
    });
    t.on('data', (c: Buffer) => this.onData(c));
    t.on('error', (e) => {
      this.log.info({ err: e.message }, 'TLS failed on the control connection');
      t.destroy();
      this.cleanup();
    });
  }

  /** A warn line, rate-limited per message (src/log-limit.ts). */
  private warn(fields: Record<string, unknown>, msg: string): void {
    const { write, suppressed } = this.ctx.logLimit.admit(msg, this.ctx.clock.now());
    if (write) this.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }

  private verdict(user: string, v: LoginVerdict): void {
    for (const key of v.newBans) {
      this.ctx.metrics.bans.inc([key.replace('-', '_')]);
      this.warn({ user, key }, 'login banned');
    }
  }

  private async checkPassword(user: string, password: string): Promise<void> {
    const guard = this.ctx.loginGuard;
    const refused = guard.admit(user, this.peer, this.ctx.clock.now());
    if (refused) {
      // Blocked (delay or ban): 530 without checking the password, so guesses made while
      // blocked can never succeed.
      this.ctx.metrics.loginRefused.inc([refused.blockedBy!.replace('-', '_')]);
      this.warn({ user, blockedBy: refused.blockedBy }, 'login refused unchecked');
      this.verdict(user, refused);
      return this.feed({
        kind: 'password-checked',
        account: undefined,
        delayMs: refused.delayMs,
        close: refused.banned,
      });
    }
    const acct = await this.ctx.accounts.check(user, password);
    const v = guard.result(user, this.peer, acct !== undefined, this.ctx.clock.now());
    this.verdict(user, v);
    if (acct) {
      this.account = acct;
      this.home = new HomeFs(acct.homeReal, this.ctx.umask);
      if (acct.quotaBytes > 0) await this.ctx.quota.prime(acct.name, acct.homeReal);
    }
    this.feed({
      kind: 'password-checked',
      account: acct,
      ...(acct ? {} : { delayMs: v.delayMs, close: v.banned }),
    });
  }

  private async runFs(op: FsOp): Promise<void> {
    const home = this.home;
    let result: FsResult;
    if (!home) result = { ok: false, error: 'denied' };
    else {
      try {
        switch (op.op) {
          case 'stat':
            result = { ok: true, stat: await home.stat(op.path) };
            break;
          case 'list':
            result = { ok: true, entries: await home.list(op.path) };
            break;
          case 'mkdir':
            await home.mkdir(op.path);
            result = { ok: true };
            break;
          case 'rmdir':
            await home.rmdir(op.path);
            result = { ok: true };
            break;
          case 'delete': {
            const freed = await home.delete(op.path);
            if (this.account && this.account.quotaBytes > 0)
              this.ctx.quota.add(this.account.name, -freed);
            this.xfer(op.path, freed, 'd', true, 0, true);
            result = { ok: true };
            break;
          }
          case 'rename':
            await home.rename(op.from, op.to);
            result = { ok: true };
            break;
          case 'chmod':
            await home.chmod(op.path, op.mode, op.fileMask, op.dirMask);
            result = { ok: true };
            break;
        }
      } catch (e) {
        if (!(e instanceof FsFailure) && (e as NodeJS.ErrnoException).code === undefined) throw e;
        result = { ok: false, error: fsErrorOf(e) };
      }
    }
    this.feed({ kind: 'fs-done', result });
  }

  private async openPassive(): Promise<void> {
    this.passive?.discard();
    const l = new PassiveListener(this.peer, (from) => {
      this.ctx.metrics.refused.inc(['theft']);
      this.log.warn(
        { from },
        'passive data connection from another address refused (connection theft)',
      );
    });
    try {
      const port = await l.open(this.ctx.passivePorts, this.local);
      this.passive = l;
      this.feed({ kind: 'passive-ready', port });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'no passive port could be opened');
      this.feed({ kind: 'passive-failed' });
    }
  }

  // ---------------------------------------------------------------- transfers

  private xfer(
    path: string,
    bytes: number,
    dir: 'o' | 'i' | 'd',
    binary: boolean,
    durationMs: number,
    complete: boolean,
  ): void {
    if (!this.ctx.xferlog || !this.account) return;
    this.ctx.xferlog.line(
      xferlogLine({
        endMs: this.ctx.clock.now(),
        durationMs,
        remoteHost: this.peer,
        bytes,
        path,
        binary,
        direction: dir,
        anonymous: this.account.anonymous,
        user: this.account.name,
        complete,
      }),
    );
  }

  private async buildListing(req: TransferRequest, home: HomeFs): Promise<Buffer> {
    const glob = req.glob;
    const entries = await home.list(
      req.path,
      glob === undefined ? undefined : (n) => globMatch(glob, n),
    );
    const now = this.ctx.clock.now();
    let lines: string[];
    if (req.kind === 'nlst') lines = entries.map((e) => e.name);
    else if (req.kind === 'list') lines = entries.map((e) => listLine(e, now));
    else {
      // RFC 3659 §7.2: MLSD of a non-directory is an error (501).
      const st = await home.stat(req.path);
      if (st.type !== 'dir') throw new FsFailure('not-dir');
      const facts = new Set(req.mlstFacts);
      lines = [
        mlsxLine(st, req.perms, facts, '.', 'cdir'),
        ...entries.map((e) => mlsxLine(e, req.perms, facts, e.name)),
      ];
    }
    return Buffer.from(lines.map((l) => l + '\r\n').join(''), 'utf8');
  }

  private async runTransfer(req: TransferRequest): Promise<void> {
    const home = this.home;
    const acct = this.account;
    if (!home || !acct)
      return this.feed({ kind: 'transfer-done', id: req.id, outcome: 'denied', bytes: 0 });
    const isList = req.kind === 'list' || req.kind === 'nlst' || req.kind === 'mlsd';
    const upload = req.kind === 'stor' || req.kind === 'appe' || req.kind === 'stou';
    const direction = isList ? 'listing' : upload ? 'upload' : 'download';
    const t0 = this.ctx.clock.now();
    let aborted = false;
    let data: Socket | undefined;
    let rejectAbort: (e: Error) => void = () => {};
    const abortP = new Promise<never>((_, rej) => (rejectAbort = rej));
    abortP.catch(() => {});
    const running: RunningTransfer = {
      id: req.id,
      abort: () => {
        if (aborted) return;
        aborted = true;
        data?.destroy();
        rejectAbort(new Aborted('aborted'));
      },
    };
    this.transfer = running;
    const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, abortP]);
    this.ctx.metrics.activeTransfers.inc();
    let outcome: TransferOutcome = 'ok';
    let bytes = 0;
    let progress: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (progress) clearInterval(progress);
      if (this.transfer === running) this.transfer = undefined;
      this.ctx.metrics.activeTransfers.dec();
      const result =
        outcome === 'ok'
          ? 'ok'
          : outcome === 'aborted'
            ? 'aborted'
            : outcome === 'quota'
              ? 'quota'
              : outcome === 'data-error' || outcome === 'file-error' || outcome === 'no-connection'
                ? 'failed'
                : 'refused';
      this.ctx.metrics.transfers.inc([direction, result]);
      if (bytes > 0)
        this.ctx.metrics.bytes.inc([direction === 'upload' ? 'upload' : 'download'], bytes);
      this.log.info(
        {
          kind: req.kind,
          path: req.path,
          bytes,
          outcome,
          ms: Math.round(this.ctx.clock.now() - t0),
        },
        'transfer',
      );
      this.feed({ kind: 'transfer-done', id: req.id, outcome, bytes });
    };

    // 1. The file side first: a 550 needs no data connection.
    let readFile: { handle: FileHandle; size: number } | undefined;
    let listing: Buffer | undefined;
    let up: UploadPlan | undefined;
    try {
      if (req.kind === 'retr') {
        readFile = await home.openRead(req.path);
        if (req.offset > readFile.size) {
          await readFile.handle.close();
          readFile = undefined;
          throw new FsFailure('failed');
        }
      } else if (isList) listing = await this.buildListing(req, home);
      else up = await this.prepareUpload(req, home, acct);
    } catch (e) {
      if (
        !(e instanceof FsFailure) &&
        (e as NodeJS.ErrnoException).code === undefined &&
        !(e instanceof QuotaExceeded)
      )
        throw e;
      outcome = e instanceof QuotaExceeded ? 'quota' : fsErrorOf(e);
      return finish();
    }

    // 2. The data connection.
    try {
      data = await race(this.dataSocket(req));
      if (aborted) data.destroy();
    } catch (e) {
      await readFile?.handle.close();
      await up?.cancel();
      outcome = aborted ? 'aborted' : 'no-connection';
      if (!aborted) this.log.info({ err: (e as Error).message }, 'data connection failed');
      return finish();
    }
    const sock = data;
    sock.on('error', () => {});

    // 3. 150, then the bytes.
    this.feed({
      kind: 'data-open',
      id: req.id,
      ...(readFile ? { size: readFile.size } : {}),
      ...(up ? { name: up.displayName } : {}),
    });
    const limiter =
      acct.maxRateBytesPerSec > 0 ? new RateLimiter(acct.maxRateBytesPerSec) : undefined;
    let counted = (): number => 0;
    let lastSeen = 0;
    progress = setInterval(() => {
      const n = counted();
      if (n !== lastSeen) {
        lastSeen = n;
        this.feed({ kind: 'progress', id: req.id });
      }
    }, 1000);
    progress.unref();
    let fileFailed = false;
    try {
      if (readFile) {
        // Rate-limited transfers read smaller chunks so the limit is smooth (about 8 per second).
        const hwm = limiter
          ? Math.min(256 * 1024, Math.max(4096, Math.floor(acct.maxRateBytesPerSec / 8)))
          : 256 * 1024;
        if (limiter) {
          const rs = readFile.handle.createReadStream({
            start: req.offset,
            highWaterMark: hwm,
            autoClose: true,
          });
          rs.on('error', () => (fileFailed = true));
          counted = () => rs.bytesRead;
          await race(pipeline(rs, this.throttle(limiter), sock));
          bytes = rs.bytesRead;
        } else {
          const sent = { n: 0 };
          counted = () => sent.n;
          await race(sendFile(readFile.handle, req.offset, sock, sent, () => (fileFailed = true)));
          bytes = sent.n;
          await readFile.handle.close().catch(() => undefined);
        }
      } else if (listing) {
        counted = () => listing.length;
        await race(pipeline(Readable.from([listing]), sock));
        bytes = listing.length;
      } else if (up) {
        if (limiter) {
          const ws = up.handle.createWriteStream({
            ...(up.start > 0 ? { start: up.start } : {}),
            highWaterMark: 256 * 1024,
          });
          ws.on('error', () => (fileFailed = true));
          counted = () => ws.bytesWritten;
          const stages: (Transform | Socket | Writable)[] = [];
          if (acct.quotaBytes > 0) stages.push(this.quotaGate(acct, up));
          stages.push(this.throttle(limiter));
          await race(pipeline(sock, ...(stages as [Transform]), ws));
          bytes = ws.bytesWritten;
        } else {
          const written = { n: 0 };
          counted = () => written.n;
          const quota = this.ctx.quota;
          const gate =
            acct.quotaBytes > 0
              ? (n: number): void => {
                  const used = quota.add(acct.name, n);
                  up.counted += n;
                  if (used > acct.quotaBytes) throw new QuotaExceeded('quota exceeded');
                }
              : undefined;
          await race(
            receiveFile(
              sock,
              up.handle,
              up.start > 0 ? up.start : null,
              written,
              gate,
              () => (fileFailed = true),
            ),
          );
          bytes = written.n;
        }
        await up.commit();
      }
    } catch (e) {
      outcome = aborted
        ? 'aborted'
        : e instanceof QuotaExceeded
          ? 'quota'
          : fileFailed
            ? 'file-error'
            : 'data-error';
      sock.destroy();
      if (readFile) bytes = Math.max(0, counted());
      if (up) {
        bytes = counted();
        await (outcome === 'quota' ? up.cancel() : up.keepPartial()).catch((err: unknown) =>
          this.log.warn({ err }, 'upload cleanup failed'),
        );
      }
    }
    if (outcome === 'ok') {
      // The peer closes after EOF; do not hold the socket forever if it does not.
      sock.setTimeout(5000, () => sock.destroy());
    }
    if (!isList)
      this.xfer(
        up ? up.virtualPath : req.path,
        bytes,
        upload ? 'i' : 'o',
        req.binary,
        this.ctx.clock.now() - t0,
        outcome === 'ok',
      );
    finish();
  }

  private async dataSocket(req: TransferRequest): Promise<Socket> {
    let s: Socket;
    if (req.endpoint.kind === 'passive') {
      const l = this.passive;
      if (!l) throw new Error('no passive listener');
      this.passive = undefined;
      try {
        s = await l.accept();
      } finally {
        l.close();
      }
    } else {
      s = await connectActive(
        req.endpoint.target.host,
        req.endpoint.target.port,
        this.local,
        this.ctx.activeSourcePort,
      );
    }
    if (req.tls) {
      if (!this.ctx.secureContext) throw new Error('PROT P without a certificate');
      return wrapTls(s, this.ctx.secureContext);
    }
    return s;
  }

  private throttle(limiter: RateLimiter): Transform {
    const clock = this.ctx.clock;
    return new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const wait = limiter.take(chunk.length, clock.monotonic());
        if (wait <= 0) cb(null, chunk);
        else setTimeout(() => cb(null, chunk), wait);
      },
    });
  }

  /** Counts upload bytes into the user's usage and fails the pipeline past the quota. */
  private quotaGate(acct: AccountRecord, up: UploadPlan): Transform {
    const quota = this.ctx.quota;
    return new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const used = quota.add(acct.name, chunk.length);
        up.counted += chunk.length;
        if (used > acct.quotaBytes) cb(new QuotaExceeded('quota exceeded'));
        else cb(null, chunk);
      },
    });
  }

  private async prepareUpload(
    req: TransferRequest,
    home: HomeFs,
    acct: AccountRecord,
  ): Promise<UploadPlan> {
    const quota = acct.quotaBytes > 0 ? this.ctx.quota : undefined;
    if (req.kind === 'stou') {
      const { dir, name } = await home.resolveParent(req.path);
      for (let i = 0; i < 100; i++) {
        const candidate = i === 0 ? name : `${name}.${i}`;
        const real = `${dir}/${candidate}`;
        try {
          const handle = await home.openWrite(real, 'wx');
          if (quota && quota.usage(acct.name) >= acct.quotaBytes) {
            await handle.close();
            await unlink(real);
            throw new QuotaExceeded('quota full');
          }
          return new UploadPlan(
            handle,
            real,
            real,
            0,
            0,
            0,
            home.toVirtual(real),
            candidate,
            quota,
            acct.name,
          );
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
      throw new FsFailure('exists');
    }
    const { real, name } = await home.resolveParent(req.path);
    const existing = await home.existingSize(real);
    if (req.kind === 'stor' && req.offset === 0) {
      // The replaced file's bytes are freed when the new one takes its place.
      const credit = quota ? existing : 0;
      if (quota && quota.usage(acct.name) - credit >= acct.quotaBytes)
        throw new QuotaExceeded('quota full');
      const tmp = `${real.slice(0, real.length - name.length)}.${name}.netsvc-part-${randomBytes(4).toString('hex')}`;
      const handle = await home.openWrite(tmp, 'wx');
      if (quota) quota.add(acct.name, -credit);
      return new UploadPlan(
        handle,
        tmp,
        real,
        0,
        existing,
        credit,
        req.path,
        baseName(req.path),
        quota,
        acct.name,
      );
    }
    if (quota && quota.usage(acct.name) >= acct.quotaBytes) throw new QuotaExceeded('quota full');
    // APPE, or STOR after REST: write in place from the end / the offset.
    const handle = await home
      .openWrite(real, req.kind === 'appe' ? 'a' : 'r+')
      .catch(async (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return home.openWrite(real, 'a');
        throw e;
      });
    const start = req.kind === 'appe' ? 0 : req.offset;
    return new UploadPlan(
      handle,
      real,
      real,
      start,
      existing,
      0,
      req.path,
      baseName(req.path),
      quota,
      acct.name,
    );
  }
}

/** Where an upload writes and how to undo or finish it. */
class UploadPlan {
  counted = 0;
  constructor(
    readonly handle: FileHandle,
    /** The file written to (a temporary for STOR). */
    readonly writePath: string,
    readonly finalPath: string,
    readonly start: number,
    /** Size of the target before the upload (to restore on a quota refusal). */
    readonly originalSize: number,
    /** Bytes credited to the quota for a replaced file. */
    readonly credit: number,
    readonly virtualPath: string,
    readonly displayName: string,
    private readonly quota: QuotaStore | undefined,
    private readonly user: string,
  ) {}

  private get temporary(): boolean {
    return this.writePath !== this.finalPath;
  }

  async commit(): Promise<void> {
    await this.handle.close().catch(() => {});
    if (this.temporary) await rename(this.writePath, this.finalPath);
  }

  /** Undo (quota refusal or no data connection): nothing of the upload remains. */
  async cancel(): Promise<void> {
    await this.handle.close().catch(() => {});
    if (this.quota) this.quota.add(this.user, this.credit - this.counted);
    if (this.temporary) await unlink(this.writePath);
    else if (this.originalSize === 0 && this.start === 0)
      await unlink(this.writePath).catch(() => truncate(this.writePath, 0));
    else await truncate(this.writePath, this.originalSize);
  }

  /** Keep what arrived (ABOR, lost connection), as vsftpd does, for REST/APPE resume. */
  async keepPartial(): Promise<void> {
    await this.handle.close().catch(() => {});
    if (this.temporary) await rename(this.writePath, this.finalPath);
  }
}

/**
 * Send a file over a data socket from two reused buffers: each is read into again only
 * after the socket reported its previous contents written. A read stream allocates a new
 * chunk for every read and leaves the old ones to the garbage collector, which let a
 * 200 MB download raise the process's RSS by over 100 MB before V8 collected them.
 */
async function sendFile(
  fh: FileHandle,
  offset: number,
  sock: Socket | TLSSocket,
  sent: { n: number },
  onFileError: () => void,
): Promise<void> {
  const CHUNK = 128 * 1024;
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  const flushed: (Promise<void> | undefined)[] = [undefined, undefined];
  let closed: Error | undefined;
  const onClose = (): void => {
    closed ??= new Error('data connection closed');
  };
  sock.once('close', onClose);
  sock.on('error', onClose);
  try {
    let pos = offset;
    for (let i = 0; ; i ^= 1) {
      await flushed[i];
      if (closed) throw closed;
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(bufs[i]!, 0, CHUNK, pos));
      } catch (e) {
        onFileError();
        throw e;
      }
      if (n === 0) break;
      pos += n;
      flushed[i] = new Promise<void>((ok, fail) => {
        sock.write(bufs[i]!.subarray(0, n), (err) => {
          if (err) return fail(err);
          sent.n += n;
          ok();
        });
      });
      // Keep at most one write in flight per buffer; a rejected one surfaces on its await.
      flushed[i]!.catch(() => undefined);
    }
    await Promise.all(flushed);
    await new Promise<void>((ok, fail) => {
      if (closed) return fail(closed);
      sock.end(() => ok());
    });
  } finally {
    sock.off('close', onClose);
    sock.off('error', onClose);
  }
}

/**
 * Receive an upload into the file in 1 MiB writes. A write stream issues one thread-pool
 * write per 64 KiB socket chunk; gathering them first cut the per-chunk overhead that made
 * uploads run at about half vsftpd's speed. Reading waits while a write is in progress
 * (async iteration applies backpressure), so memory stays at one buffer per upload.
 * `gate` sees every chunk first and may throw (the quota).
 */
async function receiveFile(
  sock: Socket | TLSSocket,
  fh: FileHandle,
  start: number | null,
  written: { n: number },
  gate: ((n: number) => void) | undefined,
  onFileError: () => void,
): Promise<void> {
  const SIZE = 1 << 20;
  const buf = Buffer.allocUnsafe(SIZE);
  let fill = 0;
  let pos = start;
  const flush = async (): Promise<void> => {
    let off = 0;
    while (off < fill) {
      let n: number;
      try {
        ({ bytesWritten: n } = await fh.write(buf, off, fill - off, pos));
      } catch (e) {
        onFileError();
        throw e;
      }
      off += n;
      if (pos !== null) pos += n;
      written.n += n;
    }
    fill = 0;
  };
  for await (const chunk of sock as AsyncIterable<Buffer>) {
    gate?.(chunk.length);
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(SIZE - fill, chunk.length - off);
      chunk.copy(buf, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === SIZE) await flush();
    }
  }
  await flush();
}
