/**
 * Socket tests of secondary zones (issue 11) on 127.0.0.1: one netsvc DNS server as the
 * primary of a dynamic zone, another as its secondary, transfers signed with a TSIG key
 * that the primary requires (`transfer.keys`, no address allowed):
 * - the secondary transfers the zone (AXFR) and answers from it;
 * - an UPDATE on the primary reaches the secondary by NOTIFY and IXFR;
 * - a restarted secondary serves its stored copy with the primary down, then SERVFAILs
 *   once EXPIRE (3 s in this zone) has passed without contact;
 * - a secondary with the wrong secret gets nothing (BADSIG at the primary) and SERVFAILs;
 * - a NOTIFY from an address that is not a primary is REFUSED;
 * - a hostile primary's broken answers (garbage, cut, wrong ID, no SOA first, deltas from
 *   another serial, REFUSED) never change the served copy; random NOTIFYs never crash it.
 */
import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Value } from '@sinclair/typebox/value';
import { DnsServer } from './server.js';
import { DnsConfig } from './config.js';
import { createDnsMetrics } from './metrics.js';
import { query } from './testing.js';
import { decodeMessage, FLAG, MessageWriter, RCODE } from './message.js';
import { createServer } from 'node:net';
import { TcpFramer, frame } from './tcp-framing.js';
import { nameFromText } from './name.js';
import { CLASS, TYPE, type RR } from './rr.js';
import { encodeUpdate } from './update-message.js';
import { keyFromTriple, sign } from './tsig.js';
import { rrFromText } from './zone-file.js';
import { notifyMessage } from './notify.js';
import { freePort } from '../../src/testing/daemon.js';

const ZONE = `$TTL 300
@ SOA ns1 admin 1 1 1 3 60
@ NS ns1
ns1 A 127.0.0.53
www A 192.0.2.1
`;
const UPD = Buffer.from('secondary test: the update key.').toString('base64');
const XFR = Buffer.from('secondary test: the transfer key').toString('base64');
const O = nameFromText('sec.test.');

