import t from 'tap';
import fc from 'fast-check';
import { holds } from '../../src/testing/property.js';
import { nameFromText, nameToText } from './name.js';
import { rrToText } from './rdata-text.js';
import { CLASS, TYPE } from './rr.js';
import { parseZoneFile, rrFromText, type ParseZoneOptions } from './zone-file.js';
import { checkZone } from './zone-check.js';

const origin = nameFromText('example.com.');
const opts = (extra: Partial<ParseZoneOptions> = {}): ParseZoneOptions => ({
  origin,
  file: 'db.example',
  ...extra,
});
const lines = (text: string, o: Partial<ParseZoneOptions> = {}): string[] => {
  const z = parseZoneFile(text, opts(o));
  t.same(z.errors, [], 'no errors');
  return z.records.map(rrToText);
};
const errs = (text: string, o: Partial<ParseZoneOptions> = {}): string[] =>
  parseZoneFile(text, opts(o)).errors.map((e) => `${e.file}:${e.line}: ${e.message}`);

const SOA = '@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300';

t.test('owner, TTL and class fields', async (t) => {
  t.same(
    lines(
      [
        '$TTL 1h',
        'www  300 IN A 192.0.2.1', // TTL then class
        'www  IN 301 A 192.0.2.2', // class then TTL
        '     A 192.0.2.3', // owner inherited, TTL from $TTL, class from the last one
        'mail.example.com. IN A 192.0.2.4',
        '@ A 192.0.2.5',
        '*.wild 60 A 192.0.2.6',
        'WWW.Example.COM. 1 A 192.0.2.7', // case is kept
        'a\\.b 1 A 192.0.2.8',
        '10 1 A 192.0.2.9', // a numeric owner is still the owner
      ].join('\n'),
    ),
    [
      'www.example.com.\t300\tIN\tA\t192.0.2.1',
      'www.example.com.\t301\tIN\tA\t192.0.2.2',
      'www.example.com.\t3600\tIN\tA\t192.0.2.3',
      'mail.example.com.\t3600\tIN\tA\t192.0.2.4',
      'example.com.\t3600\tIN\tA\t192.0.2.5',
      '*.wild.example.com.\t60\tIN\tA\t192.0.2.6',
      'WWW.Example.COM.\t1\tIN\tA\t192.0.2.7',
      'a\\.b.example.com.\t1\tIN\tA\t192.0.2.8',
      '10.example.com.\t1\tIN\tA\t192.0.2.9',
    ],
  );
});

t.test('multi-line SOA with comments and escapes', async (t) => {
  const text = [
    '; a comment line',
    '$TTL 86400 ; default',
    '@   IN  SOA ns1.example.com. host\\.master.example.com. (',
    '        2024010101 ; serial',
    '        1h         ; refresh',
    '        15M        ; retry',
    '        1w2d       ; expire',
    '        300 )      ; minimum',
    '    IN  NS  ns1',
    'txt IN  TXT "semi;colon in quotes" "paren ( in quotes" \\; unquoted\\ space',
  ].join('\r\n');
  t.same(lines(text), [
    'example.com.\t86400\tIN\tSOA\tns1.example.com. host\\.master.example.com. 2024010101 3600 900 777600 300',
    'example.com.\t86400\tIN\tNS\tns1.example.com.',
    'txt.example.com.\t86400\tIN\tTXT\t"semi;colon in quotes" "paren ( in quotes" ";" "unquoted space"',
  ]);
  const z = parseZoneFile(text, opts());
  t.same(z.sources, [
    { file: 'db.example', line: 3 },
    { file: 'db.example', line: 9 },
    { file: 'db.example', line: 10 },
  ]);
});

