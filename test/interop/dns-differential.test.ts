/**
 * Differential test: the same zone files are loaded in BIND9 (`named -g`, own scratch folder
 * and port, authoritative only) and in netsvc, the same list of queries is sent to both over
 * UDP by a small Node client, and the answers (decoded with dns-packet, an independent
 * decoder) are compared: rcode (with the EDNS extended rcode), the AA/TC/RA flags, the echoed
 * question, the EDNS OPT record, and each section as a set of normalized records. Owner and
 * rdata names are compared lowercased; case differences are reported separately (and fail
 * too: the reference answers keep the zone's case).
 *
 * Zones: the two reference zones of config/dev, bench/dns/example.test.zone, and diff.test
 * below (wildcards, a delegation with glue, empty non-terminals, CNAME chains, MX/SRV with
 * in-zone targets). Queries: existing names, NXDOMAIN, NODATA, wildcard, below the
 * delegation, ANY, mixed case, with and without EDNS, RD 0/1, odd classes, types, opcodes.
 *
 * Every difference is printed as a table, with the count of queries that differ; the test
 * fails on any difference not in ALLOWLIST below, where each entry says why it is accepted.
 * Run by `npm run test:interop` (needs `npm run build` and the bind9 package).
 * DIFF_SUBJECT=bind9|knot puts a second BIND (a self-check of this harness: expect 0
 * differences) or Knot in netsvc's place; DIFF_REPORT=FILE also writes the report there.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { freePorts } from '../../src/testing/daemon.js';
import { rcodeToText } from '../../services/dns/message.js';
import {
  repoRoot,
  startKnot,
  startNamed,
  startNetsvc,
  udpExchange,
  which,
  type ZoneSpec,
} from '../../bench/dns-servers.js';

// ---- allowlist -----------------------------------------------------------------------
/**
 * Accepted differences. `query` is matched against the query label (see `label()`), `field`
 * against the difference's field (rcode, aa, tc, ra, question, edns, answer, authority,
 * additional, case:<section>, response). Keep each entry narrow and give the reason.
 */
const ALLOWLIST: ReadonlyArray<{
  query: RegExp;
  field: RegExp;
  /** Optional matchers on the two values, to keep an entry narrow. */
  bind?: RegExp;
  netsvc?: RegExp;
  reason: string;
}> = [
  {
    // Server identity in class CH. netsvc answers BIND's built-in CH zones the way BIND does
    // with `version none;` (NODATA with the zone's SOA), but hides hostname.bind by default
    // where BIND gives the machine's host name (and an NS in authority): a deliberate
    // difference, no host name leaks (the reference hid its identity).
    query: /^hostname\.bind CH TXT/,
    field: /^(rcode|aa|answer|authority)$/,
    reason: 'CH identity queries: BIND built-in CH zones vs netsvc hiding them',
  },
  {
    // DNS COOKIE (RFC 7873) is optional for servers; BIND answers a client cookie with a
    // server cookie, netsvc ignores the option (RFC 7873 §5.2: servers not implementing it
    // ignore the option).
    query: /cookie/,
    field: /^edns$/,
    reason: 'netsvc does not implement DNS COOKIE (optional, RFC 7873)',
  },
  {
    // Extended DNS Errors (RFC 8914) are optional; BIND adds EDE option 15 to some errors.
    query: /./,
    field: /^edns$/,
    bind: /opts=\[15\]$/,
    netsvc: /opts=\[\]$/,
    reason: 'netsvc does not send Extended DNS Errors (optional, RFC 8914)',
  },
];

