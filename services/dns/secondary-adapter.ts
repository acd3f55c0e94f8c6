/**
 * Secondary zones' sockets and timers (issue 11; RFC 1034 §4.3.5, 1995, 1996, 5936): per
 * zone one timer from its clock (secondary-timers.ts); a check asks the primaries for the
 * SOA, a greater serial is transferred over TCP (IXFR from our SOA, else AXFR), stored
 * (secondary-store.ts), then served. NOTIFY from a primary checks at once; past EXPIRE the
 * zone is SERVFAIL. With `key`, requests are TSIG-signed and answers must verify.
 * Limits (BIND's precedents): SOA timeout 3 s per primary; a transfer within 60 s
 * (max-transfer-time-in) with no 15 s silence (max-transfer-idle-in), at most
 * MAX_TRANSFER_RECORDS records.
 */
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeMessage, FLAG, OPCODE, RCODE, type Message } from './message.js';
import { nameFromText, nameToText } from './name.js';
import { parseHostPort } from './config.js';
import type { DnsConfig } from './config.js';
import { soaSerialOf, type RR } from './rr.js';
import {
  applyTransfer,
  readSoaAnswer,
  soaQuery,
  soaTimers,
  TransferReader,
  transferQuery,
} from './secondary.js';
import { SecondaryClock } from './secondary-timers.js';
import { SecondaryStore } from './secondary-store.js';
import { SignedAnswerReader } from './tsig-request.js';
import { keyNameOf, sign, type TsigKey } from './tsig.js';
import { TcpFramer, frame } from './tcp-framing.js';
import { Zone } from './zone.js';
import type { DnsMetrics } from './metrics.js';

const SOA_TIMEOUT_MS = 3000;
const TRANSFER_TIMEOUT_MS = 60_000;
const TRANSFER_IDLE_MS = 15_000;

interface Primary {
  readonly address: string;
  readonly port: number;
}

interface SecondaryZone {
  readonly origin: Uint8Array;
  readonly text: string;
  readonly primaries: readonly Primary[];
  readonly key: TsigKey | undefined;
  clock: SecondaryClock;
  zone: Zone | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Serving as of the last report to the server (to report changes only). */
  served: boolean;
}

export interface SecondaryEvents {
  /** The set of served secondary copies changed (new copy, expired, restored). */
  changed(): void;
}

export class Secondaries {
  private readonly zones = new Map<string, SecondaryZone>();
  private readonly store: SecondaryStore;
  private stopped = false;
  private readonly sockets = new Set<{ destroy(): void }>();

  /** Whether the config has secondary zones. */
  static wanted(cfg: DnsConfig): boolean {
    return cfg.zones.some((z) => z.primaries !== undefined);
  }

  constructor(
    cfg: DnsConfig,
    keys: ReadonlyMap<string, TsigKey>,
    dir: string,
    private readonly log: Logger,
    private readonly metrics: DnsMetrics,
    private readonly events: SecondaryEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new SecondaryStore(dir);
    for (const z of cfg.zones) {
      if (!z.primaries) continue;
      const text = z.origin.endsWith('.') ? z.origin : z.origin + '.';
      const origin = nameFromText(text);
      const key = z.key ? keys.get(keyNameOf(z.key)) : undefined;
      this.zones.set(text.toLowerCase(), {
        origin,
        text,
        primaries: z.primaries.flatMap((p) => parseHostPort(p, 53) ?? []),
        key,
        clock: new SecondaryClock(undefined, undefined, undefined, this.now()),
        zone: undefined,
        timer: undefined,
        served: false,
      });
    }
  }

