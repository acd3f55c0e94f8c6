/**
 * SIP at scale: N registered bindings (2,000 and 10,000), one per distinct user u1…uN,
 * held by netsvc and by Kamailio. Every user registers once over UDP with MD5 digest auth
 * and Expires 3600: REGISTER → 401 → REGISTER with credentials → 200, as sipp's
 * reg-auth.xml
 * (peers.md §7) does.
 *
 * Why not sipp here: sipp 3.6.1 ignores the username of `[authentication username=…
 * password=…]` whether it is literal, `[field0]` or a whole keyword held in an injection
 * field (checked against Kamailio with -trace_msg: every Authorization said
 * username="service", the -s default; peers.md pitfall 11 met the `[field0]` form), so it
 * can only authenticate one user per process. The registering client is therefore here:
 * REGISTERERS (4) UDP sockets on 127.0.0.1, WINDOW (64) users in flight at a time (a
 * closed loop, so the rate is the server's, not an offered one), retransmissions after
 * 0.5, 1.5 and 3.5 s (Timer E doubling from T1, RFC 3261 §17.1.2.2), and the credentials
 * from services/sip/testing.ts's `authorize()` (MD5, qop=auth).
 *
 * Kamailio runs bench/sip.ts's config (any user, password "secret", `pv_auth_check`;
 * usrloc in memory, db_mode 0) plus the ctl and kex modules so that `kamcmd` can read its
 * usrloc statistics; netsvc gets N extensions with that secret, qualify off (Kamailio sends
 * no OPTIONS either), its bindings in SQLite.
 *
 * Settling: netsvc keeps each non-INVITE server transaction for Timer J (64·T1 = 32 s over
 * UDP, RFC 3261 §17.2.2) and each issued nonce for its TTL (300 s); Kamailio answers
 * REGISTER statelessly. The default settle time (35 s, both servers) lets the transactions
 * go, so "after" is bindings plus what authentication leaves (nonces, the auth guard's
 * trust entries): the cost of a registered phone until its nonces expire.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { decode, getHeader, type SipResponse } from '../../services/sip/message.js';
import { authorize } from '../../services/sip/testing.js';
import { freePort, startDaemon, type Daemon } from '../../src/testing/daemon.js';
import { which } from '../dns-servers.js';
import { kamailioCfg, waitSip } from '../sip.js';
import { sample, startService, type Service } from '../hostile/common.js';
import { envNumber, measureServer, missing, type ScaleRow } from './common.js';

export const SIP_SIZES = [2_000, 10_000] as const;
const SECRET = 'secret';

interface Running {
  readonly daemon: Daemon;
  readonly port: number;
  readonly dir: string;
  /** netsvc only: its admin listener's /metrics. */
  readonly svc?: Service;
  /** Kamailio only: the ctl socket kamcmd talks to. */
  readonly ctl?: string;
}

const REGISTERERS = 4;
const WINDOW = 64;

interface Outcome {
  readonly ok: number;
  readonly statuses: Record<string, number>;
  readonly retransmissions: number;
}

/**
 * Register u1…un at 127.0.0.1:port, WINDOW at a time over REGISTERERS sockets. Each user
 * has its own Call-ID and a Contact on its socket's port; responses are matched by Call-ID
 * and CSeq.
 */
