/**
 * Socket tests on 127.0.0.1 port 0: whole sessions as C:/S: transcripts, data
 * connections in both modes, uploads, quota, traversal, bounce and theft, split commands,
 * abort. The pure session has its own tests (session.test.ts).
 */
import t from 'tap';
import { connect } from 'node:net';
import {
  existsSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  startFixture,
  ControlClient,
  runTranscript,
  login,
  drain,
  passive,
  activeListener,
  ADMIN_TXT,
} from './testing-server.js';

t.test('login, PWD, CWD, SYST, FEAT and QUIT as a transcript', async (t) => {
  const fx = await startFixture({}, t);
  const c = await ControlClient.open(fx.port);
  const bad = await runTranscript(
    c,
    `
    S: 220 netsvc FTP ready.
    C: SYST
    S: 530 Please login with USER and PASS.
    C: USER admin
    S: 331 Please specify the password.
    C: PASS pw-admin
    S: 230 Login successful.
    C: PWD
    S: 257 "/" is the current directory
    C: MKD sub
    S: 257 "/sub" created
    C: CWD sub
    S: 250 Directory successfully changed.
    C: PWD
    S: 257 "/sub" is the current directory
    C: CDUP
    S: 250 Directory successfully changed.
    C: CWD /nope
    S: 550 Failed to change directory.
    C: SYST
    S: 215 UNIX Type: L8
    C: TYPE I
    S: 200 Switching to Binary mode.
    C: MODE B
    S: 504 Bad MODE command.
    C: STRU F
    S: 200 Structure set to F.
    C: SIZE Admin.txt
    S: 213 70
    C: MDTM Admin.txt
    S: /^213 \\d{14}$/
    C: FEAT
    S: 211-Features:
    S:  EPRT
    S:  EPSV
    S:  MDTM
    S:  MLST type*;size*;modify*;perm*;UNIX.mode*;
    S:  PASV
    S:  REST STREAM
    S:  SIZE
    S:  TVFS
    S:  UTF8
    S: 211 End
    C: OPTS UTF8 ON
    S: 200 Always in UTF8 mode.
    C: FOO
    S: 500 Unknown command.
    C: QUIT
    S: 221 Goodbye.
    S: <closed>
    `,
  );
  t.same(bad, []);
});

t.test('failed logins: 530 after a delay, disconnect after the third', async (t) => {
  const fx = await startFixture({ limits: { failedLoginDelayMs: 200, maxPerIp: 20 } }, t);
  const c = await ControlClient.open(fx.port);
  await c.reply();
  const t0 = Date.now();
  const bad = await runTranscript(
    c,
    `
    C: USER admin
    S: 331 Please specify the password.
    C: PASS wrong
    S: 530 Login incorrect.
    C: USER nobody
    S: 331 Please specify the password.
    C: PASS wrong
    S: 530 Login incorrect.
    C: PASS again
    S: 503 Login with USER first.
    C: USER admin
    S: 331 Please specify the password.
    C: PASS wrong
    S: 530 Login incorrect.
    S: <closed>
    `,
  );
  t.same(bad, []);
  t.ok(Date.now() - t0 >= 600, 'each 530 waited for the delay');
  t.equal(fx.metrics.logins.value(['failed', 'user']), 3);
});

