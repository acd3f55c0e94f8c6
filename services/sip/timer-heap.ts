/**
 * A binary min-heap of (deadline, item) for the cores' timers: one heap per core, so
 * `nextTimeout()` is O(1) and the adapter arms a single timer (DESIGN.md rule 1). Entries
 * are never removed in place; the owner checks on pop whether the entry is still current
 * (lazy deletion), which keeps rescheduling O(log n).
 */
export class TimerHeap<T> {
  private readonly at: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.at.length;
  }

  push(at: number, item: T): void {
    this.at.push(at);
    this.items.push(item);
    let i = this.at.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.at[p]! <= at) break;
      this.swap(i, p);
      i = p;
    }
  }

  peekAt(): number | undefined {
    return this.at[0];
  }

  /** Remove and return the earliest entry if its deadline is <= now. */
  popDue(now: number): { at: number; item: T } | undefined {
    const first = this.at[0];
    if (first === undefined || first > now) return undefined;
    const item = this.items[0]!;
    const lastAt = this.at.pop()!;
    const lastItem = this.items.pop()!;
    if (this.at.length > 0) {
      this.at[0] = lastAt;
      this.items[0] = lastItem;
      let i = 0;
      const n = this.at.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.at[l]! < this.at[m]!) m = l;
        if (r < n && this.at[r]! < this.at[m]!) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return { at: first, item };
  }

  private swap(a: number, b: number): void {
    const t = this.at[a]!;
    this.at[a] = this.at[b]!;
    this.at[b] = t;
    const u = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = u;
  }
}
