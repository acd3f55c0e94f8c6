/**
 * The session state machine on a manual clock: outputs are data, effects are answered by
 * hand, timers are driven with handleTimeout(now). Socket-level transcripts are in
 * server.test.ts.
 */
import t from 'tap';
import { FtpSession, type SessionOptions, type SessionOutput, type Account } from './session.js';

const OPTS: SessionOptions = {
  banner: 'test ready.',
  peerAddress: '::ffff:127.0.0.1',
  localAddress: '127.0.0.1',
  activeEnabled: true,
  passiveEnabled: true,
  passiveAddress: undefined,
  tlsAvailable: true,
  tlsRequiredForLogin: false,
  tlsRequiredForData: false,
  maxLoginFails: 3,
  failedLoginDelayMs: 1000,
  idleTimeoutMs: 300_000,
  dataTimeoutMs: 300_000,
  dataOpenTimeoutMs: 60_000,
  maxQueuedLines: 4,
  loginTimeoutMs: 30_000,
  chmodEnabled: true,
  chmodFileMask: 0o644,
  chmodDirMask: 0o755,
};
const ADMIN: Account = {
  name: 'admin',
  anonymous: false,
  permissions: new Set(['read', 'write', 'delete', 'mkdir', 'rename']),
};

const replies = (o: SessionOutput[]): string[] =>
  o.flatMap((x) => (x.kind === 'reply' ? x.reply.text.trimEnd().split('\r\n') : []));
const effects = (o: SessionOutput[]): string[] =>
  o.filter((x) => x.kind !== 'reply' && x.kind !== 'event').map((x) => x.kind);

function loggedIn(opts: Partial<SessionOptions> = {}): { s: FtpSession; now: number } {
  const s = new FtpSession({ ...OPTS, ...opts }, 0);
  s.handle({ kind: 'line', line: 'USER admin' }, 0);
  s.handle({ kind: 'line', line: 'PASS x' }, 0);
  s.handle({ kind: 'password-checked', account: ADMIN }, 0);
  return { s, now: 0 };
}

t.test('failed logins wait for the delay, the third closes', async (t) => {
  const s = new FtpSession(OPTS, 0);
  t.same(replies(s.greet()), ['220 test ready.']);
  let now = 0;
  for (let i = 1; i <= 3; i++) {
    t.same(replies(s.handle({ kind: 'line', line: 'USER admin' }, now)), [
      '331 Please specify the password.',
    ]);
    const o = s.handle({ kind: 'line', line: 'PASS bad' }, now);
    t.same(effects(o), ['check-password']);
    t.same(
      replies(s.handle({ kind: 'password-checked', account: undefined }, now)),
      [],
      'no 530 before the delay',
    );
    t.same(replies(s.handle({ kind: 'line', line: 'NOOP' }, now)), [], 'queued during the delay');
    t.equal(s.nextTimeout(), now + 1000);
    now += 1000;
    const out = s.handleTimeout(now);
    if (i < 3) {
      t.same(replies(out), ['530 Login incorrect.', '200 NOOP ok.']);
      t.notOk(s.closed);
    } else {
      t.same(replies(out), ['530 Login incorrect.']);
      t.same(effects(out), ['close']);
      t.ok(s.closed);
    }
  }
});

t.test('pipelined lines wait for the file system, replies keep their order', async (t) => {
  const { s } = loggedIn();
  const o1 = s.handle({ kind: 'line', line: 'CWD sub' }, 1);
  t.same(effects(o1), ['fs']);
  t.same(replies(s.handle({ kind: 'line', line: 'PWD' }, 1)), []);
  t.same(replies(s.handle({ kind: 'line', line: 'NOOP' }, 1)), []);
  const o2 = s.handle(
    {
      kind: 'fs-done',
      result: { ok: true, stat: { name: 'sub', type: 'dir', size: 0, mtimeMs: 0, mode: 0o755 } },
    },
    2,
  );
  t.same(replies(o2), [
    '250 Directory successfully changed.',
    '257 "/sub" is the current directory',
    '200 NOOP ok.',
  ]);
  // Too many queued lines: 421 and close (bounded memory).
  s.handle({ kind: 'line', line: 'SIZE a' }, 3);
  for (let i = 0; i < 4; i++) s.handle({ kind: 'line', line: 'NOOP' }, 3);
  const o3 = s.handle({ kind: 'line', line: 'NOOP' }, 3);
  t.same(replies(o3), ['421 Too many pipelined commands.']);
  t.ok(s.closed);
});