t.test(
  'LIST, NLST, MLSD over EPSV and PASV; MLST and STAT on the control connection',
  async (t) => {
    const fx = await startFixture({}, t);
    mkdirSync(join(fx.home('admin'), 'docs'));
    const c = await login(fx.port);
    let d = await passive(c, 'EPSV');
    c.send('LIST');
    const list = drain(d);
    t.match((await c.reply())[0], /^150 Here comes the directory listing\./);
    t.match(
      (await list).toString(),
      /^-rw-r--r-- {4}1 ftp {6}ftp +70 \w{3} \d\d \d\d:\d\d Admin\.txt\r\ndrwx/,
    );
    t.equal((await c.reply())[0], '226 Directory send OK.');

    d = await passive(c, 'PASV');
    c.send('NLST');
    const names = drain(d);
    await c.reply();
    t.equal((await names).toString(), 'Admin.txt\r\ndocs\r\n');
    await c.reply();

    d = await passive(c);
    c.send('MLSD');
    const ml = drain(d);
    await c.reply();
    const mlsd = (await ml).toString();
    t.match(mlsd, /^type=cdir;modify=\d{14};perm=cdeflmp;UNIX\.mode=07\d\d; \.\r\n/);
    t.match(mlsd, /type=file;size=70;modify=\d{14};perm=awdfr;UNIX\.mode=0644; Admin\.txt\r\n/);
    t.match(mlsd, /type=dir;modify=\d{14};perm=cdeflmp;UNIX\.mode=07\d\d; docs\r\n/);
    await c.reply();

    c.send('MLST Admin.txt');
    const mlst = await c.reply();
    t.equal(mlst.length, 3);
    t.equal(mlst[0], '250-Listing /Admin.txt');
    t.match(mlst[1], /^ type=file;size=70;modify=\d{14};perm=awdfr;UNIX\.mode=0644; \/Admin\.txt$/);
    t.equal(mlst[2], '250 End.');

    c.send('STAT /');
    const st = await c.reply();
    t.equal(st[0], '213-Status follows:');
    t.match(st[1], /Admin\.txt$/);
    t.equal(st[st.length - 1], '213 End of status');

    c.send('STAT');
    const st2 = await c.reply();
    t.equal(st2[0], '211-FTP server status:');
    t.equal(st2[st2.length - 1], '211 End of status');
    c.close();
  },
);

t.test('RETR in each mode: EPSV, PASV, PORT, EPRT; REST', async (t) => {
  const fx = await startFixture({}, t);
  const c = await login(fx.port);
  t.equal(await c.cmd('TYPE I'), '200 Switching to Binary mode.');
  for (const verb of ['EPSV', 'PASV'] as const) {
    const d = await passive(c, verb);
    c.send('RETR Admin.txt');
    const got = drain(d);
    t.equal(
      (await c.reply())[0],
      '150 Opening BINARY mode data connection for Admin.txt (70 bytes).',
    );
    t.equal((await got).toString(), ADMIN_TXT, verb);
    t.equal((await c.reply())[0], '226 Transfer complete.');
  }
  const l = await activeListener();
  t.teardown(() => l.close());
  t.equal(
    await c.cmd(`PORT 127,0,0,1,${l.port >> 8},${l.port & 255}`),
    '200 PORT command successful. Consider using EPSV.',
  );
  c.send('RETR Admin.txt');
  let s = await l.next();
  t.equal((await drain(s)).toString(), ADMIN_TXT, 'PORT');
  t.equal(
    (await c.reply())[0],
    '150 Opening BINARY mode data connection for Admin.txt (70 bytes).',
  );
  t.equal((await c.reply())[0], '226 Transfer complete.');

  t.equal(
    await c.cmd(`EPRT |1|127.0.0.1|${l.port}|`),
    '200 EPRT command successful. Consider using EPSV.',
  );
  t.equal(await c.cmd('REST 6'), '350 Restart position accepted (6).');
  c.send('RETR Admin.txt');
  s = await l.next();
  t.equal((await drain(s)).toString(), ADMIN_TXT.slice(6), 'EPRT + REST');
  await c.reply();
  await c.reply();

  t.equal(await c.cmd('RETR Admin.txt'), '425 Use PORT or PASV first.');
  await passive(c);
  t.equal(await c.cmd('RETR nothing.txt'), '550 Failed to open file.');
  c.close();
  const xfer = readFileSync(join(fx.dataDir, 'logs/xferlog'), 'utf8').trim().split('\n');
  t.equal(xfer.length, 4);
  t.match(
    xfer[0],
    /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \d+ 127\.0\.0\.1 70 \/Admin\.txt b _ o r admin ftp 0 \* c$/,
  );
  const plog = readFileSync(join(fx.dataDir, 'logs/ftp-protocol.log'), 'utf8');
  t.match(plog, /FTP command: Client "127\.0\.0\.1", "PASS <hidden>"/);
  t.notMatch(plog, /pw-admin/);
});

