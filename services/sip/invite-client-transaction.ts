/**
 * INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as amended by RFC 6026 §7.2):
 * Calling → Proceeding → Completed | Accepted → Terminated, with Timers A, B, D and M.
 * Used by the B2BUA for the INVITEs it sends to the callee's contacts and for re-INVITEs.
 *
 * "If an unreliable transport is being used, the client transaction MUST start timer A
 * with a value of T1." "When timer A fires, the client transaction MUST retransmit the
 * request by passing it to the transport layer, and MUST reset the timer with a value of
 * 2*T1." (no T2 cap for INVITE). "If the client transaction is still in the "Calling"
 * state when timer B fires, the client transaction SHOULD inform the TU that a timeout
 * has occurred." Timer B is 64*T1; it stops at the first provisional response ("If the
 * client transaction receives a provisional response while in the "Calling" state, it
 * transitions to the "Proceeding" state ... it SHOULD NOT retransmit the request any
 * longer").
 * "When in either the "Calling" or "Proceeding" states, reception of a response with
 * status code from 300-699 MUST cause the client transaction to transition to
 * "Completed". The client transaction MUST pass the received response up to the TU, and
 * the client transaction MUST generate an ACK request, even if the transport is reliable"
 * (§17.1.1.3 builds it: same Request-URI, Call-ID, From, top Via and CSeq number as the
 * INVITE, To from the response). "Any retransmissions of the final response that are
 * received while in the "Completed" state MUST cause the ACK to be re-passed to the
 * transport layer for retransmission, but the newly received response MUST NOT be passed
 * up to the TU." Timer D: "at least 32 seconds for unreliable transports, and ... zero
 * seconds for reliable transports".
 * RFC 6026 §7.2: on a 2xx "the client transaction MUST transition to the "Accepted"
 * state, and Timer M MUST be set to fire in 64*T1"; "any 2xx responses that match this
 * client transaction ... MUST be passed up to the TU" (the TU acknowledges each 2xx
 * itself, §13.2.2.4); when Timer M fires the transaction terminates.
 *
 * Sans-I/O: outputs are SendOutputs; the layer schedules nextTimeout().
 */
import { send, type Endpoint, type SendOutput } from './transport.js';
import type { SipTimers } from './sip-timers.js';

export type IctState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/** Timer D for unreliable transports: "at least 32 seconds" (§17.1.1.2). */
export const TIMER_D_MS = 32_000;

export class InviteClientTransaction {
  readonly kind = 'ict';
  readonly method = 'INVITE';
  state: IctState = 'calling';
  /** Set when Timer B fired (the TU is told once). */
  timedOut = false;
  private timerA: number | undefined;
  private intervalA: number;
  private timerB: number;
  private timerD: number | undefined;
  private timerM: number | undefined;
  private ack: Uint8Array | undefined;

  constructor(
    readonly key: string,
    readonly dest: Endpoint,
    private readonly request: Uint8Array,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
    now: number,
    /** Builds the ACK for a non-2xx final response (§17.1.1.3). */
    private readonly buildAck: (status: number, toHeader: string) => Uint8Array,
  ) {
    this.intervalA = timers.t1;
    if (!reliable) this.timerA = now + this.intervalA;
    this.timerB = now + 64 * timers.t1;
  }

  /** Bytes this transaction keeps beyond its fixed overhead (transaction-layer.ts budget). */
  get retainedBytes(): number {
    return this.key.length + this.request.length + (this.ack?.length ?? 0);
  }

  start(): SendOutput[] {
    return [send(this.dest, this.request)];
  }

  /**
   * A response matched this transaction. Returns whether the TU sees it and what to send
   * (the ACK of a non-2xx final, first or re-sent).
   */
  receiveResponse(
    status: number,
    toHeader: string,
    now: number,
  ): { deliver: boolean; sends: SendOutput[] } {
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          this.state = 'proceeding';
          this.timerA = undefined;
          return { deliver: true, sends: [] };
        }
        this.timerA = undefined;
        if (status < 300) {
          this.state = 'accepted';
          this.timerM = now + 64 * this.timers.t1;
          return { deliver: true, sends: [] };
        }
        this.state = 'completed';
        this.ack = this.buildAck(status, toHeader);
        this.timerD = now + (this.reliable ? 0 : TIMER_D_MS);
        return { deliver: true, sends: [send(this.dest, this.ack)] };
      case 'completed':
        // Retransmitted final: ACK again, do not bother the TU.
        return {
          deliver: false,
          sends: this.ack && status >= 300 ? [send(this.dest, this.ack)] : [],
        };
      case 'accepted':
        return { deliver: status >= 200 && status < 300, sends: [] };
      default:
        return { deliver: false, sends: [] };
    }
  }

  nextTimeout(): number | undefined {
    switch (this.state) {
      case 'calling':
        return this.timerA !== undefined ? Math.min(this.timerA, this.timerB) : this.timerB;
      case 'proceeding':
        return undefined; // no timer: the TU bounds ringing (CANCEL after its ring timeout)
      case 'completed':
        return this.timerD;
      case 'accepted':
        return this.timerM;
      default:
        return undefined;
    }
  }

  handleTimeout(now: number): SendOutput[] {
    if (this.state === 'calling') {
      if (now >= this.timerB) {
        this.state = 'terminated';
        this.timedOut = true;
        return [];
      }
      if (this.timerA !== undefined && now >= this.timerA) {
        this.intervalA *= 2;
        this.timerA = now + this.intervalA;
        return [send(this.dest, this.request)];
      }
    } else if (this.state === 'completed' && this.timerD !== undefined && now >= this.timerD) {
      // "If timer D fires while the client transaction is in the "Completed" state, the
      // client transaction MUST move to the "Terminated" state."
      this.state = 'terminated';
    } else if (this.state === 'accepted' && this.timerM !== undefined && now >= this.timerM) {
      // RFC 6026: "If Timer M fires and the state machine is in the "Accepted" state, the
      // machine MUST transition to the "Terminated" state."
      this.state = 'terminated';
    }
    return [];
  }
}