t.test(
  'AUTH TLS: lines pipelined behind it are dropped, PBSZ/PROT after the handshake',
  async (t) => {
    const s = new FtpSession(OPTS, 0);
    const o = s.handle({ kind: 'line', line: 'AUTH TLS' }, 0);
    t.same(replies(o), ['234 Proceed with negotiation.']);
    t.same(effects(o), ['start-tls']);
    t.same(replies(s.handle({ kind: 'line', line: 'USER injected' }, 0)), []);
    t.same(replies(s.handle({ kind: 'tls-ready' }, 0)), [], 'the injected USER never runs');
    t.same(replies(s.handle({ kind: 'line', line: 'PROT P' }, 0)), ['503 PROT needs PBSZ first.']);
    t.same(replies(s.handle({ kind: 'line', line: 'PBSZ 0' }, 0)), ['200 PBSZ set to 0.']);
    t.same(replies(s.handle({ kind: 'line', line: 'PROT P' }, 0)), ['200 PROT now Private.']);
    t.same(replies(s.handle({ kind: 'line', line: 'AUTH TLS' }, 0)), ['503 Already using TLS.']);
  },
);

t.test('TLS required: USER refused in clear, transfers refused without PROT P', async (t) => {
  const s = new FtpSession({ ...OPTS, tlsRequiredForLogin: true }, 0);
  t.same(replies(s.handle({ kind: 'line', line: 'USER admin' }, 0)), [
    '530 Non-anonymous sessions must use encryption.',
  ]);
  const { s: s2 } = loggedIn({ tlsRequiredForData: true });
  s2.handle({ kind: 'line', line: 'PORT 127,0,0,1,4,1' }, 0);
  t.same(replies(s2.handle({ kind: 'line', line: 'RETR a' }, 0)), [
    '521 Data connections must be encrypted.',
  ]);
});

t.test('idle timeout: 421 and close', async (t) => {
  const { s } = loggedIn();
  t.equal(s.nextTimeout(), 300_000);
  s.handle({ kind: 'line', line: 'NOOP' }, 100_000);
  t.equal(s.nextTimeout(), 400_000, 'a command restarts the idle timer');
  t.same(replies(s.handleTimeout(399_999)), []);
  const o = s.handleTimeout(400_000);
  t.same(replies(o), ['421 Timeout.']);
  t.ok(s.closed);
});

t.test('transfer: data-open timeout, data stall, ABOR, QUIT during transfer', async (t) => {
  const { s } = loggedIn();
  t.same(replies(s.handle({ kind: 'line', line: 'EPRT |1|127.0.0.1|5000|' }, 0)), [
    '200 EPRT command successful. Consider using EPSV.',
  ]);
  let o = s.handle({ kind: 'line', line: 'RETR a.txt' }, 0);
  const tr = o.find((x) => x.kind === 'transfer');
  t.ok(
    tr &&
      tr.kind === 'transfer' &&
      tr.request.endpoint.kind === 'active' &&
      tr.request.endpoint.target.port === 5000,
  );
  const id = tr?.kind === 'transfer' ? tr.request.id : 0;
  t.equal(s.nextTimeout(), 60_000, 'connect timeout');
  o = s.handleTimeout(60_000);
  t.same(replies(o), ['425 Failed to establish connection.']);
  t.same(effects(o), ['abort-transfer']);
  t.same(
    replies(s.handle({ kind: 'transfer-done', id, outcome: 'aborted', bytes: 0 }, 60_001)),
    [],
    'a late result is ignored',
  );

  // Stall: no progress for dataTimeoutMs after the 150.
  s.handle({ kind: 'line', line: 'PORT 127,0,0,1,19,136' }, 61_000);
  o = s.handle({ kind: 'line', line: 'RETR a.txt' }, 61_000);
  const id2 = (o.find((x) => x.kind === 'transfer') as { request: { id: number } }).request.id;
  t.same(replies(s.handle({ kind: 'data-open', id: id2, size: 9 }, 61_000)), [
    '150 Opening ASCII mode data connection for a.txt (9 bytes).',
  ]);
  s.handle({ kind: 'progress', id: id2 }, 100_000);
  t.equal(s.nextTimeout(), 400_000);
  t.same(replies(s.handle({ kind: 'line', line: 'STAT' }, 100_000)).slice(-2), [
    ' Transfer in progress: RETR /a.txt',
    '211 End of status',
  ]);
  t.same(
    replies(s.handle({ kind: 'line', line: 'ABOR' }, 100_001)),
    [],
    'ABOR asks the adapter first',
  );
  t.same(
    replies(s.handle({ kind: 'transfer-done', id: id2, outcome: 'aborted', bytes: 3 }, 100_002)),
    ['426 Failure writing network stream.', '226 ABOR successful.'],
  );

  // QUIT during a transfer: the transfer's reply, then 221 (RFC 959 §4.1.1).
  s.handle({ kind: 'line', line: 'PORT 127,0,0,1,19,136' }, 200_000);
  o = s.handle({ kind: 'line', line: 'STOR b.txt' }, 200_000);
  const id3 = (o.find((x) => x.kind === 'transfer') as { request: { id: number } }).request.id;
  s.handle({ kind: 'data-open', id: id3 }, 200_000);
  t.same(replies(s.handle({ kind: 'line', line: 'QUIT' }, 200_001)), []);
  o = s.handle({ kind: 'transfer-done', id: id3, outcome: 'ok', bytes: 5 }, 200_002);
  t.same(replies(o), ['226 Transfer complete.', '221 Goodbye.']);
  t.ok(s.closed);
});

