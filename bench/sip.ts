/**
 * REGISTER-with-digest-auth per second: netsvc `sip` against Kamailio (peers.md §7, the
 * WITH_AUTH config), both driven by sipp with peers.md's reg-auth scenario
 * (services/sip/testdata/sipp/reg-auth.xml). Each registration is two transactions
 * (REGISTER → 401, REGISTER with credentials → 200).
 *
 * Both servers see one AOR, `bench`, with password `secret` (Kamailio's
 * `pv_auth_check("$fd", "secret", "0", "0")`; netsvc an extension `bench`), so every
 * REGISTER refreshes one binding: netsvc commits it to SQLite with synchronous=FULL before
 * each 200, Kamailio keeps usrloc in memory (db_mode 0). sipp offers `rate` calls/s for
 * `durationS` seconds; the row reports what completed. Returns
 * `{ name, opsPerSec, failures, peakRssKb, ... }` per server; the lead registers it in the
 * harness (bench/run.ts). Needs `sipp` (sip-tester) and `kamailio`; a missing binary gives
 * a row with an `error`.
 */
import { imageNodeFlags } from './image-runtime.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  writeFileSync,
  readdirSync,
  existsSync,
  mkdirSync,
  rmSync,
} from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchSipOptions {
  /** REGISTER calls per second offered by sipp (peers.md: 7000 was Kamailio's clean max with auth). */
  rate?: number;
  durationS?: number;
  netsvcPort?: number;
  kamailioPort?: number;
  /** Which servers to run. */
  servers?: readonly ('netsvc' | 'kamailio')[];
}

export interface BenchSipRow {
  readonly name: string;
  readonly 'ops/s': number;
  readonly failures: number;
  readonly peakRssKb: number;
  readonly offered: number;
  readonly successful: number;
  readonly retransmissions: number;
  readonly load: readonly number[];
  readonly error?: string;
}

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/dist\/?$/, '');
const repo = existsSync(join(root, 'services/sip/testdata')) ? root : join(root, '..');
const scenario = join(repo, 'services/sip/testdata/sipp/reg-auth.xml');