t.test('STOR, APPE, STOU, RNFR/RNTO, DELE, RMD, SITE CHMOD', async (t) => {
  const fx = await startFixture({}, t);
  const c = await login(fx.port);
  const up = async (cmd: string, body: string): Promise<string[]> => {
    const d = await passive(c);
    c.send(cmd);
    const first = (await c.reply())[0]!;
    d.end(body);
    return [first, (await c.reply())[0]!];
  };
  t.same(await up('STOR new.txt', 'hello '), ['150 Ok to send data.', '226 Transfer complete.']);
  t.same(await up('APPE new.txt', 'world'), ['150 Ok to send data.', '226 Transfer complete.']);
  t.equal(readFileSync(join(fx.home('admin'), 'new.txt'), 'utf8'), 'hello world');
  const [stou] = await up('STOU new.txt', 'x');
  t.equal(stou, '150 FILE: new.txt.1');
  t.equal(readFileSync(join(fx.home('admin'), 'new.txt.1'), 'utf8'), 'x');
  t.equal(await c.cmd('RNFR new.txt'), '350 Ready for RNTO.');
  t.equal(await c.cmd('RNTO renamed.txt'), '250 Rename successful.');
  t.equal(await c.cmd('RNTO other.txt'), '503 RNFR required first.');
  t.equal(await c.cmd('SITE CHMOD 600 renamed.txt'), '200 SITE CHMOD command ok.');
  t.equal(await c.cmd('DELE renamed.txt'), '250 Delete operation successful.');
  t.equal(await c.cmd('DELE renamed.txt'), '550 Delete operation failed.');
  t.equal(await c.cmd('MKD d'), '257 "/d" created');
  t.equal(await c.cmd('RMD d'), '250 Remove directory operation successful.');
  t.equal(await c.cmd('RMD /'), '550 Remove directory operation failed.');
  t.same(
    readdirSync(fx.home('admin')).sort(),
    ['Admin.txt', 'new.txt.1'],
    'no temporary file left behind',
  );
  c.close();

  // A read-only user.
  const r = await login(fx.port, 'reader');
  await passive(r);
  t.equal(await r.cmd('STOR x.txt'), '550 Permission denied.');
  t.equal(await r.cmd('DELE Admin.txt'), '550 Permission denied.');
  t.equal(await r.cmd('MKD x'), '550 Permission denied.');
  t.equal(await r.cmd('RNFR Admin.txt'), '550 Permission denied.');
  t.equal(await r.cmd('SITE CHMOD 777 Admin.txt'), '550 Permission denied.');
  r.close();
});

t.test('quota: 552 and no partial file, overwrite within quota allowed', async (t) => {
  const fx = await startFixture({}, t);
  const c = await login(fx.port);
  const big = Buffer.alloc(80 * 1024, 0x61);
  let d = await passive(c);
  c.send('STOR big.bin');
  t.equal((await c.reply())[0], '150 Ok to send data.');
  d.on('error', () => {});
  d.end(big);
  t.equal((await c.reply())[0], '552 Exceeded storage allocation.');
  t.notOk(existsSync(join(fx.home('admin'), 'big.bin')), 'no partial file');
  t.same(readdirSync(fx.home('admin')), ['Admin.txt'], 'no temporary file');

  // 60 KB fits (70 + 61440 < 71680), and replacing it with 60 KB again fits too.
  for (let i = 0; i < 2; i++) {
    d = await passive(c);
    c.send('STOR ok.bin');
    await c.reply();
    d.end(Buffer.alloc(60 * 1024));
    t.equal((await c.reply())[0], '226 Transfer complete.', `overwrite ${i}`);
  }
  // APPE past the quota: 552, and the file keeps its size.
  d = await passive(c);
  c.send('APPE ok.bin');
  await c.reply();
  d.on('error', () => {});
  d.end(Buffer.alloc(20 * 1024));
  t.equal((await c.reply())[0], '552 Exceeded storage allocation.');
  t.equal(readFileSync(join(fx.home('admin'), 'ok.bin')).length, 60 * 1024);
  // Deleting frees space.
  t.equal(await c.cmd('DELE ok.bin'), '250 Delete operation successful.');
  d = await passive(c);
  c.send('STOR again.bin');
  await c.reply();
  d.end(Buffer.alloc(60 * 1024));
  t.equal((await c.reply())[0], '226 Transfer complete.');
  t.equal(fx.metrics.transfers.value(['upload', 'quota']), 2);
  c.close();
});

