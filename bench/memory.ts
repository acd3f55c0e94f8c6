/**
 * `npm run bench:memory [svc…|all|bare]` (issue 13): what each service costs in memory above a
 * bare Node process, idle and after a short light load, in one run.
 *
 * Every target is started fresh from config/dev (ports, admin port and data dir moved by
 * NETSVC_* environment overrides to free ones on 127.0.0.1, so a running `npm start` is left
 * alone): each service alone, all six in one process, and a bare `node -e
 * "setInterval(()=>{},1000)"`. For each: ready (`/readyz` answers 200), then `BENCH_MEMORY_SETTLE_S`
 * seconds idle, then VmRSS (idle); then a bounded load, only to 127.0.0.1, settle again and
 * read VmRSS (loaded) and VmHWM (peak over the whole life, startup included):
 *
 *   dns      2,000 A queries over UDP (50 outstanding)
 *   dhcp     200 relayed DHCPDISCOVERs (giaddr 127.0.0.2, replies to a local relay socket)
 *   ftp      10 logins in turn (USER, PASS, PWD, QUIT; each PASS is one scrypt check)
 *   http     200 GETs of / on one keep-alive connection
 *   sip      100 OPTIONS over UDP
 *   monitor  50 GETs of /api/status
 *   all      every load above against the one process
 *
 * "private" is Private_Clean + Private_Dirty from /proc/PID/smaps_rollup: the pages no other
 * process shares, i.e. what one more container really costs on a Pi (the node binary's code
 * pages are shared between every Node process of one image). "above bare" is idle RSS minus
 * the bare process's idle RSS.
 *
 * Node flags: BENCH_MEMORY_NODE_FLAGS (default: the flags containers/Dockerfile's ENTRYPOINT
 * passes to node, read from that line, so the figures are those of the image's command; set it
 * to "" for Node's defaults). Both the services and the bare process get them, and the image's
 * memory environment (its ENV MALLOC_* / UV_THREADPOOL_SIZE lines) unless BENCH_MEMORY_IMAGE_ENV=0.
 * The image is Alpine (musl), which ignores MALLOC_* but returns large freed blocks anyway; on
 * this glibc host the variable is what makes the two behave alike. Other variables: BENCH_MEMORY_SETTLE_S (6),
 * BENCH_VERBOSE=1 (echo daemon logs), BENCH_KEEP=1 (keep the scratch folder). Results also go
 * to bench/results/memory-<time>.json. Linux only (/proc).
 */
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { cleanEnv, freePorts, startDaemon, type Daemon } from '../src/testing/daemon.js';
import { netsvcMain, repoRoot } from './dns-servers.js';
import { imageMemoryEnv, imageNodeFlags } from './image-runtime.js';

const SERVICES = ['dns', 'dhcp', 'ftp', 'http', 'sip', 'monitor'] as const;
type Svc = (typeof SERVICES)[number];
const TARGETS = ['bare', ...SERVICES, 'all'] as const;
type Target = (typeof TARGETS)[number];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Memory {
  readonly rssKb: number;
  readonly hwmKb: number;
  readonly privateKb: number | undefined;
}

function memory(pid: number): Memory | undefined {
  const field = (text: string, name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  let privateKb: number | undefined;
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const clean = field(rollup, 'Private_Clean');
    const dirty = field(rollup, 'Private_Dirty');
    if (clean !== undefined && dirty !== undefined) privateKb = clean + dirty;
  } catch {
    /* a kernel without smaps_rollup (< 4.14): no private column */
  }
  return {
    rssKb: field(status, 'VmRSS') ?? 0,
    hwmKb: field(status, 'VmHWM') ?? 0,
    privateKb,
  };
}

/** Free ports of one run, and the NETSVC_* overrides that move config/dev onto them. */
interface Ports {
  admin: number;
  dns: number;
  dhcp: number;
  dhcpRelay: number;
  ftp: number;
  ftpActive: number;
  ftpPassive: number;
  http: number;
  sip: number;
  monitor: number;
}

