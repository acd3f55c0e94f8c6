import t from 'tap';
import fc from 'fast-check';
import { holds } from '../../src/testing/property.js';
import { nameFromText } from './name.js';
import { TYPE } from './rr.js';
import {
  ipv6FromText,
  ipv6ToText,
  rdataFromText,
  rdataToText,
  rrToText,
  ttlFromText,
} from './rdata-text.js';
import { rrFromText } from './zone-file.js';

const origin = nameFromText('example.com.');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const EXAMPLE_COM = '076578616d706c6503636f6d00';

// [zone-file line, expected wire RDATA (hex), expected rdata as printed]
const TABLE: [string, string, string][] = [
  ['www 300 IN A 192.0.2.1', 'c0000201', '192.0.2.1'],
  ['www 300 IN A 0.0.0.0', '00000000', '0.0.0.0'],
  ['www 300 IN AAAA 2001:db8::1', '20010db8000000000000000000000001', '2001:db8::1'],
  [
    'www 300 IN AAAA 2001:0DB8:0:0:1:0:0:1',
    '20010db8000000000001000000000001',
    '2001:db8::1:0:0:1',
  ],
  [
    'www 300 IN AAAA 2001:db8:0:1:1:1:1:1',
    '20010db8000000010001000100010001',
    '2001:db8:0:1:1:1:1:1',
  ],
  ['www 300 IN AAAA ::', '00000000000000000000000000000000', '::'],
  ['www 300 IN AAAA ::ffff:192.0.2.1', '00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  [
    'www 300 IN AAAA 1:2:3:4:5:6:1.2.3.4',
    '00010002000300040005000601020304',
    '1:2:3:4:5:6:102:304',
  ],
  ['@ 300 IN NS ns1', `036e7331${EXAMPLE_COM}`, 'ns1.example.com.'],
  ['@ 300 IN NS ns1.Other.NET.', '036e7331054f74686572034e455400', 'ns1.Other.NET.'],
  ['web1 300 IN CNAME www', `03777777${EXAMPLE_COM}`, 'www.example.com.'],
  ['1 300 IN PTR host.example.com.', `04686f7374${EXAMPLE_COM}`, 'host.example.com.'],
  ['old 300 IN DNAME @', EXAMPLE_COM, 'example.com.'],
  ['@ 300 IN MX 10 mail', `000a046d61696c${EXAMPLE_COM}`, '10 mail.example.com.'],
  ['@ 300 IN MX 0 .', '000000', '0 .'],
  [
    '@ 300 IN SOA ns1 hostmaster 2024010101 1h 15m 1w 300',
    `036e7331${EXAMPLE_COM}0a686f73746d6173746572${EXAMPLE_COM}78a3f17500000e100000038400093a800000012c`,
    'ns1.example.com. hostmaster.example.com. 2024010101 3600 900 604800 300',
  ],
  ['t 300 IN TXT "hello world"', '0b68656c6c6f20776f726c64', '"hello world"'],
  ['t 300 IN TXT ""', '00', '""'],
  ['t 300 IN TXT a "b c" d', '0161036220630164', '"a" "b c" "d"'],
  ['t 300 IN TXT "q\\"b\\\\s"', '05712262' + '5c73', '"q\\"b\\\\s"'],
  ['t 300 IN TXT "a;b" \\065\\255', '03613b6202 41ff'.replace(' ', ''), '"a;b" "A\\255"'],
  ['t 300 IN TXT "tab\\009nl"', '06746162096e6c', '"tab\\009nl"'],
  ['t 300 IN TXT "é"', '02c3a9', '"\\195\\169"'],
  ['t 300 IN SPF "v=spf1 -all"', '0b763d73706631202d616c6c', '"v=spf1 -all"'],
  ['h 300 IN HINFO "ARM" Linux', '0341524d054c696e7578', '"ARM" "Linux"'],
  [
    '_sip._udp 300 IN SRV 0 5 5060 sip.example.com.',
    `0000000513c4037369 70${EXAMPLE_COM}`.replace(' ', ''),
    '0 5 5060 sip.example.com.',
  ],
  [
    '@ 300 IN CAA 0 issue "letsencrypt.org"',
    '000569737375656c657473656e63727970742e6f7267',
    '0 issue "letsencrypt.org"',
  ],
  ['@ 300 IN CAA 128 tbs Unknown', '8003746273556e6b6e6f776e', '128 tbs "Unknown"'],
  ['@ 300 IN CAA 0 issue ""', '00056973737565', '0 issue ""'],
  [
    '@ 300 IN NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.com.',
    `0064000a0153075349502b4432550004 5f736970045f756470${EXAMPLE_COM}`.replace(' ', ''),
    '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.',
  ],
  [
    'h 300 IN SSHFP 1 1 dd465c09cfa51fb45020cc83316fff21 b9ec74ac',
    '0101dd465c09cfa51fb45020cc83316fff21b9ec74ac',
    '1 1 DD465C09CFA51FB45020CC83316FFF21B9EC74AC',
  ],
  [
    '_443._tcp 300 IN TLSA 3 1 1 ( 0C72AC70B745AC19998811B131D662C9\n AC69DBDBE7CB23E5B514B56664C5D3D6 )',
    '0301010c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6',
    '3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6',
  ],
  [
    'sub 300 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118',
    'ec4505012bb183af5f22588179a53b0a98631fad1a292118',
    '60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118',
  ],
  ['x 300 IN TYPE999 \\# 3 abcdef', 'abcdef', '\\# 3 ABCDEF'],
  ['x 300 IN TYPE999 \\# 4 ab cd ( ef 01 )', 'abcdef01', '\\# 4 ABCDEF01'],
  ['x 300 IN TYPE999 \\# 0', '', '\\# 0'],
  ['x 300 IN A \\# 4 C0000201', 'c0000201', '192.0.2.1'],
  ['x 300 IN NSEC \\# 2 0000', '0000', '\\# 2 0000'],
];