t.test('traversal: ../, absolute paths and symlinks stay inside the home', async (t) => {
  const fx = await startFixture({}, t);
  const outside = join(fx.root, 'secret.txt');
  writeFileSync(outside, 'secret');
  symlinkSync(outside, join(fx.home('admin'), 'escape.txt'));
  symlinkSync('/etc', join(fx.home('admin'), 'etc'));
  symlinkSync('Admin.txt', join(fx.home('admin'), 'inside.txt'));
  const c = await login(fx.port);
  const bad = await runTranscript(
    c,
    `
    C: CWD ../../..
    S: 250 Directory successfully changed.
    C: PWD
    S: 257 "/" is the current directory
    C: SIZE ../../../../etc/passwd
    S: 550 Could not get file size.
    C: SIZE /etc/passwd
    S: 550 Could not get file size.
    C: SIZE ../user1/User.txt
    S: 550 Could not get file size.
    C: SIZE escape.txt
    S: 550 Could not get file size.
    C: CWD etc
    S: 550 Failed to change directory.
    C: SIZE etc/passwd
    S: 550 Could not get file size.
    C: SIZE inside.txt
    S: 213 70
    C: SIZE /../Admin.txt
    S: 213 70
    C: RNFR Admin.txt
    S: 350 Ready for RNTO.
    C: RNTO ../../outside.txt
    S: 250 Rename successful.
    C: RNFR outside.txt
    S: 350 Ready for RNTO.
    C: RNTO etc/x
    S: 550 Rename failed.
    `,
  );
  t.same(bad, []);
  t.ok(
    existsSync(join(fx.home('admin'), 'outside.txt')),
    '../../outside.txt landed at /outside.txt',
  );
  let d = await passive(c);
  c.send('RETR escape.txt');
  t.equal((await c.reply())[0], '550 Failed to open file.');
  d.destroy();
  d = await passive(c);
  c.send('NLST');
  const names = drain(d);
  await c.reply();
  // Admin.txt was renamed above, so inside.txt now dangles: neither it nor the escaping links show.
  t.equal(
    (await names).toString(),
    'outside.txt\r\n',
    'escaping and dangling symlinks are not listed',
  );
  await c.reply();
  // DELE of a symlink deletes the link, never its target outside.
  t.equal(await c.cmd('DELE escape.txt'), '250 Delete operation successful.');
  t.ok(existsSync(outside));
  c.close();
  t.notMatch(
    readFileSync(join(fx.dataDir, 'logs/ftp-protocol.log'), 'utf8'),
    new RegExp(fx.root + '/'),
    'no real path in replies',
  );
});

