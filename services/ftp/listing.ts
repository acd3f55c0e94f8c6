/**
 * Directory listings as text: LIST (RFC 959 §4.1.3 leaves the format to the server; we
 * print the `ls -l` form vsftpd prints with hide_ids=YES, which every client parses),
 * NLST (names only, §4.1.3), and MLSD/MLST facts (RFC 3659 §7: "type", "size", "modify",
 * "perm", and "UNIX.mode" from the IANA registry, §7.5–7.6).
 *
 * Inputs are plain records the adapter builds from stat(2); time ("now", for the
 * six-months rule of ls) is a parameter. Owners are shown as "ftp" (vsftpd hide_ids=YES):
 * numeric ids of the host mean nothing to the client and tell an attacker about it.
 * Left out: MLST "unique", "lang", "media-type", "charset", "create" facts.
 */

export interface EntryInfo {
  readonly name: string;
  readonly type: 'file' | 'dir' | 'other';
  readonly size: number;
  readonly mtimeMs: number;
  /** Permission bits (0o7777 part of st_mode). */
  readonly mode: number;
  readonly nlink?: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182.5 * 24 * 3600 * 1000;

function modeString(e: EntryInfo): string {
  const t = e.type === 'dir' ? 'd' : e.type === 'file' ? '-' : '?';
  let s = t;
  const bits = 'rwxrwxrwx';
  for (let i = 0; i < 9; i++) s += e.mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** "Nov 23 14:26" for recent files, "Nov 23  2025" for older (or future) ones, UTC. */
export function lsDate(mtimeMs: number, nowMs: number): string {
  const d = new Date(mtimeMs);
  const head = `${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())}`;
  const recent = mtimeMs <= nowMs + 3600_000 && nowMs - mtimeMs < SIX_MONTHS_MS;
  return recent
    ? `${head} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`
    : `${head}  ${d.getUTCFullYear()}`;
}

/** One `ls -l` line as vsftpd prints it (without CRLF). */
export function listLine(e: EntryInfo, nowMs: number): string {
  const links = String(e.nlink ?? 1).padStart(4);
  const size = String(e.size).padStart(12);
  return `${modeString(e)} ${links} ftp      ftp      ${size} ${lsDate(e.mtimeMs, nowMs)} ${e.name}`;
}

/** RFC 3659 §2.3 time-val "YYYYMMDDHHMMSS" (UTC), used by MDTM and the modify fact. */
export function timeVal(ms: number): string {
  const d = new Date(ms);
  return (
    String(d.getUTCFullYear()).padStart(4, '0') +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds())
  );
}

export interface PermContext {
  /** What the session's user may do (config permissions). */
  readonly write: boolean;
  readonly delete: boolean;
  readonly mkdir: boolean;
  readonly rename: boolean;
  readonly read: boolean;
}

/** RFC 3659 §7.5.5 perm fact, from the user's rights (not the host's mode bits). */
export function permFact(type: EntryInfo['type'], p: PermContext): string {
  let s = '';
  if (type === 'file') {
    if (p.write) s += 'aw';
    if (p.delete) s += 'd';
    if (p.rename) s += 'f';
    if (p.read) s += 'r';
  } else if (type === 'dir') {
    if (p.write) s += 'c';
    if (p.delete) s += 'd';
    s += 'e';
    if (p.rename) s += 'f';
    if (p.read) s += 'l';
    if (p.mkdir) s += 'm';
    if (p.delete) s += 'p';
  }
  return s;
}

export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/**
 * "fact=value;…; name" (RFC 3659 §7.2 entry). `typeOverride` gives "cdir"/"pdir" for the
 * "." and ".." entries of MLSD (§7.5.1). Only `enabled` facts are printed (OPTS MLST).
 */
export function mlsxLine(
  e: EntryInfo,
  p: PermContext,
  enabled: ReadonlySet<MlstFact>,
  displayName: string,
  typeOverride?: 'cdir' | 'pdir',
): string {
  let s = '';
  if (enabled.has('type'))
    s += `type=${typeOverride ?? (e.type === 'other' ? 'OS.unix=other' : e.type)};`;
  if (enabled.has('size') && e.type === 'file') s += `size=${e.size};`;
  if (enabled.has('modify')) s += `modify=${timeVal(e.mtimeMs)};`;
  if (enabled.has('perm')) s += `perm=${permFact(e.type, p)};`;
  if (enabled.has('unix.mode')) s += `UNIX.mode=0${(e.mode & 0o7777).toString(8)};`;
  return `${s} ${displayName}`;
}

/** Strip `ls` options some clients send ("LIST -la", "NLST -a dir"): vsftpd ignores them too. */
export function stripListOptions(arg: string): string {
  let rest = arg.trim();
  while (rest.startsWith('-')) {
    const sp = rest.indexOf(' ');
    rest = sp < 0 ? '' : rest.slice(sp + 1).trimStart();
  }
  return rest;
}

/** Glob match of the last segment for NLST/LIST patterns like "*.txt" (fnmatch-lite). */
export function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (const c of pattern) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[\\^$.|+(){}[\]]/g, '\\$&');
  }
  return new RegExp(re + '$', 's').test(name);
}

export const hasGlob = (s: string): boolean => /[*?]/.test(s);