t.test('$ORIGIN changes the origin; relative $ORIGIN is completed', async (t) => {
  t.same(
    lines(
      [
        '$TTL 60',
        'a A 192.0.2.1',
        '$ORIGIN sub',
        'b A 192.0.2.2',
        '$ORIGIN other.org.',
        'c A 192.0.2.3',
        '@ NS x',
      ].join('\n'),
    ),
    [
      'a.example.com.\t60\tIN\tA\t192.0.2.1',
      'b.sub.example.com.\t60\tIN\tA\t192.0.2.2',
      'c.other.org.\t60\tIN\tA\t192.0.2.3',
      'other.org.\t60\tIN\tNS\tx.other.org.',
    ],
  );
});

t.test('$TTL with BIND units; explicit TTLs do not change it', async (t) => {
  t.same(
    lines(['$TTL 1w2d3h4m5s', 'a A 192.0.2.1', 'b 5 A 192.0.2.2', 'c A 192.0.2.3'].join('\n')),
    [
      'a.example.com.\t788645\tIN\tA\t192.0.2.1',
      'b.example.com.\t5\tIN\tA\t192.0.2.2',
      'c.example.com.\t788645\tIN\tA\t192.0.2.3',
    ],
  );
});

t.test('TTLs without $TTL follow BIND', async (t) => {
  // The SOA without a TTL takes its MINIMUM, with a warning; later records inherit it.
  let z = parseZoneFile(['@ IN SOA ns1 hm 1 2 3 4 300', 'a A 192.0.2.1'].join('\n'), opts());
  t.same(z.errors, []);
  t.same(
    z.records.map((r) => r.ttl),
    [300, 300],
  );
  t.match(z.warnings, [{ line: 1, message: /no TTL specified; using SOA MINTTL \(300\) instead/ }]);
  // RFC 1035: the last explicit TTL is inherited (one warning, as BIND).
  z = parseZoneFile(
    ['a 100 A 192.0.2.1', 'b A 192.0.2.2', 'c 200 A 192.0.2.3', 'd A 192.0.2.4'].join('\n'),
    opts(),
  );
  t.same(
    z.records.map((r) => r.ttl),
    [100, 100, 200, 200],
  );
  t.match(z.warnings, [{ line: 2, message: /RFC 1035 semantics/ }]);
  t.equal(z.warnings.length, 1);
  // No TTL at all: BIND rejects the zone.
  t.same(errs('a A 192.0.2.1'), [
    'db.example:1: no TTL specified and no $TTL or earlier TTL to use (BIND rejects the zone)',
  ]);
  // RFC 2181 §8: TTLs with the top bit set become 0.
  z = parseZoneFile('a 2147483648 A 192.0.2.1', opts());
  t.equal(z.records[0]?.ttl, 0);
  t.match(z.warnings, [{ line: 1, message: /TTL 2147483648 > 2147483647, set to 0/ }]);
});

t.test('class: inherited, and must be the zone class', async (t) => {
  t.same(lines('$TTL 1\na CLASS1 A 192.0.2.1\nb A 192.0.2.2').length, 2);
  t.same(errs('$TTL 1\na CH A 192.0.2.1\nb A 192.0.2.2'), [
    "db.example:2: class CH does not match the zone's class IN",
    "db.example:3: class CH does not match the zone's class IN",
  ]);
  t.same(parseZoneFile('$TTL 1\na CH TXT x', opts({ zoneClass: CLASS.CH })).records.length, 1);
});