t.test('bounce: PORT/EPRT to another host or a privileged port is refused', async (t) => {
  const fx = await startFixture({}, t);
  const c = await login(fx.port);
  const bad = await runTranscript(
    c,
    `
    C: PORT 10,0,0,1,4,1
    S: 500 Illegal PORT command.
    C: PORT 127,0,0,2,4,1
    S: 500 Illegal PORT command.
    C: EPRT |1|192.168.0.9|2000|
    S: 500 Illegal EPRT command.
    C: PORT 127,0,0,1,0,21
    S: 500 Illegal PORT command.
    C: EPRT |2|::1|2000|
    S: 522 Network protocol not supported, use (1)
    C: EPRT |7|x|1|
    S: 522 Network protocol not supported, use (1)
    C: PORT 1,2,3
    S: 501 Illegal PORT command.
    C: EPSV ALL
    S: 200 EPSV ALL ok.
    C: PORT 127,0,0,1,4,1
    S: 500 PORT not allowed after EPSV ALL.
    C: PASV
    S: 500 PASV not allowed after EPSV ALL.
    `,
  );
  t.same(bad, []);
  t.equal(fx.metrics.refused.value(['bounce']), 3);
  t.equal(fx.metrics.refused.value(['privileged_port']), 1);
  c.close();
});

t.test('theft: a passive connection from another address is refused', async (t) => {
  const fx = await startFixture({}, t);
  const c = await login(fx.port);
  const r = await c.cmd('EPSV');
  const port = Number(/\|\|\|(\d+)\|/.exec(r)![1]);
  const thief = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  const stolen = await new Promise<Buffer>((ok) => {
    const chunks: Buffer[] = [];
    thief.on('data', (d: Buffer) => chunks.push(d));
    thief.on('close', () => ok(Buffer.concat(chunks)));
    thief.on('error', () => {});
  });
  t.equal(stolen.length, 0, 'thief got nothing and was closed');
  const d = connect({ port, host: '127.0.0.1' });
  c.send('RETR Admin.txt');
  t.equal((await drain(d)).toString(), ADMIN_TXT, 'the rightful client still gets the file');
  await c.reply();
  t.equal((await c.reply())[0], '226 Transfer complete.');
  t.equal(fx.metrics.refused.value(['theft']), 1);
  c.close();
});

t.test('commands split over several TCP writes, and pipelined in one', async (t) => {
  const fx = await startFixture({}, t);
  const c = await ControlClient.open(fx.port);
  await c.reply();
  const pieces = ['US', 'ER adm', 'in\r', '\nPA', 'SS pw-a', 'dmin\r\n'];
  for (const p of pieces) {
    c.write(p);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await c.reply())[0], '331 Please specify the password.');
  t.equal((await c.reply())[0], '230 Login successful.');
  // Byte by byte.
  for (const b of Buffer.from('PWD\r\n')) {
    c.write(Buffer.from([b]));
    await new Promise((r) => setTimeout(r, 5));
  }
  t.equal((await c.reply())[0], '257 "/" is the current directory');
  // Pipelined: replies come back in order even though CWD waits for the file system.
  c.write('CWD /\r\nNOOP\r\nSIZE Admin.txt\r\nPWD\r\n');
  t.equal((await c.reply())[0], '250 Directory successfully changed.');
  t.equal((await c.reply())[0], '200 NOOP ok.');
  t.equal((await c.reply())[0], '213 70');
  t.equal((await c.reply())[0], '257 "/" is the current directory');
  // Telnet IP + DM before ABOR (RFC 959 §4.1.3) reaches the session as plain ABOR.
  c.write(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
  t.equal((await c.reply())[0], '225 No transfer to ABOR.');
  c.write('X'.repeat(5000) + '\r\nNOOP\r\n');
  t.equal((await c.reply())[0], '500 Command line too long.');
  t.equal((await c.reply())[0], '200 NOOP ok.');
  c.close();
});

