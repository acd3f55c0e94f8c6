/**
 * DHCP scenario (shared/peers.md §5A): perfdhcp (Debian `kea-admin`) acting as a relay on
 * 127.0.0.2 inside a network namespace, `perfdhcp -4 -l 127.0.0.2 -r RATE -R 1000000 -p S
 * 127.0.0.1` (every exchange a new client, full DORA), against each server bound to
 * 127.0.0.1:67 in turn: netsvc (leases in SQLite, synchronous=FULL: every ACK waits for an
 * fsync, batched per event-loop turn) and Kea 2.2 (`kea-dhcp4-server`, memfile, persist to
 * CSV without fsync). Returns per server the completed 4-way exchanges/s perfdhcp reports,
 * its DISCOVER-OFFER and REQUEST-ACK drop ratios and the server's peak RSS.
 *
 * `benchDhcp(opts)` is the plain entry; `dhcpScenario` adapts it to bench/run.ts. Needs root
 * (network namespace nsdhcp-bench, removed afterwards).
 */
import { imageNodeFlags } from './image-runtime.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon, type Daemon, type PeakRss } from '../src/testing/daemon.js';
import {
  median,
  type BenchContext,
  type RunSample,
  type Scenario,
  type ServerResult,
} from './scenario.js';

export const NS = 'nsdhcp-bench';

export interface DhcpBenchOptions {
  /** Offered exchanges/s (perfdhcp -r). Default 4000 (Kea's ceiling in peers.md §5). */
  readonly rate?: number;
  /** Seconds per run (perfdhcp -p). Default 10. */
  readonly seconds?: number;
  readonly runs?: number;
  readonly workDir: string;
  /** Which servers; default both. */
  readonly servers?: readonly ('netsvc' | 'kea')[];
  readonly verbose?: boolean;
  readonly progress?: (msg: string) => void;
}

export interface DhcpBenchRun {
  readonly exchangesPerSec: number;
  readonly dropsDiscoverPct: number;
  readonly dropsRequestPct: number;
  readonly avgDelayMs: number | null;
  readonly sent: number;
  readonly completed: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly raw: string;
}

export interface DhcpBenchResult {
  readonly name: string;
  readonly skipped?: string;
  /** Median run by exchanges/s. */
  readonly exchangesPerSec?: number;
  readonly dropsPct?: number;
  readonly peakRssKb?: number;
  readonly rss?: PeakRss;
  readonly runs: readonly DhcpBenchRun[];
}