t.test('$INCLUDE reads through the callback, with an optional origin', async (t) => {
  const files: Record<string, string> = {
    'hosts.inc': 'h1 A 192.0.2.1\n$ORIGIN deeper\nh2 A 192.0.2.2\n$TTL 99',
    'sub.inc': 'x A 192.0.2.3',
    'loop.inc': '$INCLUDE loop.inc',
    'bad.inc': '\nbad A 1.2.3',
  };
  const readInclude = (p: string): string => {
    const f = files[p];
    if (f === undefined) throw new Error('ENOENT: no such file');
    return f;
  };
  const text = [
    '$TTL 60',
    'top A 192.0.2.9',
    '$INCLUDE hosts.inc',
    '$INCLUDE "sub.inc" sub.example.com.',
    '    A 192.0.2.10', // the owner is still the parent's, the origin too
    'after A 192.0.2.11', // and $TTL set inside the include stays, as in BIND
  ].join('\n');
  t.same(lines(text, { readInclude }), [
    'top.example.com.\t60\tIN\tA\t192.0.2.9',
    'h1.example.com.\t60\tIN\tA\t192.0.2.1',
    'h2.deeper.example.com.\t60\tIN\tA\t192.0.2.2',
    'x.sub.example.com.\t99\tIN\tA\t192.0.2.3',
    'top.example.com.\t99\tIN\tA\t192.0.2.10',
    'after.example.com.\t99\tIN\tA\t192.0.2.11',
  ]);
  const z = parseZoneFile(text, opts({ readInclude }));
  t.same(z.sources[2], { file: 'hosts.inc', line: 3 });
  t.same(
    errs('$TTL 1\n$INCLUDE bad.inc\n$INCLUDE missing.inc\n$INCLUDE loop.inc', { readInclude }),
    [
      "bad.inc:2: A: bad IPv4 address '1.2.3'",
      "db.example:3: cannot read $INCLUDE file 'missing.inc': ENOENT: no such file",
      "loop.inc:1: $INCLUDE loop: 'loop.inc' is already being read",
    ],
  );
  t.same(errs('$INCLUDE x.inc'), ["db.example:1: $INCLUDE 'x.inc': no include reader was given"]);
  t.same(errs('$INCLUDE'), ['db.example:1: $INCLUDE needs $INCLUDE <file-name> [<domain-name>]']);
  t.same(errs('$INCLUDE a b c', { readInclude }), [
    "db.example:1: extra text 'c' after $INCLUDE <file-name> [<domain-name>]",
  ]);
  // Nesting deeper than MAX_INCLUDE_DEPTH stops.
  const deep = (p: string): string => `$INCLUDE ${p}x`;
  t.match(errs('$INCLUDE x', { readInclude: deep }), [/\$INCLUDE nested more than 16 deep/]);
});

t.test('errors are all collected, each with its line', async (t) => {
  const text = [
    '$TTL 1h', // 1
    'a A 1.2.3', // 2
    'b MX 70000 mail', // 3
    'c BOGUS x', // 4
    '$FOO bar', // 5
    '@ IN SOA ns1 hm (', // 6
    '   1 2', // 7
    '   3x 4 5 )', // 8: the bad token's own line
    'd A 192.0.2.1 extra', // 9
    'e TXT "unterminated', // 10
    'f A 192.0.2.2 )', // 11
    'g\\', // 12
    'ok A 192.0.2.3', // 13
    '$GENERATE 1-10 h$ A 192.0.2.$', // 14
    '$ORIGIN a..b', // 15
    'h 9999999999 A 192.0.2.4', // 16
    'i IN AXFR x', // 17
    ' A 192.0.2.5', // 18: owner inherited from 'ok'? no: line 17 named 'i'
    '"q" A 192.0.2.6', // 19
    'j 1x A 192.0.2.7', // 20
    'k IN', // 21
    'l TYPE999 \\# 2 00', // 22
    'm ( A', // 23
    '  192.0.2.8 )', // 24
  ].join('\n');
  t.same(errs(text), [
    "db.example:2: A: bad IPv4 address '1.2.3'",
    'db.example:3: MX: MX preference out of range: 70000 (0-65535)',
    "db.example:4: unknown RR type 'BOGUS'",
    "db.example:5: unknown directive '$FOO'",
    "db.example:8: SOA: bad SOA retry '3x'",
    "db.example:9: A: extra text 'extra' after A rdata",
    'db.example:10: unterminated quoted string',
    "db.example:11: unbalanced ')'",
    'db.example:12: backslash at the end of a line',
    'db.example:14: $GENERATE is not supported; write the records out',
    'db.example:15: bad $ORIGIN name: empty label in "a..b"',
    'db.example:16: TTL out of range: 9999999999',
    'db.example:17: AXFR is a meta-type, not allowed in zone data (RFC 6895 §3.1)',
    'db.example:19: bad owner name "q": a name is not quoted',
    "db.example:20: bad TTL '1x'",
    'db.example:21: missing RR type',
    'db.example:22: TYPE999: generic RDATA length 2 does not match the 1 bytes given',
  ]);
  const z = parseZoneFile(text, opts());
  t.same(
    z.records.map(rrToText),
    [
      'ok.example.com.\t3600\tIN\tA\t192.0.2.3',
      'i.example.com.\t3600\tIN\tA\t192.0.2.5',
      'm.example.com.\t3600\tIN\tA\t192.0.2.8',
    ],
    'good entries still load, the owner inherited across bad ones',
  );
  t.same(errs('a 1 A 192.0.2.1\n( b'), [
    "db.example:2: unbalanced parentheses: '(' is never closed",
  ]);
  t.same(errs(' A 192.0.2.1'), ['db.example:1: no owner name: no earlier record to take it from']);
});

