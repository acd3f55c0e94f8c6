/**
 * Table tests of the authoritative handler. Expectations are written as dig would print
 * them (one space between fields), so each row reads like an operator's check.
 */
import t from 'tap';
import fc from 'fast-check';
import { handleQuery, type DnsPolicy, type Outcome } from './handler.js';
import { zoneFromText, zoneSet, defaultPolicy, query, view, type QueryOptions } from './testing.js';
import { CidrList } from '../../src/net/cidr.js';
import { CLASS } from './rr.js';
import { ZoneSet } from './zone-set.js';
import { nameFromText } from './name.js';

const bigTxt = Array.from({ length: 40 }, (_, i) => `big TXT "${'x'.repeat(40)}-${i}"`).join('\n');

const example = zoneFromText(
  'example.',
  `$TTL 3600
@        SOA  ns1 hostmaster 1 7200 3600 1209600 300
@        NS   ns1
@        NS   ns2.other.
@        MX   10 mail
ns1      A    192.0.2.1
www      A    192.0.2.10
www      AAAA 2001:db8::10
WwW2     A    192.0.2.11
alias    CNAME www
chain1   CNAME chain2
chain2   CNAME www
loop1    CNAME loop2
loop2    CNAME loop1
out      CNAME www.elsewhere.
dangling CNAME nothere
mail     A    192.0.2.25
*.wild   A    192.0.2.99
*.wild   TXT  "wild"
x.wild   TXT  "explicit"
a.b.ent  A    192.0.2.50
sub      NS   ns.sub
sub      NS   ns.other.
ns.sub   A    192.0.2.53
_sip._udp SRV 0 5 5060 sip
sip      A    192.0.2.60
${bigTxt}
`,
);
const reverse = zoneFromText(
  '2.0.192.in-addr.arpa.',
  `$TTL 3600
@  SOA ns1.example. hostmaster.example. 7 7200 3600 1209600 300
@  NS  ns1.example.
10 PTR www.example.
`,
);
const zones = zoneSet(example, reverse);

function ask(
  name: string,
  type: string,
  o: QueryOptions = {},
  policy: DnsPolicy = defaultPolicy,
  transport: 'udp' | 'tcp' = 'udp',
  client = '192.0.2.200',
): Outcome {
  return handleQuery(query(name, type, o), zones, policy, { transport, client });
}

function reply(
  name: string,
  type: string,
  o: QueryOptions = {},
  policy: DnsPolicy = defaultPolicy,
  transport: 'udp' | 'tcp' = 'udp',
) {
  const out = ask(name, type, o, policy, transport);
  if (out.kind !== 'reply') throw new Error(`expected a reply, got ${out.kind}`);
  return view(out.bytes);
}

const SOA_NEG = 'example. 300 IN SOA ns1.example. hostmaster.example. 1 7200 3600 1209600 300';

t.test('positive answers keep the zone case and set AA', async (t) => {
  const r = reply('WWW.EXAMPLE', 'A');
  t.equal(r.rcode, 'NOERROR');
  t.same(r.flags, ['qr', 'aa']);
  t.same(r.answer, ['www.example. 3600 IN A 192.0.2.10']);
  t.equal(
    r.msg.questions[0] && Buffer.from(r.msg.questions[0].qname).toString('latin1').includes('WWW'),
    true,
    'question keeps the client case',
  );
  const r2 = reply('www2.example', 'A');
  t.same(r2.answer, ['WwW2.example. 3600 IN A 192.0.2.11']);
});

t.test('authority and additional follow minimal-responses no-auth-recursive', async (t) => {
  const noRd = reply('www.example', 'A');
  t.same(noRd.authority, ['example. 3600 IN NS ns1.example.', 'example. 3600 IN NS ns2.other.']);
  t.same(noRd.additional, ['ns1.example. 3600 IN A 192.0.2.1']);
  const rd = reply('www.example', 'A', { rd: true });
  t.same(rd.flags, ['qr', 'aa', 'rd'], 'RD copied, RA not set');
  t.same(rd.authority, []);
  const mx = reply('example', 'MX', { rd: true });
  t.same(mx.answer, ['example. 3600 IN MX 10 mail.example.']);
  t.same(mx.additional, ['mail.example. 3600 IN A 192.0.2.25'], 'MX target address added');
  const srv = reply('_sip._udp.example', 'SRV', { rd: true });
  t.same(srv.additional, ['sip.example. 3600 IN A 192.0.2.60']);
  const minimal = reply('www.example', 'A', {}, { ...defaultPolicy, minimalResponses: 'yes' });
  t.same(minimal.authority, []);
  t.same(minimal.additional, []);
  const ns = reply('example', 'NS');
  t.same(ns.authority, [], 'NS answer not repeated in authority');
  t.same(ns.additional, ['ns1.example. 3600 IN A 192.0.2.1']);
});

