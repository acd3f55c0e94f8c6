/**
 * Reply formatting (RFC 959 §4.2). A reply is a 3-digit code and text. One line:
 * "code SP text CRLF". Several lines (§4.2, "Thus the format for multi-line replies is
 * that the first line will begin with the exact required reply code, followed immediately
 * by a Hyphen … The last line will begin with the same code, followed immediately by
 * Space"). Inner lines that would start with a digit are indented by one space, which the
 * RFC allows ("the user-process … must not mistake them for the end"); RFC 2389 §3.2
 * FEAT lines and RFC 3659 §7.2 MLST fact lines start with a space anyway.
 *
 * Text never carries CR or LF from a peer (a file name with a newline would otherwise
 * inject a reply line): they are replaced here.
 */

export interface Reply {
  readonly code: number;
  /** Wire bytes (CRLF-terminated, possibly several lines). */
  readonly text: string;
}

const clean = (s: string): string => s.replace(/[\r\n]/g, ' ');

export function reply(code: number, text: string): Reply {
  return { code, text: `${code} ${clean(text)}\r\n` };
}

/** `first` goes on the "code-" line, `last` on the final "code " line, `lines` between. */
export function multiline(
  code: number,
  first: string,
  lines: readonly string[],
  last: string,
): Reply {
  let text = `${code}-${clean(first)}\r\n`;
  for (const l of lines) {
    const c = clean(l);
    text += (/^\d/.test(c) ? ' ' + c : c) + '\r\n';
  }
  return { code, text: text + `${code} ${clean(last)}\r\n` };
}

/** RFC 959 Appendix II: a quote inside a pathname in a 257 reply is doubled. */
export function quotePath(path: string): string {
  return '"' + path.replace(/"/g, '""') + '"';
}
