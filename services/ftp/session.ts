/**
 * The control-connection session: a sans-I/O state machine (DESIGN.md rule 1).
 *
 * `handle(input, now)` takes a command line or the result of an effect and returns
 * outputs: replies to write, and effects for the adapter (check a password, run a file
 * system operation, open a passive listener, run a transfer, start TLS, close). Results
 * come back as inputs. `nextTimeout()` / `handleTimeout(now)` drive the idle, login-delay,
 * data-open and data-stall timers; the adapter arms one timer.
 *
 * RFCs: 959 (§4.1 commands, §4.2 replies, §5.4 command-reply sequences), 1123 §4.1.2.9
 * (STOU "150 FILE:"), 775 (X-aliases XPWD…), 2389 (FEAT/OPTS), 2428 (EPRT/EPSV),
 * 2577 §3-4 (bounce, port < 1024, failed-login delay), 3659 (SIZE, MDTM, REST STREAM,
 * MLST/MLSD), 2228 and 4217 (AUTH TLS, PBSZ, PROT). Reply texts follow vsftpd's.
 *
 * Commands that need the adapter make the session busy; lines that arrive meanwhile are
 * queued (bounded) and run in order afterwards, so a pipelining client (lftp) gets its
 * replies in order. During a transfer only ABOR and STAT run at once (RFC 959 §4.1.3:
 * both may arrive while a transfer is in progress); everything else waits for its end.
 *
 * Left out: MODE B/C, STRU R/P (504), TYPE A line-ending conversion (vsftpd's default
 * ascii_*_enable=NO: the transfer is binary, the reply says ASCII), REIN, SMNT, ALLO
 * reservations (202), MDTM with a time argument, CCC, ADAT/MIC/CONF/ENC.
 */
import { reply, multiline, quotePath, type Reply } from './reply.js';
import { resolveVirtual, baseName } from './virtual-path.js';
import {
  canonicalAddress,
  parsePortArg,
  parseEprtArg,
  pasvText,
  epsvText,
  type HostPort,
} from './data-address.js';
import {
  listLine,
  mlsxLine,
  timeVal,
  stripListOptions,
  MLST_FACTS,
  type EntryInfo,
  type MlstFact,
  type PermContext,
} from './listing.js';

export type Permission = 'read' | 'write' | 'delete' | 'mkdir' | 'rename';

export interface Account {
  readonly name: string;
  readonly anonymous: boolean;
  readonly permissions: ReadonlySet<Permission>;
}

export interface SessionOptions {
  readonly banner: string;
  /** Address of the control-connection peer (as the socket reports it). */
  readonly peerAddress: string;
  readonly activeEnabled: boolean;
  readonly passiveEnabled: boolean;
  /** Passive address to advertise in 227 (IPv4); undefined: the control connection's local address. */
  readonly passiveAddress: string | undefined;
  readonly localAddress: string;
  readonly tlsAvailable: boolean;
  readonly tlsRequiredForLogin: boolean;
  readonly tlsRequiredForData: boolean;
  /** vsftpd max_login_fails (3). */
  readonly maxLoginFails: number;
  /** vsftpd delay_failed_login (1 s). */
  readonly failedLoginDelayMs: number;
  /** Connect to completed login, then 421 (OpenSSH LoginGraceTime; 30 s). */
  readonly loginTimeoutMs: number;
  /** vsftpd idle_session_timeout (300 s). */
  readonly idleTimeoutMs: number;
  /** vsftpd data_connection_timeout (300 s). */
  readonly dataTimeoutMs: number;
  /** vsftpd accept_timeout / connect_timeout (60 s). */
  readonly dataOpenTimeoutMs: number;
  /** Lines held while busy (bounded memory; each line ≤ the framer's limit). */
  readonly maxQueuedLines: number;
  /** SITE CHMOD allowed at all (vsftpd chmod_enable). */
  readonly chmodEnabled: boolean;
  /** Bits SITE CHMOD may set on files / folders (others: 550). */
  readonly chmodFileMask: number;
  readonly chmodDirMask: number;
}

export type FsError =
  'not-found' | 'denied' | 'exists' | 'not-empty' | 'not-dir' | 'is-dir' | 'failed';

export type FsOp =
  | { readonly op: 'stat'; readonly path: string }
  | { readonly op: 'list'; readonly path: string }
  | { readonly op: 'mkdir'; readonly path: string }
  | { readonly op: 'rmdir'; readonly path: string }
  | { readonly op: 'delete'; readonly path: string }
  | { readonly op: 'rename'; readonly from: string; readonly to: string }
  | {
      readonly op: 'chmod';
      readonly path: string;
      readonly mode: number;
      /** Allowed bits by the object's type; the adapter checks after resolving it. */
      readonly fileMask: number;
      readonly dirMask: number;
    };

export type FsResult =
  | { readonly ok: true; readonly stat?: EntryInfo; readonly entries?: readonly EntryInfo[] }
  | { readonly ok: false; readonly error: FsError };

export type TransferKind = 'retr' | 'stor' | 'appe' | 'stou' | 'list' | 'nlst' | 'mlsd';

export type DataEndpoint =
  { readonly kind: 'active'; readonly target: HostPort } | { readonly kind: 'passive' };

export interface TransferRequest {
  readonly id: number;
  readonly kind: TransferKind;
  /** Virtual path (directory for listings, file otherwise). */
  readonly path: string;
  /** Glob on the last segment for LIST/NLST ("*.txt"). */
  readonly glob?: string;
  /** REST offset for RETR/STOR (RFC 3659 §5). */
  readonly offset: number;
  readonly endpoint: DataEndpoint;
  readonly tls: boolean;
  readonly binary: boolean;
  readonly perms: PermContext;
  readonly mlstFacts: readonly MlstFact[];
}

export type TransferOutcome =
  'ok' | 'aborted' | 'data-error' | 'file-error' | 'quota' | 'no-connection' | FsError;