t.test('ABOR mid-transfer: 426 then 226, the session goes on', async (t) => {
  // A rate limit keeps the download running long enough to abort it.
  const fx = await startFixture(
    {
      users: [
        {
          name: 'admin',
          password: 'pw-admin',
          home: 'homes/admin',
          permissions: ['read', 'write'],
          maxRateBytesPerSec: 64 * 1024,
        },
      ],
    },
    t,
  );
  mkdirSync(fx.home('admin'), { recursive: true });
  writeFileSync(join(fx.home('admin'), 'big.bin'), Buffer.alloc(4 * 1024 * 1024));
  const c = await login(fx.port);
  const d = await passive(c);
  let got = 0;
  d.on('data', (b: Buffer) => (got += b.length));
  d.on('error', () => {});
  c.send('RETR big.bin');
  t.match((await c.reply())[0], /^150 /);
  await new Promise((r) => setTimeout(r, 300));
  c.write(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
  t.equal((await c.reply())[0], '426 Failure writing network stream.');
  t.equal((await c.reply())[0], '226 ABOR successful.');
  t.ok(got > 0 && got < 4 * 1024 * 1024, `partial data before the abort (${got} bytes)`);
  t.equal(await c.cmd('NOOP'), '200 NOOP ok.');
  t.equal(fx.metrics.transfers.value(['download', 'aborted']), 1);
  const xfer = readFileSync(join(fx.dataDir, 'logs/xferlog'), 'utf8');
  t.match(xfer, / \/big\.bin a _ o r admin ftp 0 \* i\n$/, 'xferlog marks it incomplete');

  // An upload aborted keeps what arrived (resumable, like vsftpd).
  const u = await passive(c);
  c.send('STOR part.bin');
  await c.reply();
  u.write(Buffer.alloc(1000));
  await new Promise((r) => setTimeout(r, 200));
  c.send('ABOR');
  t.equal((await c.reply())[0], '426 Failure reading network stream.');
  t.equal((await c.reply())[0], '226 ABOR successful.');
  t.ok(existsSync(join(fx.home('admin'), 'part.bin')));
  c.close();
});

t.test('limits: max per IP and max clients get 421', async (t) => {
  const fx = await startFixture({ limits: { maxPerIp: 2, maxClients: 3 } }, t);
  const a = await ControlClient.open(fx.port);
  const b = await ControlClient.open(fx.port);
  t.match((await a.reply())[0], /^220/);
  t.match((await b.reply())[0], /^220/);
  const c = await ControlClient.open(fx.port);
  t.equal((await c.reply())[0], '421 There are too many connections from your internet address.');
  const d = await ControlClient.open(fx.port, '127.0.0.1', '127.0.0.3');
  t.match((await d.reply())[0], /^220/);
  const e = await ControlClient.open(fx.port, '127.0.0.1', '127.0.0.4');
  t.equal((await e.reply())[0], '421 There are too many connected users, please try later.');
  for (const x of [a, b, c, d, e]) x.close();
});

t.test('idle timeout closes with 421', async (t) => {
  const fx = await startFixture({ limits: { idleTimeoutMs: 300, maxPerIp: 20 } }, t);
  const c = await login(fx.port);
  t.equal((await c.reply())[0], '421 Timeout.');
  t.ok(await c.closed());
});

t.test('disabled modes and passive range', async (t) => {
  const fx = await startFixture(
    { passive: { enabled: false }, active: { enabled: true, sourcePort: 0 } },
    t,
  );
  const c = await login(fx.port);
  t.equal(await c.cmd('PASV'), '502 PASV not allowed: passive mode is disabled.');
  t.equal(await c.cmd('EPSV'), '502 EPSV not allowed: passive mode is disabled.');
  c.close();
  const fx2 = await startFixture(
    { active: { enabled: false }, passive: { portMin: 11090, portMax: 11092 } },
    t,
  );
  const c2 = await login(fx2.port);
  t.equal(await c2.cmd('PORT 127,0,0,1,4,1'), '502 PORT not allowed: active mode is disabled.');
  const r = await c2.cmd('EPSV');
  const p = Number(/\|\|\|(\d+)\|/.exec(r)![1]);
  t.ok(p >= 11090 && p <= 11092, `passive port ${p} in range`);
  c2.close();
});
