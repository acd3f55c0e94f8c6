/**
 * TSIG, RFC 8945: HMAC transaction signatures on whole messages (UPDATE, NOTIFY, zone
 * transfers, queries). Pure: bytes, keys and the time come in; bytes go out.
 *
 * findTsig() locates the TSIG record, which must be the last additional record (§5.1);
 * verifyRequest() applies §5.2 in its order (key, then MAC, then time); sign() appends a
 * TSIG to a finished message (§4.3.3 digest: request MAC for responses, the message, the
 * TSIG variables); signContinuation() signs the 2nd..nth message of a transfer (§5.3.1:
 * prior MAC, message, timers only). Algorithms: §6 table, HMAC-SHA256 mandatory.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readName, skipName, nameFromText, nameToText } from './name.js';
import { CLASS } from './rr.js';

/** The TSIG meta-type (RFC 8945 §4.2). */
export const TYPE_TSIG = 250;

/** TSIG error codes (RFC 8945 §4.3.3 "Error", IANA DNS RCODEs). */
export const TSIG_ERROR = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 };

/** Algorithm names (RFC 8945 §6) and the node:crypto digest behind each. */
const ALGORITHMS: ReadonlyMap<string, { digest: string; bytes: number }> = new Map([
  ['hmac-md5.sig-alg.reg.int.', { digest: 'md5', bytes: 16 }],
  ['hmac-sha1.', { digest: 'sha1', bytes: 20 }],
  ['hmac-sha224.', { digest: 'sha224', bytes: 28 }],
  ['hmac-sha256.', { digest: 'sha256', bytes: 32 }],
  ['hmac-sha384.', { digest: 'sha384', bytes: 48 }],
  ['hmac-sha512.', { digest: 'sha512', bytes: 64 }],
]);

export const TSIG_ALGORITHMS: readonly string[] = [...ALGORITHMS.keys()].map((a) => a.slice(0, -1));

export interface TsigKey {
  /** Key name as configured ("ddns-key."), compared case-insensitively. */
  readonly name: string;
  /** One of TSIG_ALGORITHMS ("hmac-sha256"). */
  readonly algorithm: string;
  readonly secret: Uint8Array;
}

export interface TsigRecord {
  /** Offset of the TSIG RR in the message (where the unsigned message ends). */
  readonly offset: number;
  readonly keyName: Uint8Array;
  readonly algorithm: Uint8Array;
  /** Seconds since 1970 (48-bit). */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Uint8Array;
  readonly originalId: number;
  readonly error: number;
  readonly other: Uint8Array;
}

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** A copy, also for a Buffer (whose own slice() is a view into the datagram). */
const copy = (b: Uint8Array, start: number, end: number): Uint8Array =>
  Uint8Array.prototype.slice.call(b, start, end);

/** Canonical (lower-case) wire form, RFC 4034 §6.2, as §4.3.3 requires for both names. */
function canonical(name: Uint8Array): Uint8Array {
  const out = Uint8Array.from(name);
  for (let i = 0; i < out.length;) {
    const len = out[i]!;
    for (let j = i + 1; j <= i + len; j++) if (out[j]! >= 0x41 && out[j]! <= 0x5a) out[j]! += 0x20;
    i += len + 1;
    if (len === 0) break;
  }
  return out;
}

const algorithmOf = (name: Uint8Array) => ALGORITHMS.get(nameToText(canonical(name)));

/**
 * The TSIG record if the message has one: undefined when there is none, 'formerr' when
 * one is anywhere but last in the additional section, or malformed (§5.1: "If a TSIG RR
 * is present in any other position, the DNS message is dropped and a response with
 * RCODE 1 (FORMERR) MUST be returned").
 */
