/**
 * Content coding negotiation (RFC 9110 §12.5.3 Accept-Encoding, §8.4 Content-Encoding).
 * Chooses `br`, `gzip` or identity from the client's list with q-values; `q=0` means "not
 * acceptable", `*` stands for codings not named. Ties prefer brotli (smaller). Results are
 * memoised per header value (browsers send a handful of distinct values).
 *
 * Left out: zstd and deflate (no precompressed siblings for them, little gain).
 */

export type Coding = 'br' | 'gzip' | 'identity';

const memo = new Map<string, Coding>();
const MEMO_MAX = 256;

export function chooseCoding(acceptEncoding: string | undefined): Coding {
  if (acceptEncoding === undefined || acceptEncoding === '') return 'identity';
  const hit = memo.get(acceptEncoding);
  if (hit !== undefined) return hit;
  const c = parse(acceptEncoding);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(acceptEncoding, c);
  return c;
}

function parse(v: string): Coding {
  let br: number | undefined;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of v.split(',')) {
    const semi = part.indexOf(';');
    const name = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    let q = 1;
    if (semi !== -1) {
      const m = /q\s*=\s*([^\s;,]*)/i.exec(part.slice(semi + 1));
      if (m) q = Number(m[1]);
      if (!(q >= 0 && q <= 1)) q = 0;
    }
    if (name === 'br') br = q;
    else if (name === 'gzip' || name === 'x-gzip') gzip = q;
    else if (name === '*') star = q;
  }
  const qb = br ?? star ?? 0;
  const qg = gzip ?? star ?? 0;
  if (qb > 0 && qb >= qg) return 'br';
  if (qg > 0) return 'gzip';
  return 'identity';
}
