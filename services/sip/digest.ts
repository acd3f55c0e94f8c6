/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 7616 for the algorithms
 * and qop, RFC 8760 for SHA-256 in SIP): parse Authorization, build WWW-Authenticate,
 * compute and compare the response.
 *
 * RFC 7616 §3.4.1: "If the qop value is "auth" ...: response = <"> < KD ( H(A1),
 * unq(nonce) ":" nc ":" unq(cnonce) ":" unq(qop) ":" H(A2) ) > <">", A1 = "username:realm:
 * password" (§3.4.2), A2 = "Method:request-uri" (§3.4.3). RFC 8760 §2.4: "the UAS ... MUST
 * [list] the challenges in order of preference, with the most preferred algorithm first";
 * we send SHA-256 before MD5 so old phones (Linphone before 4.x, many ATAs) still find MD5.
 *
 * Leaves out: the -sess algorithms, qop=auth-int (no body hashing), userhash, SHA-512-256
 * (no deployed SIP phone offers it), Proxy-Authenticate (registrar only for now).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Buffer } from 'node:buffer';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface Credentials {
  readonly scheme: string;
  /** Parameter names lower-cased, quotes removed. */
  readonly params: ReadonlyMap<string, string>;
}

/** Parse `Digest k=v, k="v"`; undefined when the syntax is broken. */
export function parseAuthorization(value: string): Credentials | undefined {
  const m = /^([A-Za-z0-9\-.!%*_+`'~]+)(?:[ \t]+([\s\S]*))?$/.exec(value.trim());
  if (!m) return undefined;
  const scheme = m[1]!;
  const rest = m[2] ?? '';
  const params = new Map<string, string>();
  let i = 0;
  const s = rest;
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  ws();
  while (i < s.length) {
    const start = i;
    while (i < s.length && /[A-Za-z0-9\-.!%*_+`'~]/.test(s[i]!)) i++;
    const name = s.slice(start, i).toLowerCase();
    if (name === '') return undefined;
    ws();
    if (s[i] !== '=') return undefined;
    i++;
    ws();
    let val: string;
    if (s[i] === '"') {
      i++;
      let v = '';
      for (;;) {
        if (i >= s.length) return undefined;
        const c = s[i]!;
        if (c === '\\') {
          v += s[i + 1] ?? '';
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          v += c;
          i++;
        }
      }
      val = v;
    } else {
      const vs = i;
      while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
      val = s.slice(vs, i);
    }
    if (params.has(name)) return undefined; // a repeated directive is ambiguous
    params.set(name, val);
    ws();
    if (i < s.length) {
      if (s[i] !== ',') return undefined;
      i++;
      ws();
    }
  }
  return { scheme, params };
}

export function hashHex(algorithm: DigestAlgorithm, text: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(text, 'utf8')
    .digest('hex');
}

export interface DigestInput {
  readonly algorithm: DigestAlgorithm;
  readonly username: string;
  readonly realm: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  readonly nonce: string;
  readonly nc: string;
  readonly cnonce: string;
  readonly qop: string;
}

export function digestResponse(d: DigestInput): string {
  const ha1 = hashHex(d.algorithm, `${d.username}:${d.realm}:${d.password}`);
  const ha2 = hashHex(d.algorithm, `${d.method}:${d.uri}`);
  return hashHex(d.algorithm, `${ha1}:${d.nonce}:${d.nc}:${d.cnonce}:${d.qop}:${ha2}`);
}

/** Constant-time comparison of two hex digests (lower-cased first). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'latin1');
  const y = Buffer.from(b.toLowerCase(), 'latin1');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

export function algorithmOf(name: string | undefined): DigestAlgorithm | undefined {
  // RFC 7616 §3.3: "If this is not present, it is assumed to be "MD5"."
  if (name === undefined) return 'MD5';
  const u = name.toUpperCase();
  return u === 'MD5' ? 'MD5' : u === 'SHA-256' ? 'SHA-256' : undefined;
}

export function challengeHeader(
  realm: string,
  nonce: string,
  algorithm: DigestAlgorithm,
  stale: boolean,
): string {
  return `Digest realm="${realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`;
}