export function findTsig(msg: Uint8Array): TsigRecord | 'formerr' | undefined {
  if (msg.length < 12) return 'formerr';
  const counts = [u16(msg, 4), u16(msg, 6), u16(msg, 8), u16(msg, 10)];
  let pos = 12;
  for (let i = 0; i < counts[0]!; i++) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 4 > msg.length) return 'formerr';
    pos += 4;
  }
  const total = counts[1]! + counts[2]! + counts[3]!;
  let found: TsigRecord | undefined;
  for (let i = 0; i < total; i++) {
    const start = pos;
    const after = skipName(msg, pos);
    if (after < 0 || after + 10 > msg.length) return 'formerr';
    const type = u16(msg, after);
    const rdlen = u16(msg, after + 8);
    const rd = after + 10;
    if (rd + rdlen > msg.length) return 'formerr';
    if (type === TYPE_TSIG) {
      if (i !== total - 1 || counts[3] === 0) return 'formerr';
      const rec = parseTsig(msg, start, rd, rdlen);
      if (!rec) return 'formerr';
      found = rec;
    }
    pos = rd + rdlen;
  }
  return found;
}

function parseTsig(
  msg: Uint8Array,
  start: number,
  rd: number,
  rdlen: number,
): TsigRecord | undefined {
  try {
    const keyName = readName(msg, start).name;
    const end = rd + rdlen;
    const alg = readName(msg, rd);
    let p = alg.next;
    if (p + 10 > end) return undefined;
    const timeSigned = u16(msg, p) * 2 ** 32 + ((u16(msg, p + 2) << 16) >>> 0) + u16(msg, p + 4);
    const fudge = u16(msg, p + 6);
    const macLen = u16(msg, p + 8);
    p += 10;
    if (p + macLen + 6 > end) return undefined;
    const mac = copy(msg, p, p + macLen);
    p += macLen;
    const originalId = u16(msg, p);
    const error = u16(msg, p + 2);
    const otherLen = u16(msg, p + 4);
    p += 6;
    if (p + otherLen !== end) return undefined;
    return {
      offset: start,
      keyName,
      algorithm: alg.name,
      timeSigned,
      fudge,
      mac,
      originalId,
      error,
      other: copy(msg, p, end),
    };
  } catch {
    return undefined;
  }
}

function u48(n: number): Uint8Array {
  const b = new Uint8Array(6);
  b[0] = Math.floor(n / 2 ** 40) & 0xff;
  b[1] = Math.floor(n / 2 ** 32) & 0xff;
  b[2] = (n >>> 24) & 0xff;
  b[3] = (n >>> 16) & 0xff;
  b[4] = (n >>> 8) & 0xff;
  b[5] = n & 0xff;
  return b;
}

const be16 = (n: number): Uint8Array => Uint8Array.of((n >>> 8) & 0xff, n & 0xff);

interface Variables {
  readonly keyName: Uint8Array;
  readonly algorithm: Uint8Array;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly error: number;
  readonly other: Uint8Array;
}

/** §4.3.3: the message as it was before the TSIG was added (original ID, ARCOUNT − 1). */
function unsignedPart(msg: Uint8Array, rec: TsigRecord): Uint8Array {
  const m = copy(msg, 0, rec.offset);
  m[0] = rec.originalId >>> 8;
  m[1] = rec.originalId & 0xff;
  const ar = u16(m, 10) - 1;
  m[10] = ar >>> 8;
  m[11] = ar & 0xff;
  return m;
}

function mac(
  key: TsigKey,
  digest: string,
  parts: {
    priorMac?: Uint8Array;
    /** The message, or (§5.3.1) every unsigned message since the last signed one, then it. */
    message: Uint8Array | readonly Uint8Array[];
    vars: Variables;
    timersOnly?: boolean;
  },
): Uint8Array {
  const h = createHmac(digest, key.secret);
  if (parts.priorMac) h.update(be16(parts.priorMac.length)).update(parts.priorMac);
  if (parts.message instanceof Uint8Array) h.update(parts.message);
  else for (const m of parts.message) h.update(m);
  const v = parts.vars;
  if (parts.timersOnly) {
    h.update(u48(v.timeSigned)).update(be16(v.fudge)); // §5.3.1
  } else {
    h.update(canonical(v.keyName))
      .update(be16(CLASS.ANY))
      .update(Uint8Array.of(0, 0, 0, 0))
      .update(canonical(v.algorithm))
      .update(u48(v.timeSigned))
      .update(be16(v.fudge))
      .update(be16(v.error))
      .update(be16(v.other.length))
      .update(v.other);
  }
  return new Uint8Array(h.digest());
}