  /** Load the stored copies (served at once if not expired), then start the clocks. */
  start(): void {
    const now = this.now();
    for (const s of this.zones.values()) {
      try {
        const c = this.store.read(s.origin);
        if (c) {
          const zone = new Zone(s.origin, c.records);
          s.zone = zone;
          s.clock = new SecondaryClock(zone.serial, soaTimers(zone.soa), c.lastContact, now);
          this.log.info(
            {
              zone: s.text,
              serial: zone.serial,
              records: zone.recordCount,
              serving: s.clock.serving(now),
            },
            'secondary zone copy loaded from disk',
          );
        }
      } catch (e) {
        this.log.warn(
          { zone: s.text, err: (e as Error).message },
          'secondary zone copy unreadable: transferring afresh',
        );
      }
      s.served = s.zone !== undefined && s.clock.serving(now);
      this.arm(s);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.zones.values()) clearTimeout(s.timer);
    for (const k of this.sockets) k.destroy();
  }

  /** Copies that may be served now. */
  served(): Zone[] {
    return [...this.zones.values()].filter((s) => s.served).map((s) => s.zone!);
  }

  /** Origins of secondary zones with nothing to serve (SERVFAIL). */
  unavailable(): Uint8Array[] {
    return [...this.zones.values()].filter((s) => !s.served).map((s) => s.origin);
  }

  /** Whether `origin` is one of our secondary zones. */
  has(origin: Uint8Array): boolean {
    return this.zones.has(nameToText(origin).toLowerCase());
  }

  /**
   * RFC 1996 §3.10: a NOTIFY for a secondary zone is acted on only when it comes from one
   * of its primaries (BIND's default allow-notify); returns the rcode to answer.
   */
  notify(origin: Uint8Array, from: string, announced?: number): number {
    const s = this.zones.get(nameToText(origin).toLowerCase());
    if (!s) return RCODE.NOTAUTH;
    const norm = (a: string): string => a.replace(/^::ffff:/, '');
    if (!s.primaries.some((p) => norm(p.address) === norm(from))) {
      this.metrics.notifies.inc(['refused']);
      this.log.warn({ zone: s.text, from }, 'NOTIFY refused: not from a primary of the zone');
      return RCODE.REFUSED;
    }
    this.metrics.notifies.inc(['received']);
    if (s.clock.notify(this.now(), announced)) this.arm(s);
    return RCODE.NOERROR;
  }

  /** The zone's state for admin `GET /state/dns`. */
  state(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const now = this.now();
    for (const s of this.zones.values())
      out[s.text] = {
        serial: s.zone?.serial ?? null,
        serving: s.served,
        expires: Number.isFinite(s.clock.expiry) ? new Date(s.clock.expiry).toISOString() : null,
        primaries: s.primaries.map((p) => `${p.address}:${p.port}`),
        nextCheckInMs: Number.isFinite(s.clock.next()) ? Math.max(0, s.clock.next() - now) : null,
      };
    return out;
  }

  /**
   * One timer per zone: at the next check or at expiry, whichever is first. It stays armed
   * for the expiry while a check runs (a 3 s SOA timeout must not serve a copy past it).
   */
  private arm(s: SecondaryZone): void {
    if (this.stopped) return;
    clearTimeout(s.timer);
    s.timer = undefined;
    const now = this.now();
    const expiry = s.served ? s.clock.expiry : Infinity;
    const at = Math.min(s.clock.next(), expiry);
    if (!Number.isFinite(at)) return;
    // setTimeout takes at most 2^31-1 ms; a longer wait is re-armed when it fires.
    s.timer = setTimeout(() => this.wake(s), Math.min(Math.max(0, at - now), 0x7fffffff));
    s.timer.unref();
  }

  private wake(s: SecondaryZone): void {
    s.timer = undefined;
    const now = this.now();
    this.refreshServing(s, now);
    if (s.clock.tick(now).kind === 'check') {
      void this.check(s).finally(() => {
        this.refreshServing(s, this.now());
        this.arm(s);
      });
    }
    // During a check next() is Infinity: this arms the expiry alone.
    this.arm(s);
  }

  private refreshServing(s: SecondaryZone, now: number): void {
    const serving = s.zone !== undefined && s.clock.serving(now);
    if (serving === s.served) return;
    s.served = serving;
    if (!serving)
      this.log.error(
        { zone: s.text, serial: s.zone?.serial },
        'secondary zone expired: no primary confirmed it within EXPIRE; answering SERVFAIL',
      );
    this.events.changed();
  }

