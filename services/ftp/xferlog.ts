/**
 * The standard xferlog line (wu-ftpd's format, written by vsftpd with
 * xferlog_std_format=YES; man 5 xferlog):
 *
 *   current-time transfer-time remote-host file-size filename transfer-type
 *   special-action-flag direction access-mode username service-name
 *   authentication-method authenticated-user-id completion-status
 *
 * e.g. "Mon Nov 23 14:26:03 2026 1 127.0.0.1 70 /Admin.txt b _ o r admin ftp 0 * c".
 * Time is UTC (vsftpd use_localtime=NO). The file name is the virtual path (as vsftpd logs
 * it inside a chroot) with spaces replaced by "_" so the line stays splittable, as
 * wu-ftpd does. Left out: the special-action flags for compression (always "_").
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) form "Mon Nov 23 14:26:03 2026" (day padded with a space), UTC. */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`
  );
}

export interface XferRecord {
  readonly endMs: number;
  readonly durationMs: number;
  readonly remoteHost: string;
  readonly bytes: number;
  readonly path: string;
  readonly binary: boolean;
  readonly direction: 'o' | 'i' | 'd';
  readonly anonymous: boolean;
  readonly user: string;
  readonly complete: boolean;
}

export function xferlogLine(r: XferRecord): string {
  // transfer-time is whole seconds, rounded up as wu-ftpd does (a 0.1 s transfer is "1").
  const secs = Math.max(1, Math.ceil(r.durationMs / 1000));
  const name = r.path.replace(/\s/g, '_');
  return [
    ctime(r.endMs),
    secs,
    r.remoteHost,
    r.bytes,
    name,
    r.binary ? 'b' : 'a',
    '_',
    r.direction,
    r.anonymous ? 'a' : 'r',
    r.user.replace(/\s/g, '_') || '*',
    'ftp',
    0,
    '*',
    r.complete ? 'c' : 'i',
  ].join(' ');
}