function ask(port: number, msg: Uint8Array): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      fail(new Error('udp timeout'));
    }, 2000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      ok(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

async function rcodeAndA(port: number, name: string): Promise<{ rcode: number; a: string[] }> {
  const m = decodeMessage(await ask(port, query(name, 'A')));
  return {
    rcode: m.rcode,
    a: m.answers.filter((r) => r.type === TYPE.A).map((r) => [...r.rdata].join('.')),
  };
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await cond()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
}

function counter(registry: Registry, name: string, label: string): Promise<number> {
  return registry.metrics().then((text) => {
    const m = new RegExp(`^${name}\\{[^}]*"${label}"[^}]*\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  });
}

async function primary(t: Test, secondaryPort: number) {
  const dir = t.testdir({ 'z.zone': ZONE });
  const cfg = Value.Default(DnsConfig, {
    listen: [{ address: '127.0.0.1', port: 0 }],
    keys: [
      { name: 'upd', secretEnv: 'SEC_TEST_UPD' },
      { name: 'xfr', secretEnv: 'SEC_TEST_XFR' },
    ],
    zones: [
      {
        origin: 'sec.test',
        file: 'z.zone',
        update: { allow: [{ key: 'upd', match: 'zonesub' }] },
        notify: [`127.0.0.1:${secondaryPort}`],
      },
    ],
    transfer: { allow: [], keys: ['xfr'] },
  }) as DnsConfig;
  const registry = new Registry();
  const server = new DnsServer(cfg, dir, pino({ level: 'silent' }), createDnsMetrics(registry));
  await server.start();
  return { server, port: server.bound[0]!.port, registry };
}

/** A secondary of sec.test on `port`; with `envKey`, transfers signed with key xfr from it. */
async function secondary(dir: string, port: number, primaryPort: number, envKey?: string) {
  const cfg = Value.Default(DnsConfig, {
    listen: [{ address: '127.0.0.1', port }],
    keys: envKey ? [{ name: 'xfr', secretEnv: envKey }] : [],
    zones: [
      {
        origin: 'sec.test',
        primaries: [`127.0.0.1:${primaryPort}`],
        ...(envKey ? { key: 'xfr' } : {}),
      },
    ],
  }) as DnsConfig;
  const registry = new Registry();
  const server = new DnsServer(
    cfg,
    dir,
    pino({ level: 'silent' }),
    createDnsMetrics(registry),
    ':memory:',
    dir,
  );
  await server.start();
  return { server, registry };
}

process.env.SEC_TEST_UPD = UPD;
process.env.SEC_TEST_XFR = XFR;
process.env.SEC_TEST_WRONG = Buffer.from('secondary test: not the xfr key!').toString('base64');

t.test('primary → secondary: AXFR, NOTIFY + IXFR, stored copy, expiry', async (t) => {
  const secPort = await freePort();
  const p = await primary(t, secPort);
  const dir = t.testdir({});
  let s = await secondary(dir, secPort, p.port, 'SEC_TEST_XFR');
  t.teardown(async () => {
    await s.server.stop();
    await p.server.stop();
  });

  const got = await until(
    async () => (await rcodeAndA(secPort, 'www.sec.test')).a.includes('192.0.2.1'),
    5000,
  );
  t.ok(got >= 0, `the secondary answers from its transferred copy (${got} ms)`);
  t.equal(await counter(s.registry, 'dns_secondary_checks_total', 'axfr'), 1, 'by AXFR');
  t.equal((await counter(p.registry, 'dns_tsig_requests_total', 'verified')) >= 2, true, 'signed');

  // An UPDATE on the primary: NOTIFY, then IXFR from its journal.
  const key = keyFromTriple(`hmac-sha256:upd:${UPD}`);
  const upd = encodeUpdate(7, {
    zone: [{ qname: O, qtype: TYPE.SOA, qclass: CLASS.IN }],
    prerequisites: [],
    updates: [rrFromText('new 60 A 192.0.2.9', O, 60)],
  });
  const reply = decodeMessage(
    await ask(p.port, sign(upd, key, { now: Date.now() / 1000 }).message),
  );
  t.equal(reply.rcode, RCODE.NOERROR, 'update committed on the primary');
  t.same(
    await rcodeAndA(p.port, 'new.sec.test'),
    { rcode: RCODE.NOERROR, a: ['192.0.2.9'] },
    'the next query on the primary sees it (the zone is rebuilt before answering)',
  );
  const followed = await until(
    async () => (await rcodeAndA(secPort, 'new.sec.test')).a.includes('192.0.2.9'),
    3000,
  );
  t.ok(followed >= 0 && followed < 1000, `the secondary follows within a second (${followed} ms)`);
  t.equal(await counter(s.registry, 'dns_secondary_checks_total', 'ixfr'), 1, 'by IXFR');
  t.ok((await counter(s.registry, 'dns_notify_total', 'received')) >= 1, 'NOTIFY received');

  // Restart with the primary gone: the stored copy answers at once, until EXPIRE (3 s).
  await s.server.stop();
  await p.server.stop();
  s = await secondary(dir, secPort, p.port, 'SEC_TEST_XFR');
  t.same(
    await rcodeAndA(secPort, 'new.sec.test'),
    { rcode: RCODE.NOERROR, a: ['192.0.2.9'] },
    'the restarted secondary serves its stored copy',
  );
  const expired = await until(
    async () => (await rcodeAndA(secPort, 'www.sec.test')).rcode === RCODE.SERVFAIL,
    6000,
  );
  t.ok(expired >= 0, `SERVFAIL once EXPIRE passed without a primary (${expired} ms)`);
});

t.test('a wrong transfer key gets nothing; a stranger’s NOTIFY is refused', async (t) => {
  const secPort = await freePort();
  const p = await primary(t, secPort);
  const s = await secondary(t.testdir({}), secPort, p.port, 'SEC_TEST_WRONG');
  t.teardown(async () => {
    await s.server.stop();
    await p.server.stop();
  });
  const refused = await until(
    async () => (await counter(p.registry, 'dns_tsig_requests_total', 'BADSIG')) >= 1,
    5000,
  );
  t.ok(refused >= 0, 'the primary refused the signature (BADSIG)');
  t.equal((await rcodeAndA(secPort, 'www.sec.test')).rcode, RCODE.SERVFAIL, 'no copy: SERVFAIL');
  t.equal(await counter(s.registry, 'dns_secondary_checks_total', 'axfr'), 0, 'no transfer');

  // NOTIFY from 127.0.0.2 (not the primary 127.0.0.1): REFUSED.
  const answer = await new Promise<Buffer>((ok) => {
    const u = createSocket('udp4');
    u.bind(0, '127.0.0.2', () => {
      u.on('message', (m) => {
        u.close();
        ok(m);
      });
      u.send(notifyMessage(99, O), secPort, '127.0.0.1');
    });
  });
  t.equal(decodeMessage(answer).rcode, RCODE.REFUSED, 'NOTIFY from a non-primary refused');
});

t.test('a hostile primary: bad transfer streams never change the copy or crash', async (t) => {
  // A fake primary on 127.0.0.1: SOA answers over UDP, and over TCP one scripted answer per
  // connection. Serial 1 is transferred first; then serial 2 is offered with broken IXFR
  // answers, each of which must leave serial 1 serving; the last one is good.
  const soaOf = (serial: number) => rrFromText(`@ SOA ns1 admin ${serial} 1 1 600 60`, O, 60);
  let serial = 1;
  const udp = createSocket('udp4');
  await new Promise<void>((ok) => udp.bind(0, '127.0.0.1', () => ok()));
  const port = udp.address().port;
  udp.on('message', (m, r) => {
    const q = decodeMessage(m);
    const w = new MessageWriter(512);
    w.addQuestion(q.questions[0]!);
    w.addRR(1, soaOf(serial));
    udp.send(w.finish(q.id, FLAG.QR | FLAG.AA), r.port, r.address);
  });
  const www = rrFromText('www A 192.0.2.1', O, 60);
  const ns = rrFromText('@ NS ns1', O, 60);
  const stream = (id: number, records: RR[], flags = FLAG.QR | FLAG.AA): Uint8Array => {
    const w = new MessageWriter(65535);
    for (const r of records) w.addRR(1, r);
    return w.finish(id, flags);
  };
  const scripts: ((id: number) => Uint8Array[] | 'garbage' | 'cut')[] = [
    (id) => [stream(id, [soaOf(1), ns, www, soaOf(1)])], // the first, good AXFR
    () => 'garbage',
    () => 'cut',
    (id) => [stream(id ^ 1, [soaOf(2), ns, www, soaOf(2)])], // wrong ID
    (id) => [stream(id, [www, soaOf(2)])], // does not start with the SOA
    (id) => [stream(id, [soaOf(2), soaOf(7), soaOf(8), soaOf(2)])], // deltas from another serial
    (id) => [stream(id, [soaOf(2)], FLAG.QR | FLAG.AA | RCODE.REFUSED)],
    (id) => [stream(id, [soaOf(2), ns, www, rrFromText('new A 192.0.2.2', O, 60), soaOf(2)])],
  ];
  let conn = 0;
  const tcp = createServer((s) => {
    const script = scripts[Math.min(conn++, scripts.length - 1)]!;
    const framer = new TcpFramer();
    s.on('error', () => s.destroy());
    s.on('data', (chunk) => {
      for (const m of framer.push(chunk, 0)) {
        const out = script(decodeMessage(m).id);
        if (out === 'garbage') s.end(frame(Uint8Array.from({ length: 40 }, (_, i) => i * 37)));
        else if (out === 'cut') s.end(frame(stream(0, [soaOf(2), ns]).subarray(0, 30)));
        else s.end(Buffer.concat(out.map((b) => frame(b))));
      }
    });
  });
  await new Promise<void>((ok) => tcp.listen(port, '127.0.0.1', () => ok()));
  const secPort = await freePort();
  const { server: s, registry } = await secondary(t.testdir({}), secPort, port);
  t.teardown(async () => {
    await s.stop();
    udp.close();
    tcp.close();
  });
  const first = await until(
    async () => (await rcodeAndA(secPort, 'www.sec.test')).rcode === 0,
    5000,
  );
  t.ok(first >= 0, 'serial 1 transferred');
  serial = 2;
  // Each broken answer is one failed check; RETRY is 1 s. The copy keeps serving meanwhile.
  const servedOld: boolean[] = [];
  const done = await until(async () => {
    const r = await rcodeAndA(secPort, 'new.sec.test');
    if (r.rcode !== 0) servedOld.push((await rcodeAndA(secPort, 'www.sec.test')).rcode === 0);
    return r.rcode === 0 && r.a.includes('192.0.2.2');
  }, 15_000);
  t.ok(done >= 0, `the good transfer after ${scripts.length - 2} bad ones (${done} ms)`);
  t.ok(servedOld.length > 0 && servedOld.every(Boolean), 'serial 1 served through every failure');
  t.equal(
    await counter(registry, 'dns_secondary_checks_total', 'failed'),
    scripts.length - 2,
    'one failed check per broken answer',
  );

  // Random NOTIFY-like datagrams at the secondary: answered or dropped, never a crash.
  const junk = createSocket('udp4');
  await new Promise<void>((ok) => junk.bind(0, '127.0.0.1', () => ok()));
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(notifyMessage(i, O));
    for (let k = 0; k < 3; k++) b[(i * 7 + k * 13) % b.length] = (i * 31 + k) & 0xff;
    junk.send(i % 2 ? b : b.subarray(0, i % b.length), secPort, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 300));
  junk.close();
  t.same(await rcodeAndA(secPort, 'new.sec.test'), { rcode: 0, a: ['192.0.2.2'] }, 'still serving');
});
