/**
 * FTP at scale: N concurrent logged-in sessions (100 and 500) held by netsvc and by vsftpd,
 * each started by bench/ftp.ts (one account, `prftp`; vsftpd's is a system user created
 * with useradd and removed with userdel) with max clients and max per address raised to N.
 *
 * Each session is a control connection that reads the 220, sends USER and PASS, gets 230
 * and then stays idle (both servers' idle timeout is 300 s, far longer than the run). The
 * connections come from 127.0.0.2, 127.0.0.3, … with at most PER_ADDRESS from each, so no
 * per-address limit is what bounds them. Logins run CONCURRENCY at a time: netsvc checks
 * one scrypt at a time (its password hash) and vsftpd forks and runs PAM per login, so a
 * burst of N would only queue, and a queue longer than netsvc's 30 s login timeout would
 * turn into 421s. Items verified: 230 replies on connections still open when measured.
 */
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { which } from '../dns-servers.js';
import { PASS, USER, removeUser, startNetsvc, startVsftpd, type Started } from '../ftp.js';
import { envNumber, measureServer, missing, sleep, type ScaleRow } from './common.js';

export const FTP_SIZES = [100, 500] as const;
const PER_ADDRESS = 50;
const CONCURRENCY = 8;

/** Sessions of the current vsftpd run, so that an exit hook can end them before userdel. */
let liveVsftpd: Started | undefined;

/**
 * Synchronous cleanup for process exit (bench/scale/run.ts): SIGKILL the running vsftpd's
 * tree by its pids (its sessions run as prftp, and userdel refuses a user with processes),
 * then remove the user.
 */
export function cleanupFtp(): void {
  if (liveVsftpd) {
    for (const pid of liveVsftpd.daemon.pids())
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    // Let the kernel reap them before userdel looks (a busy-wait: exit handlers are sync).
    const until = Date.now() + 500;
    while (Date.now() < until);
  }
  removeUser();
}

/** One logged-in control connection, or the reason it is not. */
function login(port: number, localAddress: string): Promise<Socket | string> {
  return new Promise((ok) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress });
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => done('timeout'), 60_000);
    const done = (r: Socket | string): void => {
      clearTimeout(timer);
      sock.removeAllListeners('data');
      if (typeof r === 'string') sock.destroy();
      ok(r);
    };
    sock.setEncoding('latin1');
    sock.on('error', (e) => done(e.message));
    sock.on('close', () => done('closed'));
    sock.on('data', (d: string) => {
      buf += d;
      // RFC 959 §4.2: a reply ends with a line "NNN " (multi-line replies use "NNN-").
      for (let m = /^(\d{3}) [^\n]*\n/m.exec(buf); m; m = /^(\d{3}) [^\n]*\n/m.exec(buf)) {
        buf = buf.slice(m.index + m[0].length);
        const code = m[1];
        if (step === 0 && code === '220') {
          step = 1;
          sock.write(`USER ${USER}\r\n`);
        } else if (step === 1 && code === '331') {
          step = 2;
          sock.write(`PASS ${PASS}\r\n`);
        } else if (step === 2 && code === '230') {
          sock.removeAllListeners('close');
          sock.removeAllListeners('error');
          sock.on('error', () => undefined);
          return done(sock);
        } else return done(`reply ${code} at step ${step}`);
      }
    });
  });
}

export async function scaleFtp(
  work: string,
  progress: (msg: string) => void,
  sizes: readonly number[] = FTP_SIZES,
): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  // vsftpd's user must traverse the scratch folders (bench/ftp.ts does the same).
  chmodSync(work, 0o755);
  for (const n of sizes)
    for (const server of ['netsvc', 'vsftpd'] as const) {
      if (server === 'vsftpd' && !which('vsftpd')) {
        rows.push(
          missing('ftp', server, false, n, 'vsftpd not installed (apt-get install vsftpd)'),
        );
        continue;
      }
      const dir = join(work, `ftp-${server}-${n}`);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o755);
      const sessions: Socket[] = [];
      const alive = (): number =>
        sessions.filter((s) => !s.destroyed && s.readyState === 'open').length;
      rows.push(
        await measureServer<Started>(
          {
            service: 'ftp',
            server,
            isNetsvc: server === 'netsvc',
            wanted: n,
            idleS: envNumber('BENCH_SCALE_IDLE_S', 3),
            settleS: envNumber('BENCH_SCALE_SETTLE_S', 5),
            version:
              server === 'netsvc'
                ? `node ${process.version}`
                : `vsftpd ${spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'vsftpd'], { encoding: 'utf8' }).stdout.trim()}`,
            async start() {
              if (server === 'netsvc') return startNetsvc(dir, false, n);
              // A user left by an interrupted run would make useradd fail.
              removeUser();
              try {
                liveVsftpd = await startVsftpd(dir, false, n);
              } catch (e) {
                removeUser();
                throw e;
              }
              return liveVsftpd;
            },
            daemon: (s) => s.daemon,
            async create(s) {
              const failures = new Map<string, number>();
              let next = 0;
              const worker = async (): Promise<void> => {
                for (let i = next++; i < n; i = next++) {
                  const from = `127.0.0.${2 + Math.floor(i / PER_ADDRESS)}`;
                  const r = await login(s.port, from);
                  if (typeof r === 'string') failures.set(r, (failures.get(r) ?? 0) + 1);
                  else sessions.push(r);
                }
              };
              await Promise.all(Array.from({ length: CONCURRENCY }, worker));
              const notes = [...failures].map(([why, k]) => `${k} logins failed: ${why}`);
              return {
                notes,
                extra: {
                  logins230: sessions.length,
                  sourceAddresses: Math.ceil(n / PER_ADDRESS),
                  concurrency: CONCURRENCY,
                  failures: Object.fromEntries(failures),
                },
              };
            },
            verify: async () => ({ count: alive(), by: '230 replies, connection still open' }),
            async stop(s) {
              for (const c of sessions) c.destroy();
              await s.daemon.stop();
              if (server === 'vsftpd') {
                liveVsftpd = undefined;
                await sleep(500); // let the killed sessions (uid prftp) be reaped first
                removeUser();
              }
            },
          },
          progress,
        ),
      );
    }
  return rows;
}