async function registerAll(port: number, n: number): Promise<Outcome> {
  const socks: Socket[] = await Promise.all(
    Array.from(
      { length: REGISTERERS },
      () =>
        new Promise<Socket>((ok, fail) => {
          const s = createSocket('udp4');
          s.once('error', fail);
          s.bind(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const waiting = new Map<string, (r: SipResponse) => void>();
  for (const s of socks)
    s.on('message', (b: Buffer) => {
      const d = decode(b);
      if (!d.ok || d.message.type !== 'response' || d.message.status < 200) return;
      const key = `${getHeader(d.message, 'call-id') ?? ''} ${getHeader(d.message, 'cseq') ?? ''}`;
      const w = waiting.get(key);
      if (w) {
        waiting.delete(key);
        w(d.message);
      }
    });
  const statuses: Record<string, number> = {};
  const count = (what: string): void => void (statuses[what] = (statuses[what] ?? 0) + 1);
  let retransmissions = 0;
  const uri = `sip:127.0.0.1:${port}`;
  const request = (
    sock: Socket,
    user: string,
    cseq: number,
    auth?: string,
  ): Promise<SipResponse | undefined> => {
    const local = sock.address().port;
    const callId = `scale-${user}@127.0.0.1`;
    const data = Buffer.from(
      [
        `REGISTER ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKscale${user}x${cseq};rport`,
        'Max-Forwards: 70',
        `From: <sip:${user}@127.0.0.1>;tag=t${user}`,
        `To: <sip:${user}@127.0.0.1>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:${user}@127.0.0.1:${local}>`,
        ...(auth ? [`Authorization: ${auth}`] : []),
        'Expires: 3600',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'latin1',
    );
    return new Promise((ok) => {
      const timers: NodeJS.Timeout[] = [];
      const key = `${callId} ${cseq} REGISTER`;
      const finish = (r: SipResponse | undefined): void => {
        for (const t of timers) clearTimeout(t);
        waiting.delete(key);
        ok(r);
      };
      waiting.set(key, finish);
      sock.send(data, port, '127.0.0.1');
      for (const at of [500, 1500, 3500])
        timers.push(
          setTimeout(() => {
            retransmissions++;
            sock.send(data, port, '127.0.0.1');
          }, at),
        );
      timers.push(setTimeout(() => finish(undefined), 8000));
    });
  };
  let ok = 0;
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    const sock = socks[w % REGISTERERS]!;
    for (let i = next++; i < n; i = next++) {
      const user = `u${i + 1}`;
      const c = await request(sock, user, 1);
      if (c?.status !== 401) {
        count(c === undefined ? 'timeout' : `challenge ${c.status}`);
        continue;
      }
      const r = await request(sock, user, 2, authorize(c, user, SECRET, 'MD5', '00000001', uri));
      count(r === undefined ? 'timeout' : String(r.status));
      if (r?.status === 200) ok++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, (_, w) => worker(w)));
  } finally {
    for (const s of socks) s.close();
  }
  return { ok, statuses, retransmissions };
}

async function startNetsvcSip(dir: string, n: number): Promise<Running> {
  const port = await freePort();
  const cfg = join(dir, 'config');
  mkdirSync(cfg, { recursive: true });
  writeFileSync(join(cfg, 'netsvc.yaml'), 'log: { level: info, format: json }\n');
  const extensions = Array.from({ length: n }, (_, i) => ({ user: `u${i + 1}`, secret: SECRET }));
  // JSON is YAML: one line per file part keeps 10,000 extensions quick to write and parse.
  writeFileSync(
    join(cfg, 'sip.yaml'),
    JSON.stringify({
      enabled: true,
      listen: [{ address: '127.0.0.1', port }],
      allowDevSecrets: true,
      extensions,
      auth: { algorithms: ['MD5'] },
      qualify: { enabled: false },
    }),
  );
  const svc = await startService('sip', dir, {}, cfg);
  return { daemon: svc.daemon, port, dir, svc };
}

async function startKamailio(dir: string): Promise<Running> {
  const port = await freePort();
  const run = join(dir, 'run');
  mkdirSync(run, { recursive: true });
  const ctl = join(run, 'kamailio_ctl');
  // ctl gives kamcmd a socket; kex holds the stats.* commands it calls.
  const cfg = kamailioCfg(port).replace(
    'request_route {',
    `loadmodule "ctl.so"\nloadmodule "kex.so"\nmodparam("ctl", "binrpc", "unix:${ctl}")\nrequest_route {`,
  );
  const file = join(dir, 'kamailio.cfg');
  writeFileSync(file, cfg);
  const daemon = await startDaemon({
    name: 'kamailio',
    command: 'kamailio',
    // peers.md §7: -m 512 MB of shm (usrloc needs ~1.2 KB a contact, pitfall 14), -M 8 pkg.
    args: ['-DD', '-E', '-m', '512', '-M', '8', '-Y', run, '-f', file],
    ready: {
      check: async () => {
        await waitSip(port, 1000);
        return true;
      },
    },
  });
  return { daemon, port, dir, ctl };
}

/** Contacts in Kamailio's usrloc, from `kamcmd stats.get_statistics usrloc:`. */
function kamailioContacts(ctl: string): number | undefined {
  const r = spawnSync('kamcmd', ['-s', `unix:${ctl}`, 'stats.get_statistics', 'usrloc:'], {
    encoding: 'utf8',
  });
  const m = /usrloc:location_contacts\s*=\s*(\d+)/.exec(r.stdout);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function version(server: 'netsvc' | 'kamailio'): string | undefined {
  if (server === 'netsvc') return `node ${process.version}`;
  const r = spawnSync('kamailio', ['-v'], { encoding: 'utf8' });
  return /version: (kamailio \S+)/.exec(r.stdout)?.[1];
}

export async function scaleSip(
  work: string,
  progress: (msg: string) => void,
  sizes: readonly number[] = SIP_SIZES,
): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const n of sizes)
    for (const server of ['netsvc', 'kamailio'] as const) {
      const why =
        server === 'kamailio' && !which('kamailio')
          ? 'kamailio not installed (apt-get install kamailio)'
          : undefined;
      if (why) {
        rows.push(missing('sip', server, server === 'netsvc', n, why));
        continue;
      }
      const dir = join(work, `sip-${server}-${n}`);
      mkdirSync(dir, { recursive: true });
      let clientOk = 0;
      let liveTransactions: number | undefined;
      const v = version(server);
      rows.push(
        await measureServer<Running>(
          {
            service: 'sip',
            server,
            isNetsvc: server === 'netsvc',
            wanted: n,
            idleS: envNumber('BENCH_SCALE_IDLE_S', 3),
            settleS: envNumber('BENCH_SCALE_SIP_SETTLE_S', 35),
            ...(v !== undefined ? { version: v } : {}),
            start: () => (server === 'netsvc' ? startNetsvcSip(dir, n) : startKamailio(dir)),
            daemon: (s) => s.daemon,
            async create(s) {
              const o = await registerAll(s.port, n);
              clientOk = o.ok;
              const notes = Object.entries(o.statuses)
                .filter(([k]) => k !== '200')
                .map(([k, v]) => `${v}× ${k}`);
              if (o.retransmissions > 0) notes.push(`${o.retransmissions} retransmissions`);
              return { notes, extra: { ...o, window: WINDOW, sockets: REGISTERERS } };
            },
            async verify(s) {
              if (s.svc) {
                const m = await s.svc.metrics();
                liveTransactions = sample(m, 'sip_transactions');
                return {
                  count: sample(m, 'sip_registrations_active'),
                  by: 'sip_registrations_active',
                };
              }
              const c = s.ctl !== undefined ? kamailioContacts(s.ctl) : undefined;
              return c === undefined
                ? { count: clientOk, by: '200s to the client (kamcmd gave nothing)' }
                : { count: c, by: 'kamcmd usrloc:location_contacts' };
            },
            async stop(s) {
              await s.daemon.stop();
            },
          },
          progress,
        ),
      );
      if (liveTransactions !== undefined && liveTransactions > 0) {
        const last = rows.pop()!;
        rows.push({
          ...last,
          notes: [...last.notes, `${liveTransactions} transactions still live`],
        });
      }
    }
  return rows;
}