t.test('zone-file lines → wire RDATA → text', async (t) => {
  for (const [line, wire, text] of TABLE) {
    const rr = rrFromText(line, origin);
    t.equal(hex(rr.rdata), wire, `wire of ${line}`);
    t.equal(rdataToText(rr.type, rr.rdata), text, `text of ${line}`);
    // The printed form parses back to the same bytes.
    const again = rrFromText(`x 1 IN ${rrToText(rr).split('\t')[3]} ${text}`, origin);
    t.equal(hex(again.rdata), wire, `round trip of ${line}`);
  }
});

t.test('rrToText prints like dig', async (t) => {
  t.equal(
    rrToText(rrFromText('WWW 300 IN A 192.0.2.1', origin)),
    'WWW.example.com.\t300\tIN\tA\t192.0.2.1',
  );
  t.equal(
    rrToText(rrFromText('x 0 CLASS1 TYPE65280 \\# 1 00', origin)),
    'x.example.com.\t0\tIN\tTYPE65280\t\\# 1 00',
  );
});

// [type, tokens, message pattern, blamed token index]
const ERRORS: [number, string[], RegExp, number | undefined][] = [
  [TYPE.A, ['1.2.3'], /^bad IPv4 address '1\.2\.3'$/, 0],
  [TYPE.A, ['01.2.3.4'], /bad IPv4 address/, 0],
  [TYPE.A, ['256.1.1.1'], /bad IPv4 address/, 0],
  [TYPE.A, [], /^missing IPv4 address$/, undefined],
  [TYPE.A, ['1.2.3.4', 'x'], /^extra text 'x' after A rdata$/, 1],
  [TYPE.AAAA, ['1::2::3'], /bad IPv6 address/, 0],
  [TYPE.AAAA, ['12345::'], /bad IPv6 address/, 0],
  [TYPE.AAAA, ['1:2:3:4:5:6:7:8:9'], /bad IPv6 address/, 0],
  [TYPE.AAAA, ['1:2:3:4:5:6:7::8'], /bad IPv6 address/, 0],
  [TYPE.AAAA, ['1.2.3.4::'], /bad IPv6 address/, 0],
  [TYPE.MX, ['70000', 'mail'], /^MX preference out of range: 70000/, 0],
  [TYPE.MX, ['ten', 'mail'], /^bad MX preference 'ten'$/, 0],
  [TYPE.MX, ['10'], /^missing MX exchange$/, undefined],
  [TYPE.MX, ['10', 'a..b'], /^bad MX exchange 'a\.\.b': empty label/, 1],
  [TYPE.NS, ['"ns1"'], /a name is not quoted/, 0],
  [TYPE.TXT, [], /^missing text$/, undefined],
  [TYPE.TXT, ['ok', `"${'a'.repeat(256)}"`], /TXT string longer than 255 bytes \(256\)/, 1],
  [TYPE.TXT, ['"abc\\"'], /dangling backslash/, 0],
  [TYPE.TXT, ['"abc'], /unterminated quoted string/, 0],
  [TYPE.TXT, ['\\300'], /bad escape \\300/, 0],
  [TYPE.SOA, ['a', 'b', 'x', '1', '1', '1', '1'], /^bad SOA serial 'x'$/, 2],
  [TYPE.SOA, ['a', 'b', '4294967296', '1', '1', '1', '1'], /SOA serial out of range/, 2],
  [TYPE.SOA, ['a', 'b', '1', '1', '1x', '1', '1'], /^bad SOA retry '1x'$/, 4],
  [TYPE.SOA, ['a', 'b', '1', '1', '1', '1'], /^missing SOA minimum$/, undefined],
  [TYPE.SRV, ['0', '0', '65536', 'x'], /SRV port out of range/, 2],
  [TYPE.CAA, ['0', 'is-sue', '"x"'], /^bad CAA tag 'is-sue'$/, 1],
  [TYPE.CAA, ['256', 'issue', '"x"'], /CAA flags out of range/, 0],
  [TYPE.CAA, ['0', 'issue'], /^missing CAA value$/, undefined],
  [TYPE.HINFO, ['"x"'], /^missing HINFO os$/, undefined],
  [TYPE.DS, ['1', '5', '2', 'abcd'], /DS digest type 2 needs 32 bytes, got 2/, 3],
  [TYPE.DS, ['1', '5', '2', 'xyz'], /bad hex in DS digest 'xyz'/, 3],
  [TYPE.DS, ['1', '5', '2'], /missing DS digest/, undefined],
  [TYPE.SSHFP, ['1', '1', 'abc'], /odd number of hex digits/, 2],
  [999, ['\\#', '3', 'abcd'], /generic RDATA length 3 does not match the 2 bytes given/, 1],
  [TYPE.A, ['\\#', '3', 'c00002'], /generic RDATA is not valid A RDATA/, 1],
  [TYPE.MX, ['\\#', '1', '00'], /not valid MX RDATA/, 1],
  [TYPE.RRSIG, ['A', '5', '3'], /no presentation format for RRSIG/, 0],
];

