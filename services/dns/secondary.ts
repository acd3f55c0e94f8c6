/**
 * A secondary's side of the conversation with its primary, pure: the SOA query (RFC 1034
 * §4.3.5), the transfer request (IXFR with our SOA, RFC 1995 §3; AXFR without a copy, RFC
 * 5936), reading the answer stream message by message until complete, and the new copy.
 * The adapter (secondary-adapter.ts) sends, receives, signs and stores. Limits: at most
 * MAX_TRANSFER_RECORDS records (Knot's zone-max-size, in records); every message must
 * answer our question (same ID, QR, NOERROR).
 */
import { FLAG, MessageWriter, OPCODE, RCODE, rcodeToText, type Message } from './message.js';
import { nameKey, nameToText } from './name.js';
import { CLASS, soaSerialOf, TYPE, type RR } from './rr.js';
import { readIxfrResponse } from './ixfr.js';
import { ZoneRecords } from './zone-changes.js';
import type { SoaTimers } from './secondary-timers.js';
import { serialGreater } from './update.js';

/** One million records: far above a small site's zones, far below the Pi's memory. */
export const MAX_TRANSFER_RECORDS = 1_000_000;

export function soaQuery(id: number, origin: Uint8Array): Uint8Array {
  const w = new MessageWriter(512);
  w.addQuestion({ qname: origin, qtype: TYPE.SOA, qclass: CLASS.IN });
  return w.finish(id, 0);
}

/** IXFR carrying our SOA in the authority section when we hold a copy, else AXFR. */
export function transferQuery(id: number, origin: Uint8Array, current: RR | undefined): Uint8Array {
  const w = new MessageWriter(512);
  w.addQuestion({ qname: origin, qtype: current ? TYPE.IXFR : TYPE.AXFR, qclass: CLASS.IN });
  if (current) w.addRR(2, current);
  return w.finish(id, 0);
}

/** REFRESH, RETRY and EXPIRE of an SOA's RDATA (RFC 1035 §3.3.13). */
export function soaTimers(soa: Pick<RR, 'rdata'>): SoaTimers {
  const r = soa.rdata;
  const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const fixed = r.length - 20;
  return {
    refresh: dv.getUint32(fixed + 4),
    retry: dv.getUint32(fixed + 8),
    expire: dv.getUint32(fixed + 12),
  };
}

function answerError(m: Message, id: number): string | undefined {
  if (m.id !== id) return `answer ID ${m.id} is not the request's ${id}`;
  if (!(m.flags & FLAG.QR) || m.opcode !== OPCODE.QUERY) return 'not an answer to a query';
  if (m.rcode !== RCODE.NOERROR) return `primary answered ${rcodeToText(m.rcode)}`;
  return undefined;
}

/** The primary's SOA for `origin` from its answer to soaQuery, authoritative only. */
export function readSoaAnswer(
  m: Message,
  id: number,
  origin: Uint8Array,
): { soa: RR } | { error: string } {
  const e = answerError(m, id);
  if (e) return { error: e };
  if (!(m.flags & FLAG.AA)) return { error: 'primary is not authoritative for the zone' };
  const key = nameKey(origin);
  const soa = m.answers.find(
    (r) => r.type === TYPE.SOA && r.class === CLASS.IN && nameKey(r.owner) === key,
  );
  return soa ? { soa } : { error: 'no SOA in the answer' };
}

export type TransferStep =
  | { readonly kind: 'more' }
  | { readonly kind: 'done'; readonly records: readonly RR[] }
  | { readonly kind: 'error'; readonly reason: string };

/**
 * The answer stream of one AXFR or IXFR. Complete when (RFC 5936 §2.2, RFC 1995 §4): the
 * first SOA is not newer than the copy we asked from (IXFR "up to date": that SOA alone,
 * BIND's xfrin rule; message boundaries say nothing, a primary may send one record per
 * message); an AXFR-form stream shows the first SOA again; an IXFR stream (second record
 * an SOA) shows the new SOA a third time (as the last delta's new SOA, then closing).
 */
export class TransferReader {
  private readonly records: RR[] = [];
  private serial: number | undefined;
  private seen = 0;
  private incremental: boolean | undefined;

  constructor(
    private readonly id: number,
    private readonly origin: Uint8Array,
    /** The serial of the copy an IXFR was asked from; undefined for AXFR. */
    private readonly ours?: number,
  ) {}

  push(m: Message): TransferStep {
    const e = answerError(m, this.id);
    if (e) return { kind: 'error', reason: e };
    if (this.records.length + m.answers.length > MAX_TRANSFER_RECORDS)
      return { kind: 'error', reason: `more than ${MAX_TRANSFER_RECORDS} records` };
    for (const rr of m.answers) {
      if (this.serial === undefined) {
        if (rr.type !== TYPE.SOA || nameKey(rr.owner) !== nameKey(this.origin))
          return { kind: 'error', reason: 'transfer does not start with the zone SOA' };
        this.serial = soaSerialOf(rr);
        this.seen = 1;
        this.records.push(rr);
        if (this.ours !== undefined && !serialGreater(this.serial, this.ours)) {
          if (rr !== m.answers[m.answers.length - 1])
            return { kind: 'error', reason: 'records after the up-to-date SOA' };
          return { kind: 'done', records: this.records };
        }
        continue;
      }
      if (this.incremental === undefined) this.incremental = rr.type === TYPE.SOA;
      this.records.push(rr);
      if (rr.type === TYPE.SOA && soaSerialOf(rr) === this.serial) {
        this.seen++;
        if (this.seen === (this.incremental ? 3 : 2)) {
          if (rr !== m.answers[m.answers.length - 1])
            return { kind: 'error', reason: 'records after the closing SOA' };
          return { kind: 'done', records: this.records };
        }
      }
    }
    if (this.serial === undefined) return { kind: 'error', reason: 'empty answer' };
    return { kind: 'more' };
  }
}

export type NewCopy =
  | { readonly kind: 'uptodate' }
  | {
      readonly kind: 'copy';
      readonly records: RR[];
      readonly soa: RR;
      readonly incremental: boolean;
    }
  | { readonly kind: 'error'; readonly reason: string };

/**
 * The zone after a complete transfer: a full one replaces the copy; deltas apply to it
 * in order (RFC 1995 §5), each starting from the serial the copy is at.
 */
export function applyTransfer(
  origin: Uint8Array,
  current: { readonly records: () => Iterable<RR>; readonly serial: number } | undefined,
  records: readonly RR[],
): NewCopy {
  const r = readIxfrResponse(records);
  switch (r.kind) {
    case 'error':
      return r;
    case 'uptodate':
      return { kind: 'uptodate' };
    case 'axfr': {
      const soa = r.records[0]!;
      return { kind: 'copy', records: [...r.records], soa, incremental: false };
    }
    case 'ixfr': {
      if (!current) return { kind: 'error', reason: 'incremental answer but we hold no copy' };
      if (r.deltas[0]!.from !== current.serial)
        return {
          kind: 'error',
          reason: `deltas start at serial ${r.deltas[0]!.from}, our copy is at ${current.serial}`,
        };
      const recs = new ZoneRecords(origin, current.records());
      for (const d of r.deltas) recs.apply(d);
      const all = [...recs.records()];
      const soas = all.filter((x) => x.type === TYPE.SOA);
      if (soas.length !== 1 || soaSerialOf(soas[0]!) !== r.serial)
        return {
          kind: 'error',
          reason: `deltas leave ${soas.length} SOA records in ${nameToText(origin)}`,
        };
      return { kind: 'copy', records: all, soa: soas[0]!, incremental: true };
    }
  }
}
