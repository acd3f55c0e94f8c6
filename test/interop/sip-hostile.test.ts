/**
 * SIP against a password cracker: svcrack (SIPVicious 0.3, Debian `sipvicious`) with a
 * 200-word list whose last word is the real secret of 2001 (config/dev: `dev-2001`),
 * against the built CLI (`node dist/src/main.js sip --config config/dev`; run `npm run
 * build` first). svcrack runs in its own network namespace (attacker-ns.ts; root), the
 * server listening on 127.0.0.1 and on the host end of the attacker's veth pair.
 *
 * - guard off (NETSVC_SIP__AUTH__GUARD__ENABLED=false): svcrack finds the password — the
 *   harness works, and the checked-guess rate is what an unthrottled registrar accepts;
 * - guard on (the defaults): within the same time bound svcrack finds nothing, the
 *   registrar checks at most `auth.guard.maxFailures` guesses, and during the attack a
 *   REGISTER with the right password from 127.0.0.2 (the phone's own address) gets 200.
 * The rates (checked guesses per second, from sip_auth_failures_total on /metrics) are
 * printed as comments. Measured on the dev box: 165 checked guesses/s before (199 in 1.2 s),
 * 0.25/s after (5 in the 20 s bound, then banned: 3749 requests refused unchecked).
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, type Daemon } from '../../src/testing/daemon.js';
import { startSipServer } from './sip-call-helpers.js';
import { decode, type SipResponse } from '../../services/sip/message.js';
import { authorize } from '../../services/sip/testing.js';
import { attackerNamespace, canCreateNamespaces, type AttackerNs } from './attacker-ns.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Longest an svcrack run may take (it stops by itself once the list is used up). */
const BOUND_MS = 20_000;

const hasSvcrack = (() => {
  try {
    execFileSync('svcrack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Run svcrack from the attacker's namespace against `port` for at most BOUND_MS; its
 * output and how long it ran.
 */
function crack(
  ns: AttackerNs,
  port: number,
  localPort: number,
  words: string,
): Promise<{ output: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(
      'ip',
      ns.exec('svcrack', [
        '-u',
        '2001',
        '-d',
        words,
        '-p',
        String(port),
        '-P',
        String(localPort),
        ns.server,
      ]),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ output, ms: Date.now() - started });
    });
  });
}

async function metrics(server: Daemon): Promise<string> {
  const admin = /"admin":(\d+)/.exec(server.output())?.[1];
  if (admin === undefined) throw new Error('admin port not in the ready line');
  const res = await fetch(`http://127.0.0.1:${admin}/metrics`);
  return res.text();
}

function counter(text: string, re: RegExp): number {
  return Number(re.exec(text)?.[1] ?? 0);
}

/** REGISTER 2001 from `address` (401, then the right digest); the final status. */
async function registerFrom(address: string, port: number): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, address, ok));
  const local = sock.address().port;
  const send = (cseq: number, auth?: string): Promise<SipResponse> =>
    new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('no response')), 3000);
      sock.once('message', (b) => {
        clearTimeout(timer);
        const d = decode(b);
        if (d.ok && d.message.type === 'response') ok(d.message);
        else fail(new Error('not a response'));
      });
      const text = [
        `REGISTER sip:127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${address}:${local};branch=z9hG4bKphone${cseq};rport`,
        'Max-Forwards: 70',
        `From: <sip:2001@127.0.0.1>;tag=ph1`,
        `To: <sip:2001@127.0.0.1>`,
        `Call-ID: phone-${local}@${address}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:2001@${address}:${local}>`,
        ...(auth ? [`Authorization: ${auth}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(Buffer.from(text, 'latin1'), port, '127.0.0.1');
    });
  try {
    const c = await send(1);
    if (c.status !== 401) return c.status;
    const auth = authorize(c, '2001', 'dev-2001', 'MD5', '00000001', `sip:127.0.0.1:${port}`);
    return (await send(2, auth)).status;
  } finally {
    sock.close();
  }
}

if (!hasSvcrack || !existsSync(join(root, 'dist/src/main.js')) || !canCreateNamespaces()) {
  if (process.env.CI) t.fail('svcrack (apt sipvicious), dist/ or root (netns) missing in CI');
  else t.plan(0, 'svcrack (apt sipvicious), dist/ or root for a netns missing: skipped');
} else {
  const ns = attackerNamespace('sip', 1);
  t.teardown(() => ns.remove());
  /** The dev listener on 127.0.0.1 plus one on the host end of the attacker's veth. */
  const listen = (port: number): Record<string, string> => ({
    NETSVC_SIP__LISTEN__1__ADDRESS: ns.server,
    NETSVC_SIP__LISTEN__1__PORT: String(port),
  });
  const work = mkdtempSync(join(tmpdir(), 'netsvc-sip-hostile-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const words = join(work, 'words.txt');
  const list = Array.from({ length: 199 }, (_, i) => `guess${i + 1}`);
  writeFileSync(words, [...list, 'dev-2001', ''].join('\n'));
  const [portOff, portOn, svOff, svOn] = await freePorts(4);

  t.test('guard off: svcrack finds the password (the unthrottled baseline)', async (t) => {
    const server = await startSipServer(portOff!, join(work, 'off'), t, {
      NETSVC_SIP__AUTH__GUARD__ENABLED: 'false',
      ...listen(portOff!),
    });
    const r = await crack(ns, portOff!, svOff!, words);
    t.match(r.output, /dev-2001/, 'svcrack reports the password');
    const checked = counter(
      await metrics(server),
      /sip_auth_failures_total\{reason="credentials"\} (\d+)/,
    );
    t.ok(checked >= 150, `${checked} wrong guesses were checked`);
    t.comment(
      `before: ${checked} guesses checked in ${r.ms} ms = ${((checked * 1000) / r.ms).toFixed(1)}/s`,
    );
  });

  t.test('guard on: svcrack finds nothing; the phone registers during the attack', async (t) => {
    const server = await startSipServer(portOn!, join(work, 'on'), t, listen(portOn!));
    const attack = crack(ns, portOn!, svOn!, words);
    await new Promise((r) => setTimeout(r, 1000));
    t.equal(await registerFrom('127.0.0.2', portOn!), 200, 'REGISTER from 127.0.0.2: 200');
    const r = await attack;
    t.ok(r.ms <= BOUND_MS + 1000, `svcrack ran ${r.ms} ms`);
    t.notMatch(r.output, /dev-2001/, 'svcrack did not find the password');
    const m = await metrics(server);
    const checked = counter(m, /sip_auth_failures_total\{reason="credentials"\} (\d+)/);
    const throttled = counter(m, /sip_auth_throttled_total\{reason="extension-source"\} (\d+)/);
    t.ok(checked <= 5, `at most maxFailures (5) guesses checked: ${checked}`);
    t.ok(throttled > 0, `${throttled} requests refused unchecked`);
    t.comment(
      `after: ${checked} guesses checked in ${r.ms} ms = ${((checked * 1000) / r.ms).toFixed(2)}/s (${throttled} refused unchecked)`,
    );
    t.match(server.output(), /sip registered/, 'the phone is bound');
  });
}
