/**
 * FTP under attack (issue 18's FTP rows), against `netsvc ftp` with the shipped limits and
 * one account (`admin`):
 *
 * - 50 connections from 127.0.0.1 that never send USER (before: every user locked out for
 *   up to 300 s): how many got a slot, how long until the server closed them, and whether
 *   the real user logs in from 127.0.0.2 meanwhile (once a second);
 * - password guessing from seven sources (127.0.0.11-17), two connections each, USER/PASS
 *   in a loop for 20 s (before: 27 guesses/s, no lockout after 1,083): guesses checked per
 *   second (ftp_logins_total{result=failed} minus those refused unchecked), and the real
 *   user's logins from 127.0.0.2 meanwhile.
 */
import { connect, type Socket } from 'node:net';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../../src/testing/daemon.js';
import { probeWhile, root, sample, sleep, startService, type AttackRow } from './common.js';

const PASSWORD = 'hostile-bench-pw';
const GUESS_SECONDS = 20;

/** A control connection that reads one reply at a time (RFC 959 §4.2, multi-line aware). */
class Control {
  private buf = '';
  private waiters: Array<(line: string | null) => void> = [];
  private closed = false;
  readonly closedAt: Promise<number>;

  constructor(readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.pump();
    });
    sock.on('error', () => undefined);
    this.closedAt = new Promise((ok) =>
      sock.on('close', () => {
        this.closed = true;
        this.pump();
        ok(Date.now());
      }),
    );
  }

  private pump(): void {
    for (;;) {
      const m = /^(\d{3}) [^\n]*\n/m.exec(this.buf);
      if (m && this.waiters.length > 0) {
        this.buf = this.buf.slice(m.index + m[0].length);
        this.waiters.shift()!(m[1]!);
        continue;
      }
      if (this.closed) while (this.waiters.length > 0) this.waiters.shift()!(null);
      return;
    }
  }

  /** The next reply code, or null when the connection closed or `ms` passed. */
  reply(ms = 15_000): Promise<string | null> {
    return new Promise((ok) => {
      const timer = setTimeout(() => ok(null), ms);
      this.waiters.push((c) => {
        clearTimeout(timer);
        ok(c);
      });
      this.pump();
    });
  }

  async command(line: string, ms?: number): Promise<string | null> {
    if (this.closed) return null;
    this.sock.write(line + '\r\n');
    return this.reply(ms);
  }
}

function open(port: number, localAddress: string): Promise<Control> {
  return new Promise((ok, fail) => {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => ok(new Control(s)));
    s.once('error', fail);
  });
}

async function login(port: number, from: string, password: string): Promise<string | null> {
  let c: Control;
  try {
    c = await open(port, from);
  } catch {
    return null;
  }
  try {
    if ((await c.reply()) !== '220') return null;
    if ((await c.command('USER admin')) !== '331') return null;
    return await c.command(`PASS ${password}`);
  } finally {
    c.sock.destroy();
  }
}

async function start(work: string) {
  const cfgDir = join(work, 'config');
  mkdirSync(cfgDir, { recursive: true });
  cpSync(join(root, 'config/dev/ftp'), join(cfgDir, 'ftp'), { recursive: true });
  const [port, pmin] = await freePorts(2);
  const cfg = {
    listen: [{ address: '127.0.0.1', port }],
    users: [
      {
        name: 'admin',
        password: PASSWORD,
        home: 'ftp/admin',
        seed: 'ftp/admin',
        permissions: ['read'],
      },
    ],
    active: { sourcePort: 0 },
    passive: { portMin: pmin, portMax: pmin! + 20 },
    protocolLog: null,
    xferlog: null,
  };
  writeFileSync(join(cfgDir, 'ftp.yaml'), JSON.stringify(cfg, null, 2));
  writeFileSync(
    join(cfgDir, 'netsvc.yaml'),
    `admin: {enabled: true, address: 127.0.0.1, port: 0}\nlog: {level: info, format: json}\n`,
  );
  const svc = await startService('ftp', work, {}, cfgDir);
  return { svc, port: port! };
}