export type SessionInput =
  | { readonly kind: 'line'; readonly line: string }
  | { readonly kind: 'line-too-long' }
  | {
      readonly kind: 'password-checked';
      readonly account: Account | undefined;
      /** Shared back-off (login-guard.ts): hold the 530 this long at least. */
      readonly delayMs?: number;
      /** A ban is in force: close after the 530. */
      readonly close?: boolean;
    }
  | { readonly kind: 'fs-done'; readonly result: FsResult }
  | { readonly kind: 'passive-ready'; readonly port: number }
  | { readonly kind: 'passive-failed' }
  | { readonly kind: 'tls-ready' }
  | { readonly kind: 'tls-failed' }
  | {
      readonly kind: 'data-open';
      readonly id: number;
      readonly size?: number;
      readonly name?: string;
    }
  | { readonly kind: 'progress'; readonly id: number }
  | {
      readonly kind: 'transfer-done';
      readonly id: number;
      readonly outcome: TransferOutcome;
      readonly bytes: number;
    };

export type SessionEvent =
  | { readonly kind: 'login'; readonly user: string; readonly anonymous: boolean }
  | { readonly kind: 'login-failed'; readonly user: string }
  | {
      readonly kind: 'refused';
      readonly reason: 'bounce' | 'privileged-port' | 'disabled' | 'epsv-all';
    }
  | { readonly kind: 'timeout'; readonly which: 'login' | 'idle' | 'data' | 'data-open' }
  | {
      readonly kind: 'rejected';
      readonly reason: 'chmod-disabled' | 'chmod-home' | 'chmod-mode' | 'bad-name';
    };

export type SessionOutput =
  | { readonly kind: 'reply'; readonly reply: Reply }
  | { readonly kind: 'check-password'; readonly user: string; readonly password: string }
  | { readonly kind: 'fs'; readonly op: FsOp }
  | { readonly kind: 'passive-listen' }
  | { readonly kind: 'close-passive' }
  | { readonly kind: 'transfer'; readonly request: TransferRequest }
  | { readonly kind: 'abort-transfer'; readonly id: number }
  | { readonly kind: 'start-tls' }
  | { readonly kind: 'event'; readonly event: SessionEvent }
  | { readonly kind: 'close' };

type Phase = 'need-user' | 'need-pass' | 'ready' | 'closed';

interface Transfer {
  readonly req: TransferRequest;
  opened: boolean;
  abortRequested: boolean;
  deadline: number;
}

/** Commands allowed before login (vsftpd's pre-login set, plus NOOP and HELP). */
const PRE_LOGIN = new Set([
  'USER',
  'PASS',
  'QUIT',
  'FEAT',
  'OPTS',
  'AUTH',
  'PBSZ',
  'PROT',
  'NOOP',
  'HELP',
]);

const ALIASES: Record<string, string> = {
  XPWD: 'PWD',
  XCWD: 'CWD',
  XCUP: 'CDUP',
  XMKD: 'MKD',
  XRMD: 'RMD',
};

export const COMMANDS = [
  'ABOR',
  'ACCT',
  'ALLO',
  'APPE',
  'AUTH',
  'CDUP',
  'CWD',
  'DELE',
  'EPRT',
  'EPSV',
  'FEAT',
  'HELP',
  'LIST',
  'MDTM',
  'MKD',
  'MLSD',
  'MLST',
  'MODE',
  'NLST',
  'NOOP',
  'OPTS',
  'PASS',
  'PASV',
  'PBSZ',
  'PORT',
  'PROT',
  'PWD',
  'QUIT',
  'REST',
  'RETR',
  'RMD',
  'RNFR',
  'RNTO',
  'SITE',
  'SIZE',
  'STAT',
  'STOR',
  'STOU',
  'STRU',
  'SYST',
  'TYPE',
  'USER',
  'XCUP',
  'XCWD',
  'XMKD',
  'XPWD',
  'XRMD',
] as const;
const KNOWN = new Set<string>(COMMANDS);

export class FtpSession {
  private phase: Phase = 'need-user';
  private user = '';
  private account: Account | undefined;
  private failedLogins = 0;
  private cwd = '/';
  private binary = false;
  private restOffset = 0;
  private renameFrom: string | undefined;
  private endpoint: DataEndpoint | undefined;
  private epsvAll = false;
  private tls: 'off' | 'pending' | 'on' = 'off';
  private pbsz = false;
  private protP = false;
  private mlstFacts = new Set<MlstFact>(MLST_FACTS);

  private queue: string[] = [];
  private waiting: 'password' | 'fs' | 'passive' | 'tls' | undefined;
  private fsThen: ((r: FsResult) => void) | undefined;
  private passiveFamily: 'pasv' | 'epsv' = 'epsv';
  private delayUntil: number | undefined;
  private delayed: (() => void) | undefined;
  private transfer: Transfer | undefined;
  private nextId = 1;
  private idleDeadline: number;
  private readonly loginDeadline: number;
  private closeAfterTransfer = false;

  private out: SessionOutput[] = [];
  private now = 0;
  private readonly peer: { host: string; family: 4 | 6 };

  constructor(
    private readonly opts: SessionOptions,
    now: number,
  ) {
    this.now = now;
    this.idleDeadline = now + opts.idleTimeoutMs;
    this.loginDeadline = now + opts.loginTimeoutMs;
    this.peer = canonicalAddress(opts.peerAddress) ?? { host: opts.peerAddress, family: 4 };
  }

