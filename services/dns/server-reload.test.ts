/**
 * Reload under load (issue 17): a big-ish zone is reloaded on a worker thread while UDP
 * queries keep coming every 10 ms; every query must be answered, promptly, by the old zone
 * until the new one is swapped in, then by the new one; a broken file keeps the old copy.
 * (Before, a reload parsed on the answering thread: 100,000 records stopped answers for
 * about 2.6 s.) Sizes are kept small enough for the test to run in a few seconds.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Value } from '@sinclair/typebox/value';
import { DnsServer } from './server.js';
import { DnsConfig } from './config.js';
import { createDnsMetrics } from './metrics.js';
import { query, view } from './testing.js';

const RECORDS = 20_000;

function zoneText(serial: number, www: string): string {
  const lines = [
    '$TTL 300',
    `@ SOA ns1 admin ${serial} 3600 600 86400 60`,
    '@ NS ns1',
    'ns1 A 127.0.0.53',
    `www A ${www}`,
  ];
  for (let i = 0; i < RECORDS; i++) {
    lines.push(
      i % 2 === 0 ? `h${i} A 10.0.${(i >> 8) & 0xff}.${i & 0xff}` : `h${i} TXT "host ${i}"`,
    );
  }
  return lines.join('\n') + '\n';
}

/** UDP queries every `everyMs` until stopped: how many were sent, answered, and the slowest. */
function queryLoad(port: number, everyMs: number) {
  const sock = createSocket('udp4');
  const sent = new Map<number, number>();
  const answers: string[] = [];
  let id = 0;
  let slowest = 0;
  sock.on('message', (m) => {
    const t0 = sent.get(m.readUInt16BE(0));
    if (t0 === undefined) return;
    sent.delete(m.readUInt16BE(0));
    slowest = Math.max(slowest, performance.now() - t0);
    answers.push(view(m).answer[0] ?? view(m).rcode);
  });
  const timer = setInterval(() => {
    id = (id + 1) & 0xffff;
    // Distinct names: the answer cache would otherwise answer without the zone.
    const name = id % 5 === 0 ? 'www.test.example' : `h${(id * 7) % RECORDS}.test.example`;
    sent.set(id, performance.now());
    sock.send(query(name, 'A', { id }), port, '127.0.0.1');
  }, everyMs);
  return {
    /** Stop sending, wait for the stragglers, and report. */
    async stop() {
      clearInterval(timer);
      await new Promise((ok) => setTimeout(ok, 1000));
      sock.close();
      return { sent: id, lost: sent.size, slowest, answers };
    },
  };
}

t.test('queries are answered throughout reloads of a 20,000-record zone', async (t) => {
  const dir = t.testdir({ 'z.zone': zoneText(1, '192.0.2.1') });
  const cfg = Value.Default(DnsConfig, {
    listen: [{ address: '127.0.0.1', port: 0 }],
    zones: [{ origin: 'test.example', file: 'z.zone' }],
  }) as DnsConfig;
  const registry = new Registry();
  const server = new DnsServer(cfg, dir, pino({ level: 'silent' }), createDnsMetrics(registry));
  await server.start();
  t.teardown(() => server.stop());
  const port = server.bound[0]!.port;

  const load = queryLoad(port, 10);
  // A broken file: the old copy keeps serving. Two reloads asked for at once run one
  // after the other (one parse at a time).
  writeFileSync(join(dir, 'z.zone'), zoneText(2, '192.0.2.2') + 'bad line here\n');
  const settled: number[] = [];
  const first = server.reload().catch((e: unknown) => {
    settled.push(1);
    throw e;
  });
  const second = server.reload().catch((e: unknown) => {
    settled.push(2);
    throw e;
  });
  await t.rejects(first, { code: 'ERR_DNS_ZONE_LOAD' });
  await t.rejects(second, { code: 'ERR_DNS_ZONE_LOAD' });
  t.same(settled, [1, 2], 'reloads ran in the order asked');
  // A good file: swapped in once complete.
  writeFileSync(join(dir, 'z.zone'), zoneText(3, '192.0.2.3'));
  await server.reload();
  await new Promise((ok) => setTimeout(ok, 100));
  const r = await load.stop();

  t.ok(r.sent > 50, `${r.sent} queries sent during the reloads`);
  t.equal(r.lost, 0, 'every query answered');
  t.ok(r.slowest < 250, `slowest answer ${r.slowest.toFixed(0)} ms`);
  const www = r.answers.filter((a) => a.startsWith('www.'));
  t.ok(www.length > 0);
  t.notOk(
    www.some((a) => a.endsWith('192.0.2.2')),
    'the broken version was never served',
  );
  t.equal(www[0], 'www.test.example. 300 IN A 192.0.2.1', 'the old zone answered first');
  t.equal(www[www.length - 1], 'www.test.example. 300 IN A 192.0.2.3', 'then the new one');
  t.match(await registry.metrics(), /dns_zone_serial\{zone="test.example."\} 3/);
});
