/**
 * Conditional requests (RFC 9110 §13): entity-tag comparison (§8.8.3.2), and the order of
 * evaluation of If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since (§13.2.2),
 * so a revisit gets 304 Not Modified (§15.4.5) and a lost update 412 (§15.5.13).
 * `ifRangeMatches` decides whether a Range applies (§13.1.5).
 *
 * Pure: validators and header values in, decision out. Dates are compared at one-second
 * resolution, as HTTP-date carries no more (§5.6.7).
 */

export interface Validators {
  /** Strong or weak (`W/"…"`) entity-tag of the selected representation. */
  readonly etag: string;
  /** Last-Modified in whole seconds since the epoch. */
  readonly lastModifiedSec: number;
  /** The same instant as an IMF-fixdate. */
  readonly lastModified: string;
}

export interface ConditionalHeaders {
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
}

export type Precondition = 'proceed' | 'not-modified' | 'failed';

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** Does an If-Match / If-None-Match list contain `etag`? (weak or strong comparison, §8.8.3.2) */
export function etagListMatches(list: string, etag: string, strong: boolean): boolean {
  if (list === etag && !(strong && etag.startsWith('W/'))) return true; // the common single-tag case
  const trimmed = list.trim();
  if (trimmed === '*') return true;
  if (strong && etag.startsWith('W/')) return false;
  const want = strong ? etag : opaque(etag);
  for (const part of trimmed.split(',')) {
    const t = part.trim();
    if (strong) {
      if (t === want) return true;
    } else if (opaque(t) === want) return true;
  }
  return false;
}

/** HTTP-date (§5.6.7) → seconds, or undefined when not a date. */
export function parseHttpDate(v: string): number | undefined {
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export function evaluatePreconditions(
  h: ConditionalHeaders,
  v: Validators,
  isGetOrHead: boolean,
): Precondition {
  // §13.2.2 step 1: If-Match, strong comparison; false → 412
  if (h.ifMatch !== undefined) {
    if (!etagListMatches(h.ifMatch, v.etag, true)) return 'failed';
  } else if (h.ifUnmodifiedSince !== undefined) {
    // step 2: If-Unmodified-Since, only without If-Match; an invalid date is ignored (§13.1.4)
    const d = parseHttpDate(h.ifUnmodifiedSince);
    if (d !== undefined && v.lastModifiedSec > d) return 'failed';
  }
  // step 3: If-None-Match, weak comparison; true → 304 for GET/HEAD, else 412
  if (h.ifNoneMatch !== undefined) {
    if (etagListMatches(h.ifNoneMatch, v.etag, false))
      return isGetOrHead ? 'not-modified' : 'failed';
  } else if (isGetOrHead && h.ifModifiedSince !== undefined) {
    // step 4: If-Modified-Since, only for GET/HEAD without If-None-Match (§13.1.3)
    if (h.ifModifiedSince === v.lastModified) return 'not-modified';
    const d = parseHttpDate(h.ifModifiedSince);
    if (d !== undefined && v.lastModifiedSec <= d) return 'not-modified';
  }
  return 'proceed';
}

/**
 * §13.1.5: a Range applies only if If-Range is absent, or is a strong entity-tag equal to
 * the current one, or an HTTP-date equal to Last-Modified. A weak tag never matches.
 */
export function ifRangeMatches(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const c = ifRange.charCodeAt(0);
  if (c === 0x22 /* " */) return !v.etag.startsWith('W/') && ifRange === v.etag;
  if (c === 0x57 /* W */ && ifRange.charCodeAt(1) === 0x2f) return false;
  const d = parseHttpDate(ifRange);
  return d !== undefined && d === v.lastModifiedSec;
}