t.test('NODATA and NXDOMAIN carry the SOA with the negative TTL (RFC 2308)', async (t) => {
  const nodata = reply('www.example', 'MX');
  t.equal(nodata.rcode, 'NOERROR');
  t.same(nodata.answer, []);
  t.same(nodata.authority, [SOA_NEG]);
  t.same(nodata.flags, ['qr', 'aa']);
  const aaaa = reply('mail.example', 'AAAA');
  t.same(aaaa.authority, [SOA_NEG]);
  const nx = reply('nope.example', 'A');
  t.equal(nx.rcode, 'NXDOMAIN');
  t.same(nx.authority, [SOA_NEG]);
  t.same(nx.flags, ['qr', 'aa']);
});

t.test('empty non-terminals are NODATA, not NXDOMAIN', async (t) => {
  t.equal(reply('b.ent.example', 'A').rcode, 'NOERROR');
  t.equal(reply('ent.example', 'A').rcode, 'NOERROR');
  t.equal(reply('c.b.ent.example', 'A').rcode, 'NXDOMAIN');
});

t.test('CNAME chains are followed inside our zones', async (t) => {
  const r = reply('chain1.example', 'A', { rd: true });
  t.same(r.answer, [
    'chain1.example. 3600 IN CNAME chain2.example.',
    'chain2.example. 3600 IN CNAME www.example.',
    'www.example. 3600 IN A 192.0.2.10',
  ]);
  const c = reply('alias.example', 'CNAME');
  t.same(
    c.answer,
    ['alias.example. 3600 IN CNAME www.example.'],
    'qtype CNAME answers the CNAME itself',
  );
  const loop = reply('loop1.example', 'A');
  t.equal(loop.rcode, 'SERVFAIL', 'a loop ends in SERVFAIL, as BIND past max-restarts');
  t.same(loop.answer, [
    'loop1.example. 3600 IN CNAME loop2.example.',
    'loop2.example. 3600 IN CNAME loop1.example.',
  ]);
  const out = reply('out.example', 'A');
  t.equal(out.rcode, 'NOERROR', 'a chain leaving our zones stops with the CNAME');
  t.same(out.answer, ['out.example. 3600 IN CNAME www.elsewhere.']);
  const dangling = reply('dangling.example', 'A');
  t.equal(dangling.rcode, 'NXDOMAIN', 'RFC 6604: rcode of the last step');
  t.same(dangling.answer, ['dangling.example. 3600 IN CNAME nothere.example.']);
  t.same(dangling.authority, [SOA_NEG]);
});

t.test('wildcards (RFC 4592)', async (t) => {
  const r = reply('anything.wild.example', 'A');
  t.same(r.answer, ['anything.wild.example. 3600 IN A 192.0.2.99'], 'owner is the qname');
  t.same(reply('a.b.wild.example', 'TXT').answer, ['a.b.wild.example. 3600 IN TXT "wild"']);
  t.same(
    reply('x.wild.example', 'TXT').answer,
    ['x.wild.example. 3600 IN TXT "explicit"'],
    'existing name wins',
  );
  const nodata = reply('x.wild.example', 'A');
  t.same(nodata.answer, [], 'an existing name blocks the wildcard');
  t.same(nodata.authority, [SOA_NEG]);
  const wnodata = reply('y.wild.example', 'MX');
  t.equal(wnodata.rcode, 'NOERROR');
  t.same(wnodata.authority, [SOA_NEG]);
  t.equal(
    reply('wild.example', 'A').rcode,
    'NOERROR',
    'the wildcard parent is an empty non-terminal',
  );
});