t.test('bounce, privileged port, IPv6 peer, PASV advertised address', async (t) => {
  const { s } = loggedIn();
  const ev: string[] = [];
  const run = (line: string): string[] => {
    const o = s.handle({ kind: 'line', line }, 0);
    for (const x of o)
      if (x.kind === 'event' && x.event.kind === 'refused') ev.push(x.event.reason);
    return replies(o);
  };
  t.same(run('PORT 10,1,2,3,4,1'), ['500 Illegal PORT command.']);
  t.same(run('EPRT |1|127.0.0.1|80|'), ['500 Illegal EPRT command.']);
  t.same(run('PORT 127,0,0,1,300,1'), ['501 Illegal PORT command.']);
  t.same(ev, ['bounce', 'privileged-port']);
  const o = s.handle({ kind: 'line', line: 'PASV' }, 0);
  t.same(effects(o), ['passive-listen']);
  t.same(replies(s.handle({ kind: 'passive-ready', port: 11000 }, 0)), [
    '227 Entering Passive Mode (127,0,0,1,42,248).',
  ]);
  const { s: s2 } = loggedIn({ passiveAddress: '192.168.0.4' });
  s2.handle({ kind: 'line', line: 'PASV' }, 0);
  t.same(replies(s2.handle({ kind: 'passive-ready', port: 21100 }, 0)), [
    '227 Entering Passive Mode (192,168,0,4,82,108).',
  ]);
  const { s: s6 } = loggedIn({ peerAddress: '::1' });
  t.same(replies(s6.handle({ kind: 'line', line: 'PASV' }, 0)), [
    '500 PASV is IPv4 only; use EPSV.',
  ]);
  t.same(replies(s6.handle({ kind: 'line', line: 'EPRT |2|::1|5000|' }, 0)), [
    '200 EPRT command successful. Consider using EPSV.',
  ]);
  t.same(replies(s6.handle({ kind: 'line', line: 'EPSV 1' }, 0)), [
    '522 Network protocol not supported, use (2)',
  ]);
});

t.test('misc replies: HELP, ACCT, TYPE, REST, OPTS MLST, USER twice', async (t) => {
  const { s } = loggedIn();
  const r = (line: string): string[] => replies(s.handle({ kind: 'line', line }, 0));
  const help = r('HELP');
  t.equal(help[0], '214-The following commands are recognized.');
  t.equal(help[help.length - 1], '214 Help OK.');
  t.same(r('ACCT x'), ['202 ACCT command not needed at this site.']);
  t.same(r('TYPE E'), ['504 Bad TYPE command.']);
  t.same(r('TYPE L 8'), ['200 Switching to Binary mode.']);
  t.same(r('REST x'), ['501 Bad REST parameter.']);
  t.same(r('OPTS MLST type;size;bogus;'), ['200 MLST OPTS type;size;']);
  t.same(r('USER other'), ["530 Can't change to another user."]);
  t.same(r('XPWD'), ['257 "/" is the current directory']);
  t.same(r('SITE BOGUS'), ['500 Unknown SITE command.']);
  t.same(r('SITE CHMOD 9 x'), ['501 SITE CHMOD needs 2 arguments.']);
  t.same(r('RNTO x'), ['503 RNFR required first.']);
  t.same(r('ABOR'), ['225 No transfer to ABOR.']);
});

t.test('login timeout: no USER/PASS within loginTimeoutMs gets 421 and close', async (t) => {
  const s = new FtpSession({ ...OPTS, loginTimeoutMs: 30_000 }, 0);
  s.greet();
  t.equal(s.nextTimeout(), 30_000, 'armed before any command (idle is 300 s)');
  // Activity does not extend it: it bounds connect-to-login, not idleness.
  t.same(replies(s.handle({ kind: 'line', line: 'NOOP' }, 29_000)), ['200 NOOP ok.']);
  t.equal(s.nextTimeout(), 30_000);
  t.same(replies(s.handleTimeout(29_999)), []);
  const o = s.handleTimeout(30_000);
  t.same(replies(o), ['421 Login timeout.']);
  t.same(effects(o), ['close']);
  t.ok(
    o.some((x) => x.kind === 'event' && x.event.kind === 'timeout' && x.event.which === 'login'),
  );
  t.ok(s.closed);

  // Also while the password check is outstanding (a slow or stalled check).
  const s2 = new FtpSession(OPTS, 0);
  s2.handle({ kind: 'line', line: 'USER admin' }, 0);
  s2.handle({ kind: 'line', line: 'PASS x' }, 0);
  t.equal(s2.nextTimeout(), 30_000);
  t.same(replies(s2.handleTimeout(30_000)), ['421 Login timeout.']);
  t.same(replies(s2.handle({ kind: 'password-checked', account: ADMIN }, 30_001)), []);

  // Logged in in time: only the idle timer remains.
  const { s: s3 } = loggedIn();
  t.equal(s3.nextTimeout(), 300_000);
  t.same(replies(s3.handleTimeout(30_000)), []);
  t.notOk(s3.closed);
});

