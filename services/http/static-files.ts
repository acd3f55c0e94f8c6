/**
 * The static file handler: a GET or HEAD for a decoded path under a site's root becomes a
 * response plan (status, header fields, and a body from memory or a file range). The
 * adapter (app.ts) writes the plan; this file never sees a socket.
 *
 * Order of decisions, as nginx's static, index, autoindex, gzip_static and range modules
 * combine:
 *   1. look the path up (file-cache.ts): refused → 404/403;
 *   2. a directory without a trailing `/` → 301 to the same path with `/` (nginx); with
 *      one, the first index file that exists, else the autoindex page or 403;
 *   3. a file named with a trailing `/` → 404 (ENOTDIR, as nginx);
 *   4. choose the representation: a `.br`/`.gz` sibling or an on-the-fly compressed form
 *      (RFC 9110 §12.5.3); every compressible file varies by Accept-Encoding (§12.5.5);
 *   5. preconditions (RFC 9110 §13.2.2) → 304 or 412;
 *   6. Range + If-Range (RFC 9110 §14.2, §13.1.5) → 206 or 416. A request with a Range is
 *      never compressed on the fly (as nginx's gzip filter), so a range always addresses
 *      stable bytes.
 *
 * Left out: multipart ranges (range.ts), `try_files`, `alias`, Content-Disposition.
 */
import { evaluatePreconditions, ifRangeMatches, type Validators } from './conditional.js';
import { parseRange } from './range.js';
import { chooseCoding, type Coding } from './content-coding.js';
import type { FileCache, FileEntry, FileRep, LookupSite, Entry, DirEntry } from './file-store.js';

export interface StaticSite extends LookupSite {
  /** Prefix of this site's cache keys (unique per site). */
  readonly keyPrefix: string;
  readonly index: readonly string[];
  readonly autoindex: boolean;
  readonly cacheControl: string;
  readonly compress: boolean;
}

/** The request fields the handler reads (lower-case names, as Node gives them). */
export interface StaticRequest {
  readonly method: string;
  readonly path: string;
  readonly rawPath: string;
  readonly query: string;
  readonly headers: {
    readonly 'accept-encoding'?: string | undefined;
    readonly 'if-match'?: string | undefined;
    readonly 'if-none-match'?: string | undefined;
    readonly 'if-modified-since'?: string | undefined;
    readonly 'if-unmodified-since'?: string | undefined;
    readonly range?: string | undefined;
    readonly 'if-range'?: string | undefined;
  };
}

export type Headers = Record<string, string | number>;

export type Plan =
  /** Body from memory (or none: 304, HEAD handled by the adapter). */
  | {
      readonly kind: 'buffer';
      readonly status: number;
      readonly headers: Headers;
      readonly body: Buffer | undefined;
    }
  /** Bytes [start, end] of a file; `compress` = compress on the fly while streaming. */
  | {
      readonly kind: 'file';
      readonly status: number;
      readonly headers: Headers;
      readonly absPath: string;
      readonly start: number;
      readonly end: number;
      readonly compress: Coding;
    }
  /** An error status; the adapter renders the site's error page. */
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly reason: string;
      readonly absPath?: string;
    }
  | { readonly kind: 'redirect'; readonly status: 301; readonly location: string }
  | { readonly kind: 'autoindex'; readonly absPath: string; readonly path: string };

export interface Compressor {
  /** Compress a body; resolves to null when the result would not be smaller. */
  compress(body: Buffer, coding: 'gzip' | 'br'): Promise<Buffer | null>;
  /** Smallest body worth compressing. */
  readonly minBytes: number;
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as { then?: unknown }).then === 'function';

/**
 * Plan the response. Returns synchronously when every lookup is a fresh cache hit (and any
 * compressed form is already made), so the adapter can answer without a microtask; a
 * Promise otherwise.
 */