async function pickPorts(): Promise<Ports> {
  const p = await freePorts(10);
  const at = (i: number): number => p[i]!;
  return {
    admin: at(0),
    dns: at(1),
    dhcp: at(2),
    dhcpRelay: at(3),
    ftp: at(4),
    ftpActive: at(5),
    ftpPassive: at(6),
    http: at(7),
    sip: at(8),
    monitor: at(9),
  };
}

function overrides(ports: Ports, dataDir: string): Record<string, string> {
  return {
    NETSVC_DATA_DIR: dataDir,
    NETSVC_ADMIN__PORT: String(ports.admin),
    NETSVC_LOG__LEVEL: 'warn',
    NETSVC_DNS__LISTEN__0__PORT: String(ports.dns),
    NETSVC_DHCP__LISTEN__0__PORT: String(ports.dhcp),
    NETSVC_DHCP__LISTEN__0__RELAYPORT: String(ports.dhcpRelay),
    NETSVC_FTP__LISTEN__0__PORT: String(ports.ftp),
    NETSVC_FTP__ACTIVE__SOURCEPORT: String(ports.ftpActive),
    NETSVC_FTP__PASSIVE__PORTMIN: String(ports.ftpPassive),
    NETSVC_FTP__PASSIVE__PORTMAX: String(ports.ftpPassive),
    NETSVC_HTTP__LISTEN__PORT: String(ports.http),
    NETSVC_SIP__LISTEN__0__PORT: String(ports.sip),
    NETSVC_MONITOR__LISTEN__PORT: String(ports.monitor),
    NETSVC_MONITOR__TARGETS__0__URL: `http://127.0.0.1:${ports.admin}`,
  };
}

// ---------------------------------------------------------------------------------------
// Loads. Each returns "answered/sent" for the notes; none throws for a lost reply.

/** `count` UDP requests with at most `window` outstanding; `id` ties a reply to its request. */
function udpLoad(opts: {
  port: number;
  count: number;
  window: number;
  make: (i: number) => Buffer;
  idOf: (reply: Buffer) => number | undefined;
  bind?: { address: string; port: number };
  timeoutMs?: number;
}): Promise<{ sent: number; answered: number }> {
  return new Promise((done, fail) => {
    const sock = createSocket('udp4');
    const pending = new Set<number>();
    let next = 0;
    let answered = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      sock.close();
      done({ sent: next, answered });
    };
    const arm = (): void => {
      clearTimeout(timer);
      // A reply lost for this long ends the run: the figures are memory, not loss.
      timer = setTimeout(finish, opts.timeoutMs ?? 2000);
    };
    const pump = (): void => {
      while (next < opts.count && pending.size < opts.window) {
        pending.add(next);
        sock.send(opts.make(next), opts.port, '127.0.0.1');
        next++;
      }
      if (next >= opts.count && pending.size === 0) finish();
    };
    sock.on('message', (msg) => {
      const id = opts.idOf(msg);
      if (id === undefined || !pending.delete(id)) return;
      answered++;
      arm();
      pump();
    });
    sock.on('error', fail);
    const start = (): void => {
      arm();
      pump();
    };
    if (opts.bind) sock.bind(opts.bind.port, opts.bind.address, start);
    else sock.bind(0, '127.0.0.1', start);
  });
}

function dnsLoad(port: number): Promise<{ sent: number; answered: number }> {
  const names = ['www.TIC2023.com', 'web1.TIC2023.com', 'ns1.TIC2023.com', 'nx.TIC2023.com'];
  return udpLoad({
    port,
    count: 2000,
    window: 50,
    make: (i) =>
      dnsPacket.encode({
        type: 'query',
        id: i,
        flags: 0,
        questions: [{ type: 'A', class: 'IN', name: names[i % names.length]! }],
      }),
    idOf: (r) => (r.length >= 2 ? r.readUInt16BE(0) : undefined),
  });
}

