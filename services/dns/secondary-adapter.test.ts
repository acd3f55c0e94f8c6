/**
 * Socket tests of secondary zones (issue 11) on 127.0.0.1: one netsvc DNS server as the
 * primary of a dynamic zone, another as its secondary, transfers signed with a TSIG key
 * that the primary requires (`transfer.keys`, no address allowed):
 * - the secondary transfers the zone (AXFR) and answers from it;
 * - an UPDATE on the primary reaches the secondary by NOTIFY and IXFR;
 * - a restarted secondary serves its stored copy with the primary down, then SERVFAILs
 *   once EXPIRE (3 s in this zone) has passed without contact;
 * - a secondary with the wrong secret gets nothing (BADSIG at the primary) and SERVFAILs;
 * - a NOTIFY from an address that is not a primary is REFUSED.
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
import { decodeMessage, RCODE } from './message.js';
import { nameFromText } from './name.js';
import { CLASS, TYPE } from './rr.js';
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

async function secondary(dir: string, port: number, primaryPort: number, envKey: string) {
  const cfg = Value.Default(DnsConfig, {
    listen: [{ address: '127.0.0.1', port }],
    keys: [{ name: 'xfr', secretEnv: envKey }],
    zones: [{ origin: 'sec.test', primaries: [`127.0.0.1:${primaryPort}`], key: 'xfr' }],
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
