/**
 * Group commit: the changes that protocol cores return during one event-loop turn are
 * written in one durable transaction at the end of the turn, and only then is what they
 * promised sent (DESIGN.md rule 4: an ACKed lease, a 200 OK'd registration is on disk
 * before the reply). One fsync per turn instead of one per request, as PostgreSQL's
 * commit_delay and Kea's lease-file batching trade latency for throughput.
 *
 * Cores stay pure: they return changes and a token for the reply they hold; the adapter
 * calls `add(changes, token)`. After `write()` returns, `committed(tokens)` sends the
 * replies in arrival order; if it throws, `failed(tokens)` lets the core undo its memory
 * (nothing was promised, so nothing is sent that claims otherwise).
 */

export interface GroupCommitPort<C, T> {
  /** Write every change of the batch in one durable transaction; throw if it did not commit. */
  write(changes: readonly C[]): void;
  /** The batch is on disk: send what its tokens promised, in order. */
  committed(tokens: readonly T[]): void;
  /** The batch did not commit: undo, in reverse order, what the cores did in memory. */
  failed(tokens: readonly T[], changes: readonly C[], err: unknown): void;
}

export class GroupCommit<C, T> {
  private changes: C[] = [];
  private tokens: T[] = [];
  private scheduled = false;

  constructor(
    private readonly port: GroupCommitPort<C, T>,
    private readonly schedule: (fn: () => void) => void = setImmediate,
  ) {}

  /** True while changes wait for the end of the turn. */
  get pending(): boolean {
    return this.tokens.length > 0 || this.changes.length > 0;
  }

  /** Queue one request's changes and the token of the reply that waits for them. */
  add(changes: readonly C[], token: T): void {
    for (const c of changes) this.changes.push(c);
    this.tokens.push(token);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Commit what is queued now (end of turn, or at stop); safe to call when empty. */
  flush(): void {
    this.scheduled = false;
    if (!this.pending) return;
    const changes = this.changes;
    const tokens = this.tokens;
    this.changes = [];
    this.tokens = [];
    try {
      if (changes.length > 0) this.port.write(changes);
    } catch (err) {
      this.port.failed(tokens, changes, err);
      return;
    }
    this.port.committed(tokens);
  }
}
