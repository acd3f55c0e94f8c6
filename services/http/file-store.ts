/**
 * The file lookup port of the static handler, with a bounded cache in front of the file
 * system (what nginx's `open_file_cache` does, plus small bodies in memory).
 *
 * A lookup maps (site, decoded path) to a file, a directory or a refusal. Results are
 * trusted for `validMs`; after that the next request stats the file again and keeps the
 * cached body and compressed forms when inode, size and mtime are unchanged, so an edited
 * file is served fresh within `validMs`. Files up to `maxFileBytes` keep their bytes (and
 * lazily their gzip/brotli forms) in memory, all bodies together at most `maxBytes`;
 * entries beyond `maxEntries` or the byte budget are evicted oldest first. Concurrent
 * misses for one key share one lookup.
 *
 * Symlinks: unless the site allows it, the real path must stay inside the real document
 * root, else the lookup is refused with 403 (nginx `disable_symlinks` answers 403).
 *
 * Validators follow nginx: ETag `"<mtime hex>-<size hex>"` (mtime in ms here, so two
 * edits within one second still differ), Last-Modified from mtime.
 *
 * Left out: watching the tree (inotify is unreliable on bind mounts; expiry is enough).
 */
import { stat, realpath, readFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { sep } from 'node:path';
import { mimeType, isCompressible } from './mime.js';

export interface CacheLimits {
  readonly validMs: number;
  readonly maxEntries: number;
  readonly maxFileBytes: number;
  readonly maxBytes: number;
}

/** What the cache needs to know of a site. */
export interface LookupSite {
  /** Absolute document root, no trailing separator. */
  readonly root: string;
  /** realpath of the root (equal to root when it does not exist). */
  readonly realRoot: string;
  readonly followSymlinksOutsideRoot: boolean;
  readonly precompressed: boolean;
}

/** One stored representation: the file itself or a `.gz`/`.br` sibling. */
export interface FileRep {
  readonly absPath: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: string;
  readonly lastModifiedSec: number;
  /** The bytes, when small enough to keep. */
  readonly body: Buffer | undefined;
}

export interface FileEntry extends FileRep {
  readonly kind: 'file';
  readonly ino: number;
  readonly mtimeMs: number;
  readonly contentType: string;
  readonly compressible: boolean;
  readonly gz: FileRep | null;
  readonly br: FileRep | null;
  /** On-the-fly compressed body: undefined = not made yet, null = not smaller. */
  gzip: Buffer | null | undefined;
  brotli: Buffer | null | undefined;
  checkedAt: number;
}

export interface DirEntry {
  readonly kind: 'dir';
  readonly absPath: string;
  checkedAt: number;
}

export interface RefusedEntry {
  readonly kind: 'refused';
  /** 404 (absent, not a regular file) or 403 (permission, symlink leaving the root). */
  readonly status: 404 | 403;
  readonly absPath: string;
  readonly reason: string;
  checkedAt: number;
}

export type Entry = FileEntry | DirEntry | RefusedEntry;

export function makeEtag(mtimeMs: number, size: number): string {
  return `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`;
}

function repOf(absPath: string, st: Stats, body: Buffer | undefined): FileRep {
  const sec = Math.floor(st.mtimeMs / 1000);
  return {
    absPath,
    size: st.size,
    etag: makeEtag(st.mtimeMs, st.size),
    lastModified: new Date(sec * 1000).toUTCString(),
    lastModifiedSec: sec,
    body,
  };
}

function entryBytes(e: Entry | undefined): number {
  if (e === undefined || e.kind !== 'file') return 0;
  return (
    (e.body?.length ?? 0) +
    (e.gz?.body?.length ?? 0) +
    (e.br?.body?.length ?? 0) +
    (e.gzip?.length ?? 0) +
    (e.brotli?.length ?? 0)
  );
}

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'EIO';

export class FileCache {
  private readonly map = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private bytes = 0;

  constructor(
    private readonly limits: CacheLimits,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get bodyBytes(): number {
    return this.bytes;
  }

  /** A fresh entry, or undefined (absent or older than validMs). */
  fresh(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e !== undefined && this.now() - e.checkedAt < this.limits.validMs) return e;
    return undefined;
  }

  /** Fresh entry or a (shared) lookup on the file system. */
  lookup(site: LookupSite, key: string, path: string): Entry | Promise<Entry> {
    const e = this.fresh(key);
    if (e !== undefined) return e;
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const p = this.load(site, key, path).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Remember an on-the-fly compressed body, if the entry is still the cached one. */
  storeCompressed(key: string, e: FileEntry, coding: 'gzip' | 'br', body: Buffer | null): void {
    if (this.map.get(key) !== e) return;
    const before = entryBytes(e);
    if (coding === 'gzip') e.gzip = body;
    else e.brotli = body;
    this.bytes += entryBytes(e) - before;
    this.evict();
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  private async load(site: LookupSite, key: string, path: string): Promise<Entry> {
    const now = this.now();
    const rel = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const absPath = rel === '/' ? site.root : site.root + rel;
    const prev = this.map.get(key);
    let st: Stats;
    let entry: Entry;
    try {
      st = await stat(absPath);
    } catch (e) {
      const code = errCode(e);
      // ENOENT/ENOTDIR/ENAMETOOLONG → 404; EACCES → 403 (nginx maps them the same way)
      entry = {
        kind: 'refused',
        status: code === 'EACCES' ? 403 : 404,
        absPath,
        reason: code,
        checkedAt: now,
      };
      return this.put(key, entry);
    }
    if (
      prev !== undefined &&
      prev.kind === 'file' &&
      st.isFile() &&
      prev.ino === st.ino &&
      prev.size === st.size &&
      prev.mtimeMs === st.mtimeMs
    ) {
      // unchanged: keep bytes and compressed forms, refresh the siblings
      const [gz, br] = await this.siblings(site, absPath, prev.compressible, prev);
      const same = gz === prev.gz && br === prev.br;
      entry = same ? prev : { ...prev, gz, br };
      entry.checkedAt = now;
      return this.put(key, entry);
    }
    if (!site.followSymlinksOutsideRoot) {
      let real: string;
      try {
        real = await realpath(absPath);
      } catch (e) {
        return this.put(key, {
          kind: 'refused',
          status: 404,
          absPath,
          reason: errCode(e),
          checkedAt: now,
        });
      }
      if (
        real !== site.realRoot &&
        !real.startsWith(site.realRoot === sep ? sep : site.realRoot + sep)
      ) {
        return this.put(key, {
          kind: 'refused',
          status: 403,
          absPath,
          reason: `symbolic link leaves the document root (${real})`,
          checkedAt: now,
        });
      }
    }
    if (st.isDirectory()) return this.put(key, { kind: 'dir', absPath, checkedAt: now });
    if (!st.isFile()) {
      return this.put(key, {
        kind: 'refused',
        status: 404,
        absPath,
        reason: 'not a regular file',
        checkedAt: now,
      });
    }
    let body: Buffer | undefined;
    if (st.size <= this.limits.maxFileBytes && this.limits.maxEntries > 0) {
      try {
        body = await readFile(absPath);
      } catch (e) {
        const code = errCode(e);
        return this.put(key, {
          kind: 'refused',
          status: code === 'EACCES' ? 403 : 404,
          absPath,
          reason: code,
          checkedAt: now,
        });
      }
      if (body.length !== st.size) body = undefined; // changed while reading: stream it this time
    }
    const contentType = mimeType(absPath);
    const compressible = isCompressible(contentType);
    const [gz, br] = await this.siblings(site, absPath, compressible, undefined);
    const rep = repOf(absPath, st, body);
    entry = {
      kind: 'file',
      ...rep,
      ino: st.ino,
      mtimeMs: st.mtimeMs,
      contentType,
      compressible,
      gz,
      br,
      gzip: undefined,
      brotli: undefined,
      checkedAt: now,
    };
    return this.put(key, entry);
  }

  private async siblings(
    site: LookupSite,
    absPath: string,
    compressible: boolean,
    prev: FileEntry | undefined,
  ): Promise<[FileRep | null, FileRep | null]> {
    if (!site.precompressed || !compressible) return [null, null];
    return Promise.all([
      this.sibling(absPath + '.gz', prev?.gz ?? null),
      this.sibling(absPath + '.br', prev?.br ?? null),
    ]);
  }

  private async sibling(absPath: string, prev: FileRep | null): Promise<FileRep | null> {
    let st: Stats;
    try {
      st = await stat(absPath);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const etag = makeEtag(st.mtimeMs, st.size);
    if (prev !== null && prev.etag === etag) return prev;
    let body: Buffer | undefined;
    if (st.size <= this.limits.maxFileBytes && this.limits.maxEntries > 0) {
      body = await readFile(absPath).catch(() => undefined);
      if (body !== undefined && body.length !== st.size) body = undefined;
    }
    return repOf(absPath, st, body);
  }

  private put(key: string, e: Entry): Entry {
    if (this.limits.maxEntries === 0) return e;
    const old = this.map.get(key);
    this.bytes -= entryBytes(old);
    this.map.delete(key); // re-insert at the end: the Map's order is our recency order
    this.map.set(key, e);
    this.bytes += entryBytes(e);
    this.evict();
    return e;
  }

  private evict(): void {
    if (this.map.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) return;
    for (const [k, v] of this.map) {
      if (this.map.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      this.map.delete(k);
      this.bytes -= entryBytes(v);
    }
  }
}
