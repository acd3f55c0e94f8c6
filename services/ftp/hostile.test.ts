/**
 * Hostile clients on 127.0.0.1 port 0 (issue 18): connections that never log in, guessing
 * from parallel connections, per source / per account-and-source / account-wide bans,
 * SITE CHMOD on the home, control bytes in created names. Other 127.x addresses on lo act
 * as further sources. Timers are shortened through the config so each case runs in ~1 s.
 */
import t from 'tap';
import { mkdirSync, statSync, symlinkSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastCounter } from '../../src/metrics.js';
import { startFixture, ControlClient, login } from './testing-server.js';

const count = <L extends string>(c: FastCounter<L>, ...labels: string[]): number =>
  c
    .snapshot()
    .filter(([l]) => labels.every((v, i) => l[i] === v))
    .reduce((n, [, v]) => n + v, 0);

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

async function attempt(
  port: number,
  pass: string,
  from = '127.0.0.1',
  user = 'admin',
): Promise<{ c: ControlClient; greeting: string; reply: string }> {
  const c = await ControlClient.open(port, '127.0.0.1', from);
  const greeting = (await c.reply())[0] ?? '<closed>';
  if (!greeting.startsWith('220')) return { c, greeting, reply: '<refused>' };
  await c.cmd(`USER ${user}`);
  return { c, greeting, reply: await c.cmd(`PASS ${pass}`) };
}

t.test('clients that never log in are closed with 421 and free their slots', async (t) => {
  const fx = await startFixture(
    { limits: { loginTimeoutMs: 400, maxClients: 4, maxPerIp: 20 } },
    t,
  );
  const idle = await Promise.all([0, 1, 2, 3].map(() => ControlClient.open(fx.port)));
  for (const c of idle) t.match((await c.reply())[0], /^220/);
  const extra = await ControlClient.open(fx.port);
  t.equal((await extra.reply())[0], '421 There are too many connected users, please try later.');
  idle[0]!.send('NOOP');
  t.equal(await idle[0]!.line(), '200 NOOP ok.');
  const t0 = Date.now();
  for (const c of idle) {
    t.equal(await c.line(2000), '421 Login timeout.');
    t.ok(await c.closed(2000), 'closed');
  }
  t.ok(Date.now() - t0 < 1500, 'within the login timeout, not the 300 s idle one');
  t.equal(count(fx.metrics.timeouts, 'login'), 4);
  await sleep(50);
  const c = await login(fx.port);
  t.equal(await c.cmd('PWD'), '257 "/" is the current directory', 'the real user gets in');
  c.close();
  extra.close();
});

t.test('parallel connections of one source share one delay: no check while blocked', async (t) => {
  const fx = await startFixture({ loginBackoff: { delayMs: 1500, maxDelayMs: 3000 } }, t);
  const a = await ControlClient.open(fx.port);
  await a.reply();
  await a.cmd('USER admin');
  a.send('PASS wrong'); // held for the 1.5 s delay
  await sleep(300);
  // The right password from the same source during that delay is not even checked.
  const b = await attempt(fx.port, 'pw-admin');
  t.equal(b.reply, '530 Login incorrect.', 'blocked source: 530 without a password check');
  t.equal(await a.line(), '530 Login incorrect.');
  t.equal(count(fx.metrics.loginRefused, 'source'), 1);
  // Another source is not affected.
  const c = await attempt(fx.port, 'pw-admin', '127.0.0.2');
  t.equal(c.reply, '230 Login successful.', 'a clean source logs in');
  for (const x of [a, b.c, c.c]) x.close();
});

t.test('account+source ban: closed, right password refused; another source logs in', async (t) => {
  const fx = await startFixture(
    {
      loginBackoff: { delayMs: 20, maxDelayMs: 40, maxFailuresPerAccountSource: 3 },
      limits: { failedLoginDelayMs: 10, maxPerIp: 20 },
    },
    t,
  );
  for (let i = 0; i < 3; i++) {
    const r = await attempt(fx.port, `wrong${i}`);
    t.equal(r.reply, '530 Login incorrect.');
    r.c.close();
    await sleep(120); // past the growing delay: each guess is checked
  }
  t.equal(count(fx.metrics.bans, 'account_source'), 1, 'the third failure banned the pair');
  const r = await attempt(fx.port, 'pw-admin');
  t.equal(r.reply, '530 Login incorrect.', 'banned: the right password is refused unchecked');
  t.ok(await r.c.closed(2000), 'and the connection closed');
  t.equal(count(fx.metrics.loginRefused, 'account_source'), 1);
  // Another account from the banned source is still checked (per-pair ban) once the
  // source's own short delay has passed.
  await sleep(120);
  const u = await attempt(fx.port, 'pw-user1', '127.0.0.1', 'user1');
  t.equal(u.reply, '230 Login successful.');
  const ok = await attempt(fx.port, 'pw-admin', '127.0.0.2');
  t.equal(ok.reply, '230 Login successful.', 'the real user from a clean source');
  u.c.close();
  ok.c.close();
});