  /** The greeting (RFC 959 §5.4: "Connection Establishment 120 / 220 / 421"). */
  greet(): SessionOutput[] {
    return [{ kind: 'reply', reply: reply(220, this.opts.banner) }];
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  get loggedInAs(): Account | undefined {
    return this.account;
  }

  get currentTransferId(): number | undefined {
    return this.transfer?.req.id;
  }

  handle(input: SessionInput, now: number): SessionOutput[] {
    this.now = now;
    this.out = [];
    if (this.phase === 'closed') return this.out;
    switch (input.kind) {
      case 'line':
        this.onLine(input.line);
        break;
      case 'line-too-long':
        this.idleDeadline = now + this.opts.idleTimeoutMs;
        this.send(500, 'Command line too long.');
        break;
      case 'password-checked':
        if (this.waiting === 'password') {
          this.waiting = undefined;
          this.onPasswordChecked(input.account, input.delayMs ?? 0, input.close ?? false);
        }
        break;
      case 'fs-done':
        if (this.waiting === 'fs' && this.fsThen) {
          const then = this.fsThen;
          this.waiting = undefined;
          this.fsThen = undefined;
          then(input.result);
        }
        break;
      case 'passive-ready':
        if (this.waiting === 'passive') {
          this.waiting = undefined;
          this.endpoint = { kind: 'passive' };
          if (this.passiveFamily === 'pasv') {
            const adv =
              this.opts.passiveAddress ??
              canonicalAddress(this.opts.localAddress)?.host ??
              '0.0.0.0';
            this.send(227, pasvText(adv, input.port));
          } else this.send(229, epsvText(input.port));
        }
        break;
      case 'passive-failed':
        if (this.waiting === 'passive') {
          this.waiting = undefined;
          this.send(425, 'Could not open passive connection.');
        }
        break;
      case 'tls-ready':
        if (this.waiting === 'tls') {
          this.waiting = undefined;
          this.tls = 'on';
        }
        break;
      case 'tls-failed':
        this.close();
        break;
      case 'data-open':
        this.onDataOpen(input.id, input.size, input.name);
        break;
      case 'progress':
        if (this.transfer && this.transfer.req.id === input.id)
          this.transfer.deadline = now + this.opts.dataTimeoutMs;
        break;
      case 'transfer-done':
        this.onTransferDone(input.id, input.outcome);
        break;
    }
    this.drain();
    return this.out;
  }

  nextTimeout(): number | undefined {
    if (this.phase === 'closed') return undefined;
    const t = this.sessionTimeout();
    // Before login the grace deadline runs whatever else is pending (a slow password
    // check, a login delay): it bounds how long an unauthenticated client holds a slot.
    if (this.phase !== 'ready')
      return t === undefined ? this.loginDeadline : Math.min(t, this.loginDeadline);
    return t;
  }

  private sessionTimeout(): number | undefined {
    if (this.delayUntil !== undefined) return this.delayUntil;
    if (this.transfer) return this.transfer.deadline;
    if (this.waiting !== undefined) return undefined; // the adapter owes us an answer
    return this.idleDeadline;
  }

  handleTimeout(now: number): SessionOutput[] {
    this.now = now;
    this.out = [];
    if (this.phase === 'closed') return this.out;
    if (this.phase !== 'ready' && now >= this.loginDeadline) {
      // RFC 959 §5.4: 421 "Service not available, closing control connection" may answer
      // any command; here the client did not log in within limits.loginTimeoutMs.
      this.waiting = undefined;
      this.delayUntil = undefined;
      this.delayed = undefined;
      this.event({ kind: 'timeout', which: 'login' });
      this.send(421, 'Login timeout.');
      this.close();
    } else if (this.delayUntil !== undefined) {
      if (now >= this.delayUntil) {
        const f = this.delayed;
        this.delayUntil = undefined;
        this.delayed = undefined;
        f?.();
      }
    } else if (this.transfer) {
      if (now >= this.transfer.deadline) {
        const t = this.transfer;
        this.transfer = undefined;
        this.endpoint = undefined;
        this.out.push({ kind: 'abort-transfer', id: t.req.id });
        if (t.opened) {
          this.event({ kind: 'timeout', which: 'data' });
          this.send(421, 'Data timeout. Reconnect. Sorry.');
          this.close();
        } else {
          this.event({ kind: 'timeout', which: 'data-open' });
          this.send(425, 'Failed to establish connection.');
        }
      }
    } else if (this.waiting === undefined && now >= this.idleDeadline) {
      this.event({ kind: 'timeout', which: 'idle' });
      this.send(421, 'Timeout.');
      this.close();
    }
    this.drain();
    return this.out;
  }

  // ------------------------------------------------------------------ plumbing

  private send(code: number, text: string): void {
    this.out.push({ kind: 'reply', reply: reply(code, text) });
  }

  private sendReply(r: Reply): void {
    this.out.push({ kind: 'reply', reply: r });
  }

  private event(e: SessionEvent): void {
    this.out.push({ kind: 'event', event: e });
  }

  private close(): void {
    if (this.phase === 'closed') return;
    if (this.transfer) this.out.push({ kind: 'abort-transfer', id: this.transfer.req.id });
    this.transfer = undefined;
    this.phase = 'closed';
    this.queue = [];
    this.out.push({ kind: 'close' });
  }

  private busy(): boolean {
    return this.waiting !== undefined || this.delayUntil !== undefined;
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.busy() && !this.transfer && this.phase !== 'closed') {
      this.execute(this.queue.shift()!);
    }
  }

  private onLine(line: string): void {
    this.idleDeadline = this.now + this.opts.idleTimeoutMs;
    // Between AUTH TLS and the end of the handshake nothing in clear text may run
    // (the STARTTLS command-injection class, CVE-2011-0411).
    if (this.waiting === 'tls') return;
    const verb = line.split(' ', 1)[0]!.toUpperCase();
    // RFC 959 §4.1.3: ABOR and STAT may come while a transfer runs ("the server … must
    // respond to [STAT] while the transfer is in progress").
    if (this.transfer && !this.busy() && (verb === 'ABOR' || verb === 'STAT')) {
      this.execute(line);
      return;
    }
    if (this.busy() || this.transfer || this.queue.length > 0) {
      if (this.queue.length >= this.opts.maxQueuedLines) {
        this.send(421, 'Too many pipelined commands.');
        this.close();
        return;
      }
      this.queue.push(line);
      return;
    }
    this.execute(line);
  }

