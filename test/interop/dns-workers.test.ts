/**
 * `workers: 2`: the built server forks a second process that reads the same UDP socket.
 * Checks that every query is answered, that both processes answer some (the kernel spreads
 * datagrams between them under a concurrent load), that /metrics adds the worker's counts,
 * and that SIGTERM stops the whole group. With a dynamic zone: UPDATEs read by the worker
 * go to the parent, and every query right after an UPDATE sees it in either process.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/testing/daemon.js';
import { repoRoot, startNetsvc, udpExchange } from '../../bench/dns-servers.js';
import { query } from '../../services/dns/testing.js';
import { encodeUpdate } from '../../services/dns/update-message.js';
import { keyFromTriple, sign } from '../../services/dns/tsig.js';
import { nameFromText } from '../../services/dns/name.js';
import { CLASS, TYPE } from '../../services/dns/rr.js';
import { rrFromText } from '../../services/dns/zone-file.js';

t.test('two processes answer on one UDP socket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-workers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const root = repoRoot();
  const server = await startNetsvc({
    dir,
    port,
    zones: [{ origin: 'TIC2023.com', file: join(root, 'config/dev/zones/TIC2023.com.zone') }],
    dnsExtra: { workers: 2 },
    teardown: t,
  });
  const total = 400;
  let answered = 0;
  // 8 concurrent askers, so both processes are woken.
  await Promise.all(
    Array.from({ length: 8 }, async (_, k) => {
      for (let i = 0; i < total / 8; i++) {
        const r = await udpExchange(port, query('www.TIC2023.com', 'A', { id: k * 1000 + i }));
        if (r && r.readUInt16BE(0) === k * 1000 + i) answered++;
      }
    }),
  );
  t.equal(answered, total, 'every query answered with its own ID');
  await new Promise((r) => setTimeout(r, 1300)); // worker reports every second
  const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  const m = /dns_queries_total\{qtype="A",rcode="NOERROR",transport="udp"\} (\d+)/.exec(metrics);
  t.equal(Number(m?.[1]), total, '/metrics counts the worker process too');
  const rss = await server.daemon.stop();
  t.ok((rss.rss?.processes.length ?? 0) >= 1, `peak RSS sampled: ${rss.rss?.note ?? 'none'}`);
});

t.test(
  'workers: 2 with a dynamic zone: UPDATEs on either process, answers from both',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'netsvc-workers-dyn-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const root = repoRoot();
    const secret = Buffer.from('workers dynamic zone test key 32').toString('base64');
    const server = await startNetsvc({
      dir,
      port,
      zones: [{ origin: 'TIC2023.com', file: join(root, 'config/dev/zones/TIC2023.com.zone') }],
      dnsExtra: {
        workers: 2,
        keys: [{ name: 'k', secretEnv: 'WORKERS_TEST_KEY' }],
        zones: [
          {
            origin: 'TIC2023.com',
            file: join(root, 'config/dev/zones/TIC2023.com.zone'),
            update: { allow: [{ key: 'k', match: 'zonesub' }] },
          },
        ],
      },
      env: { WORKERS_TEST_KEY: secret },
      teardown: t,
    });
    const key = keyFromTriple(`hmac-sha256:k:${secret}`);
    const O = nameFromText('TIC2023.com.');
    // 40 UPDATEs from 4 concurrent senders: the kernel hands some to the worker, which passes
    // them to the parent; each is answered NOERROR, and right after each the name resolves.
    let ok = 0;
    let seen = 0;
    await Promise.all(
      Array.from({ length: 4 }, async (_, k) => {
        for (let i = 0; i < 10; i++) {
          const n = k * 10 + i;
          const msg = encodeUpdate(n + 1, {
            zone: [{ qname: O, qtype: TYPE.SOA, qclass: CLASS.IN }],
            prerequisites: [],
            updates: [rrFromText(`w${n} 60 A 192.0.2.${n + 1}`, O, 60)],
          });
          const r = await udpExchange(port, sign(msg, key, { now: Date.now() / 1000 }).message);
          if (r && (r[3]! & 0xf) === 0 && r.readUInt16BE(0) === n + 1) ok++;
          // Several queries, so both processes answer some.
          for (let q = 0; q < 3; q++) {
            const a = await udpExchange(port, query(`w${n}.TIC2023.com`, 'A', { id: 9000 + q }));
            if (a && a.includes(Buffer.from([192, 0, 2, n + 1]))) seen++;
          }
        }
      }),
    );
    t.equal(ok, 40, 'every UPDATE answered NOERROR');
    t.equal(seen, 120, 'every query after its UPDATE saw the new name');
    await new Promise((r) => setTimeout(r, 1300)); // worker reports every second
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    t.match(
      metrics,
      /dns_queries_total\{qtype="UPDATE",rcode="NOERROR",transport="udp"\} 40/,
      'the parent counted all 40, those the worker read included',
    );
  },
);
