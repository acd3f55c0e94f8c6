/**
 * The transaction layer (RFC 3261 §17): keeps server and client transactions, matches
 * incoming messages to them, and drives their timers from one heap.
 *
 * Server matching, §17.2.3: "the branch parameter in the request is equal to the one in
 * the top Via header field of the request that created the transaction, the sent-by value
 * in the top Via of the request is equal to the one in the request that created the
 * transaction, and the method of the request matches the one that created the
 * transaction, except for ACK, where the method of the request that created the
 * transaction is INVITE." Without the "z9hG4bK" cookie (RFC 2543 peers, RFC 4475
 * inv2543) the key is built from the Request-URI, From tag, Call-ID, CSeq number and the
 * top Via, as §17.2.3's backwards-compatible rule lists (To tag left out so the ACK,
 * which carries our tag, still matches).
 * Client matching, §17.1.3: "If the response has the same value of the branch parameter
 * in the top Via header field as the branch parameter in the top Via header field of the
 * request that created the transaction" and "the method parameter in the CSeq header field
 * matches the method of the request that created the transaction".
 *
 * Terminated transactions are removed at their next timer pop. Limits: the bytes all
 * transactions keep (`maxBytes`, an estimate: TX_OVERHEAD_BYTES each plus the messages
 * they hold for retransmission), and at most `maxTransactions` live server transactions.
 * Kamailio's tm has no count cap but lives in the shm pool (`-m`, 64 MB by default), and a
 * full pool makes it refuse new transactions; here `full` makes the core answer a new
 * request 503 with Retry-After (RFC 3261 §21.5.4: "The server is temporarily unable to
 * process the request due to a temporary overloading").
 */
import { paramValue } from './name-addr.js';
import { MAGIC_COOKIE, type Via } from './via.js';
import type { SipRequest, SipResponse } from './message.js';
import { TimerHeap } from './timer-heap.js';
import { NonInviteServerTransaction } from './non-invite-server-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { NonInviteClientTransaction } from './non-invite-client-transaction.js';
import { InviteClientTransaction } from './invite-client-transaction.js';
import { getHeader } from './message.js';
import { isReliable, type Endpoint, type SendOutput } from './transport.js';
import type { SipTimers } from './sip-timers.js';

export type ServerTransaction = NonInviteServerTransaction | InviteServerTransaction;
export type ClientTransaction = NonInviteClientTransaction | InviteClientTransaction;
type AnyTransaction = ServerTransaction | ClientTransaction;

/**
 * Heap a transaction takes besides the bytes it holds: the object, its key in the map, its
 * timer-heap entry and the Uint8Array header. Measured on Node 20 (x64): 100,000 INVITE
 * server transactions holding a 450-byte 407 grew the heap by ~956 bytes each, the array
 * buffers by 450.
 */
export const TX_OVERHEAD_BYTES = 1024;
/** Default `maxBytes`: Kamailio's default shm pool size. */
export const DEFAULT_MAX_TRANSACTION_BYTES = 64 * 1024 * 1024;

export interface TimeoutReport {
  readonly sends: SendOutput[];
  /** Client transactions whose Timer F (or B) fired (the TU learns of each once). */
  readonly clientTimeouts: ClientTransaction[];
  /** INVITE server transactions whose Timer H fired (no ACK). */
  readonly serverTimeouts: InviteServerTransaction[];
}

function sentBy(v: Via): string {
  return `${v.host.toLowerCase()}:${v.port ?? ''}`;
}

/** The server-transaction key of a request (§17.2.3). */
export function serverKey(req: SipRequest): string {
  const top = req.via[0]!;
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const branch = top.branch;
  if (branch !== undefined && branch.startsWith(MAGIC_COOKIE))
    return `${branch}|${sentBy(top)}|${method}`;
  const fromTag = paramValue(req.from.params, 'tag') ?? '';
  return `2543|${req.uri}|${fromTag}|${req.callId}|${req.cseq.seq}|${sentBy(top)}|${branch ?? ''}|${method}`;
}