export function serveStatic(
  req: StaticRequest,
  site: StaticSite,
  cache: FileCache,
  compressor: Compressor,
): Plan | Promise<Plan> {
  const path = req.path;
  const key = site.keyPrefix + path;
  const e = cache.lookup(site, key, path);
  if (isPromise(e)) return e.then((entry) => afterLookup(req, site, cache, compressor, entry, key));
  return afterLookup(req, site, cache, compressor, e, key);
}

function afterLookup(
  req: StaticRequest,
  site: StaticSite,
  cache: FileCache,
  compressor: Compressor,
  entry: Entry,
  key: string,
): Plan | Promise<Plan> {
  const path = req.path;
  if (entry.kind === 'refused')
    return { kind: 'error', status: entry.status, reason: entry.reason, absPath: entry.absPath };
  if (entry.kind === 'dir') {
    if (!path.endsWith('/')) {
      // nginx: a directory requested without the slash is redirected, keeping the query
      return { kind: 'redirect', status: 301, location: req.rawPath + '/' + req.query };
    }
    return tryIndex(req, site, cache, compressor, entry, key, 0);
  }
  if (path.endsWith('/'))
    return { kind: 'error', status: 404, reason: 'ENOTDIR', absPath: entry.absPath };
  return serveFile(req, site, cache, compressor, entry, key);
}

/** The first index file that exists (nginx `index`), else autoindex or 403. */
function tryIndex(
  req: StaticRequest,
  site: StaticSite,
  cache: FileCache,
  compressor: Compressor,
  dir: DirEntry,
  key: string,
  i: number,
): Plan | Promise<Plan> {
  for (; i < site.index.length; i++) {
    const name = site.index[i]!;
    const k = key + name;
    const e = cache.lookup(site, k, req.path + name);
    if (isPromise(e)) {
      const next = i + 1;
      return e.then((found) =>
        found.kind === 'file'
          ? serveFile(req, site, cache, compressor, found, k)
          : tryIndex(req, site, cache, compressor, dir, key, next),
      );
    }
    if (e.kind === 'file') return serveFile(req, site, cache, compressor, e, k);
  }
  if (site.autoindex) return { kind: 'autoindex', absPath: dir.absPath, path: req.path };
  return {
    kind: 'error',
    status: 403,
    reason: 'directory index is forbidden',
    absPath: dir.absPath,
  };
}

function serveFile(
  req: StaticRequest,
  site: StaticSite,
  cache: FileCache,
  compressor: Compressor,
  f: FileEntry,
  key: string,
): Plan | Promise<Plan> {
  const h = req.headers;
  const rangeHeader = req.method === 'GET' ? h.range : undefined; // RFC 9110 §14.2: Range is GET-only
  const varies = f.compressible && (site.compress || f.gz !== null || f.br !== null);

  // 4. representation
  let rep: FileRep = f;
  let encoding: Coding = 'identity';
  let onTheFly = false; // never with a Range (see 6.)
  if (varies) {
    const want = chooseCoding(h['accept-encoding']);
    if (want === 'br' || want === 'gzip') {
      const sib = want === 'br' ? f.br : f.gz;
      const other = want === 'br' ? f.gz : f.br;
      const otherOk =
        want === 'br'
          ? h['accept-encoding']!.includes('gzip')
          : h['accept-encoding']!.includes('br');
      if (sib !== null) {
        rep = sib;
        encoding = want;
      } else if (other !== null && otherOk) {
        rep = other;
        encoding = want === 'br' ? 'gzip' : 'br';
      } else if (site.compress && rangeHeader === undefined && f.size >= compressor.minBytes) {
        encoding = want;
        onTheFly = true;
      }
    }
  }

  const headers: Headers = {
    'content-type': f.contentType,
    'last-modified': rep.lastModified,
    etag: onTheFly ? 'W/' + f.etag : rep.etag, // a different representation needs its own tag (§8.8.3)
  };
  if (!onTheFly) headers['accept-ranges'] = 'bytes';
  if (varies) headers['vary'] = 'Accept-Encoding';
  if (site.cacheControl !== '') headers['cache-control'] = site.cacheControl;
  if (encoding !== 'identity') headers['content-encoding'] = encoding;

  // 5. preconditions
  const validators = {
    etag: headers.etag as string,
    lastModified: rep.lastModified,
    lastModifiedSec: rep.lastModifiedSec,
  };
  const pre =
    h['if-none-match'] === undefined &&
    h['if-modified-since'] === undefined &&
    h['if-match'] === undefined &&
    h['if-unmodified-since'] === undefined
      ? 'proceed'
      : evaluatePreconditions(
          {
            ifMatch: h['if-match'],
            ifNoneMatch: h['if-none-match'],
            ifModifiedSince: h['if-modified-since'],
            ifUnmodifiedSince: h['if-unmodified-since'],
          },
          validators,
          true,
        );
  if (pre === 'not-modified') {
    // §15.4.5: a 304 carries the validators and Vary/Cache-Control a 200 would have, no body
    delete headers['content-type'];
    delete headers['accept-ranges'];
    delete headers['content-encoding'];
    return { kind: 'buffer', status: 304, headers, body: undefined };
  }
  if (pre === 'failed') return { kind: 'error', status: 412, reason: 'precondition failed' };

  // on-the-fly compression of a cached body: made once, then served from memory
  if (onTheFly) {
    if (f.body === undefined) {
      return {
        kind: 'file',
        status: 200,
        headers,
        absPath: f.absPath,
        start: 0,
        end: f.size - 1,
        compress: encoding,
      };
    }
    const coding = encoding as 'gzip' | 'br';
    const z = coding === 'gzip' ? f.gzip : f.brotli;
    if (z === undefined) {
      const body = f.body;
      return compressor.compress(body, coding).then((made) => {
        cache.storeCompressed(key, f, coding, made);
        return compressedPlan(headers, f, made, rangeHeader);
      });
    }
    return compressedPlan(headers, f, z, rangeHeader);
  }

  return rangePlan(headers, rep, rangeHeader, h['if-range'], validators);
}

