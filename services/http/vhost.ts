/**
 * Virtual host selection: which site answers a request, from its Host (RFC 9110 §7.2,
 * RFC 9112 §3.2) the way nginx picks a `server` block: exact name, then the longest
 * leading wildcard (`*.example.org`), then the longest trailing wildcard (`www.*`), then the
 * default server. Names compare case-insensitively (RFC 9110 §4.2.3: the host is
 * case-insensitive) and the port is ignored; fastify's `constraints: { host }` compares
 * the raw header exactly, which is why selection happens here.
 *
 * Hot path: the raw Host value is looked up in a bounded memo first, so a site with a
 * handful of names costs one Map lookup per request.
 *
 * Left out: regex names (`~^…`), `.example.org` (nginx shorthand for both forms).
 */

export interface HostTable<S> {
  /** Site for a raw Host field value (may hold a port, any case); undefined Host → default. */
  select(host: string | undefined): S;
}

const MEMO_MAX = 1024;

/** Reg-name / IPv4 / [IPv6] plus optional port, RFC 3986 §3.2.2; anything else is not a host. */
export function isValidHost(host: string): boolean {
  if (host.length === 0 || host.length > 255 + 6) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2d ||
      c === 0x2e ||
      c === 0x5f || // - . _
      c === 0x3a ||
      c === 0x5b ||
      c === 0x5d; // : [ ]
    if (!ok) return false;
  }
  return true;
}

/** Lower-case host without port and without a trailing dot (`Example.ORG.:8080` → `example.org`). */
export function hostName(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 0x5b) {
    // [v6]:port
    const close = host.indexOf(']');
    end = close === -1 ? host.length : close + 1;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 0x2e) end--;
  return host.slice(0, end).toLowerCase();
}

export function buildHostTable<S>(
  sites: readonly {
    readonly serverNames: readonly string[];
    readonly isDefault: boolean;
    readonly site: S;
  }[],
): HostTable<S> {
  if (sites.length === 0) throw new Error('ERR_HTTP_NO_SITES: at least one site is needed');
  const exact = new Map<string, S>();
  const leading: { suffix: string; site: S }[] = []; // "*.example.org" → ".example.org"
  const trailing: { prefix: string; site: S }[] = []; // "www.*" → "www."
  let def: S = sites[0]!.site;
  for (const s of sites) {
    if (s.isDefault) def = s.site;
    for (const raw of s.serverNames) {
      const n = raw.toLowerCase();
      if (n === '_' || n === '') continue; // nginx's "matches nothing" name
      if (n.startsWith('*.')) leading.push({ suffix: n.slice(1), site: s.site });
      else if (n.endsWith('.*')) trailing.push({ prefix: n.slice(0, -1), site: s.site });
      else if (!exact.has(n)) exact.set(n, s.site); // first definition wins, as in nginx
    }
  }
  leading.sort((a, b) => b.suffix.length - a.suffix.length);
  trailing.sort((a, b) => b.prefix.length - a.prefix.length);

  const resolve = (name: string): S => {
    const e = exact.get(name);
    if (e !== undefined) return e;
    for (const l of leading) if (name.endsWith(l.suffix)) return l.site;
    for (const t of trailing) if (name.startsWith(t.prefix)) return t.site;
    return def;
  };

  const memo = new Map<string, S>();
  return {
    select(host) {
      if (host === undefined || host === '') return def;
      const hit = memo.get(host);
      if (hit !== undefined) return hit;
      const site = resolve(hostName(host));
      if (memo.size >= MEMO_MAX) memo.clear(); // bounded: a flood of random Hosts only costs a resolve each
      memo.set(host, site);
      return site;
    },
  };
}