// ---- zones -----------------------------------------------------------------------------
const DIFF_ZONE = `; diff.test: features the reference zones do not exercise.
$ORIGIN diff.test.
$TTL 3600
@           IN SOA  ns1.diff.test. hostmaster.diff.test. 2024010101 3600 600 86400 300
@           IN NS   ns1
@           IN NS   ns2.Diff.Test.
@           IN MX   10 mail
@           IN MX   20 mx2
@           IN TXT  "apex text" "with two strings"
ns1         IN A    192.0.2.1
ns2         IN A    192.0.2.2
ns2         IN AAAA 2001:db8::2
mail        IN A    192.0.2.25
mx2         IN AAAA 2001:db8::26
_xmpp._tcp  IN SRV  5 0 5222 chat
_xmpp._tcp  IN SRV  10 0 5222 chat2
chat        IN A    192.0.2.30
chat2       IN AAAA 2001:db8::30
; wildcards
*.wild      IN A    192.0.2.99
*.wild      IN TXT  "wildcard"
exact.wild  IN A    192.0.2.98
*.wc        IN MX   10 mail
*.wcn       IN CNAME c3
; delegation with glue (and one out-of-zone name server without glue)
sub         IN NS   ns.sub
sub         IN NS   ns.other.example.
ns.sub      IN A    192.0.2.53
ns.sub      IN AAAA 2001:db8::53
; empty non-terminals: ent and b.ent exist only as ancestors of a.b.ent
a.b.ent     IN A    192.0.2.40
; CNAME chains
c1          IN CNAME c2
c2          IN CNAME c3
c3          IN A    192.0.2.70
c3          IN TXT  "end of chain"
cext        IN CNAME www.example.test.
cdead       IN CNAME nowhere.diff.test.
cloop1      IN CNAME cloop2
cloop2      IN CNAME cloop1
cwild       IN CNAME foo.wild
; case
MiXeD       IN A    192.0.2.77
UPPER.Sub2  IN TXT  "case kept"
`;

// ---- queries -------------------------------------------------------------------------
interface Edns {
  udp?: number;
  version?: number;
  do?: boolean;
  options?: Array<{ code: number; data: Buffer }>;
}
interface Query {
  name: string;
  type: number;
  class?: number;
  rd?: boolean;
  /** false = no OPT record; default { udp: 1232 }. */
  edns?: Edns | false;
  opcode?: number;
  qr?: boolean;
  ad?: boolean;
  cd?: boolean;
  noQuestion?: boolean;
  /** Extra text for the label. */
  note?: string;
}

const TYPES: Record<string, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  CAA: 257,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
};
const CLASSES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };
const typeName = (n: number): string =>
  Object.entries(TYPES).find(([, v]) => v === n)?.[0] ?? `TYPE${n}`;
const className = (n: number): string => CLASSES[n] ?? `CLASS${n}`;

function label(q: Query): string {
  const e =
    q.edns === false
      ? 'noedns'
      : `edns${q.edns?.udp ?? 1232}${q.edns?.version ? `v${q.edns.version}` : ''}${q.edns?.do ? '+do' : ''}${q.edns?.options?.length ? `+opt${q.edns.options.map((o) => o.code).join(',')}` : ''}`;
  const extra = [
    q.rd ? 'rd' : '',
    q.opcode ? `opcode${q.opcode}` : '',
    q.qr ? 'qr' : '',
    q.ad ? 'ad' : '',
    q.cd ? 'cd' : '',
    q.noQuestion ? 'qdcount0' : '',
    q.note ?? '',
  ].filter(Boolean);
  return `${q.name} ${className(q.class ?? 1)} ${typeName(q.type)} ${e}${extra.length ? ' ' + extra.join(' ') : ''}`;
}

