/**
 * Test fixture (imported only by *.test.ts): an FTP server on 127.0.0.1 port 0 over a
 * scratch config and data dir, and a raw control-connection client that checks `C:`/`S:`
 * transcripts line by line. Users: admin / pw-admin (home seeded with Admin.txt, 70
 * bytes) and user1 / pw-user1 (User.txt, 64 bytes), read-only `reader` / pw-reader.
 */
import { connect, createServer, type Socket, type Server } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { finishConfig } from '../../src/config.js';
import { createRegistry } from '../../src/metrics.js';
import { systemClock } from '../../src/clock.js';
import { FtpConfig } from './config.js';
import { createFtpMetrics, type FtpMetrics } from './metrics.js';
import { FtpServer } from './server.js';
import type { Registry } from 'prom-client';

export const ADMIN_TXT = 'Admin file of the TIC2023 FTP server.\nOnly the admin user can read it\n';
export const USER_TXT = 'User file of the TIC2023 FTP server.\nThis one belongs to user1.\n';

export interface Fixture {
  readonly port: number;
  readonly root: string;
  readonly configDir: string;
  readonly dataDir: string;
  readonly server: FtpServer;
  readonly metrics: FtpMetrics;
  readonly registry: Registry;
  /** Real path of a user's home. */
  home(user: string): string;
  stop(): Promise<void>;
}

