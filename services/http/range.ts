/**
 * Byte ranges (RFC 9110 §14.1.2 `bytes=` ranges, §14.2 Range, §14.4 Content-Range,
 * §15.3.7 206, §15.5.17 416).
 *
 * One range is served as 206. Several ranges are answered with the whole representation
 * (200): §14.2 lets a server ignore Range, and multipart/byteranges buys little for static
 * sites while costing a body format. A Range that does not parse, or names another unit,
 * is ignored likewise. A syntactically valid set where no range overlaps the
 * representation is 416 with `Content-Range: bytes * /size`.
 *
 * Left out: multipart/byteranges.
 */

export type RangeResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const NONE: RangeResult = { kind: 'none' };
const UNSAT: RangeResult = { kind: 'unsatisfiable' };

function digits(s: string): number | undefined {
  if (s.length === 0 || s.length > 15) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return Number(s);
}

export function parseRange(header: string, size: number): RangeResult {
  // ranges-specifier = range-unit "=" range-set; the unit is case-insensitive (§14.1)
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return NONE;
  const specs = header.slice(eq + 1).split(',');
  let satisfiable: { start: number; end: number } | undefined;
  let count = 0;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue; // the list rule allows empty elements (§5.6.1)
    const dash = spec.indexOf('-');
    if (dash === -1) return NONE;
    const a = spec.slice(0, dash).trim();
    const b = spec.slice(dash + 1).trim();
    let start: number;
    let end: number;
    if (a === '') {
      // suffix-range: the last N bytes; N = 0 is unsatisfiable (§14.1.3)
      const n = digits(b);
      if (n === undefined) return NONE;
      if (n === 0 || size === 0) {
        count++;
        continue;
      }
      start = Math.max(0, size - n);
      end = size - 1;
    } else {
      const first = digits(a);
      if (first === undefined) return NONE;
      const last = b === '' ? Infinity : digits(b);
      if (last === undefined || last < first) return NONE; // invalid int-range: ignore the header
      if (first >= size) {
        // §14.1.1: satisfiable only if first-pos < length
        count++;
        continue;
      }
      start = first;
      end = Math.min(last, size - 1);
    }
    count++;
    if (satisfiable !== undefined) return NONE; // several satisfiable ranges: send it all
    satisfiable = { start, end };
  }
  if (count === 0) return NONE;
  if (satisfiable === undefined) return UNSAT;
  return { kind: 'range', start: satisfiable.start, end: satisfiable.end };
}
