/**
 * Access and error log lines, formatted as nginx writes them, so existing tools
 * (goaccess, fail2ban filters, awstats) read them unchanged:
 *
 *   combined: $remote_addr - $remote_user [$time_local] "$request" $status
 *             $body_bytes_sent "$http_referer" "$http_user_agent"
 *   error:    YYYY/MM/DD HH:MM:SS [level] pid#0: *conn message, client: …, server: …,
 *             request: "…", host: "…"
 *
 * Untrusted fields are escaped like nginx's `escape=default`: `"`, `\` and bytes outside
 * printable ASCII become `\xHH`, so a request cannot forge log lines. Time strings are
 * cached per second. Pure: `now` comes in.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));

let localSec = -1;
let localStr = '';
/** `$time_local`: `23/Nov/2025:14:17:00 +0000` (UTC: containers run in UTC). */
export function timeLocal(nowMs: number): string {
  const sec = Math.floor(nowMs / 1000);
  if (sec !== localSec) {
    const d = new Date(sec * 1000);
    localStr = `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
    localSec = sec;
  }
  return localStr;
}

/** nginx error-log time: `2025/11/23 14:17:00`. */
export function timeError(nowMs: number): string {
  const d = new Date(nowMs);
  return `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

export function escapeLog(s: string): string {
  let clean = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      clean = false;
      break;
    }
  }
  if (clean) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out +=
      b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c
        ? '\\x' + b.toString(16).toUpperCase().padStart(2, '0')
        : String.fromCharCode(b);
  }
  return out;
}

export interface AccessRecord {
  readonly remoteAddr: string;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly status: number;
  readonly bodyBytes: number;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
}

export function combinedLine(r: AccessRecord, nowMs: number): string {
  return (
    `${r.remoteAddr} - - [${timeLocal(nowMs)}] "${escapeLog(r.method)} ${escapeLog(r.url)} HTTP/${r.httpVersion}" ` +
    `${r.status} ${r.bodyBytes} "${r.referer === undefined ? '-' : escapeLog(r.referer)}" ` +
    `"${r.userAgent === undefined ? '-' : escapeLog(r.userAgent)}"\n`
  );
}

export interface ErrorRecord {
  readonly level: 'error' | 'warn' | 'info' | 'crit';
  readonly message: string;
  readonly client: string;
  readonly server: string;
  readonly request: string;
  readonly host: string | undefined;
}

export function errorLine(r: ErrorRecord, nowMs: number, pid: number): string {
  return (
    `${timeError(nowMs)} [${r.level}] ${pid}#0: ${escapeLog(r.message)}, client: ${r.client}, server: ${r.server}, ` +
    `request: "${escapeLog(r.request)}"${r.host === undefined ? '' : `, host: "${escapeLog(r.host)}"`}\n`
  );
}