function buildQueries(): Query[] {
  const qs: Query[] = [];
  const add = (name: string, types: string[], more: Partial<Query> = {}): void => {
    for (const ty of types)
      qs.push({ name, type: TYPES[ty] ?? Number(ty.replace('TYPE', '')), ...more });
  };
  // Reference forward zone.
  add('TIC2023.com', ['SOA', 'NS', 'A', 'AAAA', 'MX', 'TXT', 'ANY', 'DNSKEY', 'DS', 'CAA']);
  for (const h of ['ns1', 'dhcp', 'ftp', 'www', 'voip', 'monitor'])
    add(`${h}.TIC2023.com`, ['A', 'AAAA']);
  add('www.TIC2023.com', ['ANY', 'MX', 'TXT', 'CNAME', 'NS', 'SOA']);
  for (const c of ['web1', 'web2']) add(`${c}.TIC2023.com`, ['A', 'AAAA', 'CNAME', 'ANY', 'TXT']);
  add('nosuch.TIC2023.com', ['A', 'AAAA', 'ANY']);
  add('a.b.www.TIC2023.com', ['A']);
  add('a.web1.TIC2023.com', ['A']);
  // Reference reverse zone.
  add('0.168.192.in-addr.arpa', ['SOA', 'NS', 'PTR', 'ANY']);
  for (let i = 2; i <= 7; i++) add(`${i}.0.168.192.in-addr.arpa`, ['PTR']);
  add('5.0.168.192.in-addr.arpa', ['A', 'ANY']);
  add('8.0.168.192.in-addr.arpa', ['PTR']);
  add('1.168.192.in-addr.arpa', ['PTR']);
  // Benchmark zone: the dnsperf query file, plus a few.
  add('example.test', ['SOA', 'NS', 'A', 'AAAA', 'MX', 'TXT', 'ANY']);
  add('www.example.test', ['A', 'AAAA']);
  add('web1.example.test', ['A']);
  add('web2.example.test', ['A']);
  add('ftp.example.test', ['A', 'CNAME', 'AAAA']);
  add('mail.example.test', ['A', 'AAAA', 'ANY']);
  add('_sip._udp.example.test', ['SRV', 'ANY']);
  add('_sip._tcp.example.test', ['SRV']);
  add('_sip._sctp.example.test', ['SRV']);
  add('info.example.test', ['TXT']);
  add('alias.example.test', ['A', 'AAAA']);
  add('nx1.example.test', ['A']);
  add('nx2.example.test', ['AAAA']);
  add('nope.example.test', ['MX']);
  add('missing.example.test', ['TXT']);
  add('_udp.example.test', ['SRV', 'A']);
  // diff.test: apex, MX/SRV with in-zone targets.
  add('diff.test', ['SOA', 'NS', 'MX', 'TXT', 'ANY', 'A']);
  add('_xmpp._tcp.diff.test', ['SRV']);
  add('mail.diff.test', ['A', 'AAAA']);
  add('ns2.diff.test', ['A', 'AAAA', 'ANY']);
  // Wildcards (RFC 4592).
  add('foo.wild.diff.test', ['A', 'TXT', 'AAAA', 'ANY']);
  add('a.b.wild.diff.test', ['A']);
  add('exact.wild.diff.test', ['A', 'TXT']);
  add('wild.diff.test', ['A']);
  add('*.wild.diff.test', ['A']);
  add('x.exact.wild.diff.test', ['A']);
  add('host.wc.diff.test', ['MX', 'A']);
  add('host.wcn.diff.test', ['A', 'TXT', 'CNAME']);
  // Delegation with glue.
  add('sub.diff.test', ['A', 'NS', 'DS', 'SOA', 'ANY']);
  add('host.sub.diff.test', ['A']);
  add('deep.host.sub.diff.test', ['AAAA']);
  add('ns.sub.diff.test', ['A', 'AAAA']);
  // Empty non-terminals.
  add('ent.diff.test', ['A', 'ANY']);
  add('b.ent.diff.test', ['A', 'TXT']);
  add('a.b.ent.diff.test', ['A', 'AAAA']);
  add('x.ent.diff.test', ['A']);
  add('x.b.ent.diff.test', ['A']);
  // CNAME chains.
  add('c1.diff.test', ['A', 'TXT', 'CNAME', 'AAAA', 'ANY']);
  add('c2.diff.test', ['A']);
  add('cext.diff.test', ['A']);
  add('cdead.diff.test', ['A']);
  add('cloop1.diff.test', ['A']);
  add('cwild.diff.test', ['A', 'TXT']);
  // Case.
  add('mixed.diff.test', ['A']);
  add('MIXED.DIFF.TEST', ['A']);
  add('upper.sub2.diff.test', ['TXT']);
  add('sub2.diff.test', ['TXT']);
  add('WWW.TIC2023.COM', ['A']);
  add('wWw.tIc2023.CoM', ['A', 'AAAA']);
  add('WEB1.tic2023.com', ['A']);
  add('5.0.168.192.IN-ADDR.ARPA', ['PTR']);
  add('EXAMPLE.TEST', ['MX']);
  add('_SIP._UDP.Example.Test', ['SRV']);
  add('FOO.WILD.DIFF.TEST', ['A']);
  add('SUB.Diff.Test', ['A']);
  add('NoSuch.Tic2023.Com', ['A']);
  // Outside our zones.
  add('example.org', ['A']);
  add('com', ['SOA']);
  add('.', ['NS', 'SOA']);
  add('test', ['SOA', 'NS']);
  add('in-addr.arpa', ['NS']);
  add('localhost', ['A']);
  add('TIC2023.com.example.org', ['A']);
  // RD=1 (stub clients such as the reference's Windows and Android hosts).
  for (const [n, ty] of [
    ['www.TIC2023.com', 'A'],
    ['web1.TIC2023.com', 'A'],
    ['TIC2023.com', 'NS'],
    ['TIC2023.com', 'SOA'],
    ['nosuch.TIC2023.com', 'A'],
    ['www.TIC2023.com', 'AAAA'],
    ['example.test', 'MX'],
    ['_sip._udp.example.test', 'SRV'],
    ['sub.diff.test', 'A'],
    ['example.org', 'A'],
    ['5.0.168.192.in-addr.arpa', 'PTR'],
  ] as const)
    add(n, [ty], { rd: true });
  // EDNS variants.
  for (const [n, ty] of [
    ['www.TIC2023.com', 'A'],
    ['nosuch.TIC2023.com', 'A'],
    ['example.test', 'MX'],
    ['sub.diff.test', 'A'],
  ] as const) {
    add(n, [ty], { edns: false });
    add(n, [ty], { edns: { udp: 512 } });
    add(n, [ty], { edns: { udp: 4096 } });
    add(n, [ty], { edns: { udp: 1232, do: true } });
  }
  add('www.TIC2023.com', ['A'], { edns: { udp: 100 } });
  add('www.TIC2023.com', ['A'], { edns: { udp: 65535 } });
  add('www.TIC2023.com', ['A'], { edns: { udp: 1232, version: 1 } });
  add('nosuch.TIC2023.com', ['A'], { edns: { udp: 1232, version: 1 } });
  add('www.TIC2023.com', ['A'], {
    edns: { udp: 1232, options: [{ code: 65001, data: Buffer.from('abcd') }] },
  });
  add('www.TIC2023.com', ['A'], {
    edns: { udp: 1232, options: [{ code: 3, data: Buffer.alloc(0) }] },
    note: 'nsid',
  });
  add('www.TIC2023.com', ['A'], {
    edns: { udp: 1232, options: [{ code: 10, data: Buffer.from('0102030405060708', 'hex') }] },
    note: 'cookie',
  });
  add('example.test', ['ANY'], { edns: false });
  // Odd classes.
  for (const cls of [3, 4, 254, 255, 0, 42]) add('www.TIC2023.com', ['A'], { class: cls });
  add('TIC2023.com', ['SOA'], { class: 255 });
  add('version.bind', ['TXT'], { class: 3 });
  add('hostname.bind', ['TXT'], { class: 3 });
  add('id.server', ['TXT'], { class: 3 });
  add('version.server', ['TXT'], { class: 3 });
  add('version.bind', ['TXT']);
  add('authors.bind', ['TXT'], { class: 3 });
  // Odd types.
  add('www.TIC2023.com', ['TYPE65280', 'TYPE0', 'OPT', 'RRSIG', 'NSEC', 'HINFO', 'MAILA', 'MAILB']);
  add('TIC2023.com', ['AXFR', 'IXFR']);
  add('nosuch.TIC2023.com', ['TYPE65280']);
  // Header variations.
  for (const op of [1, 2, 4, 5, 15]) add('TIC2023.com', ['SOA'], { opcode: op });
  add('TIC2023.com', ['SOA'], { noQuestion: true });
  add('TIC2023.com', ['SOA'], { qr: true });
  add('www.TIC2023.com', ['A'], { ad: true });
  add('www.TIC2023.com', ['A'], { cd: true });
  return qs;
}