function which(cmd: string): string | undefined {
  const r = spawnSync('which', [cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

export function namespaceUp(): void {
  sh('ip', ['netns', 'del', NS], true);
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', NS, 'addr', 'add', '127.0.0.2/8', 'dev', 'lo']);
}

export function namespaceDown(): void {
  sh('ip', ['netns', 'del', NS], true);
}

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/dist\/?$/, '/');

export async function startNetsvc(dir: string, verbose: boolean): Promise<Daemon> {
  const cfg = join(dir, 'config');
  const data = join(dir, 'data');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(cfg, { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(
    join(cfg, 'netsvc.yaml'),
    'admin: { enabled: false }\nlog: { level: warn, format: json }\n',
  );
  writeFileSync(
    join(cfg, 'dhcp.yaml'),
    `listen: [{ address: 127.0.0.1, port: 67 }]
leaseTime: { default: 4000, min: 60, max: 4000 }
logPackets: false
subnets:
  - subnet: 127.0.0.0/8
    serverId: 127.0.0.1
    pools: [{ start: 127.16.0.0, end: 127.31.255.255 }]
    options: { routers: [127.0.0.1] }
`,
  );
  const launcher = join(dir, 'launch.mjs');
  writeFileSync(
    launcher,
    `import { loadConfigDir, formatIssue } from '${root}dist/src/config.js';
import { createRegistry } from '${root}dist/src/metrics.js';
import { systemClock } from '${root}dist/src/clock.js';
import def from '${root}dist/services/dhcp/index.js';
import pino from '${root}node_modules/pino/pino.js';
const loaded = loadConfigDir(process.argv[2], [def], process.env);
if (loaded.issues.length) { console.error(loaded.issues.map(formatIssue).join('\\n')); process.exit(2); }
const log = pino({ level: 'info' }).child({ svc: 'dhcp' });
const svc = def.create(loaded.services.get('dhcp').value, { log, metrics: createRegistry(), dataDir: process.env.NETSVC_DATA_DIR, configDir: process.argv[2], clock: systemClock });
await svc.start();
process.on('SIGTERM', async () => { await svc.stop(); process.exit(0); });
`,
  );
  return startDaemon({
    name: 'netsvc',
    command: 'ip',
    args: ['netns', 'exec', NS, process.execPath, ...imageNodeFlags(), launcher, cfg],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NETSVC_DATA_DIR: data },
    ready: { log: /listening on 127\.0\.0\.1:67/ },
    ...(verbose ? { onLine: (l: string) => console.error(`[netsvc] ${l}`) } : {}),
  });
}

export async function startKea(dir: string, verbose: boolean): Promise<Daemon> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'run'), { recursive: true });
  const conf = join(dir, 'kea-relay.json');
  writeFileSync(
    conf,
    JSON.stringify({
      Dhcp4: {
        'interfaces-config': { interfaces: ['lo/127.0.0.1'], 'dhcp-socket-type': 'udp' },
        'lease-database': {
          type: 'memfile',
          persist: true,
          name: join(dir, 'kea-leases4.csv'),
          'lfc-interval': 3600,
        },
        'valid-lifetime': 4000,
        'renew-timer': 1000,
        'rebind-timer': 2000,
        subnet4: [
          {
            id: 1,
            subnet: '127.0.0.0/8',
            pools: [{ pool: '127.16.0.0 - 127.31.255.255' }],
            'option-data': [{ name: 'routers', data: '127.0.0.1' }],
          },
        ],
        loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
      },
    }),
  );
  return startDaemon({
    name: 'kea',
    command: 'ip',
    args: ['netns', 'exec', NS, which('kea-dhcp4') ?? 'kea-dhcp4', '-c', conf],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      KEA_PIDFILE_DIR: join(dir, 'run'),
      KEA_LOCKFILE_DIR: join(dir, 'run'),
    },
    ready: {
      check: async () =>
        sh('ip', ['netns', 'exec', NS, 'ss', '-uln'], true).includes('127.0.0.1:67'),
    },
    ...(verbose ? { onLine: (l: string) => console.error(`[kea] ${l}`) } : {}),
  });
}

/** Parse perfdhcp's summary. */
export function parsePerfdhcp(out: string): Omit<DhcpBenchRun, 'loadBefore' | 'loadAfter' | 'raw'> {
  const num = (re: RegExp, from = out): number | undefined => {
    const m = re.exec(from);
    return m ? Number(m[1]) : undefined;
  };
  const section = (name: string): string => {
    const head = `***Statistics for: ${name}***`;
    const i = out.indexOf(head);
    if (i < 0) return '';
    const j = out.indexOf('***', i + head.length);
    return out.slice(i, j < 0 ? undefined : j);
  };
  const d = section('DISCOVER-OFFER');
  const r = section('REQUEST-ACK');
  return {
    exchangesPerSec:
      num(/Rate:\s*([\d.]+)\s*4-way exchanges\/second/) ?? num(/Rate:\s*([\d.]+)/) ?? 0,
    dropsDiscoverPct: num(/drops ratio:\s*([\d.]+)\s*%/, d) ?? NaN,
    dropsRequestPct: num(/drops ratio:\s*([\d.]+)\s*%/, r) ?? NaN,
    avgDelayMs: num(/avg delay:\s*([\d.]+)\s*ms/, r) ?? null,
    sent: num(/sent packets:\s*(\d+)/, d) ?? 0,
    completed: num(/received packets:\s*(\d+)/, r) ?? 0,
  };
}