t.test('shared back-off: a longer delay is honoured and a ban closes at once', async (t) => {
  const s = new FtpSession(OPTS, 0);
  s.handle({ kind: 'line', line: 'USER admin' }, 0);
  s.handle({ kind: 'line', line: 'PASS bad' }, 0);
  s.handle({ kind: 'password-checked', account: undefined, delayMs: 4000 }, 0);
  t.equal(s.nextTimeout(), 4000, 'the shared delay, not the 1 s per-session one');
  t.same(replies(s.handleTimeout(4000)), ['530 Login incorrect.']);
  t.notOk(s.closed, 'first failure of three, no ban');
  s.handle({ kind: 'line', line: 'USER admin' }, 4000);
  s.handle({ kind: 'line', line: 'PASS bad' }, 4000);
  s.handle({ kind: 'password-checked', account: undefined, delayMs: 0, close: true }, 4000);
  const o = s.handleTimeout(5000);
  t.same(replies(o), ['530 Login incorrect.']);
  t.same(effects(o), ['close'], 'banned: closed on the second failure');
});

t.test('SITE CHMOD: never the home, only modes within the masks', async (t) => {
  const { s } = loggedIn();
  const r = (line: string): SessionOutput[] => s.handle({ kind: 'line', line }, 0);
  for (const target of ['../../..', '/', '.', 'sub/..', '/../..']) {
    const o = r(`SITE CHMOD 755 ${target}`);
    t.same(replies(o), ['550 SITE CHMOD command failed.'], `home via ${target}`);
    t.same(effects(o), [], 'no fs effect');
  }
  t.same(replies(r('SITE CHMOD 777 a.txt')), ['550 Permission denied.'], 'world-writable');
  t.same(replies(r('SITE CHMOD 4755 a.txt')), ['550 Permission denied.'], 'set-uid');
  const o = r('SITE CHMOD 600 a.txt');
  const fs = o.find((x) => x.kind === 'fs');
  t.same(fs?.kind === 'fs' ? fs.op : undefined, {
    op: 'chmod',
    path: '/a.txt',
    mode: 0o600,
    fileMask: 0o644,
    dirMask: 0o755,
  });
  t.same(replies(s.handle({ kind: 'fs-done', result: { ok: true } }, 0)), [
    '200 SITE CHMOD command ok.',
  ]);
  r('SITE CHMOD 755 a.txt');
  t.same(
    replies(s.handle({ kind: 'fs-done', result: { ok: false, error: 'denied' } }, 0)),
    ['550 Permission denied.'],
    'the adapter refuses 0755 on a file',
  );
  const off = loggedIn({ chmodEnabled: false }).s;
  t.same(replies(off.handle({ kind: 'line', line: 'SITE CHMOD 600 a.txt' }, 0)), [
    '550 Permission denied.',
  ]);
});

t.test('control bytes in created names: 553', async (t) => {
  const { s } = loggedIn();
  s.handle({ kind: 'line', line: 'PASV' }, 0);
  s.handle({ kind: 'passive-ready', port: 40000 }, 0);
  for (const line of [
    'MKD a\u0001b',
    'MKD evil\u001b[2J',
    'XMKD x\u007f',
    'MKD c1\u009b',
    'STOR f\u0007.txt',
    'APPE f\u0000',
    'STOU t\u001f',
  ]) {
    const o = s.handle({ kind: 'line', line }, 0);
    t.same(replies(o), ['553 File name not allowed.'], JSON.stringify(line));
    t.same(effects(o), [], 'no effect');
  }
  s.handle({ kind: 'line', line: 'RNFR a.txt' }, 0);
  s.handle({ kind: 'fs-done', result: { ok: true, stat: undefined } }, 0);
  t.same(replies(s.handle({ kind: 'line', line: 'RNTO b\u0005' }, 0)), [
    '553 File name not allowed.',
  ]);
  const o = s.handle({ kind: 'line', line: 'MKD café' }, 0);
  t.same(effects(o), ['fs'], 'non-ASCII printable names are fine');
});