/** A relayed DHCPDISCOVER (RFC 2131 §2, §4.3.1): giaddr 127.0.0.2, chaddr from `i`. */
function discover(i: number): Buffer {
  const b = Buffer.alloc(244);
  b[0] = 1; // op BOOTREQUEST
  b[1] = 1; // htype Ethernet
  b[2] = 6; // hlen
  b[3] = 1; // hops: one relay
  b.writeUInt32BE(0x4e000000 + i, 4); // xid
  b.set([127, 0, 0, 2], 24); // giaddr
  b.set([0x02, 0x00, 0x4e, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff], 28); // chaddr
  b.writeUInt32BE(0x63825363, 236); // magic cookie
  b.set([53, 1, 1, 255], 240); // DHCP message type DISCOVER, end
  return b;
}

function dhcpLoad(port: number, relayPort: number): Promise<{ sent: number; answered: number }> {
  return udpLoad({
    port,
    count: 200,
    window: 20,
    make: discover,
    idOf: (r) => (r.length >= 8 && r[0] === 2 ? r.readUInt32BE(4) - 0x4e000000 : undefined),
    bind: { address: '127.0.0.2', port: relayPort },
  });
}

function sipLoad(port: number): Promise<{ sent: number; answered: number }> {
  // The Via port is a placeholder: `rport` (RFC 3581 §4) sends the reply to the source port.
  return udpLoad({
    port,
    count: 100,
    window: 10,
    make: (i) =>
      Buffer.from(
        [
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-mem-${i};rport`,
          'Max-Forwards: 70',
          `From: <sip:bench@127.0.0.1>;tag=mem${i}`,
          `To: <sip:127.0.0.1:${port}>`,
          `Call-ID: mem-${i}@127.0.0.1`,
          'CSeq: 1 OPTIONS',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      ),
    idOf: (r) => {
      const m = /branch=z9hG4bK-mem-(\d+)/.exec(r.toString('latin1'));
      return m ? Number(m[1]) : undefined;
    },
  });
}

/** `count` GETs of `path` on one keep-alive connection; answered = 2xx/3xx/4xx replies. */
async function httpLoad(
  port: number,
  path: string,
  count: number,
  host?: string,
): Promise<{ sent: number; answered: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let answered = 0;
  try {
    for (let i = 0; i < count; i++) {
      const status = await new Promise<number>((done) => {
        const req = request(
          { host: '127.0.0.1', port, path, agent, headers: host ? { host } : {} },
          (res) => {
            res.resume();
            res.on('end', () => done(res.statusCode ?? 0));
          },
        );
        req.setTimeout(5000, () => req.destroy());
        req.on('error', () => done(0));
        req.end();
      });
      if (status > 0 && status < 500) answered++;
    }
  } finally {
    agent.destroy();
  }
  return { sent: count, answered };
}

/** One FTP session: the reply to each line in turn; resolves true when PASS got 230. */
function ftpLogin(port: number, user: string, pass: string): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(port, '127.0.0.1');
    const script = [`USER ${user}`, `PASS ${pass}`, 'PWD', 'QUIT'];
    let buf = '';
    let step = 0;
    let loggedIn = false;
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (!/^\d{3} /.test(line)) continue; // a continuation line of a multi-line reply
        if (line.startsWith('230')) loggedIn = true;
        const cmd = script[step++];
        if (cmd !== undefined) sock.write(cmd + '\r\n');
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => done(loggedIn));
  });
}

async function ftpLoad(port: number): Promise<{ sent: number; answered: number }> {
  let answered = 0;
  for (let i = 0; i < 10; i++) if (await ftpLogin(port, 'admin', 'dev-admin')) answered++;
  return { sent: 10, answered };
}

async function loadFor(svc: Svc, ports: Ports): Promise<string> {
  const fmtLoad = (what: string, r: { sent: number; answered: number }): string =>
    `${what} ${r.answered}/${r.sent}`;
  switch (svc) {
    case 'dns':
      return fmtLoad('dns queries', await dnsLoad(ports.dns));
    case 'dhcp':
      return fmtLoad('dhcp offers', await dhcpLoad(ports.dhcp, ports.dhcpRelay));
    case 'ftp':
      return fmtLoad('ftp logins', await ftpLoad(ports.ftp));
    case 'http':
      return fmtLoad('http GETs', await httpLoad(ports.http, '/', 200, 'www.TIC2023.com'));
    case 'sip':
      return fmtLoad('sip OPTIONS', await sipLoad(ports.sip));
    case 'monitor':
      return fmtLoad('monitor GETs', await httpLoad(ports.monitor, '/api/status', 50));
  }
}

// ---------------------------------------------------------------------------------------

interface Row {
  readonly target: Target;
  readonly idle?: Memory;
  readonly loaded?: Memory;
  readonly startupMs?: number;
  readonly load?: string;
  readonly skipped?: string;
}

async function measure(
  target: Target,
  work: string,
  flags: readonly string[],
  memEnv: Record<string, string>,
  settleMs: number,
  verbose: boolean,
  progress: (m: string) => void,
): Promise<Row> {
  const ports = await pickPorts();
  const dataDir = mkdtempSync(join(work, `${target}-`));
  const onLine = verbose ? (l: string) => process.stderr.write(`[${target}] ${l}\n`) : undefined;
  let daemon: Daemon;
  try {
    daemon =
      target === 'bare'
        ? await startDaemon({
            name: 'bare node',
            command: process.execPath,
            args: [...flags, '-e', 'setInterval(() => {}, 1000)'],
            env: cleanEnv(memEnv),
            ready: { check: async () => true },
            ...(onLine ? { onLine } : {}),
          })
        : await startDaemon({
            name: `netsvc ${target}`,
            command: process.execPath,
            args: [
              ...flags,
              netsvcMain(),
              ...(target === 'all' ? [] : [target]),
              '--config',
              join(repoRoot(), 'config', 'dev'),
            ],
            cwd: dataDir,
            env: cleanEnv({ ...memEnv, ...overrides(ports, dataDir) }),
            ready: { http: `http://127.0.0.1:${ports.admin}/readyz` },
            readyTimeoutMs: 30_000,
            ...(onLine ? { onLine } : {}),
          });
  } catch (e) {
    // The first line says how it ended, the last line of its output usually why.
    const lines = (e as Error).message.split('\n').filter((l) => l.trim() !== '');
    const why = [lines[0], lines.length > 1 ? lines.at(-1) : undefined]
      .filter((l) => l !== undefined)
      .join(' … ');
    progress(`${target}: not measured: ${why}`);
    return { target, skipped: why };
  }
  try {
    await sleep(settleMs);
    const idle = memory(daemon.pid);
    progress(`${target}: ready in ${daemon.startupMs.toFixed(0)} ms; idle ${mb(idle?.rssKb)} MB`);
    if (target === 'bare')
      return { target, startupMs: daemon.startupMs, ...(idle ? { idle } : {}) };
    const svcs: readonly Svc[] = target === 'all' ? SERVICES : [target];
    const notes: string[] = [];
    for (const s of svcs) {
      try {
        notes.push(await loadFor(s, ports));
      } catch (e) {
        notes.push(`${s} load failed: ${(e as Error).message}`);
      }
    }
    await sleep(Math.min(settleMs, 2000));
    const loaded = memory(daemon.pid);
    if (!daemon.running()) notes.push('exited during the load');
    progress(`${target}: ${notes.join(', ')}; loaded ${mb(loaded?.rssKb)} MB`);
    return {
      target,
      startupMs: daemon.startupMs,
      load: notes.join(', '),
      ...(idle ? { idle } : {}),
      ...(loaded ? { loaded } : {}),
    };
  } finally {
    await daemon.stop();
  }
}

const mb = (kb: number | undefined): string => (kb === undefined ? '-' : (kb / 1024).toFixed(1));

function table(rows: readonly Row[]): string {
  const bare = rows.find((r) => r.target === 'bare')?.idle?.rssKb;
  const out: string[][] = [
    [
      'service',
      'idle RSS MB',
      'above bare',
      'idle private',
      'loaded RSS',
      'loaded above',
      'peak (HWM)',
      'load',
    ],
  ];
  for (const r of rows) {
    if (r.skipped !== undefined) {
      out.push([r.target, '-', '-', '-', '-', '-', '-', `skipped: ${r.skipped}`]);
      continue;
    }
    const above = (kb: number | undefined): string =>
      kb === undefined || bare === undefined || r.target === 'bare' ? '' : mb(kb - bare);
    const peak = Math.max(r.idle?.hwmKb ?? 0, r.loaded?.hwmKb ?? 0);
    out.push([
      r.target,
      mb(r.idle?.rssKb),
      above(r.idle?.rssKb),
      mb(r.idle?.privateKb),
      mb(r.loaded?.rssKb),
      above(r.loaded?.rssKb),
      peak > 0 ? mb(peak) : '-',
      r.load ?? '',
    ]);
  }
  const widths = out[0]!.map((_, i) => Math.max(...out.map((r) => (r[i] ?? '').length)));
  return out
    .map((r, ri) => {
      const line = r
        .map((c, i) =>
          i === 0 || i === r.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!),
        )
        .join('  ')
        .trimEnd();
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !(TARGETS as readonly string[]).includes(w));
  if (unknown.length > 0) {
    console.error(`unknown target(s): ${unknown.join(', ')}; known: ${TARGETS.join(', ')}`);
    process.exit(2);
  }
  // The bare process is always measured: every other figure is read against it.
  const chosen = TARGETS.filter((t) => t === 'bare' || wanted.length === 0 || wanted.includes(t));
  const flagsEnv = process.env.BENCH_MEMORY_NODE_FLAGS;
  const flags =
    flagsEnv === undefined ? imageNodeFlags() : flagsEnv.split(/\s+/).filter((f) => f !== '');
  const memEnv = process.env.BENCH_MEMORY_IMAGE_ENV === '0' ? {} : imageMemoryEnv();
  const settleS = Number(process.env.BENCH_MEMORY_SETTLE_S ?? 6);
  if (!Number.isFinite(settleS) || settleS < 0)
    throw new Error(`BENCH_MEMORY_SETTLE_S must be a number of seconds, got ${settleS}`);
  const verbose = process.env.BENCH_VERBOSE === '1';
  const started = new Date();
  const progress = (msg: string): void => {
    const t = ((Date.now() - started.getTime()) / 1000).toFixed(1).padStart(6);
    console.log(`[${t}s] ${msg}`);
  };
  const work = mkdtempSync(join(tmpdir(), 'netsvc-bench-memory-'));
  progress(
    `memory: ${chosen.join(', ')}; node ${process.version} ${flags.join(' ') || '(no flags)'}` +
      `${Object.entries(memEnv)
        .map(([k, v]) => ` ${k}=${v}`)
        .join('')}; ` +
      `${cpus().length} CPUs; load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; settle ${settleS} s`,
  );
  const rows: Row[] = [];
  try {
    for (const t of chosen)
      rows.push(await measure(t, work, flags, memEnv, settleS * 1000, verbose, progress));
  } finally {
    if (process.env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  }
  const resultsDir = join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `memory-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        scenario: 'memory',
        started: started.toISOString(),
        host: hostname(),
        cpus: cpus().length,
        node: process.version,
        nodeFlags: flags,
        env: memEnv,
        settleS,
        rows,
      },
      null,
      2,
    ) + '\n',
  );
  console.log('');
  console.log(table(rows));
  console.log('');
  console.log(
    'MB = MiB. idle: VmRSS after /readyz and the settle time; above bare: minus the bare process; ' +
      'private: Private_Clean+Private_Dirty (smaps_rollup), the unshared part;',
  );
  console.log(
    'loaded: VmRSS after the load and a short settle; peak: VmHWM over the whole life (startup included). ' +
      'Target (issue 13): idle <= 15 MB above bare, loaded <= 30.',
  );
  console.log(`results: ${file}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
