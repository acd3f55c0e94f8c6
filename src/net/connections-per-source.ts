/**
 * Open connections counted per client address, so one host cannot take every slot of a
 * TCP listener (slowloris, one-byte-a-second DNS over TCP). The precedent is nginx's
 * `limit_conn` keyed by `$binary_remote_addr` and vsftpd's `max_per_ip`: a cap per source
 * address below the listener's global cap. IPv4-mapped IPv6 sources (::ffff:a.b.c.d, what a
 * dual-stack socket reports) count as their IPv4 address. Pure bookkeeping, no sockets.
 */
export function sourceKey(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class ConnectionsPerSource {
  private readonly counts = new Map<string, number>();

  /** `max` connections per source; 0 means no per-source cap. */
  constructor(private readonly max: number) {}

  /** Take a slot for `address`; false (and nothing taken) when it already holds `max`. */
  acquire(address: string | undefined): boolean {
    const key = sourceKey(address);
    const n = this.counts.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  /** Give back a slot taken by acquire (once per successful acquire). */
  release(address: string | undefined): void {
    const key = sourceKey(address);
    const n = this.counts.get(key) ?? 0;
    if (n <= 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
  }

  count(address: string | undefined): number {
    return this.counts.get(sourceKey(address)) ?? 0;
  }

  /** Sources holding at least one connection (bounded by open connections). */
  get sources(): number {
    return this.counts.size;
  }
}