// ---- wire ------------------------------------------------------------------------------
function encodeName(name: string): Buffer {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'latin1');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function encodeQuery(q: Query, id: number): Buffer {
  const edns = q.edns === undefined ? { udp: 1232 } : q.edns;
  const flags =
    ((q.qr ? 1 : 0) << 15) |
    ((q.opcode ?? 0) << 11) |
    ((q.rd ? 1 : 0) << 8) |
    ((q.ad ? 1 : 0) << 5) |
    ((q.cd ? 1 : 0) << 4);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(q.noQuestion ? 0 : 1, 4);
  header.writeUInt16BE(edns === false ? 0 : 1, 10);
  const parts: Buffer[] = [header];
  if (!q.noQuestion) {
    const tc = Buffer.alloc(4);
    tc.writeUInt16BE(q.type, 0);
    tc.writeUInt16BE(q.class ?? 1, 2);
    parts.push(encodeName(q.name), tc);
  }
  if (edns !== false) {
    const opts = Buffer.concat(
      (edns.options ?? []).map((o) => {
        const h = Buffer.alloc(4);
        h.writeUInt16BE(o.code, 0);
        h.writeUInt16BE(o.data.length, 2);
        return Buffer.concat([h, o.data]);
      }),
    );
    const rr = Buffer.alloc(11);
    rr.writeUInt8(0, 0); // root
    rr.writeUInt16BE(41, 1);
    rr.writeUInt16BE(edns.udp ?? 1232, 3);
    rr.writeUInt8(0, 5); // extended rcode
    rr.writeUInt8(edns.version ?? 0, 6);
    rr.writeUInt16BE(edns.do ? 0x8000 : 0, 7);
    rr.writeUInt16BE(opts.length, 9);
    parts.push(rr, opts);
  }
  return Buffer.concat(parts);
}

