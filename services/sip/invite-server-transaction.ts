/**
 * INVITE server transaction (RFC 3261 §17.2.1, Figure 7): Proceeding → Completed →
 * Confirmed → Terminated, with Timers G, H and I.
 *
 * "If, while in the "Proceeding" state, the TU passes a response with status code from
 * 300 to 699 to the server transaction, the response MUST be passed to the transport
 * layer for transmission, and the state machine MUST enter the "Completed" state. For
 * unreliable transports, timer G is set to fire in T1 seconds, and is not set to fire for
 * reliable transports." "When the "Completed" state is entered, timer H MUST be set to fire
 * in 64*T1 seconds for all transports." On Timer G the response is retransmitted and G
 * reset "to fire at MIN(2*T1, T2)", doubling. "If an ACK is received while the server
 * transaction is in the "Completed" state, the server transaction MUST transition to the
 * "Confirmed" state." "Timer I is set to fire in T4 seconds for unreliable transports,
 * and zero seconds for reliable transports." "If timer H fires while in the "Completed"
 * state, it implies that the ACK was never received. In this case, the server transaction
 * MUST transition to the "Terminated" state, and MUST indicate to the TU that a
 * transaction failure has occurred."
 *
 * RFC 6026 §7.1: a 2xx moves the transaction to "Accepted" with Timer L = 64*T1; "while
 * in the "Accepted" state, any retransmissions of the INVITE received MUST be absorbed"
 * (the TU retransmits the 2xx itself, RFC 3261 §13.3.1.4); when L fires it terminates.
 */
import { send, type Endpoint, type SendOutput } from './transport.js';
import type { SipTimers } from './sip-timers.js';

export type IstState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export class InviteServerTransaction {
  readonly kind = 'ist';
  readonly method = 'INVITE';
  state: IstState = 'proceeding';
  /** Set when Timer H fired without an ACK. */
  timedOut = false;
  private last: Uint8Array | undefined;
  private timerG: number | undefined;
  private intervalG = 0;
  private timerH: number | undefined;
  private timerI: number | undefined;
  private timerL: number | undefined;

  constructor(
    readonly key: string,
    readonly dest: Endpoint,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
  ) {}

  /** Bytes this transaction keeps beyond its fixed overhead (transaction-layer.ts budget). */
  get retainedBytes(): number {
    return this.key.length + (this.last?.length ?? 0);
  }

  /** A retransmitted INVITE: "the most recent provisional response ... MUST be passed". */
  receiveRequest(): SendOutput[] {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.last)
      return [send(this.dest, this.last)];
    return [];
  }

  /** The ACK for a non-2xx final (§17.2.1); absorbed, never passed to the TU. */
  receiveAck(now: number): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.timerG = undefined;
    this.timerH = undefined;
    this.timerI = now + (this.reliable ? 0 : this.timers.t4);
  }

  /**
   * `once`: a 300-699 is sent without Timer G even over UDP; it is repeated only when a
   * retransmitted INVITE arrives (receiveRequest), never on a timer. For answers given
   * before any 1xx, where the UAC's own Timer A retransmissions recover a lost response
   * (§17.1.1.2), so a spoofed INVITE cannot make us send 11 copies (sip-core.ts).
   */
  respond(status: number, data: Uint8Array, now: number, once = false): SendOutput[] {
    if (this.state !== 'proceeding') return [];
    // After a 1xx the UAC has stopped Timer A, so only Timer G can recover a lost final.
    const timerG = !this.reliable && !(once && this.last === undefined);
    this.last = data;
    if (status >= 300) {
      this.state = 'completed';
      if (timerG) {
        this.intervalG = this.timers.t1;
        this.timerG = now + this.intervalG;
      }
      this.timerH = now + 64 * this.timers.t1;
    } else if (status >= 200) {
      // "If, while in the "Proceeding" state, the TU passes a 2xx response to the server
      // transaction, the server transaction MUST pass this response to the transport
      // layer for transmission ... The server transaction MUST then transition to the
      // "Terminated" state." — amended by RFC 6026 §8.5: "Accepted", Timer L.
      this.state = 'accepted';
      this.timerL = now + 64 * this.timers.t1;
    }
    return [send(this.dest, data)];
  }

  nextTimeout(): number | undefined {
    if (this.state === 'completed') {
      if (this.timerG !== undefined && this.timerH !== undefined)
        return Math.min(this.timerG, this.timerH);
      return this.timerH;
    }
    if (this.state === 'confirmed') return this.timerI;
    if (this.state === 'accepted') return this.timerL;
    return undefined;
  }

  handleTimeout(now: number): SendOutput[] {
    const out: SendOutput[] = [];
    if (this.state === 'completed') {
      if (this.timerH !== undefined && now >= this.timerH) {
        this.state = 'terminated';
        this.timedOut = true;
        return out;
      }
      if (this.timerG !== undefined && now >= this.timerG && this.last) {
        out.push(send(this.dest, this.last));
        this.intervalG = Math.min(2 * this.intervalG, this.timers.t2);
        this.timerG = now + this.intervalG;
      }
    } else if (this.state === 'confirmed' && this.timerI !== undefined && now >= this.timerI) {
      // "Once timer I fires, the server MUST transition to the "Terminated" state."
      this.state = 'terminated';
    } else if (this.state === 'accepted' && this.timerL !== undefined && now >= this.timerL) {
      this.state = 'terminated';
    }
    return out;
  }
}