t.test('source ban: new connections get 421 at once', async (t) => {
  const fx = await startFixture(
    {
      loginBackoff: { delayMs: 20, maxDelayMs: 40, maxFailuresPerSource: 3 },
      limits: { failedLoginDelayMs: 10, maxPerIp: 20 },
    },
    t,
  );
  for (let i = 0; i < 3; i++) {
    const r = await attempt(fx.port, 'wrong', '127.0.0.1', `user${i}`);
    r.c.close();
    await sleep(120);
  }
  t.equal(count(fx.metrics.bans, 'source'), 1);
  const r = await attempt(fx.port, 'pw-admin');
  t.equal(r.greeting, '421 Too many failed logins from your internet address.');
  t.ok(await r.c.closed(2000));
  t.equal(count(fx.metrics.connections, 'banned'), 1);
  const ok = await attempt(fx.port, 'pw-admin', '127.0.0.2');
  t.equal(ok.reply, '230 Login successful.');
  ok.c.close();
});

t.test('account-wide cap: few guesses from many sources lock the account', async (t) => {
  const fx = await startFixture(
    {
      loginBackoff: { delayMs: 20, maxDelayMs: 40, maxFailuresPerAccount: 4 },
      limits: { failedLoginDelayMs: 10, maxPerIp: 20 },
    },
    t,
  );
  for (let i = 0; i < 4; i++) {
    const r = await attempt(fx.port, 'wrong', `127.0.1.${i + 1}`);
    t.equal(r.reply, '530 Login incorrect.');
    r.c.close();
  }
  t.equal(count(fx.metrics.bans, 'account'), 1);
  const r = await attempt(fx.port, 'pw-admin', '127.0.1.9');
  t.equal(r.reply, '530 Login incorrect.', 'locked account: not checked');
  t.equal(count(fx.metrics.loginRefused, 'account'), 1);
  r.c.close();
});

t.test('SITE CHMOD: never the home (also through a symlink), masks enforced', async (t) => {
  const fx = await startFixture({}, t);
  const home = fx.home('admin');
  const c = await login(fx.port);
  const before = statSync(home).mode & 0o777;
  symlinkSync('.', join(home, 'self'));
  t.equal(await c.cmd('SITE CHMOD 777 ../../..'), '550 SITE CHMOD command failed.');
  t.equal(await c.cmd('SITE CHMOD 755 /'), '550 SITE CHMOD command failed.');
  t.equal(await c.cmd('SITE CHMOD 755 self'), '550 Permission denied.', 'symlink to the home');
  t.equal(statSync(home).mode & 0o777, before, 'home mode unchanged');
  t.equal(await c.cmd('SITE CHMOD 777 Admin.txt'), '550 Permission denied.');
  t.equal(await c.cmd('SITE CHMOD 755 Admin.txt'), '550 Permission denied.', 'x on a file');
  t.equal(await c.cmd('SITE CHMOD 600 Admin.txt'), '200 SITE CHMOD command ok.');
  t.equal(statSync(join(home, 'Admin.txt')).mode & 0o777, 0o600);
  t.equal(await c.cmd('MKD d'), '257 "/d" created');
  t.equal(await c.cmd('SITE CHMOD 777 d'), '550 Permission denied.');
  t.equal(await c.cmd('SITE CHMOD 700 d'), '200 SITE CHMOD command ok.');
  t.equal(statSync(join(home, 'd')).mode & 0o777, 0o700);
  t.ok(count(fx.metrics.rejected, 'chmod_home') >= 2);
  c.close();
});

t.test('control bytes in MKD / STOR / RNTO names: 553, nothing created', async (t) => {
  const fx = await startFixture({}, t);
  const home = fx.home('admin');
  mkdirSync(join(home, 'keep'));
  const c = await login(fx.port);
  t.equal(await c.cmd('MKD bad\x01name'), '553 File name not allowed.');
  t.equal(await c.cmd('MKD esc\x1b[2J'), '553 File name not allowed.');
  t.equal(await c.cmd('STOR f\x07.txt'), '553 File name not allowed.');
  t.equal(await c.cmd('RNFR keep'), '350 Ready for RNTO.');
  t.equal(await c.cmd('RNTO k\x7fp'), '553 File name not allowed.');
  t.ok(existsSync(join(home, 'keep')), 'rename did not happen');
  t.same(
    readdirSync(home).filter((n) => /[\x00-\x1f\x7f]/.test(n)),
    [],
    'no name with a control byte',
  );
  t.equal(count(fx.metrics.rejected, 'bad_name'), 4);
  c.close();
});