  private fs(op: FsOp, then: (r: FsResult) => void): void {
    this.waiting = 'fs';
    this.fsThen = then;
    this.out.push({ kind: 'fs', op });
  }

  private can(p: Permission): boolean {
    return this.account?.permissions.has(p) ?? false;
  }

  private perms(): PermContext {
    return {
      read: this.can('read'),
      write: this.can('write'),
      delete: this.can('delete'),
      mkdir: this.can('mkdir'),
      rename: this.can('rename'),
    };
  }

  /** A path argument as a virtual path; replies 501/550 itself when unusable. */
  private path(arg: string, dflt?: string): string | undefined {
    const a = arg === '' ? dflt : arg;
    if (a === undefined) {
      this.send(501, 'Syntax error in parameters or arguments.');
      return undefined;
    }
    const v = resolveVirtual(this.cwd, a);
    if (v === undefined) this.send(550, 'Permission denied.');
    return v;
  }

  // ------------------------------------------------------------------ dispatch

  private execute(line: string): void {
    if (this.phase === 'closed') return;
    const sp = line.indexOf(' ');
    let verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : line.slice(sp + 1);
    verb = ALIASES[verb] ?? verb;
    // RFC 959 §4.1.3 RNFR: "This command must be immediately followed by a RNTO".
    if (verb !== 'RNTO') this.renameFrom = undefined;
    if (this.phase !== 'ready' && !PRE_LOGIN.has(verb)) {
      this.send(530, 'Please login with USER and PASS.');
      return;
    }
    switch (verb) {
      case 'USER':
        return this.cmdUser(arg);
      case 'PASS':
        return this.cmdPass(arg);
      case 'ACCT':
        // RFC 959 §5.4: ACCT 202 "Command not implemented, superfluous at this site".
        return this.send(202, 'ACCT command not needed at this site.');
      case 'QUIT':
        if (this.transfer) {
          this.closeAfterTransfer = true;
          return;
        }
        this.send(221, 'Goodbye.');
        return this.close();
      case 'NOOP':
        return this.send(200, 'NOOP ok.');
      case 'SYST':
        // RFC 959 §4.1.3 SYST; "UNIX Type: L8" is what clients expect for ls-style LIST.
        return this.send(215, 'UNIX Type: L8');
      case 'FEAT':
        return this.cmdFeat();
      case 'OPTS':
        return this.cmdOpts(arg);
      case 'HELP':
        return this.cmdHelp(arg);
      case 'AUTH':
        return this.cmdAuth(arg);
      case 'PBSZ':
        return this.cmdPbsz(arg);
      case 'PROT':
        return this.cmdProt(arg);
      case 'PWD':
        return this.send(257, `${quotePath(this.cwd)} is the current directory`);
      case 'CWD':
        return this.cmdCwd(arg);
      case 'CDUP':
        return this.cmdCwd('..');
      case 'TYPE':
        return this.cmdType(arg);
      case 'MODE':
        // RFC 959 §5.1 minimum implementation: MODE Stream.
        return arg.toUpperCase() === 'S'
          ? this.send(200, 'Mode set to S.')
          : this.send(504, 'Bad MODE command.');
      case 'STRU':
        return arg.toUpperCase() === 'F'
          ? this.send(200, 'Structure set to F.')
          : this.send(504, 'Bad STRU command.');
      case 'ALLO':
        return this.send(202, 'ALLO command ignored.');
      case 'PORT':
        return this.cmdPort(arg, false);
      case 'EPRT':
        return this.cmdPort(arg, true);
      case 'PASV':
        return this.cmdPasv(false, arg);
      case 'EPSV':
        return this.cmdPasv(true, arg);
      case 'REST':
        return this.cmdRest(arg);
      case 'RETR':
        return this.cmdTransfer('retr', arg);
      case 'STOR':
        return this.cmdTransfer('stor', arg);
      case 'APPE':
        return this.cmdTransfer('appe', arg);
      case 'STOU':
        return this.cmdTransfer('stou', arg);
      case 'LIST':
        return this.cmdTransfer('list', arg);
      case 'NLST':
        return this.cmdTransfer('nlst', arg);
      case 'MLSD':
        return this.cmdTransfer('mlsd', arg);
      case 'MLST':
        return this.cmdMlst(arg);
      case 'ABOR':
        return this.cmdAbor();
      case 'STAT':
        return this.cmdStat(arg);
      case 'SIZE':
        return this.cmdSize(arg);
      case 'MDTM':
        return this.cmdMdtm(arg);
      case 'DELE':
        return this.cmdSimple(
          arg,
          'delete',
          (p) => ({ op: 'delete', path: p }),
          250,
          'Delete operation successful.',
          'Delete operation failed.',
        );
      case 'RMD':
        return this.cmdSimple(
          arg,
          'delete',
          (p) => ({ op: 'rmdir', path: p }),
          250,
          'Remove directory operation successful.',
          'Remove directory operation failed.',
        );
      case 'MKD':
        return this.cmdMkd(arg);
      case 'RNFR':
        return this.cmdRnfr(arg);
      case 'RNTO':
        return this.cmdRnto(arg);
      case 'SITE':
        return this.cmdSite(arg);
      default:
        return KNOWN.has(verb)
          ? this.send(502, 'Command not implemented.')
          : this.send(500, 'Unknown command.');
    }
  }

  // ------------------------------------------------------------------ login

  private cmdUser(arg: string): void {
    if (this.phase === 'ready') {
      // vsftpd: a logged-in session cannot switch user (no REIN).
      return this.send(530, "Can't change to another user.");
    }
    if (arg === '') return this.send(501, 'Syntax error in parameters or arguments.');
    const anonymous = /^(anonymous|ftp)$/i.test(arg);
    if (this.opts.tlsRequiredForLogin && this.tls !== 'on' && !anonymous) {
      // vsftpd force_local_logins_ssl=YES.
      return this.send(530, 'Non-anonymous sessions must use encryption.');
    }
    this.user = arg;
    this.phase = 'need-pass';
    this.send(331, 'Please specify the password.');
  }

