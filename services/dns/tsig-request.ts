/**
 * A request's TSIG (RFC 8945 §5.2) checked once for every kind of request, and answers
 * signed to match (§5.3). Pure. No TSIG: unsigned. Not last: FORMERR (§5.1). Unknown key,
 * bad MAC, bad time: NOTAUTH with the error in a TSIG (BADTIME signed with our time,
 * §5.2.3; the others unsigned: we cannot sign with a key we could not trust). Verified:
 * the handler sees the request unsigned; every answer message is signed, the first over
 * the request's MAC, later ones over the prior MAC and the timers (§5.3.1).
 */
import {
  errorTsig,
  findTsig,
  sign,
  signContinuation,
  verify,
  verifyContinuation,
  TSIG_ERROR,
} from './tsig.js';
import type { TsigKey, TsigRecord } from './tsig.js';

export type RequestTsig =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'formerr' }
  | {
      readonly kind: 'verified';
      readonly key: TsigKey;
      /** The request's MAC: the first answer message is signed over it. */
      readonly mac: Uint8Array;
      /** The request as it was before signing (original ID, no TSIG). */
      readonly unsigned: Uint8Array;
    }
  | {
      readonly kind: 'refused';
      /** BADKEY, BADSIG, BADTIME or BADTRUNC. */
      readonly error: number;
      readonly record: TsigRecord;
      /** Set for BADTIME: the answer is signed with it. */
      readonly key?: TsigKey;
    };

/** Bytes a TSIG adds to an answer signed with `key` (owner, fixed fields, MAC, names). */
export function tsigSize(key: TsigKey): number {
  const nameLen = (n: string): number => (n.endsWith('.') ? n.length + 1 : n.length + 2);
  // owner + type/class/ttl/rdlength (10) + algorithm + time (6) + fudge (2) + mac length
  // (2) + mac (≤ 64, sha512) + original id, error, other length (6) + other (6, BADTIME).
  return nameLen(key.name) + 10 + nameLen(key.algorithm) + 10 + 64 + 6 + 6;
}

export function checkRequestTsig(
  msg: Uint8Array,
  keys: (name: string) => TsigKey | undefined,
  now: number,
): RequestTsig {
  const t = findTsig(msg);
  if (t === undefined) return { kind: 'unsigned' };
  if (t === 'formerr') return { kind: 'formerr' };
  const v = verify(msg, t, keys, now);
  if (v.ok) return { kind: 'verified', key: v.key, mac: t.mac, unsigned: v.unsigned };
  return { kind: 'refused', error: v.error, record: t, ...(v.key ? { key: v.key } : {}) };
}

/**
 * The NOTAUTH answer to a refused TSIG: `unsigned` is the answer without TSIG (rcode
 * NOTAUTH already set by the caller), the TSIG added as §5.2 says for this error.
 */
export function refusalReply(
  unsigned: Uint8Array,
  r: Extract<RequestTsig, { kind: 'refused' }>,
  now: number,
): Uint8Array {
  if (r.error === TSIG_ERROR.BADTIME && r.key) {
    const t = Math.floor(now);
    const other = Uint8Array.of(
      0,
      0,
      (t >>> 24) & 0xff,
      (t >>> 16) & 0xff,
      (t >>> 8) & 0xff,
      t & 0xff,
    );
    return sign(unsigned, r.key, { now: t, requestMac: r.record.mac, error: r.error, other })
      .message;
  }
  return errorTsig(unsigned, r.record, r.error, now);
}

/** Sign an answer (one message, or every message of a transfer) to a verified request. */
export function signAnswer(
  messages: readonly Uint8Array[],
  key: TsigKey,
  requestMac: Uint8Array,
  now: number,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prior = requestMac;
  messages.forEach((m, i) => {
    const s =
      i === 0 ? sign(m, key, { now, requestMac: prior }) : signContinuation(m, key, prior, now);
    out.push(s.message);
    prior = s.mac;
  });
  return out;
}

/**
 * The client's check of a signed answer (RFC 8945 §5.3.1): the first message signed over
 * our request's MAC, later ones signed over the prior MAC (unsigned ones in between are
 * allowed, at most 99 in a row), the last one signed.
 */
export class SignedAnswerReader {
  private prior: Uint8Array;
  private pending: Uint8Array[] = [];
  private first = true;

  constructor(
    private readonly key: TsigKey,
    requestMac: Uint8Array,
  ) {
    this.prior = requestMac;
  }

  push(msg: Uint8Array, now: number): { ok: true } | { ok: false; reason: string } {
    const t = findTsig(msg);
    if (t === 'formerr') return { ok: false, reason: 'malformed TSIG in the answer' };
    if (t === undefined) {
      if (this.first) return { ok: false, reason: 'answer not signed' };
      this.pending.push(msg);
      if (this.pending.length >= 100)
        return { ok: false, reason: '100 unsigned messages in a row (RFC 8945 §5.3.1)' };
      return { ok: true };
    }
    if (t.error !== TSIG_ERROR.NOERROR)
      return { ok: false, reason: `primary answered TSIG error ${tsigErrorText(t.error)}` };
    if (this.first) {
      const v = verify(
        msg,
        t,
        (n) => (n === this.key.name ? this.key : undefined),
        now,
        this.prior,
      );
      this.first = false;
      if (!v.ok) return { ok: false, reason: `answer TSIG ${tsigErrorText(v.error)}` };
      this.prior = t.mac;
      return { ok: true };
    }
    const v = verifyContinuation(msg, t, this.pending, this.key, this.prior, now);
    if (!v.ok) return { ok: false, reason: `answer TSIG ${tsigErrorText(v.error)}` };
    this.pending = [];
    this.prior = v.mac;
    return { ok: true };
  }

  /** Whether the answer so far ends with a signed message. */
  complete(): boolean {
    return !this.first && this.pending.length === 0;
  }
}

/** The RFC 8945 name of a TSIG error code (for logs, metrics and failure reasons). */
export function tsigErrorText(e: number): string {
  const names: Record<number, string> = {
    [TSIG_ERROR.BADSIG]: 'BADSIG',
    [TSIG_ERROR.BADKEY]: 'BADKEY',
    [TSIG_ERROR.BADTIME]: 'BADTIME',
    [TSIG_ERROR.BADTRUNC]: 'BADTRUNC',
  };
  return names[e] ?? String(e);
}