function appendTsig(msg: Uint8Array, vars: Variables, macBytes: Uint8Array): Uint8Array {
  const id = u16(msg, 0);
  const rdata = [
    vars.algorithm,
    u48(vars.timeSigned),
    be16(vars.fudge),
    be16(macBytes.length),
    macBytes,
    be16(id),
    be16(vars.error),
    be16(vars.other.length),
    vars.other,
  ];
  const rdlen = rdata.reduce((n, p) => n + p.length, 0);
  const rr = [
    vars.keyName,
    be16(TYPE_TSIG),
    be16(CLASS.ANY),
    Uint8Array.of(0, 0, 0, 0),
    be16(rdlen),
    ...rdata,
  ];
  const out = new Uint8Array(msg.length + rr.reduce((n, p) => n + p.length, 0));
  out.set(msg, 0);
  let o = msg.length;
  for (const p of rr) {
    out.set(p, o);
    o += p.length;
  }
  const ar = u16(out, 10) + 1;
  out[10] = ar >>> 8;
  out[11] = ar & 0xff;
  return out;
}

export interface SignOptions {
  /** Seconds since 1970. */
  readonly now: number;
  /** The request's MAC, for a response (§4.3.3). */
  readonly requestMac?: Uint8Array;
  /** §4.3.3 Fudge; 300 s is the recommended value (§10). */
  readonly fudge?: number;
  readonly error?: number;
  readonly other?: Uint8Array;
}

function digestOf(key: TsigKey): string {
  const alg = ALGORITHMS.get(key.algorithm.toLowerCase() + '.');
  if (!alg) throw new Error(`unknown TSIG algorithm ${key.algorithm}`);
  return alg.digest;
}

function variables(key: TsigKey, o: SignOptions): Variables {
  return {
    keyName: nameFromText(key.name.endsWith('.') ? key.name : key.name + '.'),
    algorithm: nameFromText(key.algorithm + '.'),
    timeSigned: Math.floor(o.now),
    fudge: o.fudge ?? 300,
    error: o.error ?? 0,
    other: o.other ?? new Uint8Array(0),
  };
}

/** Append a TSIG to `msg` (which must not have one). Returns the signed message and its MAC. */
export function sign(
  msg: Uint8Array,
  key: TsigKey,
  o: SignOptions,
): { message: Uint8Array; mac: Uint8Array } {
  const vars = variables(key, o);
  const m = mac(key, digestOf(key), { priorMac: o.requestMac, message: msg, vars });
  return { message: appendTsig(msg, vars, m), mac: m };
}

/**
 * §5.3.1: the second and later messages of a multi-message answer (AXFR, IXFR) are signed
 * over the prior message's MAC, this message and the timers only.
 */
export function signContinuation(
  msg: Uint8Array,
  key: TsigKey,
  priorMac: Uint8Array,
  now: number,
): { message: Uint8Array; mac: Uint8Array } {
  const vars = variables(key, { now });
  const m = mac(key, digestOf(key), { priorMac, message: msg, vars, timersOnly: true });
  return { message: appendTsig(msg, vars, m), mac: m };
}

/**
 * §5.2: the answer to a request whose key is unknown (BADKEY) or whose MAC is wrong
 * (BADSIG) carries a TSIG with the request's key and algorithm names, the error, and no
 * MAC, so the client learns why without our signing with a key we cannot trust.
 */
export function errorTsig(
  msg: Uint8Array,
  request: TsigRecord,
  error: number,
  now: number,
): Uint8Array {
  return appendTsig(
    msg,
    {
      keyName: request.keyName,
      algorithm: request.algorithm,
      timeSigned: Math.floor(now),
      fudge: request.fudge,
      error,
      other: new Uint8Array(0),
    },
    new Uint8Array(0),
  );
}

export type VerifyResult =
  | {
      readonly ok: true;
      readonly key: TsigKey;
      readonly record: TsigRecord;
      readonly unsigned: Uint8Array;
    }
  | {
      readonly ok: false;
      /** BADKEY, BADSIG, BADTIME or BADTRUNC: answer NOTAUTH with this TSIG error (§5.2). */
      readonly error: number;
      readonly record: TsigRecord;
      /** For BADTIME the answer is signed with this key (§5.2.3); otherwise unsigned. */
      readonly key?: TsigKey;
    };

