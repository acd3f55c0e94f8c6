/**
 * The user's home as a file system with chroot semantics on real paths.
 *
 * Every operation maps a virtual path (virtual-path.ts) under the home, then resolves
 * symlinks with realpath(3) and refuses any result outside the home's own realpath: a
 * symlink in the home pointing at /etc is "Permission denied", never followed (ftp-srv
 * follows it; vsftpd relies on chroot(2), which we do not need root for). Operations on
 * the last component (DELE, RNFR, MKD, STOR of a new file) resolve the parent folder and
 * act on the name inside it, so deleting a symlink deletes the link, not its target.
 * Files are opened with O_NOFOLLOW, so a last component swapped for a symlink between the
 * check and the open fails instead of escaping.
 *
 * Errors become FsError codes; real paths never leave this file (error replies carry
 * vsftpd's fixed texts). Left out: owners and groups (always "ftp"), hard links counted
 * in quotas once per link, a race-free check against symlinks swapped in *parent*
 * folders by a local user with shell access (FTP itself cannot create symlinks).
 */
import { constants, type Stats } from 'node:fs';
import {
  open,
  realpath,
  stat,
  lstat,
  readdir,
  mkdir,
  rmdir,
  unlink,
  rename,
  chmod,
  type FileHandle,
} from 'node:fs/promises';
import { baseName, parentOf, underHome, isInside, toVirtual } from './virtual-path.js';
import type { EntryInfo } from './listing.js';
import type { FsError } from './session.js';

export class FsFailure extends Error {
  constructor(readonly fsError: FsError) {
    super(fsError);
  }
}

export function fsErrorOf(e: unknown): FsError {
  if (e instanceof FsFailure) return e.fsError;
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'not-found';
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
    case 'EROFS':
      return 'denied';
    case 'EEXIST':
      return 'exists';
    case 'ENOTEMPTY':
      return 'not-empty';
    case 'ENOTDIR':
      return 'not-dir';
    case 'EISDIR':
      return 'is-dir';
    default:
      return 'failed';
  }
}

export function entryOf(name: string, st: Stats): EntryInfo {
  return {
    name,
    type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other',
    size: st.size,
    mtimeMs: st.mtimeMs,
    mode: st.mode & 0o7777,
    nlink: st.nlink,
  };
}

export interface OpenedRead {
  readonly handle: FileHandle;
  readonly size: number;
}

export class HomeFs {
  /** @param homeReal the realpath of the home folder */
  constructor(
    readonly homeReal: string,
    private readonly umask: number,
  ) {}

  /** Realpath of an existing object, inside the home, or FsFailure. */
  async resolveExisting(vpath: string): Promise<string> {
    const real = await realpath(underHome(this.homeReal, vpath)).catch((e: unknown) => {
      throw new FsFailure(fsErrorOf(e));
    });
    if (!isInside(this.homeReal, real)) throw new FsFailure('denied');
    return real;
  }

  /** Realpath of the parent folder (inside the home) and the last name. */
  async resolveParent(vpath: string): Promise<{ dir: string; name: string; real: string }> {
    const name = baseName(vpath);
    if (name === '' || name === '.' || name === '..') throw new FsFailure('denied');
    const dir = await this.resolveExisting(parentOf(vpath));
    return { dir, name, real: dir === '/' ? '/' + name : `${dir}/${name}` };
  }

  async stat(vpath: string): Promise<EntryInfo> {
    const real = await this.resolveExisting(vpath);
    return entryOf(baseName(vpath) || '/', await stat(real));
  }

