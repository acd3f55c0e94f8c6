/**
 * Leases and the in-memory lease table the core reads and updates (RFC 2131 §4.2, §4.3).
 *
 * A lease binds an address to a client, identified by its client identifier (option 61)
 * or else by 'htype' + 'chaddr': RFC 2131 §4.2, "the combination of 'client identifier'
 * or 'chaddr' and assigned network address constitute a unique identifier for the client's
 * lease". States: `bound` (ACKed), `released` (RFC 2131 §4.3.4), `expired` (reclaimed),
 * `declined` (RFC 2131 §4.3.3: unusable until `ends`, no owner). A released or expired lease
 * keeps its client so the same address comes back when still free ("stay with the client
 * across renewals", dhcpd's habit). Offers are kept apart and never persisted: an OFFER
 * promises nothing (RFC 2131 §4.3.1: "the server need not reserve the offered network
 * address, although the protocol works more efficiently if the server avoids allocating
 * the offered network address to another client").
 *
 * The table is the core's source of truth; store.ts persists the rows it changes. Times
 * are milliseconds since the epoch (`now`).
 *
 * Leaves out: lease history, failover states (RFC 3074/dhcpd failover), per-lease options.
 */

export type LeaseState = 'bound' | 'released' | 'expired' | 'declined';

export interface Lease {
  readonly address: number;
  /** Subnet id (its CIDR text). */
  readonly subnet: string;
  /** "id:<hex of option 61>" or "hw:<htype hex><chaddr hex>"; '' for a declined address. */
  readonly clientKey: string;
  /** "aa:bb:…" for logs and reservations. */
  readonly chaddr: string;
  readonly hostname: string | null;
  readonly state: LeaseState;
  readonly starts: number;
  readonly ends: number;
}

export interface Offer {
  readonly address: number;
  readonly subnet: string;
  readonly clientKey: string;
  readonly ends: number;
}

/** A change for the store: put a row, or delete the row of an address. */
export type LeaseChange = { readonly put: Lease } | { readonly del: number };

export function clientKeyOf(
  clientId: Uint8Array | undefined,
  htype: number,
  hw: Uint8Array,
): string {
  let s = '';
  if (clientId && clientId.length > 0) {
    for (const b of clientId) s += b.toString(16).padStart(2, '0');
    return 'id:' + s;
  }
  for (const b of hw) s += b.toString(16).padStart(2, '0');
  return 'hw:' + htype.toString(16).padStart(2, '0') + s;
}

/** True while the lease keeps its address from other clients. */
export function isHeld(l: Lease, now: number): boolean {
  return (l.state === 'bound' || l.state === 'declined') && l.ends > now;
}

export class LeaseTable {
  readonly #byAddress = new Map<number, Lease>();
  /** subnet + '|' + clientKey → the client's lease in that subnet. */
  readonly #byClient = new Map<string, Lease>();
  readonly #offers = new Map<number, Offer>();
  readonly #offerByClient = new Map<string, Offer>();

  get size(): number {
    return this.#byAddress.size;
  }

  byAddress(address: number): Lease | undefined {
    return this.#byAddress.get(address);
  }

  byClient(subnet: string, clientKey: string): Lease | undefined {
    return this.#byClient.get(subnet + '|' + clientKey);
  }

  offerFor(subnet: string, clientKey: string): Offer | undefined {
    return this.#offerByClient.get(subnet + '|' + clientKey);
  }

  offerAt(address: number): Offer | undefined {
    return this.#offers.get(address);
  }

  /** The client that holds `address` now (a live lease or a live offer), or undefined. */
  holder(address: number, now: number): string | undefined {
    const l = this.#byAddress.get(address);
    if (l && isHeld(l, now)) return l.clientKey;
    const o = this.#offers.get(address);
    if (o && o.ends > now) return o.clientKey;
    return undefined;
  }

  put(l: Lease): void {
    const prev = this.#byAddress.get(l.address);
    if (prev && prev.clientKey) {
      const k = prev.subnet + '|' + prev.clientKey;
      if (this.#byClient.get(k) === prev) this.#byClient.delete(k);
    }
    this.#byAddress.set(l.address, l);
    if (l.clientKey) this.#byClient.set(l.subnet + '|' + l.clientKey, l);
  }

  delete(address: number): void {
    const prev = this.#byAddress.get(address);
    if (!prev) return;
    this.#byAddress.delete(address);
    const k = prev.subnet + '|' + prev.clientKey;
    if (this.#byClient.get(k) === prev) this.#byClient.delete(k);
  }

  putOffer(o: Offer): void {
    this.dropOffer(o.subnet, o.clientKey);
    const other = this.#offers.get(o.address);
    if (other) this.#offerByClient.delete(other.subnet + '|' + other.clientKey);
    this.#offers.set(o.address, o);
    this.#offerByClient.set(o.subnet + '|' + o.clientKey, o);
  }

  dropOffer(subnet: string, clientKey: string): Offer | undefined {
    const k = subnet + '|' + clientKey;
    const o = this.#offerByClient.get(k);
    if (!o) return undefined;
    this.#offerByClient.delete(k);
    if (this.#offers.get(o.address) === o) this.#offers.delete(o.address);
    return o;
  }

  offers(): IterableIterator<Offer> {
    return this.#offers.values();
  }

  leases(): IterableIterator<Lease> {
    return this.#byAddress.values();
  }

  /**
   * Reclaim what has run out (Kea's lease reclamation, dhcpd's expiry): a bound lease past
   * its end becomes `expired` (kept for stickiness), a declined address past its probation
   * is deleted, an unanswered offer is forgotten. Returns the store changes and the freed
   * addresses (so the allocator can look at them again).
   */
  reclaim(now: number): { changes: LeaseChange[]; freed: number[] } {
    const changes: LeaseChange[] = [];
    const freed: number[] = [];
    for (const l of this.#byAddress.values()) {
      if (l.ends > now) continue;
      if (l.state === 'bound') {
        const e: Lease = { ...l, state: 'expired' };
        this.put(e);
        changes.push({ put: e });
        freed.push(l.address);
      } else if (l.state === 'declined') {
        this.delete(l.address);
        changes.push({ del: l.address });
        freed.push(l.address);
      }
    }
    for (const o of this.#offers.values()) {
      if (o.ends <= now) {
        this.dropOffer(o.subnet, o.clientKey);
        freed.push(o.address);
      }
    }
    return { changes, freed };
  }
}