t.test('maxRecords stops the load', async (t) => {
  const z = parseZoneFile(
    '$TTL 1\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3',
    opts({ maxRecords: 2 }),
  );
  t.equal(z.records.length, 2);
  t.match(z.errors, [{ line: 4, message: /too many records \(max-records 2\)/ }]);
});

t.test('rrFromText', async (t) => {
  const rr = rrFromText('www IN A 192.0.2.1', origin, 30);
  t.equal(nameToText(rr.owner), 'www.example.com.');
  t.equal(rr.ttl, 30);
  t.equal(rr.type, TYPE.A);
  t.throws(() => rrFromText('www IN A 192.0.2.1', origin), {
    code: 'ERR_DNS_ZONE_FILE',
    message: /no TTL/,
  });
  t.throws(() => rrFromText('a 1 A 192.0.2.1\nb 1 A 192.0.2.1', origin), {
    message: /expected one record, got 2/,
  });
});

t.test('parseZoneFile never throws on arbitrary text', async (t) => {
  const alphabet = fc.constantFrom(
    ...' \t\n\r;()"\\$@.*0123456789abcAINSOXTMCDEFHLGRVW#:-'.split(''),
    '$TTL ',
    '$ORIGIN ',
    '$INCLUDE ',
    ' IN ',
    ' SOA ',
    ' TXT ',
    ' MX ',
    ' A ',
    ' CAA ',
    ' \\# ',
  );
  const zoneish = fc.array(alphabet, { maxLength: 200 }).map((a) => a.join(''));
  holds(
    t,
    fc.property(fc.oneof(zoneish, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
      const z = parseZoneFile(text, opts({ readInclude: () => text.slice(0, 50), maxRecords: 50 }));
      checkZone(z.records, origin, { file: 'db.example', sources: z.sources });
      return Array.isArray(z.errors) && z.records.length === z.sources.length;
    }),
    { numRuns: 3000 },
  );
});

// ---------------------------------------------------------------------------------------
// checkZone

const check = (text: string) => {
  const z = parseZoneFile(text, opts());
  t.same(z.errors, [], 'parses');
  const c = checkZone(z.records, origin, { file: 'db.example', sources: z.sources });
  return {
    errors: c.errors.map((e) => `${e.file}:${e.line}: ${e.message}`),
    warnings: c.warnings.map((e) => `${e.file}:${e.line}: ${e.message}`),
    records: c.records.map(rrToText),
  };
};
const BASE = `$TTL 300\n${SOA}\n@ NS ns1\nns1 A 192.0.2.1\n`; // lines 1-4

t.test('checkZone: a good zone', async (t) => {
  const c = check(BASE + 'www A 192.0.2.2\nweb CNAME www\n@ MX 10 www\n');
  t.same(c.errors, []);
  t.same(c.warnings, []);
  t.equal(c.records.length, 6);
});

