/**
 * linphonec 5.1 (Debian linphone-cli) against netsvc's SIP service (issue 17): it registers
 * with the default single MD5 challenge, and it answers a call that baresip places through
 * the B2BUA, the relay carrying baresip's audio to it. linphone sends STUN binding requests
 * to the media port as keepalives; the relay counts them as `stun`, not `malformed`.
 * linphonec runs headless: its rc file names the proxy and credentials, `soundcard use
 * files` replaces the missing sound card. Only 127.0.0.1.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  cleanEnv,
  freePortRuns,
  freePorts,
  startDaemon,
  type Daemon,
} from '../../src/testing/daemon.js';
import { startSipServer } from './sip-call-helpers.js';

function installed(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(100);
  return cond();
}

/** linphonec for `user`, registering at start, answering calls at once (-a). */
async function linphonec(
  work: string,
  user: string,
  sipPort: number,
  localPort: number,
  rtpPort: number,
  tt: { teardown(fn: () => unknown): void },
): Promise<Daemon> {
  const home = join(work, `linphone-${user}`);
  // linphone keeps its call log in ~/.local/share/linphone and warns when it cannot.
  mkdirSync(join(home, '.local/share/linphone'), { recursive: true });
  const rc = join(home, 'linphonerc');
  writeFileSync(
    rc,
    [
      '[sip]',
      `sip_port=${localPort}`,
      'sip_tcp_port=-1',
      'sip_tls_port=-1',
      'bind_address=127.0.0.1',
      '[rtp]',
      `audio_rtp_port=${rtpPort}`,
      '[proxy_0]',
      `reg_proxy=<sip:127.0.0.1:${sipPort}>`,
      `reg_identity=sip:${user}@127.0.0.1`,
      'reg_expires=60',
      'reg_sendregister=1',
      '[auth_info_0]',
      `username=${user}`,
      `passwd=dev-${user}`,
      '',
    ].join('\n'),
  );
  const d = await startDaemon({
    name: `linphonec-${user}`,
    command: 'linphonec',
    args: ['-a', '-c', rc, '-d', '4'],
    env: cleanEnv({ HOME: home }),
    stdin: true,
    ready: { log: /LinphoneRegistrationOk|LinphoneRegistrationFailed/ },
    readyTimeoutMs: 15_000,
    teardown: tt,
  });
  d.child.stdin?.write('soundcard use files\n');
  return d;
}

async function baresipCaller(
  work: string,
  sipPort: number,
  localPort: number,
  callee: string,
  seconds: number,
  tt: { teardown(fn: () => unknown): void },
): Promise<Daemon> {
  const dir = join(work, 'baresip-2001');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'accounts'),
    `<sip:2001@127.0.0.1:${sipPort};transport=udp>;auth_pass=dev-2001;regint=60\n`,
  );
  // Its audio: 8 kHz 16-bit silence-free square wave, enough for aufile to stream.
  const wav = join(work, 'tone.wav');
  const n = 8000 * 30;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(i % 18 < 9 ? 6000 : -6000, 44 + 2 * i);
  writeFileSync(wav, b);
  writeFileSync(
    join(dir, 'config'),
    [
      `sip_listen 127.0.0.1:${localPort}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module account.so',
      'module menu.so',
      'module aufile.so',
      `audio_source aufile,${wav}`,
      'audio_player aufile,/dev/null',
      'audio_alert aufile,/dev/null',
      '',
    ].join('\n'),
  );
  return startDaemon({
    name: 'baresip-2001',
    command: 'baresip',
    args: [
      '-n',
      '127.0.0.1',
      '-f',
      dir,
      '-e',
      `/dial sip:${callee}@127.0.0.1:${sipPort}`,
      '-t',
      String(seconds),
    ],
    env: cleanEnv({}),
    ready: { log: /Call established|terminated|Call failed/ },
    readyTimeoutMs: 15_000,
    teardown: tt,
  });
}

const missing = ['linphonec', 'baresip'].filter((c) => !installed(c));
if (missing.length > 0) {
  if (process.env.CI) t.fail(`${missing.join(', ')} not installed (.ci/install-apt.txt)`);
  else t.plan(0, `${missing.join(', ')} not installed`);
} else {
  t.test('linphonec registers and answers a call from baresip through the relay', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'nslinphone-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    // baresip opens UDP/TCP on its port and TLS on the next one: keep them apart.
    const [sipPort, lp, rtp] = await freePorts(3);
    const [bp] = await freePortRuns(1, 2, [sipPort!, lp!, rtp!]);
    const sip = await startSipServer(sipPort!, work, t);
    const phone = await linphonec(work, '2003', sipPort!, lp!, rtp!, t);
    t.match(phone.output(), /LinphoneRegistrationOk/, 'linphonec registered');
    t.match(sip.output(), /"msg":"sip registered"/, 'netsvc logged the binding');

    const caller = await baresipCaller(work, sipPort!, bp!, '2003', 8, t);
    t.match(caller.output(), /Call established: sip:2003@/, 'linphonec answered');
    const ended = await until(() => /"msg":"media relay session ended"/.test(sip.output()), 20_000);
    t.ok(ended, 'the call ended and the relay reported');
    await caller.stop();
    phone.child.stdin?.write('quit\n');
    await until(() => !phone.running(), 5_000);
    await phone.stop();
    t.match(phone.output(), /Call 1 with sip:2001@127\.0\.0\.1 ended/, 'linphonec saw the BYE');

    const line = sip
      .output()
      .split('\n')
      .find((l) => l.includes('"msg":"media relay session ended"'));
    const r = (
      JSON.parse(line ?? '{}') as {
        relay?: {
          reason: string;
          legs: Record<
            'a' | 'b',
            { received: { packets: number; lost: number }; sent: { packets: number } }
          >;
          dropped: Record<string, number>;
        };
      }
    ).relay;
    t.ok(r, 'a relay report');
    if (!r) return;
    t.equal(r.reason, 'bye');
    t.ok(r.legs.a.received.packets >= 150, `${r.legs.a.received.packets} packets from baresip`);
    t.equal(r.legs.a.received.lost, 0);
    t.ok(r.legs.b.sent.packets >= 150, `${r.legs.b.sent.packets} packets relayed to linphonec`);
    t.notOk(r.dropped.malformed, 'no datagram counted as malformed');
    t.notOk(r.dropped.stranger, 'no stranger');
    t.ok((r.dropped.stun ?? 0) >= 1, `linphone's STUN keepalives counted apart: ${r.dropped.stun}`);
    t.match(sip.output(), /"msg":"sip unregistered"/, 'linphonec unregistered on quit');
  });
}
