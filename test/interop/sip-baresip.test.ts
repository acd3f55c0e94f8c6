/**
 * baresip 1.0 (Debian) registers with netsvc's default digest challenge (issue 17): it
 * fails with "Register: Function not implemented" when a 401 carries two
 * WWW-Authenticate headers, so the default is one challenge per response. Both sides of
 * that are shown: the default registers two extensions, `auth.challenges: all` does not.
 * Only 127.0.0.1; baresip runs headless from a config dir with no audio modules.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, freePorts, startDaemon, type Daemon } from '../../src/testing/daemon.js';
import { startSipServer } from './sip-call-helpers.js';

/** Start baresip for one extension; resolves with its output once it says 200 or fails. */
async function baresip(
  work: string,
  user: string,
  sipPort: number,
  localPort: number,
  tt: { teardown(fn: () => unknown): void },
): Promise<Daemon> {
  const dir = join(work, `baresip-${user}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'accounts'),
    `<sip:${user}@127.0.0.1:${sipPort};transport=udp>;auth_pass=dev-${user};regint=60\n`,
  );
  writeFileSync(
    join(dir, 'config'),
    [
      `sip_listen 127.0.0.1:${localPort}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module account.so',
      '',
    ].join('\n'),
  );
  return startDaemon({
    name: `baresip-${user}`,
    command: 'baresip',
    args: ['-f', dir],
    env: cleanEnv({}),
    ready: { log: new RegExp(`${user}@127\\.0\\.0\\.1: .*(200 OK|Register:)|reg: .*${user}`) },
    readyTimeoutMs: 15_000,
    teardown: tt,
  });
}

t.test('baresip registers with the default single challenge', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'nsbaresip-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const [port, p1, p2] = await freePorts(3);
  const sip = await startSipServer(port!, work, t);
  for (const [user, local] of [
    ['2001', p1!],
    ['2002', p2!],
  ] as const) {
    const phone = await baresip(work, user, port!, local, t);
    t.match(
      phone.output(),
      new RegExp(`${user}@127\\.0\\.0\\.1: \\{0/UDP/v4\\} 200 OK`),
      `${user} registered`,
    );
    await phone.stop();
  }
  const registered = sip.output().match(/"msg":"sip registered"/g) ?? [];
  t.equal(registered.length, 2, 'netsvc logged both registrations');
});

t.test('with auth.challenges: all (two WWW-Authenticate), baresip 1.0 fails', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'nsbaresip-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const [port, p1] = await freePorts(2);
  const sip = await startSipServer(port!, work, t, { NETSVC_SIP__AUTH__CHALLENGES: 'all' });
  const phone = await baresip(work, '2001', port!, p1!, t);
  t.match(phone.output(), /Register: Function not implemented/, 'the failure the default avoids');
  await phone.stop();
  t.notMatch(sip.output(), /"msg":"sip registered"/);
});
