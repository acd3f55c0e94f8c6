/**
 * Who may change what by UPDATE: per-zone rules in the shape of BIND's update-policy
 * (`grant <key> <match> <name> <types>`), checked for every record of the update section
 * before update.ts decides anything. One record not granted refuses the whole message
 * (BIND answers REFUSED and applies nothing). An unsigned update is never granted: keys,
 * not addresses, are the authority (BIND's allow-update by address is left out).
 *
 * Matches (BIND's names): `name` the name itself; `subdomain` the name and everything
 * below it; `wildcard` names matching a `*.`-prefixed pattern (one or more labels, as
 * BIND's dns_name_matcheswildcard); `zonesub` anything in the zone. Types: a list of
 * mnemonics, or empty for BIND's "ANY", which excludes SOA, NS and the DNSSEC types.
 */
import { keyNameOf } from './tsig.js';
import { isSubdomain, nameEquals, nameFromText, parentName } from './name.js';
import { TYPE, typeFromText, type RR } from './rr.js';

export type PolicyMatch = 'name' | 'subdomain' | 'wildcard' | 'zonesub';

export interface PolicyRule {
  /** The TSIG key name ("dhcp-ddns."). */
  readonly key: string;
  readonly match: PolicyMatch;
  /** Absolute name or pattern; ignored for zonesub. */
  readonly name?: string;
  /** Mnemonics; empty or absent: every type but SOA, NS and DNSSEC's. */
  readonly types?: readonly string[];
}

/** BIND's "ANY" in update-policy: not these (lib/dns/ssu.c). */
const NOT_IN_ANY = new Set<number>([
  TYPE.SOA,
  TYPE.NS,
  TYPE.RRSIG,
  TYPE.NSEC,
  50 /* NSEC3 */,
  TYPE.DNSKEY,
]);

interface CompiledRule {
  readonly key: string;
  readonly match: PolicyMatch;
  readonly name: Uint8Array | undefined;
  readonly types: ReadonlySet<number> | undefined;
}

export class UpdatePolicy {
  private readonly rules: readonly CompiledRule[];

  /** Throws with the rule's index on a bad name or type (config.ts turns that into an issue). */
  constructor(
    private readonly origin: Uint8Array,
    rules: readonly PolicyRule[],
  ) {
    this.rules = rules.map((r, i) => {
      const types = (r.types ?? []).map((t) => {
        const code = typeFromText(t);
        if (code === undefined) throw new Error(`rule ${i}: unknown type ${t}`);
        return code;
      });
      let name: Uint8Array | undefined;
      if (r.match !== 'zonesub') {
        if (r.name === undefined) throw new Error(`rule ${i}: ${r.match} needs a name`);
        name = nameFromText(r.name.endsWith('.') ? r.name : r.name + '.');
        if (r.match === 'wildcard' && (name[0] !== 1 || name[1] !== 0x2a))
          throw new Error(`rule ${i}: a wildcard name starts with "*."`);
      }
      return {
        key: keyNameOf(r.key),
        match: r.match,
        name,
        types: types.length > 0 ? new Set(types) : undefined,
      };
    });
  }

  /** Whether `key` (undefined: unsigned) may make every change in `updates`. */
  allows(
    key: string | undefined,
    updates: readonly RR[],
  ): { ok: true } | { ok: false; record: RR } {
    const k = key === undefined ? undefined : keyNameOf(key);
    for (const u of updates) {
      if (k === undefined || !this.rules.some((r) => r.key === k && this.grants(r, u)))
        return { ok: false, record: u };
    }
    return { ok: true };
  }

  private grants(r: CompiledRule, u: RR): boolean {
    // A delete of every type at a name (class ANY, type ANY) needs a rule for ANY types.
    const typeOk =
      u.type === TYPE.ANY
        ? r.types === undefined
        : r.types
          ? r.types.has(u.type)
          : !NOT_IN_ANY.has(u.type);
    if (!typeOk) return false;
    switch (r.match) {
      case 'zonesub':
        return isSubdomain(u.owner, this.origin);
      case 'name':
        return nameEquals(u.owner, r.name!);
      case 'subdomain':
        return isSubdomain(u.owner, r.name!);
      case 'wildcard': {
        // "*.example." covers one or more labels below example., not example. itself.
        const base = parentName(r.name!);
        return isSubdomain(u.owner, base) && !nameEquals(u.owner, base);
      }
    }
  }
}
