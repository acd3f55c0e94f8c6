/**
 * Qualify: an OPTIONS keepalive to each registered contact (RFC 3261 §11 "Querying for
 * Capabilities") every `intervalMs`, marking it reachable when any final response comes
 * back and unreachable when the client transaction times out (Timer F, §17.1.2.2).
 *
 * Precedent: Asterisk chan_sip `qualify=yes` with `qualifyfreq=60` (the reference
 * deployment), which likewise sends OPTIONS to each peer and reports "Reachable" /
 * "Unreachable". The probe goes to where the REGISTER came from (RFC 3581 received/rport),
 * not to the Contact host, so phones behind NAT are reached, as Asterisk's nat=force_rport
 * does. The first probe is one interval after the binding appears.
 *
 * Leaves out: a round-trip-time threshold (Asterisk's qualify=<ms>), RFC 5626 flow
 * keepalives.
 */
import { Buffer } from 'node:buffer';
import type { Rng } from '../../src/clock.js';
import { encode } from './message.js';
import { MAGIC_COOKIE } from './via.js';
import { TimerHeap } from './timer-heap.js';
import type { Binding } from './store.js';

export type QualifyEvent = {
  readonly type: 'reachable' | 'unreachable';
  readonly binding: Binding;
};

interface Entry {
  binding: Binding;
  nextAt: number;
  reachable: boolean | undefined;
  inFlight: boolean;
}

export function bindingId(b: Pick<Binding, 'aor' | 'contactKey'>): string {
  return `${b.aor}\u0000${b.contactKey}`;
}

export class Qualify {
  private readonly entries = new Map<string, Entry>();
  private readonly heap = new TimerHeap<Entry>();

  constructor(readonly intervalMs: number) {}

  get tracked(): number {
    return this.entries.size;
  }

  get reachableCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.reachable === true) n++;
    return n;
  }

  /** A binding appeared or was refreshed. */
  track(b: Binding, now: number): void {
    const id = bindingId(b);
    const e = this.entries.get(id);
    if (e) {
      e.binding = b;
      return;
    }
    const entry: Entry = {
      binding: b,
      nextAt: now + this.intervalMs,
      reachable: undefined,
      inFlight: false,
    };
    this.entries.set(id, entry);
    this.heap.push(entry.nextAt, entry);
  }

  untrack(b: Binding): void {
    this.entries.delete(bindingId(b));
  }

  nextTimeout(): number | undefined {
    return this.heap.peekAt();
  }

  /** Bindings to probe now; each is rescheduled one interval later. */
  due(now: number): Binding[] {
    const out: Binding[] = [];
    for (;;) {
      const p = this.heap.popDue(now);
      if (!p) break;
      const e = p.item;
      if (this.entries.get(bindingId(e.binding)) !== e || e.nextAt !== p.at) continue;
      if (!e.inFlight) {
        e.inFlight = true;
        out.push(e.binding);
      }
      e.nextAt = now + this.intervalMs;
      this.heap.push(e.nextAt, e);
    }
    return out;
  }

  /** The probe of binding `id` ended; returns an event when the state changed. */
  report(id: string, reachable: boolean): QualifyEvent | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    e.inFlight = false;
    if (e.reachable === reachable) return undefined;
    e.reachable = reachable;
    return { type: reachable ? 'reachable' : 'unreachable', binding: e.binding };
  }
}

export interface LocalAddress {
  readonly host: string;
  readonly port: number;
}

function hex(rng: Rng, n: number): string {
  return Buffer.from(rng.bytes(n)).toString('hex');
}

/** The OPTIONS request for a binding; returns its bytes and top-Via branch. */
export function buildOptions(
  b: Binding,
  local: LocalAddress,
  rng: Rng,
  userAgent: string,
): { data: Uint8Array; branch: string } {
  const branch = MAGIC_COOKIE + hex(rng, 8);
  const transport = b.transport.toUpperCase();
  const data = encode(`OPTIONS ${b.contact} SIP/2.0`, [
    ['Via', `SIP/2.0/${transport} ${local.host}:${local.port};branch=${branch};rport`],
    ['Max-Forwards', '70'],
    ['From', `<sip:qualify@${local.host}>;tag=${hex(rng, 6)}`],
    ['To', `<${b.contact}>`],
    ['Call-ID', `${hex(rng, 12)}@${local.host}`],
    ['CSeq', '1 OPTIONS'],
    ['User-Agent', userAgent],
  ]);
  return { data, branch };
}