/** §5.2.2.1: a MAC may be truncated to no less than half the hash and 10 bytes. */
function macLengthError(hashBytes: number, macBytes: number): number | undefined {
  if (macBytes > hashBytes) return TSIG_ERROR.BADSIG;
  if (macBytes < Math.max(10, hashBytes / 2)) return TSIG_ERROR.BADTRUNC;
  return undefined;
}

/**
 * §5.2, in its order: the key must be known with that algorithm (else BADKEY), the MAC
 * must match (else BADSIG; a MAC shorter than allowed is FORMERR-worthy, reported as
 * BADTRUNC per §5.2.2.1), then the time must be within the fudge (else BADTIME).
 * `requestMac`: when verifying a response to our own signed request.
 */
export function verify(
  msg: Uint8Array,
  record: TsigRecord,
  keys: (name: string) => TsigKey | undefined,
  now: number,
  requestMac?: Uint8Array,
): VerifyResult {
  const keyText = nameToText(canonical(record.keyName)).toLowerCase();
  const key = keys(keyText);
  const alg = algorithmOf(record.algorithm);
  if (!key || !alg || key.algorithm.toLowerCase() + '.' !== nameToText(canonical(record.algorithm)))
    return { ok: false, error: TSIG_ERROR.BADKEY, record };
  const lengthError = macLengthError(alg.bytes, record.mac.length);
  if (lengthError !== undefined) return { ok: false, error: lengthError, record };
  const unsigned = unsignedPart(msg, record);
  const expected = mac(key, alg.digest, {
    priorMac: requestMac,
    message: unsigned,
    vars: record,
  }).subarray(0, record.mac.length);
  if (!timingSafeEqual(expected, record.mac))
    return { ok: false, error: TSIG_ERROR.BADSIG, record };
  if (Math.abs(now - record.timeSigned) > record.fudge)
    return { ok: false, error: TSIG_ERROR.BADTIME, record, key };
  return { ok: true, key, record, unsigned };
}

/**
 * §5.3.1, the client's side: a later message of a multi-message answer, signed over the
 * prior signed message's MAC, every unsigned message since (whole, in order) and this one
 * without its TSIG, then the timers. A server may sign only every few messages (at least
 * every 100th); the caller keeps the unsigned ones for the next signed one.
 */
export function verifyContinuation(
  msg: Uint8Array,
  record: TsigRecord,
  unsignedSince: readonly Uint8Array[],
  key: TsigKey,
  priorMac: Uint8Array,
  now: number,
): { ok: true; mac: Uint8Array } | { ok: false; error: number } {
  const alg = algorithmOf(record.algorithm);
  const keyName = nameToText(canonical(record.keyName)).toLowerCase();
  if (!alg || keyName !== keyNameOf(key.name)) return { ok: false, error: TSIG_ERROR.BADKEY };
  if (macLengthError(alg.bytes, record.mac.length) !== undefined)
    return { ok: false, error: TSIG_ERROR.BADSIG };
  const expected = mac(key, alg.digest, {
    priorMac,
    message: [...unsignedSince, unsignedPart(msg, record)],
    vars: record,
    timersOnly: true,
  }).subarray(0, record.mac.length);
  if (!timingSafeEqual(expected, record.mac)) return { ok: false, error: TSIG_ERROR.BADSIG };
  if (Math.abs(now - record.timeSigned) > record.fudge)
    return { ok: false, error: TSIG_ERROR.BADTIME };
  return { ok: true, mac: record.mac };
}

/** A TSIG key name as keys are looked up: lower case, with the trailing dot. */
export function keyNameOf(name: string): string {
  return name.toLowerCase().replace(/\.?$/, '.');
}

/** Parse a `hmac-sha256:name:base64secret` triple, dig -y's and nsupdate -y's syntax. */
export function keyFromTriple(text: string): TsigKey {
  const [algorithm, name, secret] = text.split(':');
  if (!algorithm || !name || secret === undefined)
    throw new Error('expected algorithm:name:secret');
  if (!ALGORITHMS.has(algorithm.toLowerCase() + '.'))
    throw new Error(`unknown TSIG algorithm ${algorithm}`);
  return {
    algorithm: algorithm.toLowerCase(),
    name: keyNameOf(name),
    secret: Buffer.from(secret, 'base64'),
  };
}
