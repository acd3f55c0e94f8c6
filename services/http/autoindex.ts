/**
 * Directory listing page (nginx `autoindex on`): an HTML list of the entries of a
 * directory without an index file, directories first and marked with `/`, names
 * percent-encoded in links (RFC 3986 §2.1) and HTML-escaped in text. Hidden files (dot
 * files) are left out, as are sizes and dates (nginx shows them; they leak little
 * but cost a stat per entry).
 */

export interface ListedEntry {
  readonly name: string;
  readonly isDir: boolean;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

export function renderAutoindex(path: string, entries: readonly ListedEntry[]): string {
  const shown = entries
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) =>
      a.isDir === b.isDir ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.isDir ? -1 : 1,
    );
  const title = escapeHtml(`Index of ${path}`);
  const rows = [path === '/' ? '' : '<a href="../">../</a>'];
  for (const e of shown) {
    const label = e.name + (e.isDir ? '/' : '');
    rows.push(
      `<a href="${encodeURIComponent(e.name)}${e.isDir ? '/' : ''}">${escapeHtml(label)}</a>`,
    );
  }
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n` +
    `<body><h1>${title}</h1><hr><pre>\n${rows.filter((r) => r !== '').join('\n')}\n</pre><hr></body></html>\n`
  );
}
