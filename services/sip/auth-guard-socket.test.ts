/**
 * Socket test of the password-guessing guard on 127.0.0.1 port 0: a guesser at 127.0.0.1
 * is banned after auth.guard.maxFailures while the phone at 127.0.0.2 registers, and
 * /metrics shows the failures, the throttled requests and the active ban.
 */
import t from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { Registry } from 'prom-client';
import { systemClock, cryptoRng } from '../../src/clock.js';
import { SipConfig } from './config.js';
import { createSipMetrics, registerSipGauges } from './metrics.js';
import { SipServer } from './server.js';
import { decode, type SipResponse } from './message.js';
import { MemoryBindingStore, authorize } from './testing.js';

interface Uac {
  sock: Socket;
  port: number;
  /** Send a REGISTER and wait for its response. */
  register: (branch: string, cseq: number, auth?: string) => Promise<SipResponse>;
}

async function uac(address: string, serverPort: number): Promise<Uac> {
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, address, ok));
  const port = sock.address().port;
  const waiters: ((r: SipResponse) => void)[] = [];
  sock.on('message', (b) => {
    const d = decode(b);
    if (d.ok && d.message.type === 'response') waiters.shift()?.(d.message);
  });
  return {
    sock,
    port,
    register: (branch, cseq, auth) =>
      new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error('no response')), 2000);
        waiters.push((r) => {
          clearTimeout(timer);
          ok(r);
        });
        const text = [
          'REGISTER sip:127.0.0.1 SIP/2.0',
          `Via: SIP/2.0/UDP ${address}:${port};branch=${branch};rport`,
          'Max-Forwards: 70',
          'From: <sip:2001@127.0.0.1>;tag=t1',
          'To: <sip:2001@127.0.0.1>',
          `Call-ID: guard-${address}-${port}`,
          `CSeq: ${cseq} REGISTER`,
          `Contact: <sip:2001@${address}:${port}>`,
          ...(auth ? [`Authorization: ${auth}`] : []),
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        sock.send(Buffer.from(text, 'latin1'), serverPort, '127.0.0.1');
      }),
  };
}

/** REGISTER → 401 → REGISTER with `password`; the final status. */
async function attempt(u: Uac, i: number, password: string): Promise<number> {
  const c = await u.register(`z9hG4bKa${i}`, 2 * i + 1);
  if (c.status !== 401) return c.status;
  const auth = authorize(c, '2001', password, 'MD5', '00000001', 'sip:127.0.0.1');
  return (await u.register(`z9hG4bKb${i}`, 2 * i + 2, auth)).status;
}

t.test('20 wrong passwords from 127.0.0.1, then the phone at 127.0.0.2 gets 200', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nssip-guard-'));
  const cfg = Value.Default(SipConfig, {
    listen: [{ address: '127.0.0.1', port: 0 }],
    media: { greeting: null },
  }) as SipConfig;
  const registry = new Registry();
  const s = new SipServer({
    cfg,
    users: new Map([['2001', 'dev-2001']]),
    dataDir: dir,
    log: pino({ level: 'silent' }),
    metrics: createSipMetrics(registry),
    clock: systemClock,
    rng: cryptoRng,
    store: new MemoryBindingStore(),
  });
  registerSipGauges(registry, {
    registrations: () => s.core.registrar.activeCount,
    reachable: () => 0,
    transactions: () => s.core.layer.serverCount,
    transactionBytes: () => s.core.layer.retainedBytes,
    tcpConnections: () => 0,
    calls: () => 0,
    authBans: () => s.core.registrar.guard?.bannedCount(Date.now()) ?? 0,
  });
  await s.start();
  const port = s.bound[0]!.port;
  const attacker = await uac('127.0.0.1', port);
  const phone = await uac('127.0.0.2', port);
  t.teardown(async () => {
    attacker.sock.close();
    phone.sock.close();
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const finals: number[] = [];
  for (let i = 0; i < 20; i++) finals.push(await attempt(attacker, i, `wrong-${i}`));
  t.same(finals.slice(0, 5), [401, 401, 401, 401, 401], 'five guesses checked');
  t.same(finals.slice(5), Array(15).fill(403), 'the rest refused unchecked');
  t.equal(await attempt(attacker, 20, 'dev-2001'), 403, 'even the right password, while banned');
  t.equal(await attempt(phone, 0, 'dev-2001'), 200, 'the phone registers from its own address');

  const text = await registry.metrics();
  t.match(text, /sip_auth_failures_total\{reason="credentials"\} 5\b/);
  // 15 refused guesses + the right one; unauthenticated legs of a banned pair too.
  t.match(text, /sip_auth_throttled_total\{reason="extension-source"\} (\d+)/);
  const throttled = Number(
    /sip_auth_throttled_total\{reason="extension-source"\} (\d+)/.exec(text)![1],
  );
  t.ok(throttled >= 16, `throttled counted (${throttled})`);
  t.match(text, /sip_auth_bans_total\{reason="extension-source"\} 1\b/);
  t.match(text, /sip_auth_bans_active 1\b/);
});