  /** Ask each primary in turn; transfer from the first that has a newer serial. */
  private async check(s: SecondaryZone): Promise<void> {
    for (const p of s.primaries) {
      if (this.stopped) return;
      const where = `${p.address}:${p.port}`;
      try {
        const soa = await this.querySoa(s, p);
        const serial = soaSerialOf(soa);
        const now = this.now();
        if (!s.clock.soaAnswered(serial, soaTimers(soa), now)) {
          this.metrics.secondaryChecks.inc(['uptodate']);
          this.store.writeContact(s.origin, now);
          return;
        }
        await this.transfer(s, p, serial);
        return;
      } catch (e) {
        this.metrics.secondaryChecks.inc(['failed']);
        this.log.warn(
          { zone: s.text, primary: where, err: (e as Error).message },
          'secondary zone: primary check or transfer failed',
        );
      }
    }
    s.clock.failed(this.now());
  }

  private async querySoa(s: SecondaryZone, p: Primary): Promise<RR> {
    const id = randomInt(0x10000);
    const { bytes, reader } = this.signed(s, soaQuery(id, s.origin));
    const answer = await udpExchange(bytes, p, id, SOA_TIMEOUT_MS, this.sockets);
    if (reader) {
      const v = reader.push(answer, this.now() / 1000);
      if (!v.ok) throw new Error(v.reason);
    }
    const m = decodeMessage(answer);
    if (m.flags & FLAG.TC) return this.querySoaTcp(s, p);
    const r = readSoaAnswer(m, id, s.origin);
    if ('error' in r) throw new Error(r.error);
    return r.soa;
  }

  /** RFC 1035 §4.2.2: a truncated SOA answer is asked again over TCP. */
  private async querySoaTcp(s: SecondaryZone, p: Primary): Promise<RR> {
    const id = randomInt(0x10000);
    const out = await this.tcpExchange(s, p, soaQuery(id, s.origin), id, (m) =>
      m.answers.length > 0 || m.rcode !== RCODE.NOERROR ? 'done' : 'more',
    );
    const r = readSoaAnswer(out[0]!, id, s.origin);
    if ('error' in r) throw new Error(r.error);
    return r.soa;
  }

  private async transfer(s: SecondaryZone, p: Primary, primarySerial: number): Promise<void> {
    const id = randomInt(0x10000);
    const current = s.zone;
    const started = this.now();
    const reader = new TransferReader(id, s.origin, current?.serial);
    let records: readonly RR[] = [];
    let failure: string | undefined;
    await this.tcpExchange(s, p, transferQuery(id, s.origin, current?.soa), id, (m) => {
      const step = reader.push(m);
      if (step.kind === 'error') {
        failure = step.reason;
        return 'done';
      }
      if (step.kind === 'done') records = step.records;
      return step.kind === 'done' ? 'done' : 'more';
    });
    if (failure) throw new Error(`transfer: ${failure}`);
    const copy = applyTransfer(
      s.origin,
      current ? { records: () => current.records(), serial: current.serial } : undefined,
      records,
    );
    const now = this.now();
    if (copy.kind === 'error') throw new Error(`transfer: ${copy.reason}`);
    if (copy.kind === 'uptodate') {
      // The primary says we are current although its SOA was newer: it changed back.
      s.clock.soaAnswered(current?.serial ?? primarySerial, soaTimers(current!.soa), now);
      return;
    }
    const zone = new Zone(s.origin, copy.records);
    // Stored before it is served: a crash after this serves the new copy from disk.
    this.store.writeZone(s.origin, copy.records, now);
    s.zone = zone;
    s.clock.transferred(zone.serial, soaTimers(zone.soa), now);
    s.served = true;
    this.metrics.secondaryChecks.inc([copy.incremental ? 'ixfr' : 'axfr']);
    this.metrics.zoneSerial.set({ zone: s.text }, zone.serial);
    this.metrics.zoneRecords.set({ zone: s.text }, zone.recordCount);
    this.log.info(
      {
        zone: s.text,
        primary: `${p.address}:${p.port}`,
        serial: zone.serial,
        records: zone.recordCount,
        kind: copy.incremental ? 'IXFR' : 'AXFR',
        ms: now - started,
      },
      'secondary zone transferred',
    );
    this.events.changed();
  }