export async function startFixture(
  overrides: Record<string, unknown> = {},
  teardown?: { teardown(fn: () => unknown): void },
): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'netsvc-ftp-'));
  const configDir = join(root, 'config');
  const dataDir = join(root, 'data');
  mkdirSync(join(configDir, 'seed/admin'), { recursive: true });
  mkdirSync(join(configDir, 'seed/user1'), { recursive: true });
  mkdirSync(dataDir);
  writeFileSync(join(configDir, 'seed/admin/Admin.txt'), ADMIN_TXT);
  writeFileSync(join(configDir, 'seed/user1/User.txt'), USER_TXT);
  const all = ['read', 'write', 'delete', 'mkdir', 'rename'];
  const doc: Record<string, unknown> = {
    listen: [{ address: '127.0.0.1', port: 0 }],
    users: [
      {
        name: 'admin',
        password: 'pw-admin',
        home: 'homes/admin',
        seed: 'seed/admin',
        permissions: all,
        quotaBytes: 71680,
      },
      {
        name: 'user1',
        password: 'pw-user1',
        home: 'homes/user1',
        seed: 'seed/user1',
        permissions: all,
      },
      { name: 'reader', password: 'pw-reader', home: 'homes/admin', permissions: ['read'] },
    ],
    active: { sourcePort: 0 },
    limits: { failedLoginDelayMs: 50, maxPerIp: 20 },
    loginBackoff: { delayMs: 50, maxDelayMs: 400 },
    ...overrides,
  };
  const { value, issues } = finishConfig(FtpConfig, doc, 'ftp.yaml');
  if (issues.length > 0) throw new Error(JSON.stringify(issues));
  const registry = createRegistry({ defaults: false });
  const metrics = createFtpMetrics(registry);
  const server = new FtpServer(value, {
    log: pino({ level: process.env.FTP_TEST_LOG ?? 'silent' }),
    metrics,
    configDir,
    dataDir,
    clock: systemClock,
  });
  await server.start();
  const fx: Fixture = {
    port: server.bound[0]!.port,
    root,
    configDir,
    dataDir,
    server,
    metrics,
    registry,
    home: (u) => join(dataDir, 'homes', u),
    stop: async () => {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  teardown?.teardown(() => fx.stop());
  return fx;
}

/** A control connection that reads replies line by line. */
export class ControlClient {
  private buf = '';
  private lines: string[] = [];
  private waiters: ((l: string | undefined) => void)[] = [];
  private ended = false;
  readonly sock: Socket;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    sock.on('close', end);
    sock.on('error', end);
  }

  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<ControlClient> {
    return new Promise((ok, fail) => {
      const s = connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () =>
        ok(new ControlClient(s)),
      );
      s.once('error', fail);
    });
  }

  private push(l: string): void {
    const w = this.waiters.shift();
    if (w) w(l);
    else this.lines.push(l);
  }

  /** Next reply line, or undefined when the server closed (rejects after `ms`). */
  line(ms = 5000): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        fail(new Error(`no reply line within ${ms} ms`));
      }, ms);
      const done = (x: string | undefined): void => {
        clearTimeout(timer);
        ok(x);
      };
      this.waiters.push(done);
    });
  }

  /** A whole reply (multi-line aware): its lines. */
  async reply(ms = 5000): Promise<string[]> {
    const first = await this.line(ms);
    if (first === undefined) return [];
    const out = [first];
    if (/^\d{3}-/.test(first)) {
      const end = first.slice(0, 3) + ' ';
      for (;;) {
        const l = await this.line(ms);
        if (l === undefined) break;
        out.push(l);
        if (l.startsWith(end)) break;
      }
    }
    return out;
  }

  send(line: string): void {
    this.sock.write(line + '\r\n');
  }

  write(raw: string | Buffer): void {
    this.sock.write(raw);
  }

  /** Send a command, return the (last line of the) reply. */
  async cmd(line: string): Promise<string> {
    this.send(line);
    const r = await this.reply();
    return r[r.length - 1] ?? '<closed>';
  }

  async closed(ms = 5000): Promise<boolean> {
    if (this.ended) return true;
    return new Promise((ok) => {
      const timer = setTimeout(() => ok(false), ms);
      this.sock.once('close', () => {
        clearTimeout(timer);
        ok(true);
      });
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/**
 * Run a transcript: "C: line" is sent, "S: text" must equal the next reply line (or match
 * it as a regex when written "S: /re/"), "S: <closed>" expects the server to close.
 * Returns the mismatches (empty when the transcript holds).
 */
export async function runTranscript(c: ControlClient, script: string): Promise<string[]> {
  const bad: string[] = [];
  for (const raw of script.split('\n')) {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    if (l.startsWith('C: ')) c.send(l.slice(3));
    else if (l.startsWith('S: ')) {
      const want = l.slice(3);
      const got = await c.line().catch(() => '<timeout>');
      if (want === '<closed>') {
        if (got !== undefined) bad.push(`expected close, got: ${got}`);
        continue;
      }
      const ok =
        want.startsWith('/') && want.endsWith('/')
          ? new RegExp(want.slice(1, -1)).test(got ?? '')
          : got === want;
      if (!ok) bad.push(`expected: ${want}\n     got: ${got ?? '<closed>'}`);
    } else throw new Error(`bad transcript line: ${l}`);
  }
  return bad;
}

export async function login(
  port: number,
  user = 'admin',
  pass = `pw-${user}`,
): Promise<ControlClient> {
  const c = await ControlClient.open(port);
  await c.reply();
  await c.cmd(`USER ${user}`);
  const r = await c.cmd(`PASS ${pass}`);
  if (!r.startsWith('230')) throw new Error(`login failed: ${r}`);
  return c;
}

/** Collect everything the peer sends on a data socket until it closes. */
export function drain(s: Socket): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => ok(Buffer.concat(chunks)));
    s.on('error', fail);
  });
}

/** EPSV (or PASV) then connect: the data socket. */
export async function passive(
  c: ControlClient,
  verb: 'EPSV' | 'PASV' = 'EPSV',
  localAddress?: string,
): Promise<Socket> {
  const r = await c.cmd(verb);
  let port: number;
  if (verb === 'EPSV') {
    const m = /\(\|\|\|(\d+)\|\)/.exec(r);
    if (!m) throw new Error(`EPSV: ${r}`);
    port = Number(m[1]);
  } else {
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r);
    if (!m) throw new Error(`PASV: ${r}`);
    port = Number(m[5]) * 256 + Number(m[6]);
  }
  return new Promise((ok, fail) => {
    const s = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () =>
      ok(s),
    );
    s.once('error', fail);
  });
}

/** A listener for active mode; `next()` resolves with the server's data connection. */
export async function activeListener(): Promise<{
  port: number;
  next(): Promise<Socket>;
  close(): void;
  server: Server;
}> {
  const queue: Socket[] = [];
  const waiters: ((s: Socket) => void)[] = [];
  const server = createServer((s) => {
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    server,
    next: () => {
      const s = queue.shift();
      return s ? Promise.resolve(s) : new Promise((ok) => waiters.push(ok));
    },
    close: () => server.close(),
  };
}
