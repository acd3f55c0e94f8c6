/**
 * Virtual paths: what the client sees, with the user's home as "/" (the chroot semantics
 * of vsftpd's chroot_local_user=YES, without chroot(2)).
 *
 * `resolveVirtual(cwd, arg)` turns a CWD/RETR/… argument into a normalised absolute
 * virtual path: relative names join the current directory, "." and empty segments vanish,
 * ".." never climbs above "/" (as in a chroot, "/.." is "/"). The result can always be
 * joined under the home without leaving it *textually*; symlinks that point outside are
 * caught later, on real paths, by home-fs-adapter.ts (realpath + containment check).
 *
 * RFC 959 §3.2 leaves pathname syntax to the server; we use "/" separators (RFC 3659 §6
 * TVFS, advertised in FEAT). NUL bytes are refused (they would cut the path in a syscall).
 * Backslashes are ordinary characters, as on a Unix server.
 */

/** Normalised absolute virtual path, or undefined for an argument we refuse (NUL). */
export function resolveVirtual(cwd: string, arg: string): string | undefined {
  if (arg.includes('\0')) return undefined;
  const start = arg.startsWith('/') ? [] : splitPath(cwd);
  for (const seg of arg.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') start.pop();
    else start.push(seg);
  }
  return '/' + start.join('/');
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/** Parent directory of a normalised virtual path ("/" for "/"). */
export function parentOf(vpath: string): string {
  const i = vpath.lastIndexOf('/');
  return i <= 0 ? '/' : vpath.slice(0, i);
}

/** Last segment of a normalised virtual path ("" for "/"). */
export function baseName(vpath: string): string {
  return vpath.slice(vpath.lastIndexOf('/') + 1);
}

/** The real path under `homeReal` (a realpath without trailing slash) for a virtual path. */
export function underHome(homeReal: string, vpath: string): string {
  return vpath === '/' ? homeReal : homeReal + vpath;
}

/** Whether `real` (a realpath) is the home itself or inside it. */
export function isInside(homeReal: string, real: string): boolean {
  if (homeReal === '/') return real.startsWith('/');
  return real === homeReal || real.startsWith(homeReal + '/');
}

/** The virtual path of a real path inside the home (for STOU names and logs). */
export function toVirtual(homeReal: string, real: string): string {
  if (real === homeReal) return '/';
  return homeReal === '/' ? real : real.slice(homeReal.length);
}
