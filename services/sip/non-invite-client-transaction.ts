/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6): Trying → Proceeding →
 * Completed → Terminated, with Timers E, F and K. Used for the OPTIONS qualify requests.
 *
 * "When leaving the "Trying" state ... the client transaction MUST set timer F to fire in
 * 64*T1 seconds. ... If an unreliable transport is in use, the client transaction MUST set
 * timer E to fire in T1 seconds." "If timer E fires while still in this state, the timer
 * is reset, but this time with a value of MIN(2*T1, T2)." "If Timer E fires while in the
 * "Proceeding" state, the request MUST be passed to the transport layer for
 * retransmission, and Timer E MUST be reset with a value of T2 seconds." "If timer F fires
 * while in the "Trying" state [or "Proceeding"], the client transaction SHOULD inform the
 * TU about the timeout, and then it SHOULD enter the "Terminated" state." "Once the
 * client transaction enters the "Completed" state, it MUST set Timer K to fire in T4
 * seconds for unreliable transports, and zero seconds for reliable transports."
 *
 * Leaves out: the INVITE client transaction (Timers A, B, D) of §17.1.1, which comes with
 * calls (B2BUA) in the next stage.
 */
import { send, type Endpoint, type SendOutput } from './transport.js';
import type { SipTimers } from './sip-timers.js';

export type NictState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteClientTransaction {
  readonly kind = 'nict';
  state: NictState = 'trying';
  /** Set when Timer F fired (the TU is told once). */
  timedOut = false;
  private timerE: number | undefined;
  private intervalE: number;
  private readonly timerF: number;
  private timerK: number | undefined;

  constructor(
    readonly key: string,
    readonly dest: Endpoint,
    private readonly request: Uint8Array,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
    now: number,
  ) {
    this.intervalE = timers.t1;
    if (!reliable) this.timerE = now + this.intervalE;
    this.timerF = now + 64 * timers.t1;
  }

  /** Bytes this transaction keeps beyond its fixed overhead (transaction-layer.ts budget). */
  get retainedBytes(): number {
    return this.key.length + this.request.length;
  }

  /** The first transmission. */
  start(): SendOutput[] {
    return [send(this.dest, this.request)];
  }

  /** A response matched this transaction; returns whether to pass it to the TU. */
  receiveResponse(status: number, now: number): boolean {
    if (this.state === 'trying' || this.state === 'proceeding') {
      if (status < 200) {
        this.state = 'proceeding';
        return true;
      }
      this.state = 'completed';
      this.timerE = undefined;
      this.timerK = now + (this.reliable ? 0 : this.timers.t4);
      return true;
    }
    return false; // retransmitted final in Completed: absorbed
  }

  nextTimeout(): number | undefined {
    if (this.state === 'trying' || this.state === 'proceeding') {
      return this.timerE !== undefined ? Math.min(this.timerE, this.timerF) : this.timerF;
    }
    if (this.state === 'completed') return this.timerK;
    return undefined;
  }

  handleTimeout(now: number): SendOutput[] {
    if (this.state === 'trying' || this.state === 'proceeding') {
      if (now >= this.timerF) {
        this.state = 'terminated';
        this.timedOut = true;
        return [];
      }
      if (this.timerE !== undefined && now >= this.timerE) {
        this.intervalE =
          this.state === 'proceeding'
            ? this.timers.t2
            : Math.min(2 * this.intervalE, this.timers.t2);
        this.timerE = now + this.intervalE;
        return [send(this.dest, this.request)];
      }
    } else if (this.state === 'completed' && this.timerK !== undefined && now >= this.timerK) {
      // "If Timer K fires while in this state, the client transaction MUST transition to
      // the "Terminated" state."
      this.state = 'terminated';
    }
    return [];
  }
}
