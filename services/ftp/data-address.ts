/**
 * Data-connection addresses: PORT and PASV (RFC 959 §4.1.2, host-port
 * "h1,h2,h3,h4,p1,p2"), EPRT and EPSV (RFC 2428 §2 "EPRT |1|132.235.1.2|6275|",
 * §3 "229 Entering Extended Passive Mode (|||6446|)").
 *
 * Also the address comparison used against bounce attacks (RFC 2577 §3: "the server
 * … SHOULD NOT … open a data connection to a host other than the one the control
 * connection came from" is what vsftpd's port_promiscuous=NO enforces) and connection
 * theft (vsftpd pasv_promiscuous=NO): addresses are compared in canonical form, with
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack listener reports) seen as IPv4.
 * Written without node:net so the session core stays free of I/O modules.
 */

export interface HostPort {
  /** Canonical text: dotted quad, or 8 lower-case hex groups joined by ":" (no "::"). */
  readonly host: string;
  readonly family: 4 | 6;
  readonly port: number;
}

export function parseIpv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** Eight 16-bit groups, or undefined. Accepts "::" and a trailing dotted quad. */
export function parseIpv6(s: string): number[] | undefined {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (!v4 || lastColon < 0) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    // Keep a "::" just before the quad; drop a single separating ":".
    const prefix = s.slice(0, lastColon + 1);
    s = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (given > 7) return undefined;
    return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  }
  return given === 8 ? [...head, ...tail] : undefined;
}

/** Canonical form of an address (as Node reports a peer), or undefined if not an IP. */
export function canonicalAddress(addr: string): { host: string; family: 4 | 6 } | undefined {
  const v4 = parseIpv4(addr);
  if (v4) return { host: v4.join('.'), family: 4 };
  const v6 = parseIpv6(addr);
  if (!v6) return undefined;
  if (v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff) {
    return { host: [v6[6]! >> 8, v6[6]! & 255, v6[7]! >> 8, v6[7]! & 255].join('.'), family: 4 };
  }
  return { host: v6.map((g) => g.toString(16)).join(':'), family: 6 };
}

export function sameHost(a: string, b: string): boolean {
  const x = canonicalAddress(a);
  const y = canonicalAddress(b);
  return x !== undefined && y !== undefined && x.host === y.host;
}

/** PORT argument "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2). */
export function parsePortArg(arg: string): HostPort | undefined {
  const parts = arg.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p.trim()))) return undefined;
  const n = parts.map((p) => Number(p.trim()));
  if (n.some((x) => x > 255)) return undefined;
  const port = n[4]! * 256 + n[5]!;
  if (port === 0) return undefined;
  return { host: n.slice(0, 4).join('.'), family: 4, port };
}

/**
 * EPRT argument (RFC 2428 §2): "<d><net-prt><d><net-addr><d><tcp-port><d>", the delimiter
 * being any printable ASCII character (33-126). `unsupported` when the family is neither
 * 1 nor 2 (the caller answers 522).
 */
export function parseEprtArg(arg: string): HostPort | 'unsupported' | undefined {
  const d = arg[0];
  if (d === undefined || d.charCodeAt(0) < 33 || d.charCodeAt(0) > 126) return undefined;
  const parts = arg.split(d);
  // "|1|1.2.3.4|5|" splits into ["", "1", "1.2.3.4", "5", ""].
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, af, addr, portText] = parts as [string, string, string, string, string];
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  if (af === '1') {
    const v4 = parseIpv4(addr);
    return v4 ? { host: v4.join('.'), family: 4, port } : undefined;
  }
  if (af === '2') {
    const c = parseIpv6(addr) ? canonicalAddress(addr) : undefined;
    return c ? { host: c.host, family: c.family, port } : undefined;
  }
  return /^\d+$/.test(af) ? 'unsupported' : undefined;
}

/** 227 text (RFC 959 §4.2.2 "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)."). */
export function pasvText(ipv4: string, port: number): string {
  return `Entering Passive Mode (${ipv4.split('.').join(',')},${port >> 8},${port & 255}).`;
}

/** 229 text (RFC 2428 §3). */
export function epsvText(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}