// ---- normalized view of an answer ------------------------------------------------------
interface View {
  response: string; // "ok" | "timeout" | "undecodable: …"
  rcode: string;
  aa: boolean;
  tc: boolean;
  ra: boolean;
  question: string;
  edns: string;
  /** Section → records as text, exact case. */
  sections: Record<'answer' | 'authority' | 'additional', string[]>;
}

const NAME_TYPES = new Set(['CNAME', 'NS', 'PTR', 'MX', 'SRV', 'SOA', 'DNAME']);

function dataText(type: string, data: unknown): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return `\\# ${data.toString('hex')}`;
  if (Array.isArray(data))
    return data
      .map((d) => (Buffer.isBuffer(d) ? JSON.stringify(d.toString('latin1')) : String(d)))
      .join(' ');
  if (data !== null && typeof data === 'object') {
    const o = data as Record<string, unknown>;
    if (type === 'SOA')
      return `${o.mname} ${o.rname} ${o.serial} ${o.refresh} ${o.retry} ${o.expire} ${o.minimum}`;
    if (type === 'MX') return `${o.preference} ${o.exchange}`;
    if (type === 'SRV') return `${o.priority} ${o.weight} ${o.port} ${o.target}`;
    return JSON.stringify(o, (_k, v: unknown) =>
      v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
        ? Buffer.from((v as { data: number[] }).data).toString('hex')
        : v,
    );
  }
  return String(data);
}

