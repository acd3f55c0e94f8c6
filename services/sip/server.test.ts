/**
 * Socket tests of the SIP adapter on 127.0.0.1 port 0: which listener answers, and the
 * group commit (a REGISTER is answered 200 only after its binding is committed).
 */
import t, { type Test } from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { Registry } from 'prom-client';
import { systemClock, cryptoRng } from '../../src/clock.js';
import { SipConfig } from './config.js';
import { createSipMetrics } from './metrics.js';
import { SipServer } from './server.js';
import { decode, getHeader, type SipResponse } from './message.js';
import { MemoryBindingStore, authorize } from './testing.js';

async function phone(): Promise<{
  sock: Socket;
  port: number;
  send: (text: string, port: number) => void;
  next: () => Promise<{ res: SipResponse; fromPort: number }>;
}> {
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
  const inbox: { res: SipResponse; fromPort: number }[] = [];
  const waiters: ((x: { res: SipResponse; fromPort: number }) => void)[] = [];
  sock.on('message', (b, rinfo) => {
    const d = decode(b);
    if (!d.ok || d.message.type !== 'response') return;
    const x = { res: d.message, fromPort: rinfo.port };
    const w = waiters.shift();
    if (w) w(x);
    else inbox.push(x);
  });
  return {
    sock,
    port: sock.address().port,
    send: (text, port) => sock.send(Buffer.from(text, 'latin1'), port, '127.0.0.1'),
    next: () =>
      new Promise((ok, fail) => {
        const x = inbox.shift();
        if (x) return ok(x);
        const timer = setTimeout(() => fail(new Error('no response')), 2000);
        waiters.push((y) => {
          clearTimeout(timer);
          ok(y);
        });
      }),
  };
}

function request(
  method: string,
  localPort: number,
  branch: string,
  cseq: number,
  extra: string[] = [],
) {
  return [
    `${method} sip:127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=${branch};rport`,
    'Max-Forwards: 70',
    '<sip:2001@127.0.0.1>;tag=t1'.replace(/^/, 'From: '),
    'To: <sip:2001@127.0.0.1>',
    'Call-ID: srv-test-1',
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:2001@127.0.0.1:${localPort}>`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function server(t: Test, store: MemoryBindingStore) {
  const dir = mkdtempSync(join(tmpdir(), 'nssip-test-'));
  const cfg = Value.Default(SipConfig, {
    listen: [
      { address: '127.0.0.1', port: 0 },
      { address: '127.0.0.1', port: 0 },
    ],
    media: { greeting: null },
  }) as SipConfig;
  const s = new SipServer({
    cfg,
    users: new Map([['2001', 'dev-2001']]),
    dataDir: dir,
    log: pino({ level: 'silent' }),
    metrics: createSipMetrics(new Registry()),
    clock: systemClock,
    rng: cryptoRng,
    store,
  });
  await s.start();
  t.teardown(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

t.test('UDP answers leave from the listener the request came to', async (t) => {
  const s = await server(t, new MemoryBindingStore());
  const p = await phone();
  t.teardown(() => p.sock.close());
  for (const l of s.bound) {
    p.send(request('OPTIONS', p.port, `z9hG4bKo${l.port}`, 1), l.port);
    const r = await p.next();
    t.equal(r.res.status, 200);
    t.equal(r.fromPort, l.port, `answer to listener ${l.port} comes from it`);
  }
});

t.test('REGISTER over UDP: 500 when the commit fails, 200 once it is stored', async (t) => {
  const store = new MemoryBindingStore();
  const s = await server(t, store);
  const p = await phone();
  t.teardown(() => p.sock.close());
  const port = s.bound[0]!.port;
  p.send(request('REGISTER', p.port, 'z9hG4bKr1', 1), port);
  const challenge = (await p.next()).res;
  t.equal(challenge.status, 401);
  const auth = authorize(challenge, '2001', 'dev-2001', 'MD5', '00000001', 'sip:127.0.0.1');
  store.failNext = 1;
  const signed = request('REGISTER', p.port, 'z9hG4bKr2', 2, [`Authorization: ${auth}`]);
  p.send(signed, port);
  const failed = (await p.next()).res;
  t.equal(failed.status, 500, 'not 200: the binding is not on disk');
  t.equal(getHeader(failed, 'retry-after'), '5');
  p.send(signed, port); // retransmission
  t.equal((await p.next()).res.status, 500, 'the retransmission is not answered 200');
  t.equal(s.core.registrar.activeCount, 0);
  p.send(request('REGISTER', p.port, 'z9hG4bKr3', 3), port);
  const c2 = (await p.next()).res;
  const auth2 = authorize(c2, '2001', 'dev-2001', 'MD5', '00000001', 'sip:127.0.0.1');
  p.send(request('REGISTER', p.port, 'z9hG4bKr4', 4, [`Authorization: ${auth2}`]), port);
  const ok = (await p.next()).res;
  t.equal(ok.status, 200);
  t.equal(store.all().length, 1, 'on disk when the 200 arrived');
  t.equal(store.all()[0]!.local, `127.0.0.1:${port}`, 'the listener is kept with the binding');
});