t.test('referrals below a zone cut: NS and glue, no AA', async (t) => {
  for (const name of ['sub.example', 'host.sub.example', 'a.b.sub.example']) {
    const r = reply(name, 'A', { rd: true });
    t.equal(r.rcode, 'NOERROR', name);
    t.same(r.flags, ['qr', 'rd'], `${name}: no AA`);
    t.same(r.answer, []);
    t.same(r.authority, [
      'sub.example. 3600 IN NS ns.sub.example.',
      'sub.example. 3600 IN NS ns.other.',
    ]);
    t.same(r.additional, ['ns.sub.example. 3600 IN A 192.0.2.53']);
  }
  const ds = reply('sub.example', 'DS');
  t.same(ds.flags, ['qr', 'aa'], 'DS at the cut is answered by the parent');
  t.same(ds.authority, [SOA_NEG]);
});

t.test('ANY is answered fully', async (t) => {
  const r = reply('www.example', 'ANY');
  t.same(r.answer.sort(), [
    'www.example. 3600 IN A 192.0.2.10',
    'www.example. 3600 IN AAAA 2001:db8::10',
  ]);
});

t.test('names outside our zones are REFUSED', async (t) => {
  const r = reply('www.google.com', 'A', { rd: true, edns: 1232 });
  t.equal(r.rcode, 'REFUSED');
  t.same(r.flags, ['qr', 'rd']);
  t.same(r.answer, []);
  t.ok(r.msg.edns, 'OPT echoed');
  const fwd = ask(
    'www.google.com',
    'A',
    { rd: true },
    { ...defaultPolicy, forwardNetworks: new CidrList(['192.0.2.0/24']) },
  );
  t.equal(fwd.kind, 'forward', 'clients of a listed network are forwarded');
  const other = handleQuery(
    query('www.google.com', 'A'),
    zones,
    { ...defaultPolicy, forwardNetworks: new CidrList(['10.0.0.0/8']) },
    { transport: 'udp', client: '192.0.2.200' },
  );
  t.equal(other.kind === 'reply' && view(other.bytes).rcode, 'REFUSED');
  t.equal(
    other.kind === 'reply' && other.cacheable,
    false,
    'an ACL-dependent answer is not cached',
  );
});

t.test('reverse zone PTR', async (t) => {
  t.same(reply('10.2.0.192.in-addr.arpa', 'PTR').answer, [
    '10.2.0.192.in-addr.arpa. 3600 IN PTR www.example.',
  ]);
});

t.test('EDNS: OPT echoed, DO copied, BADVERS for version 1', async (t) => {
  const r = reply('www.example', 'A', { edns: 4096, dnssecOk: true });
  t.equal(r.msg.edns?.udpSize, 1232, 'we advertise our size');
  t.equal(r.msg.edns?.flags, 0x8000, 'DO copied (RFC 3225)');
  const b = reply('www.example', 'A', { edns: 1232, ednsVersion: 1 });
  t.equal(b.rcode, 'BADVERS');
  t.equal(b.msg.edns?.version, 0);
  t.same(b.answer, []);
  const none = reply('www.example', 'A');
  t.equal(none.msg.edns, undefined, 'no OPT without EDNS in the query');
});

t.test('truncation: TC with the question only, then the full answer over TCP', async (t) => {
  const small = reply('big.example', 'TXT');
  t.ok(small.flags.includes('tc'));
  t.same(small.answer, []);
  t.equal(small.msg.questions.length, 1);
  const e = reply('big.example', 'TXT', { edns: 4096 });
  t.ok(e.flags.includes('tc'), 'over 1232 even with EDNS 4096');
  t.ok(e.msg.edns);
  const tcp = reply('big.example', 'TXT', {}, defaultPolicy, 'tcp');
  t.notOk(tcp.flags.includes('tc'));
  t.equal(tcp.answer.length, 40);
  // Optional additional data that does not fit is left out without TC (RFC 2181 §9).
  const tiny = zoneSet(
    zoneFromText(
      't.',
      `$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n${Array.from({ length: 20 }, (_, i) => `@ MX ${i} m${i}\nm${i} A 192.0.2.${i + 2}`).join('\n')}\n`,
    ),
  );
  const out = handleQuery(query('t', 'MX'), tiny, defaultPolicy, {
    transport: 'udp',
    client: '127.0.0.1',
  });
  const v = out.kind === 'reply' ? view(out.bytes) : undefined;
  t.ok(v && !v.flags.includes('tc'), 'no TC for dropped additional data');
  t.equal(v?.answer.length, 20);
  t.ok(v && v.additional.length < 20, `additional cut to ${v?.additional.length}`);
  t.ok(out.kind === 'reply' && out.bytes.length <= 512);
});

