/**
 * CIDR lists (RFC 4632, RFC 4291 §2.3): tables of prefix/address expectations, bad entries,
 * checkCidrs messages, and a property test against a reference built on 32-bit integers.
 */
import t from 'tap';
import fc from 'fast-check';
import { CidrList, CidrError, parsePrefix, checkCidrs } from './cidr.js';

// [entries, address, expected]
const table: [readonly string[], string, boolean][] = [
  // IPv4 prefixes
  [['192.168.0.0/24'], '192.168.0.0', true],
  [['192.168.0.0/24'], '192.168.0.255', true],
  [['192.168.0.0/24'], '192.168.1.0', false],
  [['10.0.0.0/8'], '10.255.255.255', true],
  [['10.0.0.0/8'], '11.0.0.0', false],
  [['10.0.1.0/30'], '10.0.1.3', true],
  [['10.0.1.0/30'], '10.0.1.4', false],
  [['172.16.0.0/12'], '172.31.255.255', true],
  [['172.16.0.0/12'], '172.32.0.0', false],
  [['192.168.0.0/23'], '192.168.1.200', true], // a length that is not a multiple of 8
  [['192.168.0.0/23'], '192.168.2.1', false],
  [['192.168.0.77/24'], '192.168.0.1', true], // host bits in the entry are ignored
  // host addresses (bare = /32, /128)
  [['192.168.0.2'], '192.168.0.2', true],
  [['192.168.0.2'], '192.168.0.3', false],
  [['192.168.0.2/32'], '192.168.0.2', true],
  [['2001:db8::1'], '2001:db8::1', true],
  [['2001:db8::1'], '2001:db8::2', false],
  [['2001:db8::1/128'], '2001:db8:0:0:0:0:0:1', true], // another spelling of the same address
  // /0
  [['0.0.0.0/0'], '203.0.113.9', true],
  [['0.0.0.0/0'], '2001:db8::1', false], // an IPv4 prefix never matches a real IPv6 address
  [['::/0'], '2001:db8::1', true],
  [['::/0'], '203.0.113.9', false],
  // IPv6 prefixes
  [['2001:db8::/32'], '2001:db8:ffff::1', true],
  [['2001:db8::/32'], '2001:db9::1', false],
  [['fe80::/10'], 'febf::1', true],
  [['fe80::/10'], 'fec0::1', false],
  [['2001:db8:1:2::/64'], '2001:db8:1:2:aaaa:bbbb:cccc:dddd', true],
  [['2001:db8:1:2::/64'], '2001:db8:1:3::', false],
  [['::1'], '::1', true],
  [['::1'], '::', false],
  [['fe80::/64'], 'fe80::1%eth0', true], // a zone index on the client address is ignored
  // IPv4-mapped IPv6 client addresses match IPv4 prefixes
  [['192.168.0.0/24'], '::ffff:192.168.0.9', true],
  [['192.168.0.0/24'], '::ffff:192.168.1.9', false],
  [['192.168.0.0/24'], '::ffff:c0a8:0009', true], // mapped, hex spelling
  [['127.0.0.1'], '::ffff:127.0.0.1', true],
  [['::ffff:10.0.0.0/104'], '10.1.2.3', false], // a v6 entry stays v6; write IPv4 prefixes as IPv4
  // lists: any entry
  [['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'], '192.168.44.1', true],
  [['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'], '2001:db8::5', true],
  [['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'], '172.16.0.1', false],
  // not an address at all
  [['0.0.0.0/0', '::/0'], 'localhost', false],
  [['0.0.0.0/0', '::/0'], '', false],
  [['0.0.0.0/0', '::/0'], '1.2.3', false],
  // an empty list matches nothing
  [[], '127.0.0.1', false],
];

t.test('has(): table', async (t) => {
  for (const [entries, address, expected] of table) {
    t.equal(
      new CidrList(entries).has(address),
      expected,
      `[${entries.join(', ')}] has ${address || '""'}`,
    );
  }
});

t.test('empty', async (t) => {
  t.equal(new CidrList([]).empty, true);
  t.equal(new CidrList(['::/0']).empty, false);
});

