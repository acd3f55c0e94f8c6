/**
 * Per-user storage accounting for quotas (issue 5: "per-user quota in bytes"; vsftpd has
 * none, the study describes ~70 KB per user). The bytes of regular files in a home are
 * counted once, at the user's first login, then kept up to date by the sessions: uploads
 * add as bytes arrive (so two sessions of one user share one allowance), deletes and
 * replaced files subtract. Folders and metadata count as 0 bytes.
 */
import { diskUsage } from './home-fs-adapter.js';

export class QuotaStore {
  private readonly used = new Map<string, number>();
  private readonly loading = new Map<string, Promise<number>>();

  /** Count the home once per user (concurrent logins share the walk). */
  async prime(user: string, homeReal: string): Promise<number> {
    const known = this.used.get(user);
    if (known !== undefined) return known;
    let p = this.loading.get(user);
    if (!p) {
      p = diskUsage(homeReal).then((n) => {
        this.used.set(user, n);
        this.loading.delete(user);
        return n;
      });
      this.loading.set(user, p);
    }
    return p;
  }

  usage(user: string): number {
    return this.used.get(user) ?? 0;
  }

  add(user: string, delta: number): number {
    const n = Math.max(0, (this.used.get(user) ?? 0) + delta);
    this.used.set(user, n);
    return n;
  }
}
