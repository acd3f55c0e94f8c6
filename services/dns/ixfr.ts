/**
 * IXFR (RFC 1995) as record sequences, both ways. Pure; message framing and TSIG are the
 * transfer code's.
 *
 * Out (§4): for a client at serial N, the current SOA, then per journal transaction the
 * old SOA and what it deleted, the new SOA and what it added, and the current SOA again.
 * A client already current gets the SOA alone (§4: "If incremental zone transfer is not
 * available, the entire zone is returned"; a serial we hold no chain from gets 'axfr').
 *
 * In (§4): a response whose second record is not an SOA is a full zone (AXFR form); one
 * SOA alone means "up to date"; otherwise the deltas between the SOA pairs.
 */
import type { JournalEntry } from './journal-store.js';
import { soaSerialOf, TYPE, type RR } from './rr.js';
import { serialGreater } from './update.js';

/**
 * The answer records of an IXFR from `clientSerial`; 'axfr' when the journal does not
 * reach back that far (or the client is ahead of us, which a journal cannot explain).
 */
export function ixfrAnswer(
  currentSoa: RR,
  journal: readonly JournalEntry[],
  clientSerial: number,
): RR[] | 'axfr' {
  const current = soaSerialOf(currentSoa);
  if (clientSerial === current) return [currentSoa];
  if (serialGreater(clientSerial, current)) return 'axfr';
  const start = journal.findIndex((e) => e.from === clientSerial);
  if (start < 0) return 'axfr';
  const out: RR[] = [currentSoa];
  let serial = clientSerial;
  for (const e of journal.slice(start)) {
    if (e.from !== serial) return 'axfr'; // a gap: the chain is broken
    const oldSoa = e.deletes.find((r) => r.type === TYPE.SOA);
    const newSoa = e.adds.find((r) => r.type === TYPE.SOA);
    if (!oldSoa || !newSoa) return 'axfr';
    out.push(oldSoa, ...e.deletes.filter((r) => r !== oldSoa));
    out.push(newSoa, ...e.adds.filter((r) => r !== newSoa));
    serial = e.to;
  }
  if (serial !== current) return 'axfr';
  out.push(currentSoa);
  return out;
}

export type IxfrResponse =
  | { readonly kind: 'uptodate'; readonly serial: number }
  | { readonly kind: 'axfr'; readonly records: readonly RR[] }
  | { readonly kind: 'ixfr'; readonly serial: number; readonly deltas: readonly JournalEntry[] }
  | { readonly kind: 'error'; readonly reason: string };

/** Read a complete IXFR (or AXFR-style) answer, all messages' answer records in order. */
export function readIxfrResponse(records: readonly RR[]): IxfrResponse {
  const first = records[0];
  if (!first || first.type !== TYPE.SOA)
    return { kind: 'error', reason: 'does not start with an SOA' };
  const serial = soaSerialOf(first);
  if (records.length === 1) return { kind: 'uptodate', serial };
  const last = records[records.length - 1]!;
  if (records[1]!.type !== TYPE.SOA) {
    // AXFR form (§4): SOA, the zone, SOA.
    if (last.type !== TYPE.SOA || soaSerialOf(last) !== serial)
      return { kind: 'error', reason: 'full transfer does not end with its SOA' };
    return { kind: 'axfr', records: records.slice(0, -1) };
  }
  if (last.type !== TYPE.SOA || soaSerialOf(last) !== serial)
    return { kind: 'error', reason: 'incremental transfer does not end with the new SOA' };
  const deltas: JournalEntry[] = [];
  let i = 1;
  const body = records.length - 1;
  while (i < body) {
    const oldSoa = records[i]!;
    if (oldSoa.type !== TYPE.SOA)
      return { kind: 'error', reason: 'delta does not start with an SOA' };
    const deletes: RR[] = [oldSoa];
    i++;
    while (i < body && records[i]!.type !== TYPE.SOA) deletes.push(records[i++]!);
    if (i >= body) return { kind: 'error', reason: 'delta without its added part' };
    const newSoa = records[i]!;
    const adds: RR[] = [newSoa];
    i++;
    while (i < body && records[i]!.type !== TYPE.SOA) adds.push(records[i++]!);
    deltas.push({ from: soaSerialOf(oldSoa), to: soaSerialOf(newSoa), deletes, adds });
  }
  for (let k = 1; k < deltas.length; k++)
    if (deltas[k]!.from !== deltas[k - 1]!.to)
      return { kind: 'error', reason: 'deltas do not chain' };
  if (deltas.at(-1)?.to !== serial)
    return { kind: 'error', reason: 'deltas do not reach the new SOA' };
  return { kind: 'ixfr', serial, deltas };
}
