/**
 * Password hashes: `scrypt$N$r$p$salt$hash` (salt and hash base64, no padding), made with
 * Node's crypto.scrypt (RFC 7914). Defaults N=2^14, r=8, p=1 (Node's own defaults; about
 * 16 MiB and 30-50 ms per check on a Pi 4, which also slows guessing). The hash is 32 bytes,
 * the salt 16 random bytes.
 *
 * Shared by FTP accounts, the monitor login and `netsvc passwd` (which prints `hashPassword()`). `verifyPassword()`
 * compares in constant time and treats a malformed hash as a mismatch (never throws on
 * bad input). Not covered: other schemes (crypt(3) "$6$…" from /etc/shadow), PAM.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };
const KEY_LEN = 32;

interface Parsed extends ScryptParams {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export function parseHash(encoded: string): Parsed | undefined {
  const parts = encoded.trim().split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0)) return undefined;
  if ((N & (N - 1)) !== 0 || N < 2 || N > 2 ** 20 || r > 64 || p > 16) return undefined;
  const salt = Buffer.from(parts[4]!, 'base64');
  const hash = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { N, r, p, salt, hash };
}

export const isPasswordHash = (s: string): boolean => parseHash(s) !== undefined;

const maxmem = (x: ScryptParams): number => 256 * x.N * x.r + 1024 * 1024;

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
  salt?: Buffer,
): Promise<string> {
  const s = salt ?? randomBytes(16);
  const key = await new Promise<Buffer>((ok, fail) =>
    scrypt(password, s, KEY_LEN, { ...params, maxmem: maxmem(params) }, (e, k) =>
      e ? fail(e) : ok(k),
    ),
  );
  return encode(params, s, key);
}

/** Synchronous variant for config checks (one-off, at start or `--check`). */
export function hashPasswordSync(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
  salt?: Buffer,
): string {
  const s = salt ?? randomBytes(16);
  return encode(params, s, scryptSync(password, s, KEY_LEN, { ...params, maxmem: maxmem(params) }));
}

function encode(x: ScryptParams, salt: Buffer, key: Buffer): string {
  const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
  return `scrypt$${x.N}$${x.r}$${x.p}$${b64(salt)}$${b64(key)}`;
}

/**
 * One scrypt at a time per process. Each run needs 128·N·r bytes (16 MiB at the defaults)
 * and a core for 30-50 ms on a Pi; libuv would run four at once, so a guessing attack from
 * several connections could hold every core of the Pi (starving the other services) and
 * 64 MiB at once. Serialised, checks queue behind each other, and the login guards keep
 * the queue short by refusing banned keys unchecked. What stays after a check is the C
 * library's business: glibc keeps each libuv thread's 16 MiB arena (the FTP service went
 * from 83 to 131 MB RSS over five logins on Debian); musl, in the Alpine images, unmaps it.
 */
let scryptTail: Promise<unknown> = Promise.resolve();

/** Runs in progress and the most seen at once (read by tests and nothing else). */
export const scryptRuns = { running: 0, maxRunning: 0 };

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const h = parseHash(encoded);
  if (!h) return false;
  const run = scryptTail.then(
    () =>
      new Promise<Buffer | undefined>((ok) => {
        scryptRuns.running++;
        scryptRuns.maxRunning = Math.max(scryptRuns.maxRunning, scryptRuns.running);
        const done = (k: Buffer | undefined): void => {
          scryptRuns.running--;
          ok(k);
        };
        try {
          scrypt(
            password,
            h.salt,
            h.hash.length,
            { N: h.N, r: h.r, p: h.p, maxmem: maxmem(h) },
            (e, k) => done(e ? undefined : k),
          );
        } catch {
          done(undefined); // parameters Node refuses up front: a mismatch, never a throw
        }
      }),
  );
  scryptTail = run;
  const key = await run;
  return key !== undefined && timingSafeEqual(key, h.hash);
}

export function verifyPasswordSync(password: string, encoded: string): boolean {
  const h = parseHash(encoded);
  if (!h) return false;
  try {
    return timingSafeEqual(
      scryptSync(password, h.salt, h.hash.length, { N: h.N, r: h.r, p: h.p, maxmem: maxmem(h) }),
      h.hash,
    );
  } catch {
    return false;
  }
}