t.test('rdataFromText errors name the field and the token', async (t) => {
  for (const [type, tokens, message, token] of ERRORS) {
    try {
      rdataFromText(type, tokens, origin);
      t.fail(`no error for ${type} ${tokens.join(' ')}`);
    } catch (e) {
      t.match(e, { code: 'ERR_DNS_RDATA', message, token }, `${type} ${tokens.join(' ')}`);
    }
  }
});

t.test('TXT strings: 255 bytes fit, escapes count as one byte', async (t) => {
  const max = rdataFromText(TYPE.TXT, [`"${'a'.repeat(255)}"`], origin);
  t.equal(max.length, 256);
  const esc = rdataFromText(TYPE.TXT, [`"${'\\255'.repeat(255)}"`], origin);
  t.equal(esc.length, 256);
  t.throws(() => rdataFromText(TYPE.TXT, Array<string>(300).fill(`"${'a'.repeat(255)}"`), origin), {
    message: /RDATA longer than 65535 bytes/,
  });
});

t.test('TTL and timer syntax follows BIND', async (t) => {
  t.equal(ttlFromText('3600'), 3600);
  t.equal(ttlFromText('1w2d3h4m5s'), 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  t.equal(ttlFromText('1H30M'), 5400);
  t.equal(ttlFromText('1h1h'), 7200);
  t.equal(ttlFromText('1h30'), undefined);
  t.equal(ttlFromText('h'), undefined);
  t.equal(ttlFromText(''), undefined);
  t.equal(ttlFromText('-1'), undefined);
});

t.test('IPv6 text follows RFC 5952', async (t) => {
  const p = (s: string): string => ipv6ToText(ipv6FromText(s)!);
  t.equal(p('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  t.equal(p('0:0:0:0:0:0:0:1'), '::1');
  t.equal(p('1:0:0:0:0:0:0:0'), '1::');
  t.equal(p('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  t.equal(p('2001:db8::0:1'), '2001:db8::1');
  t.equal(ipv6FromText('::1:'), undefined);
  t.equal(ipv6FromText(':1::'), undefined);
  t.equal(ipv6FromText(''), undefined);
});

t.test('rdataToText never throws: malformed RDATA prints in generic form', async (t) => {
  t.equal(rdataToText(TYPE.A, unhex('010203')), '\\# 3 010203');
  t.equal(rdataToText(TYPE.MX, unhex('000ac000')), '\\# 4 000AC000');
  t.equal(rdataToText(TYPE.NS, unhex('03777777')), '\\# 4 03777777');
  t.equal(rdataToText(TYPE.TXT, new Uint8Array(0)), '\\# 0');
  t.equal(rdataToText(TYPE.TXT, unhex('0561')), '\\# 2 0561');
  t.equal(rdataToText(TYPE.CAA, unhex('00002e')), '\\# 3 00002E');
  t.equal(rdataToText(TYPE.A, unhex('0102030405')), '\\# 5 0102030405');
  const types = [...Object.values(TYPE), 999];
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 300 }), (type, rdata) => {
      const s = rdataToText(type, rdata);
      return typeof s === 'string' && s.length > 0;
    }),
    { numRuns: 3000 },
  );
});

// ---------------------------------------------------------------------------------------
// Round-trip properties: wire → text → (tokenizer, parser) → the same wire.

const label = fc.uint8Array({ minLength: 1, maxLength: 20 });
const wireName = fc.array(label, { minLength: 0, maxLength: 4 }).map((ls) => {
  const parts: number[] = [];
  for (const l of ls) parts.push(l.length, ...l);
  parts.push(0);
  return Uint8Array.from(parts);
});
const u16 = (v: number): number[] => [v >> 8, v & 0xff];
const alnum = fc.constantFrom(
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''),
);