  private cmdPass(arg: string): void {
    if (this.phase !== 'need-pass') return this.send(503, 'Login with USER first.');
    this.waiting = 'password';
    this.out.push({ kind: 'check-password', user: this.user, password: arg });
  }

  private onPasswordChecked(account: Account | undefined, delayMs: number, ban: boolean): void {
    if (account) {
      this.account = account;
      this.phase = 'ready';
      this.failedLogins = 0;
      this.event({ kind: 'login', user: account.name, anonymous: account.anonymous });
      this.send(230, 'Login successful.');
      return;
    }
    // RFC 2577 §4: "the server [should] limit the number of attempts … After a number of
    // failed attempts … the server should close the control connection"; and "impose a
    // 5 second delay" (vsftpd: delay_failed_login=1, max_login_fails=3).
    this.failedLogins++;
    this.event({ kind: 'login-failed', user: this.user });
    this.phase = 'need-user';
    const fails = this.failedLogins;
    // The shared back-off (per source, per account and source) may ask for more than
    // this connection's own delay; a banned attempt closes like the last allowed failure.
    this.delayUntil = this.now + Math.max(this.opts.failedLoginDelayMs, delayMs);
    this.delayed = () => {
      this.send(530, 'Login incorrect.');
      if (ban || fails >= this.opts.maxLoginFails) this.close();
    };
  }

  // ------------------------------------------------------------------ features

  private cmdFeat(): void {
    // RFC 2389 §3.2: "211-<text>" then one feature per line starting with a space, "211 End".
    const feats: string[] = [];
    if (this.opts.tlsAvailable) feats.push(' AUTH TLS');
    feats.push(' EPRT', ' EPSV', ' MDTM');
    feats.push(
      ' MLST ' +
        MLST_FACTS.map(
          (f) => (f === 'unix.mode' ? 'UNIX.mode' : f) + (this.mlstFacts.has(f) ? '*' : '') + ';',
        ).join(''),
    );
    feats.push(' PASV');
    if (this.opts.tlsAvailable) feats.push(' PBSZ', ' PROT');
    feats.push(' REST STREAM', ' SIZE', ' TVFS', ' UTF8');
    this.sendReply(multiline(211, 'Features:', feats, 'End'));
  }

  private cmdOpts(arg: string): void {
    const [name = '', ...rest] = arg.split(' ');
    const value = rest.join(' ');
    switch (name.toUpperCase()) {
      case 'UTF8':
        // RFC 2640 §3.3 / draft-ietf-ftpext-utf-8-option: we always speak UTF-8.
        return value.toUpperCase() === 'ON' || value === ''
          ? this.send(200, 'Always in UTF8 mode.')
          : this.send(501, 'Option not understood.');
      case 'MLST': {
        // RFC 3659 §7.9: "OPTS MLST fact;fact;" selects facts; unknown ones are ignored.
        const wanted = new Set(
          value
            .split(';')
            .map((f) => f.trim().toLowerCase())
            .filter((f) => f !== ''),
        );
        this.mlstFacts = new Set(MLST_FACTS.filter((f) => wanted.has(f)));
        const list = [...this.mlstFacts]
          .map((f) => (f === 'unix.mode' ? 'UNIX.mode' : f) + ';')
          .join('');
        return this.send(200, `MLST OPTS ${list}`);
      }
      default:
        return this.send(501, 'Option not understood.');
    }
  }

  private cmdHelp(arg: string): void {
    if (arg !== '') {
      const c = arg.toUpperCase();
      return KNOWN.has(c)
        ? this.send(214, `${c} is recognized.`)
        : this.send(502, 'Unknown command.');
    }
    const rows: string[] = [];
    for (let i = 0; i < COMMANDS.length; i += 12)
      rows.push(
        ' ' +
          COMMANDS.slice(i, i + 12)
            .map((c) => c.padEnd(5))
            .join(''),
      );
    this.sendReply(multiline(214, 'The following commands are recognized.', rows, 'Help OK.'));
  }

  // ------------------------------------------------------------------ TLS (RFC 4217)

  private cmdAuth(arg: string): void {
    if (!this.opts.tlsAvailable)
      return this.send(502, 'AUTH not available: no certificate configured.');
    const mech = arg.toUpperCase();
    // RFC 4217 §4: "AUTH TLS"; "AUTH SSL" and "TLS-C" are older synonyms clients still send.
    if (mech !== 'TLS' && mech !== 'SSL' && mech !== 'TLS-C')
      return this.send(504, 'Unknown AUTH type.');
    if (this.tls !== 'off') return this.send(503, 'Already using TLS.');
    this.send(234, 'Proceed with negotiation.');
    this.tls = 'pending';
    this.waiting = 'tls';
    // Plaintext pipelined behind AUTH must not run inside the TLS session.
    this.queue = [];
    this.out.push({ kind: 'start-tls' });
  }

  private cmdPbsz(arg: string): void {
    if (this.tls !== 'on') return this.send(503, 'PBSZ needs a secure connection.');
    // RFC 4217 §9: "PBSZ 0" is the only value for TLS; other values get "PBSZ=0".
    this.pbsz = true;
    this.send(200, arg === '0' ? 'PBSZ set to 0.' : 'PBSZ=0');
  }

  private cmdProt(arg: string): void {
    if (this.tls !== 'on') return this.send(503, 'PROT needs a secure connection.');
    if (!this.pbsz) return this.send(503, 'PROT needs PBSZ first.');
    switch (arg.toUpperCase()) {
      case 'P':
        this.protP = true;
        return this.send(200, 'PROT now Private.');
      case 'C':
        this.protP = false;
        return this.send(200, 'PROT now Clear.');
      case 'S':
      case 'E':
        return this.send(536, 'PROT level not supported.');
      default:
        return this.send(504, 'Bad PROT command.');
    }
  }

  // ------------------------------------------------------------------ directories

