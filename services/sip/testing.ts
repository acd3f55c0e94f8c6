/**
 * Test helpers for the SIP service (imported only by *.test.ts): a seeded Rng, a core on a
 * manual clock with an in-memory SQLite store, and a tiny UAC that builds REGISTERs and
 * answers digest challenges.
 */
import { Buffer } from 'node:buffer';
import type { Rng } from '../../src/clock.js';
import {
  SipCore,
  type CommitOutput,
  type CoreInput,
  type CoreOptions,
  type CoreOutput,
} from './sip-core.js';
import type { Binding, BindingChanges, BindingStore } from './store.js';
import { decode, getHeader, getHeaders, type SipResponse } from './message.js';
import { digestResponse, parseAuthorization, type DigestAlgorithm } from './digest.js';
import { DEFAULT_TIMERS } from './sip-timers.js';
import type { Endpoint } from './transport.js';

export function seededRng(seed = 1): Rng {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    int: (max) => next() % max,
    bytes: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
  };
}

/** The BindingStore port in memory (store.test.ts covers the SQLite one). */
export class MemoryBindingStore implements BindingStore {
  private readonly rows = new Map<string, Binding>();
  /** The next `failNext` commits throw, as a full disk or an I/O error would. */
  failNext = 0;
  all(): Binding[] {
    return [...this.rows.values()];
  }
  commit(batch: readonly BindingChanges[]): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk I/O error (test)');
    }
    for (const c of batch) {
      for (const r of c.remove) this.rows.delete(`${r.aor}\u0000${r.contactKey}`);
      for (const b of c.upsert) this.rows.set(`${b.aor}\u0000${b.contactKey}`, b);
    }
  }
  close(): void {}
}

/**
 * The core with its adapter's group commit folded in, for tests: every 'commit' output is
 * written to the store at once and the held answers (or their 500s) are appended, as the
 * adapter does at the end of the turn.
 */
export class CommittingCore extends SipCore {
  constructor(
    opts: CoreOptions,
    readonly store: MemoryBindingStore,
    rng: Rng,
  ) {
    super(opts, rng);
  }

  settle(out: CoreOutput[], now: number): CoreOutput[] {
    const commits = out.filter((o): o is CommitOutput => o.type === 'commit');
    if (commits.length === 0) return out;
    const rest = out.filter((o) => o.type !== 'commit');
    const tokens = commits.map((c) => c.token);
    try {
      this.store.commit(commits.map((c) => c.changes));
    } catch {
      return [...rest, ...this.commitFailed(tokens, now)];
    }
    return [...rest, ...this.committed(tokens, now)];
  }

  override handle(input: CoreInput, now: number): CoreOutput[] {
    return this.settle(super.handle(input, now), now);
  }

  override handleTimeout(now: number): CoreOutput[] {
    return this.settle(super.handleTimeout(now), now);
  }
}

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

export function testCore(
  over: Partial<CoreOptions> = {},
  users = new Map([
    ['2001', 'dev-2001'],
    ['2002', 'dev-2002'],
  ]),
) {
  const store = new MemoryBindingStore();
  const opts: CoreOptions = {
    registrar: {
      realm: 'asterisk',
      algorithms: ['SHA-256', 'MD5'],
      challenges: 'all',
      defaultExpires: 120,
      minExpires: 60,
      maxExpires: 3600,
      maxContacts: 3,
      users,
    },
    timers: DEFAULT_TIMERS,
    qualifyIntervalMs: 60_000,
    nonceTtlMs: 300_000,
    maxNonces: 1000,
    maxTransactions: 10_000,
    local: { udp: { host: '127.0.0.1', port: 5060 }, tcp: { host: '127.0.0.1', port: 5060 } },
    userAgent: 'netsvc-test',
    ...over,
  };
  const core = new CommittingCore(opts, store, seededRng(7));
  core.start(T0, store.all());
  return { core, store, opts };
}

export const PHONE: Endpoint = { transport: 'udp', address: '192.0.2.10', port: 5062 };

/** Responses among outputs, decoded. */
export function responses(out: CoreOutput[]): SipResponse[] {
  const r: SipResponse[] = [];
  for (const o of out) {
    if (o.type !== 'send') continue;
    const d = decode(o.data);
    if (d.ok && d.message.type === 'response') r.push(d.message);
  }
  return r;
}

export function sends(out: CoreOutput[]): Extract<CoreOutput, { type: 'send' }>[] {
  return out.filter((o): o is Extract<CoreOutput, { type: 'send' }> => o.type === 'send');
}

export interface RegisterOpts {
  user?: string;
  authUser?: string;
  contact?: string | string[];
  expires?: string | undefined;
  callId?: string;
  cseq?: number;
  branch?: string;
  via?: string;
  authorization?: string;
  extra?: string[];
}

let branchCounter = 0;

export function register(o: RegisterOpts = {}): Buffer {
  const user = o.user ?? '2001';
  const contacts =
    o.contact === undefined
      ? [`<sip:${user}@192.0.2.10:5062>`]
      : Array.isArray(o.contact)
        ? o.contact
        : [o.contact];
  const lines = [
    `REGISTER sip:voip.tic2023.com SIP/2.0`,
    `Via: ${o.via ?? `SIP/2.0/UDP 192.0.2.10:5062;branch=${o.branch ?? 'z9hG4bKt' + ++branchCounter};rport`}`,
    `Max-Forwards: 70`,
    `From: <sip:${user}@voip.tic2023.com>;tag=abc`,
    `To: <sip:${user}@voip.tic2023.com>`,
    `Call-ID: ${o.callId ?? 'call-1'}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    ...contacts.map((c) => `Contact: ${c}`),
    ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
    ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** Answer a 401 for `user` with `password`, using the challenge for `algorithm`. */
export function authorize(
  res: SipResponse,
  user: string,
  password: string,
  algorithm: DigestAlgorithm = 'MD5',
  nc = '00000001',
  uri = 'sip:voip.tic2023.com',
): string {
  const ch = getHeaders(res, 'www-authenticate')
    .map((v) => parseAuthorization(v)!)
    .find((c) => (c.params.get('algorithm') ?? 'MD5') === algorithm);
  if (!ch) throw new Error(`no ${algorithm} challenge in ${getHeader(res, 'www-authenticate')}`);
  const realm = ch.params.get('realm')!;
  const nonce = ch.params.get('nonce')!;
  const cnonce = 'c0ffee';
  const response = digestResponse({
    algorithm,
    username: user,
    realm,
    password,
    method: 'REGISTER',
    uri,
    nonce,
    nc,
    cnonce,
    qop: 'auth',
  });
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

/** Status codes of the responses among outputs, read from the status line (works for 400s to broken requests). */
export function statuses(out: CoreOutput[]): number[] {
  return sends(out)
    .map((s) => /^SIP\/2\.0 (\d{3}) /.exec(Buffer.from(s.data).toString('latin1')))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}