  /**
   * Entries of a folder (or the file itself). Entries that are symlinks are followed when
   * they stay inside the home and left out when they do not (or dangle), so a listing
   * never reveals a path outside the home.
   */
  async list(vpath: string, glob?: (name: string) => boolean): Promise<EntryInfo[]> {
    const real = await this.resolveExisting(vpath);
    const st = await stat(real);
    if (!st.isDirectory()) return [entryOf(baseName(vpath), st)];
    const names = (await readdir(real)).filter((n) => !glob || glob(n)).sort();
    const out: EntryInfo[] = [];
    for (const n of names) {
      const p = real === '/' ? '/' + n : `${real}/${n}`;
      try {
        const l = await lstat(p);
        if (l.isSymbolicLink()) {
          const target = await realpath(p);
          if (!isInside(this.homeReal, target)) continue;
          out.push(entryOf(n, await stat(target)));
        } else out.push(entryOf(n, l));
      } catch {
        /* vanished or dangling: not listed */
      }
    }
    return out;
  }

  async mkdir(vpath: string): Promise<void> {
    const { real } = await this.resolveParent(vpath);
    await mkdir(real, 0o777 & ~this.umask);
  }

  async rmdir(vpath: string): Promise<void> {
    const { real } = await this.resolveParent(vpath);
    if (real === this.homeReal) throw new FsFailure('denied');
    await rmdir(real);
  }

  /** Delete a file (or a symlink itself); returns the bytes freed. */
  async delete(vpath: string): Promise<number> {
    const { real } = await this.resolveParent(vpath);
    const l = await lstat(real);
    if (l.isDirectory()) throw new FsFailure('is-dir');
    await unlink(real);
    return l.isFile() ? l.size : 0;
  }

  async rename(from: string, to: string): Promise<void> {
    const a = await this.resolveParent(from);
    const b = await this.resolveParent(to);
    await lstat(a.real);
    if (a.real === this.homeReal) throw new FsFailure('denied');
    await rename(a.real, b.real);
  }

  /**
   * SITE CHMOD on an object strictly below the home, after resolving symlinks (a link to
   * "." or ".." is the home, and refused), with only the bits its type's mask allows.
   */
  async chmod(vpath: string, mode: number, fileMask: number, dirMask: number): Promise<void> {
    const real = await this.resolveExisting(vpath);
    if (real === this.homeReal) throw new FsFailure('denied');
    const st = await stat(real);
    const mask = st.isDirectory() ? dirMask : st.isFile() ? fileMask : 0;
    if (mask === 0 || (mode & ~mask) !== 0) throw new FsFailure('denied');
    await chmod(real, mode);
  }

  /** Open a regular file for RETR (O_NOFOLLOW on the resolved path). */
  async openRead(vpath: string): Promise<OpenedRead> {
    const real = await this.resolveExisting(vpath);
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new FsFailure(st.isDirectory() ? 'is-dir' : 'denied');
      return { handle, size: st.size };
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** Size of an existing regular file at a create path, or 0 when absent. */
  async existingSize(real: string): Promise<number> {
    try {
      const l = await lstat(real);
      if (l.isDirectory()) throw new FsFailure('is-dir');
      if (l.isSymbolicLink()) {
        // Writing through a symlink would follow it: only when it stays inside the home.
        const t = await realpath(real).catch(() => undefined);
        if (t === undefined || !isInside(this.homeReal, t)) throw new FsFailure('denied');
        return (await stat(t)).size;
      }
      return l.size;
    } catch (e) {
      if (e instanceof FsFailure) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }

  /** Open for writing: flags as fs.open ('wx', 'a', 'r+'); never follows a final symlink. */
  async openWrite(real: string, flags: 'wx' | 'a' | 'r+'): Promise<FileHandle> {
    const f =
      flags === 'wx'
        ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL
        : flags === 'a'
          ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND
          : constants.O_WRONLY;
    return open(real, f | constants.O_NOFOLLOW, 0o666 & ~this.umask);
  }

  toVirtual(real: string): string {
    return toVirtual(this.homeReal, real);
  }
}

/** Bytes of regular files under a folder (for quotas); symlinks are not followed. */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 64) return;
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile()) total += (await lstat(p).catch(() => undefined))?.size ?? 0;
    }
  };
  await walk(dir, 0);
  return total;
}