  private cmdCwd(arg: string): void {
    const p = this.path(arg, '/');
    if (p === undefined) return;
    this.fs({ op: 'stat', path: p }, (r) => {
      if (r.ok && r.stat?.type === 'dir') {
        this.cwd = p;
        this.send(250, 'Directory successfully changed.');
      } else this.send(550, 'Failed to change directory.');
    });
  }

  /**
   * Names this server creates (MKD, STOR, APPE, STOU, RNTO) must not hold control bytes
   * (C0, DEL, C1): they corrupt listings and terminals (vsftpd and pure-ftpd refuse them
   * too). RFC 959 §4.2: "553 Requested action not taken. File name not allowed."
   */
  private badName(arg: string): boolean {
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u001f\u007f-\u009f]/.test(arg)) return false;
    this.event({ kind: 'rejected', reason: 'bad-name' });
    this.send(553, 'File name not allowed.');
    return true;
  }

  private cmdMkd(arg: string): void {
    if (!this.can('mkdir')) return this.send(550, 'Permission denied.');
    if (this.badName(arg)) return;
    const p = this.path(arg);
    if (p === undefined) return;
    this.fs({ op: 'mkdir', path: p }, (r) => {
      // RFC 959 §4.1.3 / Appendix II: 257 "<pathname>" created.
      if (r.ok) this.send(257, `${quotePath(p)} created`);
      else this.send(550, 'Create directory operation failed.');
    });
  }

  private cmdSimple(
    arg: string,
    perm: Permission,
    op: (p: string) => FsOp,
    code: number,
    okText: string,
    failText: string,
  ): void {
    if (!this.can(perm)) return this.send(550, 'Permission denied.');
    const p = this.path(arg);
    if (p === undefined) return;
    if (p === '/') return this.send(550, failText);
    this.fs(op(p), (r) => (r.ok ? this.send(code, okText) : this.send(550, failText)));
  }

  private cmdRnfr(arg: string): void {
    if (!this.can('rename')) return this.send(550, 'Permission denied.');
    const p = this.path(arg);
    if (p === undefined) return;
    this.fs({ op: 'stat', path: p }, (r) => {
      if (r.ok && p !== '/') {
        this.renameFrom = p;
        this.send(350, 'Ready for RNTO.');
      } else this.send(550, 'RNFR command failed.');
    });
  }

  private cmdRnto(arg: string): void {
    const from = this.renameFrom;
    this.renameFrom = undefined;
    if (from === undefined) return this.send(503, 'RNFR required first.');
    if (this.badName(arg)) return;
    const to = this.path(arg);
    if (to === undefined) return;
    if (to === '/') return this.send(550, 'Rename failed.');
    this.fs({ op: 'rename', from, to }, (r) =>
      r.ok ? this.send(250, 'Rename successful.') : this.send(550, 'Rename failed.'),
    );
  }

  private cmdSite(arg: string): void {
    const [sub = '', ...rest] = arg.split(' ');
    switch (sub.toUpperCase()) {
      case 'HELP':
        return this.send(214, 'CHMOD HELP');
      case 'CHMOD': {
        if (!this.can('write')) return this.send(550, 'Permission denied.');
        if (!this.opts.chmodEnabled) {
          // vsftpd chmod_enable=NO.
          this.event({ kind: 'rejected', reason: 'chmod-disabled' });
          return this.send(550, 'Permission denied.');
        }
        const modeText = rest[0] ?? '';
        const target = rest.slice(1).join(' ');
        if (!/^[0-7]{1,4}$/.test(modeText) || target === '')
          return this.send(501, 'SITE CHMOD needs 2 arguments.');
        const p = this.path(target);
        if (p === undefined) return;
        // The home (and anything "above" it, which virtual paths clamp to "/") is the
        // user's root, not one of their files: `SITE CHMOD 777 ../../..` must not open it
        // to every local user. Only objects strictly below it (the adapter also refuses a
        // symlink that resolves to the home).
        if (p === '/') {
          this.event({ kind: 'rejected', reason: 'chmod-home' });
          return this.send(550, 'SITE CHMOD command failed.');
        }
        const mode = parseInt(modeText, 8);
        // Set-id and sticky bits, and anything the masks do not allow, are refused rather
        // than silently dropped, so the client learns its mode was not applied.
        if ((mode & ~(this.opts.chmodFileMask | this.opts.chmodDirMask)) !== 0) {
          this.event({ kind: 'rejected', reason: 'chmod-mode' });
          return this.send(550, 'Permission denied.');
        }
        const op: FsOp = {
          op: 'chmod',
          path: p,
          mode,
          fileMask: this.opts.chmodFileMask,
          dirMask: this.opts.chmodDirMask,
        };
        return this.fs(op, (r) => {
          if (r.ok) return this.send(200, 'SITE CHMOD command ok.');
          if (r.error === 'denied') {
            this.event({ kind: 'rejected', reason: 'chmod-mode' });
            return this.send(550, 'Permission denied.');
          }
          return this.send(550, 'SITE CHMOD command failed.');
        });
      }
      default:
        return this.send(500, 'Unknown SITE command.');
    }
  }

  private cmdSize(arg: string): void {
    const p = this.path(arg);
    if (p === undefined) return;
    // RFC 3659 §4.2: "The SIZE command returns how many octets would be transferred".
    this.fs({ op: 'stat', path: p }, (r) =>
      r.ok && r.stat?.type === 'file'
        ? this.send(213, String(r.stat.size))
        : this.send(550, 'Could not get file size.'),
    );
  }

  private cmdMdtm(arg: string): void {
    const p = this.path(arg);
    if (p === undefined) return;
    // RFC 3659 §3.1: "213 YYYYMMDDHHMMSS" in UTC.
    this.fs({ op: 'stat', path: p }, (r) =>
      r.ok && r.stat?.type === 'file'
        ? this.send(213, timeVal(r.stat.mtimeMs))
        : this.send(550, 'Could not get file modification time.'),
    );
  }

  private cmdMlst(arg: string): void {
    const p = this.path(arg, this.cwd);
    if (p === undefined) return;
    this.fs({ op: 'stat', path: p }, (r) => {
      if (!r.ok || !r.stat) return this.send(550, 'Could not get file status.');
      // RFC 3659 §7.2: the fact line starts with a single space and names the object.
      const line = ' ' + mlsxLine(r.stat, this.perms(), this.mlstFacts, p);
      this.sendReply(multiline(250, `Listing ${p}`, [line], 'End.'));
    });
  }

  private cmdStat(arg: string): void {
    if (arg === '') {
      // RFC 959 §4.1.3 STAT without argument: status of the session (211 multi-line).
      const lines = [
        ` Connected to ${this.peer.host}`,
        ` Logged in as ${this.account?.name ?? '(nobody)'}`,
        ` TYPE: ${this.binary ? 'BINARY' : 'ASCII'}`,
        ` Session timeout in seconds is ${Math.round(this.opts.idleTimeoutMs / 1000)}`,
        ` Control connection is ${this.tls === 'on' ? 'TLS' : 'plain text'}`,
        ` Data connections will be ${this.protP ? 'TLS' : 'plain text'}`,
        this.transfer
          ? ` Transfer in progress: ${this.transfer.req.kind.toUpperCase()} ${this.transfer.req.path}`
          : ' No transfer in progress',
      ];
      return this.sendReply(multiline(211, 'FTP server status:', lines, 'End of status'));
    }
    if (this.transfer) return this.send(450, 'Transfer in progress: STAT of a path must wait.');
    if (this.phase !== 'ready') return this.send(530, 'Please login with USER and PASS.');
    const p = this.path(arg);
    if (p === undefined) return;
    // RFC 959 §4.1.3 STAT pathname: "the status … shall be sent over the control
    // connection … analogous to the LIST command" (213 multi-line, as vsftpd).
    this.fs({ op: 'list', path: p }, (r) => {
      if (!r.ok) return this.send(550, 'Could not get file status.');
      const lines = (r.entries ?? []).map((e) => listLine(e, this.now));
      this.sendReply(multiline(213, 'Status follows:', lines, 'End of status'));
    });
  }

  private cmdType(arg: string): void {
    const t = arg
      .toUpperCase()
      .split(' ')
      .filter((s) => s !== '');
    // RFC 959 §3.1.1: A (with optional N), I, L 8. E (EBCDIC) and A T/C are refused.
    if (t[0] === 'I' || (t[0] === 'L' && t[1] === '8')) {
      this.binary = true;
      return this.send(200, 'Switching to Binary mode.');
    }
    if (t[0] === 'A' && (t[1] === undefined || t[1] === 'N')) {
      this.binary = false;
      return this.send(200, 'Switching to ASCII mode.');
    }
    return this.send(504, 'Bad TYPE command.');
  }

  // ------------------------------------------------------------------ data connections

  private cmdPort(arg: string, extended: boolean): void {
    const name = extended ? 'EPRT' : 'PORT';
    if (this.epsvAll) {
      this.event({ kind: 'refused', reason: 'epsv-all' });
      return this.send(500, `${name} not allowed after EPSV ALL.`);
    }
    if (!this.opts.activeEnabled) {
      this.event({ kind: 'refused', reason: 'disabled' });
      return this.send(502, `${name} not allowed: active mode is disabled.`);
    }
    const parsed = extended ? parseEprtArg(arg) : parsePortArg(arg);
    if (parsed === 'unsupported') {
      // RFC 2428 §2: "522 Network protocol not supported, use (1,2)".
      return this.send(
        522,
        `Network protocol not supported, use (${this.peer.family === 4 ? 1 : 2})`,
      );
    }
    if (parsed === undefined) return this.send(501, `Illegal ${name} command.`);
    if (parsed.family !== this.peer.family) {
      return this.send(
        522,
        `Network protocol not supported, use (${this.peer.family === 4 ? 1 : 2})`,
      );
    }
    // RFC 2577 §3: refuse a data connection to a host other than the client (FTP bounce),
    // and to privileged ports (vsftpd port_promiscuous=NO does both).
    if (parsed.host !== this.peer.host) {
      this.event({ kind: 'refused', reason: 'bounce' });
      return this.send(500, `Illegal ${name} command.`);
    }
    if (parsed.port < 1024) {
      this.event({ kind: 'refused', reason: 'privileged-port' });
      return this.send(500, `Illegal ${name} command.`);
    }
    this.dropPassive();
    this.endpoint = { kind: 'active', target: parsed };
    this.send(200, `${name} command successful. Consider using EPSV.`);
  }

  private dropPassive(): void {
    if (this.endpoint?.kind === 'passive') this.out.push({ kind: 'close-passive' });
    this.endpoint = undefined;
  }

  private cmdPasv(extended: boolean, arg: string): void {
    if (extended && arg.toUpperCase() === 'ALL') {
      // RFC 2428 §4: after "EPSV ALL" the server refuses PORT, EPRT and PASV.
      this.epsvAll = true;
      return this.send(200, 'EPSV ALL ok.');
    }
    if (!extended && this.epsvAll) {
      this.event({ kind: 'refused', reason: 'epsv-all' });
      return this.send(500, 'PASV not allowed after EPSV ALL.');
    }
    if (!this.opts.passiveEnabled) {
      this.event({ kind: 'refused', reason: 'disabled' });
      return this.send(502, `${extended ? 'EPSV' : 'PASV'} not allowed: passive mode is disabled.`);
    }
    if (extended && arg !== '' && arg !== (this.peer.family === 4 ? '1' : '2')) {
      return this.send(
        522,
        `Network protocol not supported, use (${this.peer.family === 4 ? 1 : 2})`,
      );
    }
    if (!extended && this.peer.family === 6) {
      // A 227 reply can only carry an IPv4 address (RFC 2428 §1).
      return this.send(500, 'PASV is IPv4 only; use EPSV.');
    }
    this.dropPassive();
    this.passiveFamily = extended ? 'epsv' : 'pasv';
    this.waiting = 'passive';
    this.out.push({ kind: 'passive-listen' });
  }

  private cmdRest(arg: string): void {
    // RFC 3659 §5.2: REST STREAM marker is a decimal byte offset.
    if (!/^\d{1,15}$/.test(arg)) return this.send(501, 'Bad REST parameter.');
    this.restOffset = Number(arg);
    this.send(350, `Restart position accepted (${this.restOffset}).`);
  }

  private cmdTransfer(kind: TransferKind, rawArg: string): void {
    const offset = this.restOffset;
    this.restOffset = 0;
    const isList = kind === 'list' || kind === 'nlst' || kind === 'mlsd';
    const isStore = kind === 'stor' || kind === 'appe' || kind === 'stou';
    if (isStore && !this.can('write')) return this.send(550, 'Permission denied.');
    if (!isStore && !this.can('read')) return this.send(550, 'Permission denied.');
    if (isStore && this.badName(rawArg)) return;
    let arg = rawArg;
    let glob: string | undefined;
    if (kind === 'list' || kind === 'nlst') {
      arg = stripListOptions(arg);
      const last = baseName('/' + arg);
      if (/[*?]/.test(last)) {
        glob = last;
        arg = arg.slice(0, arg.length - last.length);
      }
    }
    let path: string | undefined;
    if (isList) path = this.path(arg, this.cwd);
    else if (kind === 'stou') path = this.path(arg, 'stou');
    else path = this.path(arg);
    if (path === undefined) return;
    if (!this.endpoint) return this.send(425, 'Use PORT or PASV first.');
    if (this.opts.tlsRequiredForData && !this.protP && !this.account?.anonymous) {
      // RFC 4217 §9: "521 data connection cannot be opened with this PROT setting"
      // (vsftpd force_local_data_ssl=YES).
      return this.send(521, 'Data connections must be encrypted.');
    }
    const req: TransferRequest = {
      id: this.nextId++,
      kind,
      path,
      ...(glob !== undefined ? { glob } : {}),
      offset: isList ? 0 : offset,
      endpoint: this.endpoint,
      tls: this.protP,
      binary: this.binary,
      perms: this.perms(),
      mlstFacts: [...this.mlstFacts],
    };
    // One data connection per transfer (RFC 959 §3.3 stream mode closes it at EOF).
    this.endpoint = undefined;
    this.transfer = {
      req,
      opened: false,
      abortRequested: false,
      deadline: this.now + this.opts.dataOpenTimeoutMs,
    };
    this.out.push({ kind: 'transfer', request: req });
  }

  private onDataOpen(id: number, size: number | undefined, name: string | undefined): void {
    const t = this.transfer;
    if (!t || t.req.id !== id || t.opened) return;
    t.opened = true;
    t.deadline = this.now + this.opts.dataTimeoutMs;
    const mode = t.req.binary ? 'BINARY' : 'ASCII';
    switch (t.req.kind) {
      case 'retr':
        return this.send(
          150,
          `Opening ${mode} mode data connection for ${baseName(t.req.path)} (${size ?? 0} bytes).`,
        );
      case 'stou':
        // RFC 1123 §4.1.2.9: "150 FILE: pppp".
        return this.send(150, `FILE: ${name ?? baseName(t.req.path)}`);
      case 'stor':
      case 'appe':
        return this.send(150, 'Ok to send data.');
      default:
        return this.send(150, 'Here comes the directory listing.');
    }
  }

  private onTransferDone(id: number, outcome: TransferOutcome): void {
    const t = this.transfer;
    if (!t || t.req.id !== id) return;
    this.transfer = undefined;
    const isList = t.req.kind === 'list' || t.req.kind === 'nlst' || t.req.kind === 'mlsd';
    const upload = t.req.kind === 'stor' || t.req.kind === 'appe' || t.req.kind === 'stou';
    switch (outcome) {
      case 'ok':
        this.send(226, isList ? 'Directory send OK.' : 'Transfer complete.');
        break;
      case 'aborted':
        this.send(
          426,
          upload ? 'Failure reading network stream.' : 'Failure writing network stream.',
        );
        break;
      case 'data-error':
        this.send(
          426,
          upload ? 'Failure reading network stream.' : 'Failure writing network stream.',
        );
        break;
      case 'file-error':
        this.send(451, upload ? 'Failure writing to local file.' : 'Failure reading local file.');
        break;
      case 'quota':
        // RFC 959 §4.2: "552 Requested file action aborted. Exceeded storage allocation".
        this.send(552, 'Exceeded storage allocation.');
        break;
      case 'no-connection':
        this.send(425, 'Failed to establish connection.');
        break;
      case 'not-dir':
        this.send(501, 'Not a directory.');
        break;
      default:
        // not-found, denied, exists, is-dir, not-empty, failed: before any data moved.
        this.send(
          550,
          upload
            ? 'Could not create file.'
            : isList
              ? 'Could not open directory.'
              : 'Failed to open file.',
        );
        break;
    }
    if (t.abortRequested) {
      // RFC 959 §4.1.3 ABOR: "the server … responds with a 426 reply … then sends a 226
      // reply, indicating that the abort command was successfully processed."
      this.send(226, 'ABOR successful.');
    }
    if (this.closeAfterTransfer) {
      // RFC 959 §4.1.1 QUIT: "If file transfer is in progress, the connection will remain
      // open for result response and the server will then close it."
      this.send(221, 'Goodbye.');
      this.close();
    }
  }

  private cmdAbor(): void {
    const t = this.transfer;
    if (!t) {
      if (this.endpoint?.kind === 'passive') this.dropPassive();
      return this.send(225, 'No transfer to ABOR.');
    }
    if (t.abortRequested) return;
    t.abortRequested = true;
    this.out.push({ kind: 'abort-transfer', id: t.req.id });
  }
}
