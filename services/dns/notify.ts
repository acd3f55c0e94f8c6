/**
 * NOTIFY (RFC 1996) from a primary to its secondaries after a zone changes: the message
 * (§3.3-§3.7: opcode NOTIFY, AA, the zone's SOA as the question and, as BIND sends it, in
 * the answer section) and the resend schedule (§3.6: "periodically resend NOTIFY until the
 * slave responds or a configurable retry count is reached"; BIND: 5 tries, doubling from
 * 1 s). Pure: ids, targets and the clock come in; datagrams to send go out.
 */
import { FLAG, MessageWriter, OPCODE, type Question } from './message.js';
import { CLASS, TYPE, type RR } from './rr.js';
import { nameKey } from './name.js';

export function notifyMessage(id: number, origin: Uint8Array, soa?: RR): Uint8Array {
  const w = new MessageWriter(512);
  w.addQuestion({ qname: origin, qtype: TYPE.SOA, qclass: CLASS.IN });
  if (soa) w.addRR(1, soa);
  return w.finish(id, (OPCODE.NOTIFY << 11) | FLAG.AA);
}

export interface NotifyTarget {
  readonly address: string;
  readonly port: number;
}

interface Pending {
  readonly target: NotifyTarget;
  readonly zone: string;
  readonly id: number;
  readonly bytes: Uint8Array;
  tries: number;
  next: number;
}

export interface NotifySend {
  readonly target: NotifyTarget;
  readonly bytes: Uint8Array;
}

export class NotifySchedule {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly maxTries = 5,
    private readonly firstRetryMs = 1000,
  ) {}

  private static key(t: NotifyTarget, zone: string): string {
    return `${t.address}|${t.port}|${zone}`;
  }

  /**
   * A zone changed: one NOTIFY per target now (a newer change of the same zone replaces an
   * unanswered older one for that target: the secondary only needs to hear the latest; a
   * change of another zone does not: each zone's NOTIFY is resent until answered).
   */
  changed(
    origin: Uint8Array,
    soa: RR,
    targets: readonly NotifyTarget[],
    ids: () => number,
    now: number,
  ): NotifySend[] {
    const out: NotifySend[] = [];
    const zone = nameKey(origin);
    for (const target of targets) {
      const id = ids();
      const bytes = notifyMessage(id, origin, soa);
      this.pending.set(NotifySchedule.key(target, zone), {
        target,
        zone,
        id,
        bytes,
        tries: 1,
        next: now + this.firstRetryMs,
      });
      out.push({ target, bytes });
    }
    return out;
  }

  /**
   * A response from `from` with `id` for `origin`: that zone's NOTIFY to that target is done
   * (§3.7: any rcode ends it). Without the origin (an answer with no question), the ID
   * alone picks it.
   */
  answered(from: NotifyTarget, id: number, origin?: Uint8Array): boolean {
    const zone = origin ? nameKey(origin) : undefined;
    for (const [k, p] of this.pending) {
      if (p.id !== id || p.target.address !== from.address || p.target.port !== from.port) continue;
      if (zone !== undefined && p.zone !== zone) continue;
      this.pending.delete(k);
      return true;
    }
    return false;
  }

  nextTimeout(): number | undefined {
    let n: number | undefined;
    for (const p of this.pending.values()) n = n === undefined ? p.next : Math.min(n, p.next);
    return n;
  }

  /** Resends due now; targets out of tries are dropped and returned in `gaveUp`. */
  tick(now: number): { sends: NotifySend[]; gaveUp: NotifyTarget[] } {
    const sends: NotifySend[] = [];
    const gaveUp: NotifyTarget[] = [];
    for (const [k, p] of this.pending) {
      if (p.next > now) continue;
      if (p.tries >= this.maxTries) {
        this.pending.delete(k);
        gaveUp.push(p.target);
        continue;
      }
      p.tries++;
      p.next = now + this.firstRetryMs * 2 ** (p.tries - 1);
      sends.push({ target: p.target, bytes: p.bytes });
    }
    return { sends, gaveUp };
  }
}

/**
 * A secondary's answer to a NOTIFY (RFC 1996 §3.7, §4.7): the question echoed, QR and AA
 * set, opcode NOTIFY, with `rcode` (NOERROR when acted on; REFUSED from a stranger).
 */
export function notifyAnswer(id: number, question: Question, rcode: number): Uint8Array {
  const w = new MessageWriter(512);
  w.addQuestion(question);
  return w.finish(id, FLAG.QR | (OPCODE.NOTIFY << 11) | FLAG.AA | (rcode & 0xf));
}