function view(buf: Buffer | undefined): View {
  const empty: View = {
    response: 'timeout',
    rcode: '-',
    aa: false,
    tc: false,
    ra: false,
    question: '-',
    edns: '-',
    sections: { answer: [], authority: [], additional: [] },
  };
  if (buf === undefined) return empty;
  let p: ReturnType<typeof dnsPacket.decode>;
  try {
    p = dnsPacket.decode(buf);
  } catch (e) {
    return { ...empty, response: `undecodable: ${(e as Error).message} (${buf.length} bytes)` };
  }
  const flags = buf.readUInt16BE(2);
  let rcodeNum = flags & 0xf;
  let edns = 'none';
  const recs = (list: ReadonlyArray<dnsPacket.Answer> | undefined): string[] =>
    (list ?? []).flatMap((a) => {
      if (a.type === 'OPT') {
        const o = a as dnsPacket.OptAnswer & { extendedRcode?: number; ednsVersion?: number };
        rcodeNum |= (o.extendedRcode ?? 0) << 4;
        const codes = (o.options ?? []).map((x) => x.code).sort((x, y) => x - y);
        edns = `udp=${o.udpPayloadSize} v=${o.ednsVersion ?? 0} do=${o.flag_do ? 1 : 0} opts=[${codes.join(',')}]`;
        return [];
      }
      const r = a as { name: string; type: string; class?: string; ttl?: number; data?: unknown };
      return [`${r.name}. ${r.ttl ?? 0} ${r.class ?? '?'} ${r.type} ${dataText(r.type, r.data)}`];
    });
  const sections = {
    answer: recs(p.answers),
    authority: recs(p.authorities),
    additional: recs(p.additionals),
  };
  const q = p.questions?.[0];
  return {
    response: 'ok',
    rcode: rcodeToText(rcodeNum),
    aa: (flags & 0x400) !== 0,
    tc: (flags & 0x200) !== 0,
    ra: (flags & 0x80) !== 0,
    question: q
      ? `${p.questions?.length ?? 0}× ${q.name}. ${q.class} ${q.type}`
      : `${p.questions?.length ?? 0}×`,
    edns,
    sections,
  };
}

/** Fold a record's text for comparing without case: owner always, rdata for name types. */
function fold(rec: string): string {
  const [owner, ttl, cls, type, ...rest] = rec.split(' ');
  const data = rest.join(' ');
  return `${owner?.toLowerCase()} ${ttl} ${cls} ${type} ${NAME_TYPES.has(type ?? '') ? data.toLowerCase() : data}`;
}

interface Difference {
  query: string;
  field: string;
  bind: string;
  netsvc: string;
  allowed?: string;
}

function compare(qlabel: string, b: View, n: View): Difference[] {
  const d: Difference[] = [];
  const push = (field: string, bv: unknown, nv: unknown): void => {
    d.push({ query: qlabel, field, bind: String(bv), netsvc: String(nv) });
  };
  if (b.response !== n.response) {
    push('response', b.response, n.response);
    return d;
  }
  if (b.response !== 'ok') return d;
  if (b.rcode !== n.rcode) push('rcode', b.rcode, n.rcode);
  for (const f of ['aa', 'tc', 'ra'] as const) if (b[f] !== n[f]) push(f, b[f], n[f]);
  if (b.question.toLowerCase() !== n.question.toLowerCase())
    push('question', b.question, n.question);
  else if (b.question !== n.question) push('case:question', b.question, n.question);
  if (b.edns !== n.edns) push('edns', b.edns, n.edns);
  for (const s of ['answer', 'authority', 'additional'] as const) {
    const bf = new Map(b.sections[s].map((r) => [fold(r), r]));
    const nf = new Map(n.sections[s].map((r) => [fold(r), r]));
    const missing = [...bf.keys()].filter((k) => !nf.has(k));
    const extra = [...nf.keys()].filter((k) => !bf.has(k));
    if (missing.length || extra.length) {
      push(
        s,
        missing.map((k) => bf.get(k)).join(' | ') || '(none missing)',
        extra.map((k) => nf.get(k)).join(' | ') || '(no extra)',
      );
      continue;
    }
    const caseDiffs = [...bf.keys()].filter((k) => bf.get(k) !== nf.get(k));
    if (caseDiffs.length)
      push(
        `case:${s}`,
        caseDiffs.map((k) => bf.get(k)).join(' | '),
        caseDiffs.map((k) => nf.get(k)).join(' | '),
      );
  }
  for (const x of d) {
    const hit = ALLOWLIST.find(
      (a) =>
        a.query.test(qlabel) &&
        a.field.test(x.field) &&
        (a.bind === undefined || a.bind.test(x.bind)) &&
        (a.netsvc === undefined || a.netsvc.test(x.netsvc)),
    );
    if (hit) x.allowed = hit.reason;
  }
  return d;
}

