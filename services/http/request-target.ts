/**
 * Request target → file path under a document root (RFC 9112 §3.2, RFC 3986 §2.1, §3.3,
 * §5.2.4).
 *
 * Accepts origin-form (`/a%20b.png?x`) and absolute-form (`http://host/a`, whose authority
 * then replaces Host, RFC 9112 §3.2.2). The path is percent-decoded once as UTF-8, so
 * `%2e%2e` is `..` and `%252e` stays the literal `%2e`. Empty and `.` segments are merged
 * away (nginx merge_slashes); what is left must not contain a `..` segment, a backslash or
 * a NUL: those are traversal attempts and get 400 (nginx answers 400 to a `..` climbing
 * above the root; refusing every `..` is stricter and simpler to audit).
 *
 * Left out: asterisk-form and authority-form (not meaningful for a file server: 400),
 * `;params` (kept as part of the name).
 */

export type Target =
  | {
      readonly ok: true;
      /** Decoded path, starts with `/`, no `.`/`..`/empty segments (a trailing `/` is kept). */
      readonly path: string;
      /** Raw path as received (still percent-encoded), for redirects. */
      readonly rawPath: string;
      /** `?…` including the `?`, or ''. */
      readonly query: string;
      /** Authority of an absolute-form target, else undefined. */
      readonly authority: string | undefined;
    }
  | { readonly ok: false; readonly reason: string };

const bad = (reason: string): Target => ({ ok: false, reason });

export function parseTarget(url: string): Target {
  let authority: string | undefined;
  let rest = url;
  if (url.charCodeAt(0) !== 0x2f) {
    // RFC 9112 §3.2.2 absolute-form: "a server MUST accept the absolute-form in requests"
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
    if (!m) return bad('request target is not origin-form or absolute-form');
    authority = m[1]!;
    rest = m[2] === '' ? '/' : m[2]!;
    if (rest.charCodeAt(0) !== 0x2f) rest = '/' + rest;
  }
  let end = rest.length;
  const q = rest.indexOf('?');
  if (q !== -1) end = q;
  const h = rest.indexOf('#'); // a fragment is never sent (RFC 9110 §4.2.5); tolerate and drop it
  if (h !== -1 && h < end) end = h;
  const rawPath = rest.slice(0, end);
  const query = q === -1 ? '' : rest.slice(q, h > q ? h : rest.length);

  let path = rawPath;
  if (rawPath.indexOf('%') !== -1) {
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return bad('malformed percent-encoding');
    }
  }
  if (path.indexOf('\0') !== -1) return bad('NUL in path');
  if (path.indexOf('\\') !== -1) return bad('backslash in path');
  if (path.indexOf('//') !== -1 || path.indexOf('/.') !== -1) {
    const segs = path.split('/');
    const out: string[] = [];
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      if (s === '..') return bad('dot-dot segment in path');
      if (s === '' || s === '.') continue; // merge_slashes; RFC 3986 §5.2.4 drops "."
      out.push(s);
    }
    const last = segs[segs.length - 1];
    const trailing = last === '' || last === '.';
    path = '/' + out.join('/') + (trailing && out.length > 0 ? '/' : '');
  }
  return { ok: true, path, rawPath, query, authority };
}