export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly heap = new TimerHeap<AnyTransaction>();
  private readonly scheduled = new WeakMap<AnyTransaction, number>();
  /** What each live transaction was last charged against `retained`. */
  private readonly charged = new Map<AnyTransaction, number>();
  private retained = 0;

  constructor(
    private readonly timers: SipTimers,
    readonly maxTransactions = 100_000,
    readonly maxBytes = DEFAULT_MAX_TRANSACTION_BYTES,
  ) {}

  get serverCount(): number {
    return this.servers.size;
  }

  /** Estimated bytes held by all live transactions. */
  get retainedBytes(): number {
    return this.retained;
  }

  /** Why a new server transaction may not be created now, if it may not. */
  get full(): 'bytes' | 'count' | undefined {
    if (this.retained >= this.maxBytes) return 'bytes';
    if (this.servers.size >= this.maxTransactions) return 'count';
    return undefined;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  findServer(req: SipRequest): ServerTransaction | undefined {
    return this.servers.get(serverKey(req));
  }

  /** The INVITE transaction a CANCEL refers to (§9.2: same key, method INVITE). */
  findInviteFor(cancel: SipRequest): InviteServerTransaction | undefined {
    const key = serverKey({ ...cancel, method: 'INVITE' });
    const tx = this.servers.get(key);
    return tx?.kind === 'ist' ? tx : undefined;
  }

  createServer(req: SipRequest, dest: Endpoint): ServerTransaction {
    const key = serverKey(req);
    const reliable = isReliable(dest.transport);
    const tx =
      req.method === 'INVITE'
        ? new InviteServerTransaction(key, dest, reliable, this.timers)
        : new NonInviteServerTransaction(key, req.method, dest, reliable, this.timers);
    const old = this.servers.get(key);
    if (old) this.remove(old); // not expected (the caller looked first); keeps the sum right
    this.servers.set(key, tx);
    this.charge(tx);
    return tx;
  }

  /**
   * Send a response through a server transaction and reschedule its timers. `once`: an
   * INVITE's final response goes without Timer G (invite-server-transaction.ts).
   */
  respond(
    tx: ServerTransaction,
    status: number,
    data: Uint8Array,
    now: number,
    once = false,
  ): SendOutput[] {
    const out =
      tx.kind === 'ist' ? tx.respond(status, data, now, once) : tx.respond(status, data, now);
    this.reschedule(tx);
    return out;
  }

  /** Forget a server transaction whose request was answered statelessly (sip-core.ts). */
  discard(tx: ServerTransaction): void {
    this.remove(tx);
    this.scheduled.delete(tx);
  }

  ack(tx: InviteServerTransaction, now: number): void {
    tx.receiveAck(now);
    this.reschedule(tx);
  }

  /** Start a non-INVITE client transaction; `branch` is the top Via branch of `data`. */
  sendRequest(
    branch: string,
    method: string,
    data: Uint8Array,
    dest: Endpoint,
    now: number,
  ): { tx: NonInviteClientTransaction; sends: SendOutput[] } {
    const key = `${branch}|${method}`;
    const tx = new NonInviteClientTransaction(
      key,
      dest,
      data,
      isReliable(dest.transport),
      this.timers,
      now,
    );
    return this.startClient(key, tx);
  }

  /** Start an INVITE client transaction (§17.1.1); `buildAck` makes the ACK for a non-2xx. */
  sendInvite(
    branch: string,
    data: Uint8Array,
    dest: Endpoint,
    now: number,
    buildAck: (status: number, toHeader: string) => Uint8Array,
  ): { tx: InviteClientTransaction; sends: SendOutput[] } {
    const key = `${branch}|INVITE`;
    const tx = new InviteClientTransaction(
      key,
      dest,
      data,
      isReliable(dest.transport),
      this.timers,
      now,
      buildAck,
    );
    return this.startClient(key, tx);
  }

  /** Track a new client transaction, arm its timer, and send its request. */
  private startClient<T extends ClientTransaction>(
    key: string,
    tx: T,
  ): { tx: T; sends: SendOutput[] } {
    this.clients.set(key, tx);
    this.reschedule(tx);
    return { tx, sends: tx.start() };
  }

  /**
   * Match a response to a client transaction; `deliver` says whether the TU sees it,
   * `sends` holds the ACK an INVITE client transaction sends for a non-2xx final.
   */
  receiveResponse(
    res: SipResponse,
    now: number,
  ): { tx: ClientTransaction; deliver: boolean; sends: SendOutput[] } | undefined {
    const branch = res.via[0]?.branch;
    if (branch === undefined) return undefined;
    const tx = this.clients.get(`${branch}|${res.cseq.method}`);
    if (!tx) return undefined;
    let deliver: boolean;
    let sends: SendOutput[] = [];
    if (tx.kind === 'ict')
      ({ deliver, sends } = tx.receiveResponse(res.status, getHeader(res, 'to') ?? '', now));
    else deliver = tx.receiveResponse(res.status, now);
    this.reschedule(tx);
    return { tx, deliver, sends };
  }

  nextTimeout(): number | undefined {
    return this.heap.peekAt();
  }

  handleTimeout(now: number): TimeoutReport {
    const report: TimeoutReport = { sends: [], clientTimeouts: [], serverTimeouts: [] };
    for (;;) {
      const e = this.heap.popDue(now);
      if (!e) break;
      const tx = e.item;
      if (this.scheduled.get(tx) !== e.at) continue; // superseded entry
      this.scheduled.delete(tx);
      report.sends.push(...tx.handleTimeout(now));
      if (tx.state === 'terminated') {
        this.remove(tx);
        if ((tx.kind === 'nict' || tx.kind === 'ict') && tx.timedOut)
          report.clientTimeouts.push(tx);
        if (tx.kind === 'ist' && tx.timedOut) report.serverTimeouts.push(tx);
      } else {
        this.reschedule(tx);
      }
    }
    return report;
  }

  /** Bring `retained` in line with what `tx` holds now. */
  private charge(tx: AnyTransaction): void {
    const bytes = TX_OVERHEAD_BYTES + tx.retainedBytes;
    this.retained += bytes - (this.charged.get(tx) ?? 0);
    this.charged.set(tx, bytes);
  }

  private remove(tx: AnyTransaction): void {
    const c = this.charged.get(tx);
    if (c !== undefined) {
      this.retained -= c;
      this.charged.delete(tx);
    }
    if (tx.kind === 'nict' || tx.kind === 'ict') {
      if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
    } else if (this.servers.get(tx.key) === tx) {
      this.servers.delete(tx.key);
    }
  }

  private reschedule(tx: AnyTransaction): void {
    if (tx.state === 'terminated') {
      // Terminated right away (a 2xx to INVITE): forget it now.
      this.remove(tx);
      this.scheduled.delete(tx);
      return;
    }
    this.charge(tx);
    const at = tx.nextTimeout();
    if (at === undefined) {
      this.scheduled.delete(tx);
      return;
    }
    if (this.scheduled.get(tx) === at) return;
    this.scheduled.set(tx, at);
    this.heap.push(at, tx);
  }
}
