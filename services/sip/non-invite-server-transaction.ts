/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8): Trying → Proceeding →
 * Completed → Terminated, with Timer J.
 *
 * "Once in the "Trying" state, any further request retransmissions are discarded."
 * "While in the "Proceeding" state, if a retransmission of the request is received, the
 * server transaction MUST pass [the last provisional response] to the transport layer."
 * "While in the "Completed" state, the server transaction MUST pass the final response to
 * the transport layer for retransmission whenever a retransmission of the request is
 * received." "When the server transaction enters the "Completed" state, it MUST set Timer
 * J to fire in 64*T1 seconds for unreliable transports, and zero seconds for reliable
 * transports." Time is given as `now` (ms); nothing here arms a real timer.
 *
 * Leaves out: transport-error reporting to the TU (§17.2.4; the adapter logs send errors).
 */
import { send, type Endpoint, type SendOutput } from './transport.js';
import type { SipTimers } from './sip-timers.js';

export type NistState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteServerTransaction {
  readonly kind = 'nist';
  state: NistState = 'trying';
  private last: Uint8Array | undefined;
  private timerJ: number | undefined;

  constructor(
    readonly key: string,
    readonly method: string,
    /** Where responses go (§18.2.2), fixed when the request arrived. */
    readonly dest: Endpoint,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
  ) {}

  /** Bytes this transaction keeps beyond its fixed overhead (transaction-layer.ts budget). */
  get retainedBytes(): number {
    return this.key.length + this.method.length + (this.last?.length ?? 0);
  }

  /** A retransmission of the request arrived. */
  receiveRequest(): SendOutput[] {
    if (this.state === 'trying' || this.state === 'terminated' || !this.last) return [];
    return [send(this.dest, this.last)];
  }

  /** The TU sends a response (status is its code, data its bytes). */
  respond(status: number, data: Uint8Array, now: number): SendOutput[] {
    if (this.state === 'completed' || this.state === 'terminated') return [];
    this.last = data;
    if (status >= 200) {
      this.state = 'completed';
      this.timerJ = now + (this.reliable ? 0 : 64 * this.timers.t1);
    } else {
      this.state = 'proceeding';
    }
    return [send(this.dest, data)];
  }

  nextTimeout(): number | undefined {
    return this.state === 'completed' ? this.timerJ : undefined;
  }

  handleTimeout(now: number): SendOutput[] {
    // "If Timer J fires while in the "Completed" state, the server transaction MUST
    // transition to the "Terminated" state."
    if (this.state === 'completed' && this.timerJ !== undefined && now >= this.timerJ)
      this.state = 'terminated';
    return [];
  }
}