t.test('parsePrefix', async (t) => {
  t.same(parsePrefix('10.1.0.0/16'), {
    v6: false,
    bytes: Uint8Array.from([10, 1, 0, 0]),
    bits: 16,
  });
  t.same(
    parsePrefix(' 10.1.2.3 '),
    { v6: false, bytes: Uint8Array.from([10, 1, 2, 3]), bits: 32 },
    'trimmed',
  );
  const v6 = parsePrefix('2001:db8::ff00:42:8329/48');
  t.equal(v6.v6, true);
  t.equal(v6.bits, 48);
  t.same(
    [...v6.bytes],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29],
  );
  t.same(
    [...parsePrefix('::ffff:1.2.3.4').bytes],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4],
  );
  t.same([...parsePrefix('1::').bytes], [0, 1, ...new Array<number>(14).fill(0)]);
});

t.test('bad entries throw ERR_NET_CIDR', async (t) => {
  const bad: [string, RegExp][] = [
    ['', /is not an IPv4 or IPv6 address or prefix/],
    ['localhost', /"localhost" is not an IPv4 or IPv6 address or prefix/],
    ['192.168.0.0/', /prefix length must be 0-32/],
    ['192.168.0.0/33', /"192\.168\.0\.0\/33": prefix length must be 0-32/],
    ['192.168.0.0/-1', /prefix length must be 0-32/],
    ['192.168.0.0/8.5', /prefix length must be 0-32/],
    ['192.168.0.0/ 8', /prefix length must be 0-32/],
    ['192.168.0.0/0x8', /prefix length must be 0-32/],
    ['192.168.0.0/24/8', /"192\.168\.0\.0\/24\/8" is not an IPv4 or IPv6 address or prefix/],
    ['2001:db8::/129', /prefix length must be 0-128/],
    ['256.0.0.0/8', /not an IPv4 or IPv6/],
    ['10.0.0/8', /not an IPv4 or IPv6/],
    ['2001:db8:::/32', /not an IPv4 or IPv6/],
  ];
  for (const [entry, re] of bad) {
    t.throws(
      () => new CidrList([entry]),
      { code: 'ERR_NET_CIDR', message: re },
      JSON.stringify(entry),
    );
    let caught: unknown;
    try {
      parsePrefix(entry);
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof CidrError, 'a CidrError');
  }
});

t.test('checkCidrs: one message per bad entry, none for good ones', async (t) => {
  t.same(checkCidrs([]), []);
  t.same(checkCidrs(['10.0.0.0/8', '::1', '0.0.0.0/0']), []);
  t.same(checkCidrs(['10.0.0.0/8', 'lan', '10.0.0.0/40', '::/0']), [
    '"lan" is not an IPv4 or IPv6 address or prefix',
    '"10.0.0.0/40": prefix length must be 0-32',
  ]);
});

// --- property: has() agrees with a reference on 32-bit integers ---------------------------

const u32 = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const dotted = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const refHas = (prefixes: readonly { net: number; bits: number }[], addr: number): boolean =>
  prefixes.some(({ net, bits }) => {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (net & mask) >>> 0 === (addr & mask) >>> 0;
  });

t.test('property: has() matches a reference on random IPv4 prefixes and addresses', async (t) => {
  const prefix = fc.record({
    net: fc.nat({ max: 0xffffffff }),
    bits: fc.integer({ min: 0, max: 32 }),
  });
  // Addresses drawn near a prefix as often as anywhere, so matches are common.
  const arb = fc
    .tuple(
      fc.array(prefix, { maxLength: 4 }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.boolean(),
    )
    .map(([prefixes, random, flip, near]) => {
      const base = prefixes[0];
      // Near: keep the first prefix's network bits and flip one random lower bit (or none).
      const addr =
        near && base
          ? (base.net ^ (base.bits === 32 ? 0 : (1 << (flip % (32 - base.bits))) * (flip & 1))) >>>
            0
          : random;
      return { prefixes, addr };
    });
  let matched = 0;
  let runs = 0;
  fc.assert(
    fc.property(arb, ({ prefixes, addr }) => {
      const list = new CidrList(prefixes.map((p) => `${dotted(p.net)}/${p.bits}`));
      const expected = refHas(prefixes, addr);
      runs++;
      if (expected) matched++;
      return list.has(dotted(addr)) === expected && list.has(`::ffff:${dotted(addr)}`) === expected;
    }),
    { numRuns: 2000 },
  );
  t.ok(matched > runs / 10, `${matched} of ${runs} runs matched (both outcomes exercised)`);
  t.ok(matched < runs, 'some runs did not match');
  t.equal(u32(dotted(0xc0a80001)), 0xc0a80001, 'reference helpers round-trip');
});