t.test('CHAOS version.bind hidden or configured', async (t) => {
  const hidden = reply('version.bind', 'TXT', { qclass: CLASS.CH });
  t.equal(hidden.rcode, 'NOERROR');
  t.same(hidden.answer, []);
  t.same(hidden.authority, [
    'version.bind. 86400 CH SOA version.bind. hostmaster.version.bind. 0 28800 7200 604800 86400',
  ]);
  t.equal(reply('foo.bind', 'TXT', { qclass: CLASS.CH }).rcode, 'REFUSED');
  const v = reply(
    'version.bind',
    'TXT',
    { qclass: CLASS.CH },
    { ...defaultPolicy, version: 'netsvc' },
  );
  t.same(v.answer, ['version.bind. 0 CH TXT "netsvc"']);
});

t.test('zone transfer: refused by default, allowed by ACL over TCP only', async (t) => {
  const refused = ask('example', 'AXFR', {}, defaultPolicy, 'tcp');
  t.equal(refused.kind === 'reply' && view(refused.bytes).rcode, 'REFUSED');
  const allowed = ask(
    'example',
    'AXFR',
    {},
    { ...defaultPolicy, transferAllow: new CidrList(['192.0.2.0/24']) },
    'tcp',
  );
  t.equal(allowed.kind, 'transfer');
  if (allowed.kind === 'transfer') {
    const lines = allowed.messages.flatMap((m) => view(m).answer);
    t.match(lines[0], /SOA/);
    t.match(lines[lines.length - 1], /SOA/);
    t.equal(lines.length, example.recordCount + 1);
  }
  const udp = ask(
    'example',
    'AXFR',
    {},
    { ...defaultPolicy, transferAllow: new CidrList(['0.0.0.0/0']) },
    'udp',
  );
  t.equal(udp.kind === 'reply' && view(udp.bytes).rcode, 'FORMERR', 'AXFR over UDP');
  const notOurs = ask(
    'other',
    'AXFR',
    {},
    { ...defaultPolicy, transferAllow: new CidrList(['0.0.0.0/0']) },
    'tcp',
  );
  t.equal(notOurs.kind === 'reply' && view(notOurs.bytes).rcode, 'NOTAUTH');
});

t.test(
  'zone transfer allowed by a TSIG key; a secondary without a copy answers SERVFAIL',
  async (t) => {
    const byKey = { ...defaultPolicy, transferKeys: new Set(['xfr.']) };
    const signedBy = (key: string | undefined) =>
      handleQuery(query('example', 'AXFR'), zones, byKey, {
        transport: 'tcp',
        client: '203.0.113.9',
        ...(key ? { tsigKey: key } : {}),
      });
    t.equal(signedBy('xfr.').kind, 'transfer', 'signed with a transfer key: from any address');
    const other = signedBy('ddns.');
    t.equal(other.kind === 'reply' && view(other.bytes).rcode, 'REFUSED', 'another key: no');
    const none = signedBy(undefined);
    t.equal(none.kind === 'reply' && view(none.bytes).rcode, 'REFUSED', 'unsigned: no');

    // RFC 1034 §4.3.5: names in a secondary zone we hold no servable copy of.
    const withSecondary = new ZoneSet([...zones.zones()], [nameFromText('sec.example.')]);
    for (const [name, type] of [
      ['www.sec.example', 'A'],
      ['sec.example', 'SOA'],
      ['sec.example', 'AXFR'],
    ] as const) {
      const out = handleQuery(query(name, type), withSecondary, defaultPolicy, {
        transport: 'tcp',
        client: '192.0.2.1',
      });
      t.match(
        out.kind === 'reply' && { rcode: view(out.bytes).rcode, cacheable: out.cacheable },
        { rcode: 'SERVFAIL', cacheable: false },
        `${name} ${type}: SERVFAIL, not cached`,
      );
    }
    const elsewhere = handleQuery(query('www.example', 'A'), withSecondary, defaultPolicy, {
      transport: 'udp',
      client: '192.0.2.1',
    });
    t.equal(
      elsewhere.kind === 'reply' && view(elsewhere.bytes).rcode,
      'NOERROR',
      'others unaffected',
    );
    t.equal(withSecondary.size, zones.size, 'an unavailable zone is not counted as loaded');
  },
);

