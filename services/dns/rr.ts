/**
 * Resource records as the zone holds them (RFC 1035 §3.2; RFC 3597 for unknown types).
 *
 * Every record keeps its owner as an uncompressed wire name and its RDATA as canonical,
 * uncompressed wire bytes. The encoder compresses the names embedded in the RDATA of the
 * well-known types RFC 3597 §4 allows (NS, CNAME, SOA, PTR, MX and the obsolete MB/MG/MR/
 * MINFO/MD/MF); all other RDATA is copied as is, which is what RFC 3597 requires of types
 * defined after RFC 1035 (SRV targets, for one, are never compressed: RFC 2782).
 */

export const TYPE = {
  A: 1,
  NS: 2,
  MD: 3,
  MF: 4,
  CNAME: 5,
  SOA: 6,
  MB: 7,
  MG: 8,
  MR: 9,
  NULL: 10,
  WKS: 11,
  PTR: 12,
  HINFO: 13,
  MINFO: 14,
  MX: 15,
  TXT: 16,
  RP: 17,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  DHCID: 49,
  TLSA: 52,
  SVCB: 64,
  HTTPS: 65,
  SPF: 99,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const;

export const CLASS = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

const typeNames = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
const typeCodes = new Map<string, number>(Object.entries(TYPE).map(([k, v]) => [k, v]));
const classNames = new Map<number, string>(Object.entries(CLASS).map(([k, v]) => [v, k]));
const classCodes = new Map<string, number>(Object.entries(CLASS).map(([k, v]) => [k, v]));

/** Mnemonic, or RFC 3597 `TYPEnnn`. */
export function typeToText(t: number): string {
  return typeNames.get(t) ?? `TYPE${t}`;
}

/** Type code from a mnemonic or `TYPEnnn`; undefined when unknown. */
export function typeFromText(s: string): number | undefined {
  // Zone files mostly write mnemonics in capitals: that lookup needs no new string.
  const exact = typeCodes.get(s);
  if (exact !== undefined) return exact;
  const u = s.toUpperCase();
  const known = typeCodes.get(u);
  if (known !== undefined) return known;
  const m = /^TYPE([0-9]{1,5})$/.exec(u);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  return undefined;
}

export function classToText(c: number): string {
  return classNames.get(c) ?? `CLASS${c}`;
}

export function classFromText(s: string): number | undefined {
  const exact = classCodes.get(s);
  if (exact !== undefined) return exact;
  // Every class mnemonic and CLASSnnn is 2 or more letters starting with one of these (the
  // master-file parser asks this of every TTL and type token).
  const c = s.charCodeAt(0) | 0x20;
  if (s.length < 2 || (c !== 0x69 && c !== 0x63 && c !== 0x68 && c !== 0x6e && c !== 0x61))
    return undefined;
  const u = s.toUpperCase();
  const known = classCodes.get(u);
  if (known !== undefined) return known;
  const m = /^CLASS([0-9]{1,5})$/.exec(u);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  return undefined;
}

/** A resource record: owner and RDATA in uncompressed wire form. */
export interface RR {
  readonly owner: Uint8Array;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/**
 * Where the compressible names sit inside a well-known type's RDATA (RFC 3597 §4).
 * Each entry lists the layout as a sequence of fixed-size fields (bytes) and names ('n').
 */
export const COMPRESSIBLE: ReadonlyMap<number, readonly (number | 'n')[]> = new Map<
  number,
  readonly (number | 'n')[]
>([
  [TYPE.NS, ['n']],
  [TYPE.MD, ['n']],
  [TYPE.MF, ['n']],
  [TYPE.CNAME, ['n']],
  [TYPE.SOA, ['n', 'n', 20]],
  [TYPE.MB, ['n']],
  [TYPE.MG, ['n']],
  [TYPE.MR, ['n']],
  [TYPE.PTR, ['n']],
  [TYPE.MINFO, ['n', 'n']],
  [TYPE.MX, [2, 'n']],
]);

/**
 * Types whose RDATA holds names that a sender may have compressed and that we therefore
 * decompress on decode: the RFC 3597 §4 set, plus RP, SRV, NAPTR and DNAME whose names old
 * implementations sometimes compressed (RFC 3597 §4: "receiving servers MUST decompress").
 */
export const DECOMPRESS_ON_READ: ReadonlyMap<number, readonly (number | 'n' | 'rest')[]> = new Map<
  number,
  readonly (number | 'n' | 'rest')[]
>([
  ...[...COMPRESSIBLE].map(([k, v]) => [k, v] as [number, readonly (number | 'n' | 'rest')[]]),
  [TYPE.RP, ['n', 'n']],
  [TYPE.SRV, [6, 'n']],
  [TYPE.DNAME, ['n']],
]);

/** An SOA record's SERIAL (RFC 1035 §3.3.13: the first of the five 32-bit fields after the names). */
export function soaSerialOf(soa: Pick<RR, 'rdata'>): number {
  const r = soa.rdata;
  return new DataView(r.buffer, r.byteOffset, r.byteLength).getUint32(r.length - 20);
}
