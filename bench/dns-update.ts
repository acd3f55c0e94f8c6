/**
 * `dns-update` scenario (issue 11): RFC 2136 UPDATEs committed per second, netsvc against
 * BIND 9 in the same run. Each server holds example.test with a TSIG key granted the whole
 * zone; a Node client keeps 8 UPDATEs in flight over UDP, each adding one A record
 * (`h<N>.example.test`) signed with hmac-sha256, for BENCH_SECONDS. A reply counts when it
 * is NOERROR and its TSIG verifies. netsvc commits each UPDATE to SQLite with
 * synchronous=FULL (an fsync) before replying; BIND writes its .jnl as it does by default.
 */
import { createSocket } from 'node:dgram';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { freePort } from '../src/testing/daemon.js';
import {
  netsvcMain,
  startNamed,
  startNetsvc,
  which,
  type RunningDnsServer,
} from './dns-servers.js';
import {
  median,
  type BenchContext,
  type RunSample,
  type Scenario,
  type ServerResult,
} from './scenario.js';
import { existsSync } from 'node:fs';
import { encodeUpdate } from '../services/dns/update-message.js';
import { findTsig, keyFromTriple, sign, verify } from '../services/dns/tsig.js';
import { nameFromText } from '../services/dns/name.js';
import { CLASS, TYPE } from '../services/dns/rr.js';

const SECRET = Buffer.from('netsvc dns-update bench key, 32b').toString('base64');
const KEY = keyFromTriple(`hmac-sha256:bench-key:${SECRET}`);
const IN_FLIGHT = 8;

async function load(
  port: number,
  seconds: number,
): Promise<Omit<RunSample, 'loadBefore' | 'loadAfter'>> {
  const sock = createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
  const origin = nameFromText('example.test.');
  const pending = new Map<number, { mac: Uint8Array; at: number }>();
  let n = 0;
  let ok = 0;
  let bad = 0;
  let latencySum = 0;
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const send = (): void => {
    if (performance.now() >= end) return;
    const id = n & 0xffff;
    const i = n++;
    const msg = encodeUpdate(id, {
      zone: [{ qname: origin, qtype: TYPE.SOA, qclass: CLASS.IN }],
      prerequisites: [],
      updates: [
        {
          owner: nameFromText(`h${i}.example.test.`),
          type: TYPE.A,
          class: CLASS.IN,
          ttl: 300,
          rdata: Uint8Array.of(10, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff),
        },
      ],
    });
    const s = sign(msg, KEY, { now: Date.now() / 1000 });
    pending.set(id, { mac: s.mac, at: performance.now() });
    sent++;
    sock.send(s.message, port, '127.0.0.1');
  };
  await new Promise<void>((done) => {
    sock.on('message', (b) => {
      const id = b.readUInt16BE(0);
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      const t = findTsig(b);
      const signed =
        t !== undefined &&
        t !== 'formerr' &&
        verify(b, t, (k) => (k === KEY.name ? KEY : undefined), Date.now() / 1000, p.mac).ok;
      if ((b[3]! & 0x0f) === 0 && signed) {
        ok++;
        latencySum += performance.now() - p.at;
      } else bad++;
      send();
      if (performance.now() >= end && pending.size === 0) done();
    });
    for (let i = 0; i < IN_FLIGHT; i++) send();
    // Lost datagrams would stall a window slot: refill after a second of silence.
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const [id, p] of pending)
        if (now - p.at > 1000) {
          pending.delete(id);
          send();
        }
      if (now >= end + 1500) {
        clearInterval(watchdog);
        done();
      }
    }, 250);
  });
  sock.close();
  const wallSeconds = (performance.now() - t0) / 1000;
  return {
    opsPerSec: ok / seconds,
    avgLatencyMs: ok > 0 ? latencySum / ok : null,
    p99LatencyMs: null,
    sent,
    completed: ok,
    lost: sent - ok - bad,
    wallSeconds,
    extra: { refusedOrUnsigned: bad, inFlight: IN_FLIGHT },
    warnings: bad > 0 ? [`${bad} replies not NOERROR or not signed`] : [],
  };
}

export const dnsUpdateScenario: Scenario = {
  name: 'dns-update',
  description:
    'RFC 2136 UPDATE with TSIG, one A record each, 8 in flight over UDP, committed to disk',
  unit: 'updates/s',
  async run(ctx: BenchContext): Promise<ServerResult[]> {
    const zoneFile = join(ctx.workDir, 'example.test.zone');
    writeFileSync(
      zoneFile,
      '$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n',
    );
    const zones = [{ origin: 'example.test', file: zoneFile }];
    const servers: {
      name: string;
      isNetsvc: boolean;
      missing?: string;
      start: (port: number) => Promise<RunningDnsServer>;
    }[] = [
      {
        name: 'netsvc',
        isNetsvc: true,
        ...(existsSync(netsvcMain()) ? {} : { missing: 'dist missing (npm run build)' }),
        start: (port) => {
          writeFileSync(
            join(ctx.workDir, 'bench.key'),
            `key "bench-key" { algorithm hmac-sha256; secret "${SECRET}"; };\n`,
          );
          return startNetsvc({
            dir: join(ctx.workDir, 'netsvc'),
            port,
            zones,
            dnsExtra: {
              keys: [{ name: 'bench-key', secretFile: join(ctx.workDir, 'bench.key') }],
              zones: [
                {
                  origin: 'example.test',
                  file: 'zones/example.test.zone',
                  update: { allow: [{ key: 'bench-key', match: 'zonesub' }] },
                },
              ],
            },
          });
        },
      },
      {
        name: 'bind9',
        isNetsvc: false,
        ...(which('named') ? {} : { missing: 'named not installed (apt-get install bind9)' }),
        start: (port) =>
          startNamed({
            dir: join(ctx.workDir, 'named'),
            port,
            zones,
            extraConfig: `key "bench-key" { algorithm hmac-sha256; secret "${SECRET}"; };`,
            zoneOptions: 'update-policy { grant bench-key zonesub ANY; };',
          }),
      },
    ];
    const results: ServerResult[] = [];
    for (const s of servers) {
      if (s.missing) {
        results.push({ server: s.name, isNetsvc: s.isNetsvc, skipped: s.missing, runs: [] });
        continue;
      }
      const port = await freePort();
      let srv: RunningDnsServer;
      try {
        srv = await s.start(port);
      } catch (e) {
        results.push({
          server: s.name,
          isNetsvc: s.isNetsvc,
          skipped: `failed to start: ${(e as Error).message.split('\n')[0]}`,
          runs: [],
        });
        continue;
      }
      const runs: RunSample[] = [];
      try {
        for (let i = 1; i <= ctx.runs; i++) {
          const loadBefore = loadavg();
          ctx.progress(`dns-update: ${s.name} run ${i}/${ctx.runs}, ${ctx.seconds} s`);
          const r = await load(port, ctx.seconds);
          runs.push({ ...r, loadBefore, loadAfter: loadavg() });
          ctx.progress(
            `dns-update: ${s.name}: ${r.opsPerSec.toFixed(0)} updates/s, ${r.avgLatencyMs?.toFixed(2)} ms avg`,
          );
        }
      } finally {
        const stopped = await srv.daemon.stop();
        const m = median(runs);
        results.push({
          server: s.name,
          isNetsvc: s.isNetsvc,
          runs,
          ...(m ? { median: m } : {}),
          ...(stopped.rss ? { rss: stopped.rss } : {}),
        });
      }
    }
    return results;
  },
};