export async function benchDhcp(opts: DhcpBenchOptions): Promise<DhcpBenchResult[]> {
  const rate = opts.rate ?? 4000;
  const seconds = opts.seconds ?? 10;
  const runs = opts.runs ?? 1;
  const progress = opts.progress ?? (() => {});
  const results: DhcpBenchResult[] = [];
  const perfdhcp = which('perfdhcp');
  for (const name of opts.servers ?? (['netsvc', 'kea'] as const)) {
    const why =
      process.getuid?.() !== 0
        ? 'needs root (network namespace)'
        : !perfdhcp
          ? 'perfdhcp not installed (apt-get install kea-admin)'
          : name === 'kea' && !which('kea-dhcp4')
            ? 'kea-dhcp4 not installed (apt-get install kea-dhcp4-server)'
            : name === 'netsvc' && !existsSync(join(root, 'dist/services/dhcp/index.js'))
              ? 'dist missing (npm run build)'
              : undefined;
    if (why) {
      results.push({ name, skipped: why, runs: [] });
      continue;
    }
    const samples: DhcpBenchRun[] = [];
    let rss: PeakRss | undefined;
    try {
      for (let i = 0; i < runs; i++) {
        // A fresh server and lease store per run: every exchange allocates (peers.md §5).
        namespaceUp();
        const dir = join(opts.workDir, `${name}-${i}`);
        const d =
          name === 'netsvc'
            ? await startNetsvc(dir, !!opts.verbose)
            : await startKea(dir, !!opts.verbose);
        try {
          progress(`dhcp ${name} run ${i + 1}/${runs}: perfdhcp -r ${rate} -p ${seconds}`);
          const loadBefore = loadavg();
          const r = spawnSync(
            'timeout',
            [
              String(seconds + 10),
              'ip',
              'netns',
              'exec',
              NS,
              perfdhcp!,
              '-4',
              '-l',
              '127.0.0.2',
              '-r',
              String(rate),
              '-R',
              '1000000',
              '-p',
              String(seconds),
              '127.0.0.1',
            ],
            { encoding: 'utf8' },
          );
          const raw = r.stdout + r.stderr;
          samples.push({ ...parsePerfdhcp(raw), loadBefore, loadAfter: loadavg(), raw });
        } finally {
          const s = await d.stop();
          if (s.rss && (!rss || s.rss.totalKb > rss.totalKb)) rss = s.rss;
          namespaceDown();
        }
      }
    } catch (e) {
      namespaceDown();
      results.push({ name, skipped: `failed: ${(e as Error).message}`, runs: samples });
      continue;
    }
    const sorted = [...samples].sort((a, b) => a.exchangesPerSec - b.exchangesPerSec);
    const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
    results.push({
      name,
      exchangesPerSec: mid.exchangesPerSec,
      dropsPct: mid.dropsDiscoverPct,
      ...(rss ? { peakRssKb: rss.totalKb, rss } : {}),
      runs: samples,
    });
  }
  return results;
}

export const dhcpScenario: Scenario = {
  name: 'dhcp',
  description:
    'perfdhcp relay on 127.0.0.2 in a netns, full DORA, every exchange a new client (peers.md §5A)',
  unit: 'exchanges/s',
  async run(ctx: BenchContext): Promise<ServerResult[]> {
    const rate = Number(process.env.BENCH_DHCP_RATE ?? 4000);
    const res = await benchDhcp({
      rate,
      seconds: ctx.seconds,
      runs: ctx.runs,
      workDir: ctx.workDir,
      verbose: ctx.verbose,
      progress: (m) => ctx.progress(m),
    });
    return res.map((r) => {
      const runs: RunSample[] = r.runs.map((s) => ({
        opsPerSec: s.exchangesPerSec,
        avgLatencyMs: s.avgDelayMs,
        p99LatencyMs: null,
        sent: s.sent,
        completed: s.completed,
        lost: Math.max(0, s.sent - s.completed),
        loadBefore: s.loadBefore,
        loadAfter: s.loadAfter,
        wallSeconds: ctx.seconds,
        extra: {
          dropsDiscoverPct: s.dropsDiscoverPct,
          dropsRequestPct: s.dropsRequestPct,
          offeredRate: rate,
        },
        warnings:
          s.exchangesPerSec === 0 ? ['perfdhcp reported no rate: ' + s.raw.slice(-300)] : [],
      }));
      const m = median(runs);
      return {
        server: r.name,
        isNetsvc: r.name === 'netsvc',
        ...(r.skipped ? { skipped: r.skipped } : {}),
        runs,
        ...(m ? { median: m } : {}),
        ...(r.rss ? { rss: r.rss } : {}),
      };
    });
  },
};
