/**
 * Address allocation for a DISCOVER (RFC 2131 §4.3.1), in the RFC's order of preference:
 *   0. a static reservation for the client's MAC (dhcpd `host { hardware ethernet; fixed-address; }`,
 *      Kea host reservations);
 *   1. "The client's current address as recorded in the client's current binding, ELSE
 *   2. The client's previous address as recorded in the client's (now expired or released)
 *      binding, if that address is in the server's pool of available addresses and not
 *      already allocated, ELSE
 *   3. The address requested in the 'Requested IP Address' option, if that address is
 *      valid and not already allocated, ELSE
 *   4. A new address allocated from the server's pool of available addresses".
 * Step 4 takes the lowest free address (dhcpd, the reference: "allocated from the bottom of
 * the pool") or, with `iterative`, the next one after the last given (Kea's default).
 *
 * Cost: each pool keeps a cursor below which every address was taken when last looked at,
 * so a new client costs O(1) amortised instead of a scan from the start (dhcpd's cost grows
 * with the pool, shared/peers.md §5). `release(address)` moves the cursor back when an
 * address frees up (RELEASE, reclaim of an expired lease or offer), so "lowest free" holds
 * up to the reclaim period. Exhaustion is detected when the cursor passes the end.
 *
 * Leaves out: ping-check before offering (dhcpd's ping-check; a 1 s delay per offer,
 * shared/peers.md §9.7), random allocation.
 */
import type { LeaseTable } from './lease.js';
import { inPool, type Subnet, type Pool } from './subnet.js';

export type Strategy = 'lowest' | 'iterative';

/** Why an address cannot go to a client. */
export type Unusable = 'not-in-subnet' | 'not-in-pool' | 'reserved' | 'taken';

export interface Client {
  readonly key: string;
  readonly mac: string;
}

export class Allocator {
  /** Per pool: index below which every address was taken. */
  readonly #cursor = new Map<Pool, number>();

  constructor(
    readonly strategy: Strategy,
    private readonly leases: LeaseTable,
  ) {}

  /** Can `ip` go to `client` now? undefined means yes. */
  check(subnet: Subnet, ip: number, client: Client, now: number): Unusable | undefined {
    if ((ip & subnet.net.mask) >>> 0 !== subnet.net.network) return 'not-in-subnet';
    const reservation = subnet.reservedAddresses.get(ip);
    if (reservation && reservation.mac !== client.mac) return 'reserved';
    const holder = this.leases.holder(ip, now);
    if (holder !== undefined && holder !== client.key) return 'taken';
    if (!reservation && !inPool(subnet, ip)) return 'not-in-pool';
    return undefined;
  }

  /** Steps 0-4 above; undefined when the subnet has nothing left for this client. */
  choose(
    subnet: Subnet,
    client: Client,
    requested: number | undefined,
    now: number,
  ): number | undefined {
    const reservation = subnet.reservationByMac.get(client.mac);
    if (reservation && this.check(subnet, reservation.address, client, now) === undefined)
      return reservation.address;
    const offer = this.leases.offerFor(subnet.id, client.key);
    if (offer && this.check(subnet, offer.address, client, now) === undefined) return offer.address;
    const lease = this.leases.byClient(subnet.id, client.key);
    if (
      lease &&
      lease.state !== 'declined' &&
      this.check(subnet, lease.address, client, now) === undefined
    ) {
      return lease.address;
    }
    if (requested !== undefined && this.check(subnet, requested, client, now) === undefined)
      return requested;
    for (const pool of subnet.pools) {
      const ip = this.#fromPool(subnet, pool, client, now);
      if (ip !== undefined) return ip;
    }
    return undefined;
  }

  #free(subnet: Subnet, ip: number, client: Client, now: number): boolean {
    if (subnet.reservedAddresses.has(ip)) return false;
    const holder = this.leases.holder(ip, now);
    return holder === undefined || holder === client.key;
  }

  #fromPool(subnet: Subnet, pool: Pool, client: Client, now: number): number | undefined {
    let i = this.#cursor.get(pool) ?? 0;
    if (this.strategy === 'lowest') {
      while (i < pool.size && !this.#free(subnet, pool.start + i, client, now)) i++;
      this.#cursor.set(pool, i);
      return i < pool.size ? pool.start + i : undefined;
    }
    // iterative: one full turn from the cursor, wrapping.
    for (let n = 0; n < pool.size; n++, i++) {
      if (i >= pool.size) i = 0;
      if (this.#free(subnet, pool.start + i, client, now)) {
        this.#cursor.set(pool, i + 1);
        return pool.start + i;
      }
    }
    return undefined;
  }

  /** An address may be free again: let the lowest-first scan see it. */
  release(subnet: Subnet, ip: number): void {
    if (this.strategy !== 'lowest') return;
    for (const pool of subnet.pools) {
      if (ip >= pool.start && ip <= pool.end) {
        const i = ip - pool.start;
        if (i < (this.#cursor.get(pool) ?? 0)) this.#cursor.set(pool, i);
      }
    }
  }

  /** Forget cursors (after loading leases or a config change). */
  reset(): void {
    this.#cursor.clear();
  }
}
