/**
 * Socket tests of the DNS adapter on 127.0.0.1 port 0 with Node clients: UDP, TCP
 * pipelining and byte-at-a-time framing, idle timeout, answer cache, reload keeping the old
 * zone on error, forwarding to a fake upstream, metrics.
 */
import t, { type Test } from 'tap';

type TestT = Test;
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Value } from '@sinclair/typebox/value';
import { DnsServer } from './server.js';
import { DnsConfig } from './config.js';
import { createDnsMetrics } from './metrics.js';
import { query, view } from './testing.js';
import { TcpFramer, frame } from './tcp-framing.js';
import { MessageWriter, decodeMessage, FLAG } from './message.js';
import { TYPE, CLASS } from './rr.js';
import { nameFromText } from './name.js';

const ZONE = `$TTL 300
@ SOA ns1 admin 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.53
www A 192.0.2.1
`;

function udpAsk(port: number, msg: Uint8Array): Promise<Buffer> {
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

async function setup(t: TestT, extra: Record<string, unknown> = {}) {
  const dir = t.testdir({ 'z.zone': ZONE });
  const cfg = Value.Default(DnsConfig, {
    listen: [{ address: '127.0.0.1', port: 0 }],
    zones: [{ origin: 'test.example', file: 'z.zone' }],
    tcp: { idleTimeoutMs: 300 },
    ...extra,
  }) as DnsConfig;
  const registry = new Registry();
  const server = new DnsServer(cfg, dir, pino({ level: 'silent' }), createDnsMetrics(registry));
  await server.start();
  t.teardown(() => server.stop());
  return { server, port: server.bound[0]!.port, dir, registry };
}

t.test('UDP answers, cache hits keep IDs, metrics count', async (t) => {
  const { server, port, registry } = await setup(t);
  t.ok(server.ready());
  const r1 = view(await udpAsk(port, query('www.test.example', 'A', { id: 1 })));
  t.same(r1.answer, ['www.test.example. 300 IN A 192.0.2.1']);
  const raw2 = await udpAsk(port, query('www.test.example', 'A', { id: 2 }));
  t.equal(raw2.readUInt16BE(0), 2, 'cached reply carries the new ID');
  t.same(view(raw2).answer, r1.answer);
  const nx = view(await udpAsk(port, query('nope.test.example', 'A')));
  t.equal(nx.rcode, 'NXDOMAIN');
  const text = await registry.metrics();
  t.match(text, /dns_queries_total\{qtype="A",rcode="NOERROR",transport="udp"\} 2/);
  t.match(text, /dns_answer_cache_hits_total\{transport="udp"\} 1/);
  t.match(text, /dns_zone_serial\{zone="test.example."\} 1/);
  t.match(text, /dns_query_duration_seconds_count 3/);
});

t.test('TCP: pipelined queries in one write and byte by byte, idle close', async (t) => {
  const { port } = await setup(t);
  const s = connect(port, '127.0.0.1');
  const framer = new TcpFramer();
  const got: Uint8Array[] = [];
  s.on('data', (c: Buffer) => got.push(...framer.push(c)));
  await new Promise((ok) => s.once('connect', ok));
  const a = frame(query('www.test.example', 'A', { id: 10 }));
  const b = frame(query('ns1.test.example', 'A', { id: 11 }));
  s.write(Buffer.concat([a, b]));
  for (const byte of frame(query('test.example', 'SOA', { id: 12 }))) s.write(Buffer.of(byte));
  const closed = new Promise((ok) => s.once('close', ok));
  await closed; // the idle timeout (300 ms) closes the connection after the answers
  t.same(
    got.map((m) => (m[0]! << 8) | m[1]!),
    [10, 11, 12],
    'answers in order',
  );
  t.same(view(got[1]!).answer, ['ns1.test.example. 300 IN A 127.0.0.53']);
});

t.test('reload: a broken zone keeps the old one serving; a good one replaces it', async (t) => {
  const { server, port, dir } = await setup(t);
  writeFileSync(join(dir, 'z.zone'), ZONE + 'bad line here with junk\n');
  await t.rejects(server.reload(), { code: 'ERR_DNS_ZONE_LOAD' });
  t.same(view(await udpAsk(port, query('www.test.example', 'A'))).answer, [
    'www.test.example. 300 IN A 192.0.2.1',
  ]);
  writeFileSync(
    join(dir, 'z.zone'),
    ZONE.replace('192.0.2.1', '192.0.2.2').replace(' 1 3600', ' 2 3600'),
  );
  await server.reload();
  t.same(
    view(await udpAsk(port, query('www.test.example', 'A', { id: 99 }))).answer,
    ['www.test.example. 300 IN A 192.0.2.2'],
    'cache cleared on reload',
  );
});

t.test('start fails with file:line for a bad zone', async (t) => {
  const dir = t.testdir({ 'z.zone': ZONE + 'www A 999.1.1.1\n' });
  const cfg = Value.Default(DnsConfig, {
    listen: [{ address: '127.0.0.1', port: 0 }],
    zones: [{ origin: 'test.example', file: 'z.zone' }],
  }) as DnsConfig;
  const server = new DnsServer(
    cfg,
    dir,
    pino({ level: 'silent' }),
    createDnsMetrics(new Registry()),
  );
  await t.rejects(server.start(), { message: /z\.zone:6: .*999\.1\.1\.1/ });
});

t.test('forwarding for listed networks, with a cache', async (t) => {
  // A fake upstream resolver answering every A query with 198.51.100.7, TTL 60.
  const upstream = createSocket('udp4');
  let asked = 0;
  upstream.on('message', (m, r) => {
    asked++;
    const q = decodeMessage(m);
    const w = new MessageWriter(512);
    w.addQuestion(q.questions[0]!);
    w.addRR(1, {
      owner: q.questions[0]!.qname,
      type: TYPE.A,
      class: CLASS.IN,
      ttl: 60,
      rdata: Uint8Array.of(198, 51, 100, 7),
    });
    upstream.send(w.finish(q.id, FLAG.QR | FLAG.RD | FLAG.RA), r.port, r.address);
  });
  await new Promise<void>((ok) => upstream.bind(0, '127.0.0.1', ok));
  t.teardown(() => upstream.close());
  const { port } = await setup(t, {
    forward: { networks: ['127.0.0.0/8'], upstreams: [`127.0.0.1:${upstream.address().port}`] },
  });
  const r = view(await udpAsk(port, query('Example.ORG', 'A', { rd: true, id: 5 })));
  t.same(r.answer, ['Example.ORG. 60 IN A 198.51.100.7']);
  t.ok(r.flags.includes('ra'), 'RA set for a forwarding client');
  t.notOk(r.flags.includes('aa'));
  const again = await udpAsk(port, query('example.org', 'A', { rd: true, id: 6 }));
  t.equal(again.readUInt16BE(0), 6);
  t.equal(asked, 1, 'second answer from the cache');
  t.equal(decodeMessage(again).questions[0]!.qname.length, nameFromText('example.org.').length);
  // Our own zone is still answered authoritatively.
  t.ok(view(await udpAsk(port, query('www.test.example', 'A', { rd: true }))).flags.includes('aa'));
});

t.test('forwarding: silent upstream gives SERVFAIL', async (t) => {
  const dead = createSocket('udp4');
  await new Promise<void>((ok) => dead.bind(0, '127.0.0.1', ok));
  t.teardown(() => dead.close());
  const { port } = await setup(t, {
    forward: {
      networks: ['127.0.0.0/8'],
      upstreams: [`127.0.0.1:${dead.address().port}`],
      timeoutMs: 200,
    },
  });
  t.equal(view(await udpAsk(port, query('example.net', 'A', { rd: true }))).rcode, 'SERVFAIL');
});

t.test('a forward that fails answers SERVFAIL and frees its TCP pipelining slot', async (t) => {
  const { server, port } = await setup(t, {
    forward: { networks: ['127.0.0.0/8'], upstreams: ['127.0.0.1:9'] },
    tcp: { idleTimeoutMs: 2000, maxPipelined: 1 },
  });
  // The forwarder throws (a bug path): before the fix the slot was never given back, so a
  // connection paused at maxPipelined never read its next query.
  (server as unknown as { forwarder: { resolve: () => Promise<Uint8Array> } }).forwarder.resolve =
    () => Promise.reject(new Error('forwarder bug (test)'));
  const s = connect(port, '127.0.0.1');
  t.teardown(() => s.destroy());
  const framer = new TcpFramer();
  const got: Uint8Array[] = [];
  const two = new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`only ${got.length} answers`)), 1500);
    s.on('data', (c: Buffer) => {
      for (const m of framer.push(c)) got.push(m);
      if (got.length >= 2) {
        clearTimeout(timer);
        ok();
      }
    });
  });
  s.write(frame(query('a.example.org', 'A', { rd: true, id: 11 })));
  s.write(frame(query('b.example.org', 'A', { rd: true, id: 12 })));
  await two;
  t.same(
    got.map((m) => [(m[0]! << 8) | m[1]!, view(m).rcode]),
    [
      [11, 'SERVFAIL'],
      [12, 'SERVFAIL'],
    ],
    'both answered; the second after the first freed the slot',
  );
});
