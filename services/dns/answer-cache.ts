/**
 * A cache of ready-made wire answers, keyed by the query's bytes after the ID.
 *
 * For a given zone generation, the reply to an authoritative query depends only on those
 * bytes (question in the client's case, flags, EDNS) and on the transport, so a hit only
 * copies the stored reply and writes the client's ID into it. Only replies the handler
 * marks cacheable go in (not those that depend on the client's address: ACLs,
 * forwarding). Eviction is first-in first-out, bounded by entry count; a reload clears it.
 * Precedent: Knot's and PowerDNS's packet caches, which key on the query packet too.
 */
export interface CachedReply {
  readonly reply: Uint8Array;
  /** The metrics cell (qtype, rcode, transport) this reply counts in. */
  readonly counter: { n: number } | undefined;
}

export class AnswerCache {
  private readonly map = new Map<string, CachedReply>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.map.size;
  }

  static key(transport: 'udp' | 'tcp', query: Uint8Array): string {
    return (
      (transport === 'udp' ? 'u' : 't') +
      Buffer.from(query.buffer, query.byteOffset + 2, query.length - 2).toString('latin1')
    );
  }

  /** The cached reply with the query's ID, as a fresh buffer; undefined on a miss. */
  get(key: string, query: Uint8Array): Buffer | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.counter) hit.counter.n++;
    const out = Buffer.allocUnsafe(hit.reply.length);
    out.set(hit.reply);
    out[0] = query[0]!;
    out[1] = query[1]!;
    return out;
  }

  set(key: string, reply: Uint8Array, counter?: { n: number }): void {
    if (this.maxEntries === 0) return;
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, { reply, counter });
  }

  clear(): void {
    this.map.clear();
  }
}