t.test('opcodes and malformed queries', async (t) => {
  const status = reply('www.example', 'A', { opcode: 2 });
  t.equal(status.rcode, 'NOTIMP');
  const q = query('www.example', 'A');
  // Two questions: FORMERR with a bare header.
  const two = Uint8Array.from(q);
  two[5] = 2;
  const r2 = handleQuery(two, zones, defaultPolicy, { transport: 'udp', client: '127.0.0.1' });
  t.equal(r2.kind, 'reply');
  if (r2.kind === 'reply') {
    t.equal(r2.bytes.length, 12, 'bare header');
    t.equal(r2.bytes[3]! & 0xf, 1, 'FORMERR');
    t.equal((r2.bytes[0]! << 8) | r2.bytes[1]!, 0x1234, 'ID kept');
  }
  const zero = Uint8Array.from(q.subarray(0, 12));
  zero[5] = 0;
  const r0 = handleQuery(zero, zones, defaultPolicy, { transport: 'udp', client: '127.0.0.1' });
  t.equal(r0.kind === 'reply' && r0.bytes[3]! & 0xf, 1, 'no question: FORMERR');
  const resp = Uint8Array.from(q);
  resp[2] = resp[2]! | 0x80;
  t.same(handleQuery(resp, zones, defaultPolicy, { transport: 'udp', client: '127.0.0.1' }), {
    kind: 'drop',
    reason: 'response',
  });
  t.same(
    handleQuery(q.subarray(0, 11), zones, defaultPolicy, { transport: 'udp', client: '127.0.0.1' }),
    { kind: 'drop', reason: 'short' },
  );
  const trailing = Uint8Array.from([...q, 0]);
  const rt = handleQuery(trailing, zones, defaultPolicy, { transport: 'udp', client: '127.0.0.1' });
  t.equal(rt.kind === 'reply' && rt.bytes[3]! & 0xf, 1, 'trailing garbage: FORMERR');
  // OPT with a non-root owner.
  const opt = query('www.example', 'A', { edns: 1232 });
  const badOwner = Uint8Array.from([
    ...opt.subarray(0, opt.length - 11),
    1,
    0x61,
    ...opt.subarray(opt.length - 11),
  ]);
  const rb = handleQuery(badOwner, zones, defaultPolicy, { transport: 'udp', client: '127.0.0.1' });
  t.equal(rb.kind === 'reply' && rb.bytes.length, 12);
});

t.test('every truncated prefix and random bytes never throw', async (t) => {
  const samples = [
    query('www.example', 'A', { edns: 1232 }),
    query('chain1.example', 'ANY', { rd: true }),
    query('example', 'AXFR'),
  ];
  let n = 0;
  for (const s of samples) {
    for (let i = 0; i <= s.length; i++) {
      for (const transport of ['udp', 'tcp'] as const) {
        const out = handleQuery(s.subarray(0, i), zones, defaultPolicy, {
          transport,
          client: '127.0.0.1',
        });
        if (i < 12) t.equal(out.kind, 'drop');
        n++;
      }
    }
  }
  t.ok(n > 100);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
      const out = handleQuery(bytes, zones, defaultPolicy, {
        transport: 'udp',
        client: '127.0.0.1',
      });
      return out.kind === 'drop' || out.kind === 'reply' || out.kind === 'forward';
    }),
    { numRuns: 3000 },
  );
  // Mutations of a valid query: flip bytes anywhere.
  const base = query('a.b.wild.example', 'TXT', { edns: 1232 });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: 6,
      }),
      (edits) => {
        const b = Uint8Array.from(base);
        for (const [i, v] of edits) b[i] = v;
        const out = handleQuery(b, zones, defaultPolicy, { transport: 'tcp', client: '127.0.0.1' });
        return out.kind !== undefined;
      },
    ),
    { numRuns: 3000 },
  );
});

t.test('a CHAOS query outside the built-ins is REFUSED, counted as such, not cached', async (t) => {
  const out = ask('unknown.bind', 'TXT', { qclass: CLASS.CH });
  if (out.kind !== 'reply') throw new Error(`expected a reply, got ${out.kind}`);
  t.equal(view(out.bytes).rcode, 'REFUSED');
  t.equal(out.rcode, 5, 'the outcome carries REFUSED (it was 0, counted NOERROR)');
  t.equal(out.cacheable, false, 'and it is not cached');
  const ok = ask('version.bind', 'TXT', { qclass: CLASS.CH });
  t.equal(ok.kind === 'reply' && ok.rcode, 0);
  t.equal(ok.kind === 'reply' && ok.cacheable, true, 'built-in answers stay cacheable');
});
