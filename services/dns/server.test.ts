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

/** A TCP client: resolves its answers as they come, `closed` when the server closes. */
function tcpClient(t: TestT, port: number, localAddress = '127.0.0.1') {
  const s = connect({ port, host: '127.0.0.1', localAddress });
  t.teardown(() => s.destroy());
  s.on('error', () => undefined); // a refused connection may be reset under our writes
  const framer = new TcpFramer();
  const answers: Uint8Array[] = [];
  const waiting: ((m: Uint8Array) => void)[] = [];
  s.on('data', (c: Buffer) => {
    for (const m of framer.push(c)) {
      const w = waiting.shift();
      if (w) w(m);
      else answers.push(m);
    }
  });
  const opened = performance.now();
  const closed = new Promise<number>((ok) => s.once('close', () => ok(performance.now() - opened)));
  const connected = new Promise<void>((ok) => s.once('connect', () => ok()));
  const ask = (msg: Uint8Array, ms = 1000): Promise<Uint8Array> =>
    new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('no TCP answer')), ms);
      waiting.push((m) => {
        clearTimeout(timer);
        ok(m);
      });
      s.write(frame(msg));
    });
  return { s, closed, connected, ask, answers };
}

/** Resolves `p`'s value, or the string 'timeout' after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((ok) => setTimeout(() => ok('timeout'), ms))]);
}

t.test('TCP: a message trickling in is closed at its deadline; others are served', async (t) => {
  const { port, registry } = await setup(t, {
    tcp: { idleTimeoutMs: 3000, messageTimeoutMs: 200 },
  });
  // The attacker announces a 500-byte message and sends one byte every 40 ms: each byte
  // reset the idle timer, so before the deadline the connection stayed open.
  const slow = tcpClient(t, port);
  await slow.connected;
  slow.s.write(Buffer.of(0x01, 0xf4));
  const trickle = setInterval(() => slow.s.writable && slow.s.write(Buffer.of(0)), 40);
  t.teardown(() => clearInterval(trickle));
  await new Promise((ok) => setTimeout(ok, 100));
  const other = tcpClient(t, port);
  const a = view(await other.ask(query('www.test.example', 'A', { id: 7 })));
  t.same(a.answer, ['www.test.example. 300 IN A 192.0.2.1'], 'a normal query meanwhile');
  const ms = await within(slow.closed, 1500);
  clearInterval(trickle);
  t.not(ms, 'timeout', 'the trickling connection is closed');
  t.ok(typeof ms === 'number' && ms >= 190 && ms < 1000, `closed after ${String(ms)} ms`);
  t.equal(other.s.destroyed, false, 'the other connection stays open');
  t.match(await registry.metrics(), /dns_tcp_closed_total\{reason="message_timeout"\} 1/);
});

t.test('TCP: a message split over a pause is served, the deadline is per message', async (t) => {
  const { port } = await setup(t, { tcp: { idleTimeoutMs: 3000, messageTimeoutMs: 300 } });
  const c = tcpClient(t, port);
  await c.connected;
  // Three messages, each sent in two halves 150 ms apart: 450 ms in all, longer than the
  // deadline, which each message meets on its own.
  for (const id of [1, 2, 3]) {
    const f = frame(query('www.test.example', 'A', { id }));
    const answered = new Promise<void>((ok) => c.s.once('data', () => ok()));
    c.s.write(f.subarray(0, 10));
    await new Promise((ok) => setTimeout(ok, 150));
    c.s.write(f.subarray(10));
    t.equal(await within(answered, 1000), undefined, `message ${id} answered`);
  }
  t.equal(c.s.destroyed, false, 'still open');
});

t.test('TCP: connections per client address are capped below the global cap', async (t) => {
  const { port, registry } = await setup(t, { tcp: { idleTimeoutMs: 3000, maxPerSource: 2 } });
  const q = query('www.test.example', 'A');
  const first = [tcpClient(t, port), tcpClient(t, port)];
  for (const c of first) t.equal(view(await c.ask(q)).rcode, 'NOERROR', 'within the cap');
  const third = tcpClient(t, port);
  t.not(await within(third.closed, 1000), 'timeout', 'the third from 127.0.0.1 is closed at once');
  t.same(third.answers, [], 'and not answered');
  // Another address on lo is not affected by 127.0.0.1's count.
  const elsewhere = tcpClient(t, port, '127.0.0.2');
  t.equal(view(await elsewhere.ask(q)).rcode, 'NOERROR', 'from 127.0.0.2');
  // A slot given back is taken again.
  first[0]!.s.destroy();
  await first[0]!.closed;
  await new Promise((ok) => setTimeout(ok, 50));
  const again = tcpClient(t, port);
  t.equal(view(await again.ask(q)).rcode, 'NOERROR', 'after one closed');
  t.match(await registry.metrics(), /dns_tcp_closed_total\{reason="per_source_limit"\} 1/);
});

t.test('TCP: a zero-length frame closes the connection', async (t) => {
  const { port, registry } = await setup(t, { tcp: { idleTimeoutMs: 3000 } });
  const c = tcpClient(t, port);
  await c.connected;
  // Before the fix the empty frame was dropped as short and the query after it answered.
  c.s.write(Buffer.concat([Buffer.of(0, 0), frame(query('www.test.example', 'A'))]));
  t.not(await within(c.closed, 1000), 'timeout', 'closed');
  t.same(c.answers, [], 'nothing after the empty frame is answered');
  t.match(await registry.metrics(), /dns_tcp_closed_total\{reason="zero_length"\} 1/);
});

t.test('UDP and TCP: malformed queries get the same replies, screened', async (t) => {
  const { port, registry } = await setup(t);
  const q = query('www.test.example', 'A', { id: 0x4321 });
  const noQuestion = Uint8Array.from(q.subarray(0, 12));
  noQuestion[5] = 0;
  const r = await udpAsk(port, noQuestion);
  t.same([...r], [0x43, 0x21, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], 'bare FORMERR');
  const trailing = Uint8Array.from([...q, 0, 0]);
  t.equal(view(await udpAsk(port, trailing)).rcode, 'FORMERR', 'trailing bytes: FORMERR');
  const response = Uint8Array.from(q);
  response[2] = response[2]! | 0x80;
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
  t.teardown(() => sock.close());
  sock.send(response, port, '127.0.0.1');
  sock.send(q.subarray(0, 5), port, '127.0.0.1');
  const c = tcpClient(t, port);
  t.equal(view(await c.ask(trailing)).rcode, 'FORMERR', 'over TCP too');
  // A valid query after them: the two drops have been handled by then (one socket, in order).
  t.equal(view(await udpAsk(port, q)).rcode, 'NOERROR');
  const text = await registry.metrics();
  t.match(text, /dns_queries_total\{qtype="none",rcode="FORMERR",transport="udp"\} 2/);
  t.match(text, /dns_queries_total\{qtype="none",rcode="FORMERR",transport="tcp"\} 1/);
  t.match(text, /dns_dropped_total\{reason="response"\} 1/);
  t.match(text, /dns_dropped_total\{reason="short"\} 1/);
});

t.test('TCP: the message deadline does not run while reading waits for our forwards', async (t) => {
  const { server, port } = await setup(t, {
    forward: { networks: ['127.0.0.0/8'], upstreams: ['127.0.0.1:9'] },
    tcp: { idleTimeoutMs: 3000, messageTimeoutMs: 200, maxPipelined: 1 },
  });
  // A slow upstream (400 ms, answered SERVFAIL): reading pauses at maxPipelined meanwhile.
  (server as unknown as { forwarder: { resolve: () => Promise<Uint8Array> } }).forwarder.resolve =
    () => new Promise((_, fail) => setTimeout(() => fail(new Error('slow upstream (test)')), 400));
  const c = tcpClient(t, port);
  await c.connected;
  const second = frame(query('www.test.example', 'A', { id: 2 }));
  c.s.write(
    Buffer.concat([frame(query('a.example.org', 'A', { rd: true, id: 1 })), second.subarray(0, 5)]),
  );
  await new Promise((ok) => setTimeout(ok, 450));
  t.equal(c.s.destroyed, false, 'not closed while the server was not reading');
  const answered = new Promise<void>((ok) => {
    const check = (): void => {
      if (c.answers.length >= 2) ok();
      else setTimeout(check, 10);
    };
    check();
  });
  c.s.write(second.subarray(5));
  t.equal(await within(answered, 1000), undefined, 'both answered');
  t.same(
    c.answers.map((m) => [(m[0]! << 8) | m[1]!, view(m).rcode]),
    [
      [1, 'SERVFAIL'],
      [2, 'NOERROR'],
    ],
  );
});