t.test('checkZone: SOA and NS at the apex', async (t) => {
  t.same(check('$TTL 1\nns1 A 192.0.2.1\n').errors, [
    'db.example:0: zone example.com.: no SOA record at the top of the zone (RFC 1035 §5.2)',
    'db.example:0: zone example.com.: has no NS records at the top of the zone (RFC 1034 §4.2.1)',
  ]);
  t.same(check(BASE + '@ SOA ns2 hm 2 1 1 1 1\nsub SOA ns1 hm 1 1 1 1 1\n').errors, [
    'db.example:5: example.com.: more than one SOA record (RFC 1035 §5.2: exactly one)',
    'db.example:6: sub.example.com.: SOA record not at the top of the zone example.com.',
  ]);
});

t.test('checkZone: out of zone', async (t) => {
  t.same(check(BASE + 'www.example.org. A 192.0.2.1\nxexample.com. A 192.0.2.1\n').errors, [
    'db.example:5: www.example.org.: out of zone (not at or below example.com.)',
    'db.example:6: xexample.com.: out of zone (not at or below example.com.)',
  ]);
});

t.test('checkZone: CNAME and other data', async (t) => {
  const c = check(
    BASE +
      'www CNAME a\nwww A 192.0.2.1\nwww TXT x\n' + // 5-7: one error
      'sig CNAME a\nsig RRSIG \\# 0\nsig NSEC \\# 0\n' + // 8-10: allowed beside a CNAME
      'two CNAME a\ntwo CNAME b\n' + // 11-12
      'dn DNAME a\ndn DNAME b\n' + // 13-14
      '@ CNAME x\n', // 15: the apex has SOA and NS
  );
  t.same(c.errors, [
    'db.example:6: www.example.com.: CNAME and other data (RFC 1034 §3.6.2)',
    'db.example:12: two.example.com.: more than one CNAME record (RFC 2181 §10.1)',
    'db.example:14: dn.example.com.: more than one DNAME record (RFC 6672 §2.4)',
    'db.example:15: example.com.: CNAME and other data (RFC 1034 §3.6.2)',
  ]);
});

t.test('checkZone: duplicates merged, RRset TTLs unified', async (t) => {
  const c = check(
    BASE +
      'www A 192.0.2.1\nwww A 192.0.2.1\n' + // 5-6 duplicate
      '@ NS NS1.EXAMPLE.COM.\n' + // 7: same as line 3, names compare without case
      'www 600 A 192.0.2.2\n', // 8: TTL differs
  );
  t.same(c.errors, []);
  t.same(c.warnings, [
    "db.example:8: www.example.com. A: TTL 600 differs from the RRset's; set to prior TTL (300)",
  ]);
  t.same(c.records.slice(3), [
    'www.example.com.\t300\tIN\tA\t192.0.2.1',
    'www.example.com.\t300\tIN\tA\t192.0.2.2',
  ]);
  t.equal(c.records.length, 5);
});

t.test('checkZone: NS, MX and SRV targets', async (t) => {
  const c = check(
    `$TTL 300\n${SOA}\n@ NS ns1\n@ NS ns2\n@ NS ns.other.net.\nns2 CNAME ns1\n` + // 1-6: ns1 has no address
      'sub NS ns.sub\n' + // 7: glue missing
      '@ MX 10 mx\nmx CNAME www\nwww A 192.0.2.1\n' + // 8-10
      '_sip._udp SRV 0 0 5060 mx\n', // 11
  );
  t.same(c.errors, [
    "db.example:3: NS 'ns1.example.com.' has no address records (A or AAAA)",
    "db.example:4: NS 'ns2.example.com.' is a CNAME (illegal, RFC 2181 §10.3)",
    "db.example:7: NS 'ns.sub.example.com.' has no address records (A or AAAA)",
  ]);
  t.same(c.warnings, [
    "db.example:8: MX 'mx.example.com.' is a CNAME (RFC 2181 §10.3)",
    "db.example:11: SRV 'mx.example.com.' is a CNAME (RFC 2181 §10.3)",
  ]);
});
