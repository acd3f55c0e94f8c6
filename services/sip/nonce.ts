/**
 * Digest nonces that expire and cannot be replayed (RFC 7616 §3.3, §5.5; RFC 3261 §22.4).
 *
 * A nonce is base64url(issued-ms(6) | random(8) | HMAC-SHA-256(key, first 14 bytes)[0..12]),
 * so its age and authenticity are checked without state, and one we did not issue is
 * refused. For replay protection each issued nonce also has the highest nonce-count seen:
 * RFC 7616 §3.4: "The nc value is the hexadecimal count of the number of requests
 * (including the current request) that the client has sent with the nonce value in this
 * request. ... The purpose of this parameter is to allow the server to detect request
 * replays by maintaining its own copy of this count — if the same nc value is seen twice,
 * then the request is a replay." A request whose nc is not above the last one is a replay.
 *
 * A nonce is bound to the address it was sent to (the `bind` string goes into the HMAC):
 * an answer from another address fails the check as if we had never issued it. Kamailio's
 * auth module does the same with `auth_checks_register` bit 32 (source IP). Without it an
 * attacker who spoofs a phone's address could spend a nonce fetched from its own address on
 * wrong digests counted against the phone's (extension, address) in auth-guard.ts.
 *
 * Limits: a nonce lives `ttlMs` (Kamailio auth `nonce_expire`, default 300 s); at most
 * `maxTracked` nonces are tracked (Kamailio's `nc_array_size` plays this part); past that
 * the oldest is forgotten and a request using it is answered "stale", so the client retries
 * with a fresh nonce rather than being refused.
 */
import { createHmac } from 'node:crypto';
import { Buffer } from 'node:buffer';
import type { Rng } from '../../src/clock.js';

export type NonceCheck = 'ok' | 'stale' | 'invalid' | 'replay';

export class NonceManager {
  private readonly key: Uint8Array;
  /** nonce → highest nc accepted (0 = issued, unused). Insertion-ordered for eviction. */
  private readonly tracked = new Map<string, number>();

  constructor(
    private readonly rng: Rng,
    readonly ttlMs = 300_000,
    readonly maxTracked = 100_000,
  ) {
    this.key = rng.bytes(32);
  }

  get trackedCount(): number {
    return this.tracked.size;
  }

  issue(now: number, bind = ''): string {
    const b = Buffer.alloc(26);
    b.writeUIntBE(Math.max(0, Math.floor(now)) % 2 ** 48, 0, 6);
    b.set(this.rng.bytes(8), 6);
    b.set(this.mac(b.subarray(0, 14), bind), 14);
    const nonce = b.toString('base64url');
    if (this.tracked.size >= this.maxTracked) {
      const oldest = this.tracked.keys().next();
      if (!oldest.done) this.tracked.delete(oldest.value);
    }
    this.tracked.set(nonce, 0);
    return nonce;
  }

  /** Check a nonce and its nc (8 hex digits); on 'ok' the nc is recorded. */
  check(nonce: string, ncHex: string, now: number, commit = true, bind = ''): NonceCheck {
    if (!/^[A-Za-z0-9_-]{35}$/.test(nonce)) return 'invalid';
    const b = Buffer.from(nonce, 'base64url');
    if (b.length !== 26) return 'invalid';
    const mac = this.mac(b.subarray(0, 14), bind);
    if (!Buffer.from(mac).equals(b.subarray(14))) return 'invalid';
    const issued = b.readUIntBE(0, 6);
    if (now - issued > this.ttlMs || issued - now > 60_000) {
      this.tracked.delete(nonce);
      return 'stale';
    }
    const last = this.tracked.get(nonce);
    if (last === undefined) return 'stale'; // forgotten (evicted): make the client retry
    if (!/^[0-9A-Fa-f]{8}$/.test(ncHex)) return 'invalid';
    const nc = parseInt(ncHex, 16);
    if (nc <= last) return 'replay';
    if (commit) this.tracked.set(nonce, nc);
    return 'ok';
  }

  /** Record an nc after the digest itself checked out. */
  commit(nonce: string, ncHex: string): void {
    if (this.tracked.has(nonce)) this.tracked.set(nonce, parseInt(ncHex, 16));
  }

  /** Drop expired nonces (called from the core's timer). */
  purge(now: number): void {
    for (const n of this.tracked.keys()) {
      const b = Buffer.from(n, 'base64url');
      if (now - b.readUIntBE(0, 6) > this.ttlMs) this.tracked.delete(n);
      else break; // insertion order = issue order
    }
  }

  private mac(data: Uint8Array, bind: string): Uint8Array {
    return createHmac('sha256', this.key).update(data).update(bind).digest().subarray(0, 12);
  }
}