function has(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak RSS of a process and its descendants (summed; shared pages counted more than once). */
function treeHwmKb(root: number): number {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  let sum = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    sum += vmHwmKb(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return sum;
}

/** Wait until an OPTIONS to 127.0.0.1:port gets any answer. */
export async function waitSip(port: number, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      const timer = setTimeout(() => {
        s.close();
        resolve(false);
      }, 300);
      s.once('message', () => {
        clearTimeout(timer);
        s.close();
        resolve(true);
      });
      s.bind(0, '127.0.0.1', () => {
        const lp = s.address().port;
        s.send(
          `OPTIONS sip:ping@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bKw${Date.now()}\r\nMax-Forwards: 70\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: w${Date.now()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
          port,
          '127.0.0.1',
        );
      });
    });
    if (ok) return;
  }
  throw new Error(`no SIP answer on 127.0.0.1:${port}`);
}

export function kamailioCfg(port: number): string {
  const mpath =
    [
      '/usr/lib/x86_64-linux-gnu/kamailio/modules/',
      '/usr/lib/aarch64-linux-gnu/kamailio/modules/',
    ].find((p) => existsSync(p)) ?? '/usr/lib/kamailio/modules/';
  return `#!KAMAILIO
debug=1
log_stderror=yes
children=4
listen=udp:127.0.0.1:${port}
auto_aliases=no
alias="127.0.0.1:${port}"
mpath="${mpath}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 7200)
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
  t_check_trans();
  if (is_method("REGISTER")) {
    if (!pv_auth_check("$fd", "secret", "0", "0")) { auth_challenge("$fd", "0"); exit; }
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (is_method("OPTIONS")) { sl_send_reply("200","OK"); exit; }
  sl_send_reply("501","Not Implemented");
}
`;
}

interface SippStats {
  successful: number;
  failed: number;
  retrans: number;
  elapsedS: number;
}

function parseScreen(text: string): SippStats {
  const cum = (label: string): number => {
    const lines = text.split('\n').filter((l) => l.trimStart().startsWith(label));
    const last = lines.at(-1);
    if (!last) return 0;
    const cols = last.split('|');
    return Number((cols[2] ?? '').trim().split(/\s+/)[0]) || 0;
  };
  const el = [...text.matchAll(/Elapsed Time\s+\|[^|]*\|\s*(\d+):(\d+):(\d+):(\d+)/g)].at(-1);
  const elapsedS = el
    ? Number(el[1]) * 3600 + Number(el[2]) * 60 + Number(el[3]) + Number(el[4]) / 1e6
    : 0;
  const retrans = Number(/Retransmissions\s*[:|]\s*(\d+)/.exec(text)?.[1] ?? 0);
  return { successful: cum('Successful call'), failed: cum('Failed call'), retrans, elapsedS };
}

async function runSipp(
  port: number,
  rate: number,
  durationS: number,
  work: string,
  name: string,
): Promise<SippStats> {
  const csv = join(work, 'users.csv');
  writeFileSync(csv, 'SEQUENTIAL\nbench\n');
  const screen = join(work, `${name}.screen`);
  const t0 = performance.now();
  spawnSync(
    'timeout',
    [
      String(durationS + 10),
      'sipp',
      `127.0.0.1:${port}`,
      '-sf',
      scenario,
      '-inf',
      csv,
      '-au',
      'bench',
      '-ap',
      'secret',
      '-i',
      '127.0.0.1',
      '-p',
      '0',
      '-r',
      String(rate),
      '-rp',
      '1000',
      '-m',
      String(rate * durationS),
      '-timeout',
      `${durationS + 5}s`,
      '-nostdin',
      '-trace_screen',
      '-screen_file',
      screen,
      '-fd',
      '1',
    ],
    { cwd: work, stdio: 'ignore' },
  );
  const wallS = (performance.now() - t0) / 1000;
  const st = parseScreen(existsSync(screen) ? readFileSync(screen, 'utf8') : '');
  // sipp's own elapsed time when the screen has it, else the wall time of the run (which
  // includes sipp's start and exit, so it slightly understates the rate).
  return { ...st, elapsedS: st.elapsedS >= 1 ? st.elapsedS : wallS };
}

export async function benchSip(opts: BenchSipOptions = {}): Promise<BenchSipRow[]> {
  const rate = opts.rate ?? 2000;
  const durationS = opts.durationS ?? 10;
  const servers = opts.servers ?? ['netsvc', 'kamailio'];
  const rows: BenchSipRow[] = [];
  const empty = (name: string, error: string): BenchSipRow => ({
    name,
    'ops/s': 0,
    failures: 0,
    peakRssKb: 0,
    offered: rate,
    successful: 0,
    retransmissions: 0,
    load: loadavg(),
    error,
  });
  if (!has('sipp'))
    return servers.map((s) => empty(s, 'sipp not installed (apt-get install sip-tester)'));

  for (const name of servers) {
    const work = mkdtempSync(join(tmpdir(), `bench-sip-${name}-`));
    let child: ChildProcess | undefined;
    try {
      let port: number;
      if (name === 'netsvc') {
        port = opts.netsvcPort ?? 25060;
        const cfg = join(work, 'config');
        mkdirSync(cfg);
        writeFileSync(
          join(cfg, 'netsvc.yaml'),
          'admin: { enabled: false }\nlog: { level: warn, format: json }\n',
        );
        writeFileSync(
          join(cfg, 'sip.yaml'),
          `enabled: true\nlisten: [{ address: 127.0.0.1, port: ${port} }]\nallowDevSecrets: true\nextensions: [{ user: bench, secret: secret }]\nauth: { algorithms: [MD5] }\nqualify: { enabled: false }\n`,
        );
        const env: NodeJS.ProcessEnv = { ...process.env, NETSVC_DATA_DIR: join(work, 'data') };
        delete env.NODE_OPTIONS;
        child = spawn(
          process.execPath,
          [...imageNodeFlags(), join(repo, 'dist/src/main.js'), 'sip', '--config', cfg],
          {
            env,
            stdio: 'ignore',
          },
        );
      } else {
        if (!has('kamailio')) {
          rows.push(empty(name, 'kamailio not installed'));
          continue;
        }
        port = opts.kamailioPort ?? 25061;
        writeFileSync(join(work, 'kamailio.cfg'), kamailioCfg(port));
        mkdirSync(join(work, 'run'));
        child = spawn(
          'kamailio',
          [
            '-DD',
            '-E',
            '-m',
            '512',
            '-M',
            '8',
            '-Y',
            join(work, 'run'),
            '-f',
            join(work, 'kamailio.cfg'),
          ],
          { stdio: 'ignore' },
        );
      }
      await waitSip(port);
      const before = loadavg();
      const st = await runSipp(port, rate, durationS, work, name);
      const peak = child.pid ? treeHwmKb(child.pid) : 0;
      rows.push({
        name,
        'ops/s': st.elapsedS > 0 ? Math.round(st.successful / st.elapsedS) : 0,
        failures: st.failed,
        peakRssKb: peak,
        offered: rate,
        successful: st.successful,
        retransmissions: st.retrans,
        load: [...before, ...loadavg()],
      });
    } catch (err) {
      rows.push(empty(name, (err as Error).message));
    } finally {
      if (child?.pid) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        await new Promise((r) => setTimeout(r, 1000));
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      rmSync(work, { recursive: true, force: true });
    }
  }
  return rows;
}

// `node dist/bench/sip.js [rate] [seconds]` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await benchSip({
    rate: Number(process.argv[2] ?? 2000),
    durationS: Number(process.argv[3] ?? 10),
  });
  console.table(rows);
}