/** A compressed body from memory, or the identity body when compressing did not pay. */
function compressedPlan(
  headers: Headers,
  f: FileEntry,
  z: Buffer | null,
  rangeHeader: string | undefined,
): Plan {
  if (z !== null) {
    headers['content-length'] = z.length;
    return { kind: 'buffer', status: 200, headers, body: z };
  }
  delete headers['content-encoding'];
  headers.etag = f.etag;
  headers['accept-ranges'] = 'bytes';
  return rangePlan(headers, f, rangeHeader, undefined, undefined);
}

function rangePlan(
  headers: Headers,
  rep: FileRep,
  rangeHeader: string | undefined,
  ifRange: string | undefined,
  validators: Validators | undefined,
): Plan {
  // 6. ranges
  if (
    rangeHeader !== undefined &&
    (validators === undefined || ifRangeMatches(ifRange, validators))
  ) {
    const r = parseRange(rangeHeader, rep.size);
    if (r.kind === 'unsatisfiable') {
      // §15.5.17: 416 SHOULD carry Content-Range "bytes */length"
      return {
        kind: 'buffer',
        status: 416,
        headers: {
          'content-range': `bytes */${rep.size}`,
          'content-type': 'text/plain; charset=utf-8',
          'content-length': 0,
        },
        body: Buffer.alloc(0),
      };
    }
    if (r.kind === 'range') {
      headers['content-range'] = `bytes ${r.start}-${r.end}/${rep.size}`;
      headers['content-length'] = r.end - r.start + 1;
      if (rep.body !== undefined) {
        return {
          kind: 'buffer',
          status: 206,
          headers,
          body: rep.body.subarray(r.start, r.end + 1),
        };
      }
      return {
        kind: 'file',
        status: 206,
        headers,
        absPath: rep.absPath,
        start: r.start,
        end: r.end,
        compress: 'identity',
      };
    }
  }

  headers['content-length'] = rep.size;
  if (rep.body !== undefined) return { kind: 'buffer', status: 200, headers, body: rep.body };
  return {
    kind: 'file',
    status: 200,
    headers,
    absPath: rep.absPath,
    start: 0,
    end: rep.size - 1,
    compress: 'identity',
  };
}
