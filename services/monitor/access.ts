/**
 * Who may read the monitor: HTTP basic auth (RFC 7617) against scrypt hashes, or a bearer
 * token (RFC 6750 §2.1 header, or §2.3 `?token=` for EventSource, which cannot set
 * headers). With neither configured every request is allowed (the listen address is the
 * protection).
 *
 * A checked basic credential is remembered (a SHA-256 of the header, at most 64 entries)
 * so the page's polling does not pay an scrypt (16 MiB, ~40 ms on a Pi 4) per request;
 * a failed one is not, so guessing still pays it. Token comparison is constant-time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyPassword } from '../../src/password-hash.js';

export interface AccessPolicy {
  readonly basic: readonly { readonly user: string; readonly passwordHash: string }[];
  /** The bearer token, already read from its file; undefined = no token auth. */
  readonly token?: string;
}

export type AccessResult = 'ok' | 'denied';

const CACHE_MAX = 64;

export class AccessCheck {
  private readonly good = new Set<string>();
  private readonly tokenDigest: Buffer | undefined;

  constructor(private readonly policy: AccessPolicy) {
    this.tokenDigest = policy.token ? sha256(policy.token) : undefined;
  }

  get open(): boolean {
    return this.policy.basic.length === 0 && this.tokenDigest === undefined;
  }

  /** `WWW-Authenticate` to send with a 401 (basic when configured, else bearer). */
  get challenge(): string {
    return this.policy.basic.length > 0
      ? 'Basic realm="netsvc monitor", charset="UTF-8"'
      : 'Bearer realm="netsvc monitor"';
  }

  async check(
    authorization: string | undefined,
    queryToken: string | undefined,
  ): Promise<AccessResult> {
    if (this.open) return 'ok';
    if (this.tokenDigest) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? queryToken;
      if (bearer !== undefined && timingSafeEqual(sha256(bearer), this.tokenDigest)) return 'ok';
    }
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (!m || this.policy.basic.length === 0) return 'denied';
    const key = sha256(m[1]!).toString('hex');
    if (this.good.has(key)) return 'ok';
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'denied';
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const entry = this.policy.basic.find((u) => u.user === user);
    // An unknown user still costs one scrypt, like a wrong password.
    const ok = await verifyPassword(password, entry?.passwordHash ?? DUMMY_HASH);
    if (!ok || !entry) return 'denied';
    if (this.good.size >= CACHE_MAX) this.good.clear();
    this.good.add(key);
    return 'ok';
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** hashPasswordSync('not a password') with N=16384: never matches a real login. */
const DUMMY_HASH =
  'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