async function ask(port: number, q: Query, id: number): Promise<Buffer | undefined> {
  const bytes = encodeQuery(q, id);
  // One retry: loopback UDP does not lose packets, but a busy machine may be slow. QR=1
  // "queries" are expected to be dropped, so don't wait twice for those.
  return (
    (await udpExchange(port, bytes, 1500)) ??
    (q.qr ? undefined : await udpExchange(port, bytes, 1500))
  );
}

function table(rows: string[][]): string {
  const w =
    rows[0]?.map((_, i) => Math.min(80, Math.max(...rows.map((r) => (r[i] ?? '').length)))) ?? [];
  return rows
    .map((r) =>
      r.map((c, i) => (c.length > 80 ? c.slice(0, 77) + '...' : c).padEnd(w[i] ?? 0)).join(' | '),
    )
    .join('\n');
}

const SUBJECT = process.env.DIFF_SUBJECT ?? 'netsvc';
const subject = SUBJECT === 'bind9' ? startNamed : SUBJECT === 'knot' ? startKnot : startNetsvc;

t.test(`BIND9 and ${SUBJECT} give the same answers`, async (t) => {
  if (which('named') === undefined) {
    t.fail('named not installed (apt-get install bind9)');
    return;
  }
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-differential-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'diff.test.zone'), DIFF_ZONE);
  const zones: ZoneSpec[] = [
    { origin: 'TIC2023.com', file: join(root, 'config', 'dev', 'zones', 'TIC2023.com.zone') },
    {
      origin: '0.168.192.in-addr.arpa',
      file: join(root, 'config', 'dev', 'zones', '0.168.192.in-addr.arpa.zone'),
    },
    { origin: 'example.test', file: join(root, 'bench', 'dns', 'example.test.zone') },
    { origin: 'diff.test', file: join(dir, 'diff.test.zone') },
  ];
  const [bindPort, netsvcPort] = (await freePorts(2)) as [number, number];
  const verbose = process.env.INTEROP_VERBOSE === '1';
  const [bind, ours] = await Promise.all([
    startNamed({ dir: join(dir, 'bind'), port: bindPort, zones, teardown: t, verbose }),
    subject({ dir: join(dir, 'subject'), port: netsvcPort, zones, teardown: t, verbose }),
  ]);

  const queries = buildQueries();
  const labels = new Set(queries.map(label));
  t.equal(labels.size, queries.length, 'query labels are unique');
  const diffs: Difference[] = [];
  let id = 1;
  for (const q of queries) {
    const ql = label(q);
    const [b, n] = await Promise.all([ask(bind.port, q, id), ask(ours.port, q, id)]);
    id = (id + 1) & 0xffff;
    diffs.push(...compare(ql, view(b), view(n)));
  }
  t.ok(bind.daemon.running(), 'BIND still running');
  t.ok(ours.daemon.running(), `${SUBJECT} still running`);

  const differing = new Set(diffs.map((d) => d.query));
  const failing = diffs.filter((d) => d.allowed === undefined);
  const failingQueries = new Set(failing.map((d) => d.query));
  const caseOnly = diffs.filter((d) => d.field.startsWith('case:'));
  const rows = [['query', 'field', 'bind9', SUBJECT, 'verdict']];
  for (const d of diffs)
    rows.push([d.query, d.field, d.bind, d.netsvc, d.allowed ? `allowed: ${d.allowed}` : 'DIFF']);
  const report = [
    `differential: ${queries.length} queries, ${differing.size} differ (${failingQueries.size} with differences not allowlisted); ` +
      `${diffs.length} differences, ${caseOnly.length} of them case-only, ${diffs.length - failing.length} allowlisted`,
    ...(diffs.length ? ['', table(rows), ''] : []),
  ].join('\n');
  console.error(report);
  if (process.env.DIFF_REPORT) writeFileSync(process.env.DIFF_REPORT, report + '\n');
  t.ok(queries.length >= 100, `${queries.length} queries sent`);
  t.equal(
    failingQueries.size,
    0,
    `${failingQueries.size} of ${queries.length} queries differ outside the allowlist`,
    {
      diagnostic: failing.length > 0,
      differences: failing
        .slice(0, 40)
        .map((d) => `${d.query} :: ${d.field} :: bind9=${d.bind} :: netsvc=${d.netsvc}`),
    },
  );
});