  /** The request signed with the zone's key (RFC 8945 §4.2), and the check of its answer. */
  private signed(
    s: SecondaryZone,
    request: Uint8Array,
  ): { bytes: Uint8Array; reader: SignedAnswerReader | undefined } {
    if (!s.key) return { bytes: request, reader: undefined };
    const r = sign(request, s.key, { now: this.now() / 1000 });
    return { bytes: r.message, reader: new SignedAnswerReader(s.key, r.mac) };
  }

  /**
   * One request over TCP and its answer messages until `each` says done; signed with the
   * zone's key and every answer message checked against it (RFC 8945 §5.3.1).
   */
  private tcpExchange(
    s: SecondaryZone,
    p: Primary,
    request: Uint8Array,
    id: number,
    each: (m: Message) => 'more' | 'done',
  ): Promise<Message[]> {
    const { bytes, reader: signed } = this.signed(s, request);
    return new Promise<Message[]>((resolve, reject) => {
      const sock = connect({ host: p.address, port: p.port });
      const handle = { destroy: () => sock.destroy() };
      this.sockets.add(handle);
      const framer = new TcpFramer();
      const got: Message[] = [];
      let settled = false;
      const finish = (e?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(overall);
        this.sockets.delete(handle);
        sock.destroy();
        if (e) reject(e);
        else resolve(got);
      };
      const overall = setTimeout(
        () => finish(new Error(`no complete answer within ${TRANSFER_TIMEOUT_MS} ms`)),
        TRANSFER_TIMEOUT_MS,
      );
      sock.setTimeout(TRANSFER_IDLE_MS, () =>
        finish(new Error(`primary sent nothing for ${TRANSFER_IDLE_MS} ms`)),
      );
      sock.on('error', (e) => finish(e));
      sock.on('close', () => finish(new Error('primary closed the connection mid-answer')));
      sock.on('connect', () => sock.write(frame(bytes)));
      sock.on('data', (chunk: Buffer) => {
        for (const msg of framer.push(chunk, performance.now())) {
          if (settled) return;
          if (signed) {
            const v = signed.push(msg, this.now() / 1000);
            if (!v.ok) return finish(new Error(v.reason));
          }
          let m: Message;
          try {
            m = decodeMessage(msg);
          } catch (e) {
            return finish(new Error(`malformed answer: ${(e as Error).message}`));
          }
          if (m.id !== id || !(m.flags & FLAG.QR) || m.opcode !== OPCODE.QUERY)
            return finish(new Error('answer does not match the request'));
          got.push(m);
          if (each(m) === 'done') {
            if (signed && !signed.complete())
              return finish(new Error('last answer message not signed'));
            return finish();
          }
        }
      });
    });
  }
}

/** Send one datagram, await the answer with our ID from that address (others ignored). */
function udpExchange(
  bytes: Uint8Array,
  p: Primary,
  id: number,
  timeoutMs: number,
  sockets: Set<{ destroy(): void }>,
): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const sock = createSocket(isIP(p.address) === 6 ? 'udp6' : 'udp4');
    const handle = { destroy: () => done(new Error('stopped')) };
    sockets.add(handle);
    let settled = false;
    const done = (e?: Error, msg?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sockets.delete(handle);
      sock.close();
      if (e) reject(e);
      else resolve(msg!);
    };
    const timer = setTimeout(
      () => done(new Error(`no SOA answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (e) => done(e));
    sock.on('message', (msg, rinfo) => {
      // RFC 5452 §9.1: accept only an answer from where we asked, with our ID.
      if (rinfo.port !== p.port || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      done(undefined, msg);
    });
    sock.send(bytes, p.port, p.address);
  });
}