async function idleSlots(work: string): Promise<AttackRow> {
  const { svc, port } = await start(join(work, 'idle'));
  try {
    svc.resetPeak();
    const t0 = Date.now();
    const conns = await Promise.all(
      Array.from({ length: 50 }, () => open(port, '127.0.0.1').catch(() => null)),
    );
    const greetings = await Promise.all(conns.map((c) => (c ? c.reply(5000) : null)));
    const slots = greetings.filter((g) => g === '220').length;
    let allClosed = false;
    const closed = Promise.all(conns.map((c) => c?.closedAt ?? Date.now())).then((ts) => {
      allClosed = true;
      return Math.max(...ts);
    });
    const legit = await probeWhile(
      async () => (await login(port, '127.0.0.2', PASSWORD)) === '230',
      () => allClosed || Date.now() - t0 > 45_000,
      1000,
    );
    const lastClose = allClosed ? (await closed) - t0 : null;
    for (const c of conns) c?.sock.destroy();
    const peak = svc.rss().peakMb;
    await sleep(3000);
    return {
      service: 'ftp',
      attack: '50 connections that never send USER',
      attackerGot: `${slots}/50 got a session; all closed after ${lastClose === null ? '>45' : (lastClose / 1000).toFixed(1)} s`,
      legit: `${legit.ok}/${legit.tries}`,
      rssPeakMb: peak,
      rssAfterMb: svc.rss().nowMb,
      notes: `${sample(await svc.metrics(), 'ftp_connections_total', { result: 'too_many_per_ip' })} refused at the per-source cap`,
    };
  } finally {
    await svc.daemon.stop();
  }
}

async function distributedGuessing(work: string): Promise<AttackRow> {
  const { svc, port } = await start(join(work, 'guess'));
  try {
    svc.resetPeak();
    const t0 = Date.now();
    const over = (): boolean => Date.now() - t0 >= GUESS_SECONDS * 1000;
    let attempts = 0;
    let found = false;
    const guesser = async (from: string, lane: number): Promise<void> => {
      let n = 0;
      while (!over()) {
        let c: Control;
        try {
          c = await open(port, from);
        } catch {
          await sleep(200);
          continue;
        }
        try {
          if ((await c.reply(5000)) !== '220') {
            await sleep(200);
            continue;
          }
          // Several guesses per connection, as hydra does, until the server hangs up.
          while (!over()) {
            if ((await c.command('USER admin', 12_000)) !== '331') break;
            attempts++;
            const r = await c.command(`PASS wrong-${from}-${lane}-${n++}`, 12_000);
            if (r === '230') found = true;
            if (r !== '530') break;
          }
        } finally {
          c.sock.destroy();
        }
      }
    };
    const sources = Array.from({ length: 7 }, (_, i) => `127.0.0.${11 + i}`);
    const attack = Promise.all(sources.flatMap((s) => [guesser(s, 0), guesser(s, 1)]));
    await sleep(1000);
    const legit = await probeWhile(
      async () => (await login(port, '127.0.0.2', PASSWORD)) === '230',
      over,
      1000,
    );
    await attack;
    const ms = Date.now() - t0;
    const m = await svc.metrics();
    const failed = sample(m, 'ftp_logins_total', { result: 'failed' });
    const unchecked = sample(m, 'ftp_login_refused_total');
    const checked = failed - unchecked;
    const peak = svc.rss().peakMb;
    await sleep(3000);
    return {
      service: 'ftp',
      attack: 'guessing from 7 sources, 2 connections each, 20 s',
      attackerGot: `${((checked * 1000) / ms).toFixed(2)} checked guesses/s`,
      legit: `${legit.ok}/${legit.tries}`,
      rssPeakMb: peak,
      rssAfterMb: svc.rss().nowMb,
      notes:
        `${checked} checked of ${attempts} PASS sent, ${unchecked} refused unchecked; ` +
        `bans: source ${sample(m, 'ftp_login_bans_total', { key: 'source' })}, ` +
        `account+source ${sample(m, 'ftp_login_bans_total', { key: 'account_source' })}, ` +
        `account ${sample(m, 'ftp_login_bans_total', { key: 'account' })}` +
        (found ? '; a guess SUCCEEDED' : ''),
    };
  } finally {
    await svc.daemon.stop();
  }
}

export async function ftpAttacks(work: string): Promise<AttackRow[]> {
  return [await idleSlots(work), await distributedGuessing(work)];
}