const ARBITRARY: [string, number, fc.Arbitrary<Uint8Array>][] = [
  ['A', TYPE.A, fc.uint8Array({ minLength: 4, maxLength: 4 })],
  ['AAAA', TYPE.AAAA, fc.uint8Array({ minLength: 16, maxLength: 16 })],
  [
    'MX',
    TYPE.MX,
    fc
      .tuple(fc.integer({ min: 0, max: 0xffff }), wireName)
      .map(([p, n]) => Uint8Array.from([...u16(p), ...n])),
  ],
  [
    'TXT',
    TYPE.TXT,
    fc
      .array(fc.uint8Array({ maxLength: 255 }), { minLength: 1, maxLength: 5 })
      .map((ss) => Uint8Array.from(ss.flatMap((s) => [s.length, ...s]))),
  ],
  [
    'SRV',
    TYPE.SRV,
    fc
      .tuple(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        wireName,
      )
      .map(([a, b, c, n]) => Uint8Array.from([...u16(a), ...u16(b), ...u16(c), ...n])),
  ],
  [
    'CAA',
    TYPE.CAA,
    fc
      .tuple(
        fc.integer({ min: 0, max: 255 }),
        fc.array(alnum, { minLength: 1, maxLength: 15 }),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(([f, tag, v]) =>
        Uint8Array.from([f, tag.length, ...tag.map((c) => c.charCodeAt(0)), ...v]),
      ),
  ],
];

for (const [name, type, arb] of ARBITRARY) {
  t.test(`${name}: rdataFromText ∘ rdataToText is the identity on wire RDATA`, async (t) => {
    holds(
      t,
      fc.property(arb, (wire) => {
        const text = rdataToText(type, wire);
        if (text.startsWith('\\#')) return false; // every generated value has a real format
        const rr = rrFromText(`x 1 IN ${name} ${text}`, origin);
        return hex(rr.rdata) === hex(wire) && rdataToText(type, rr.rdata) === text;
      }),
      { numRuns: 500 },
    );
  });
}
