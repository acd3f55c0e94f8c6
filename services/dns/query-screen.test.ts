/**
 * The query screen against the decoder and the handler: whatever the screen settles gets
 * exactly the outcome handleQuery gives it, and what it passes the decoder accepts (but for
 * the one case the screen leaves to the decoder: an OPT owner behind a compression
 * pointer). Checked on fixed cases, random bytes and mutations of well-formed messages.
 */
import t from 'tap';
import fc from 'fast-check';
import { screenQuery } from './query-screen.js';
import { handleQuery } from './handler.js';
import { decodeMessage, bareReply, FormatError, MessageWriter, RCODE } from './message.js';
import { readName, skipName, nameFromText } from './name.js';
import { TYPE, CLASS } from './rr.js';
import { holds } from '../../src/testing/property.js';
import { defaultPolicy, query, zoneFromText, zoneSet } from './testing.js';

const zones = zoneSet(
  zoneFromText(
    'example.',
    '$TTL 300\n@ SOA ns1 admin 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n',
  ),
);
const ctx = { transport: 'udp', client: '127.0.0.1' } as const;

/** The handler's outcome for what the screen settled, or undefined when it passed. */
function screened(b: Uint8Array): unknown {
  const s = screenQuery(b);
  if (s === 'pass') return undefined;
  if (s === 'formerr') return { kind: 'reply', bytes: [...bareReply(b, RCODE.FORMERR)] };
  return { kind: 'drop', reason: s };
}

function handled(b: Uint8Array): unknown {
  const out = handleQuery(b, zones, defaultPolicy, ctx);
  return out.kind === 'reply' ? { kind: 'reply', bytes: [...out.bytes] } : out;
}

/** True when decodeMessage accepts `b`; false on a FormatError other than the known gap. */
function decodes(b: Uint8Array): boolean | 'opt-owner' {
  try {
    decodeMessage(b);
    return true;
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return e.message === 'OPT owner name is not the root' ? 'opt-owner' : false;
  }
}

/** The property: agreement with the handler when settled, with the decoder when passed. */
function agrees(b: Uint8Array): boolean {
  const s = screened(b);
  if (s !== undefined) return JSON.stringify(s) === JSON.stringify(handled(b));
  return decodes(b) !== false;
}

/** A response-shaped message with records whose RDATA holds (compressed) names, and an OPT. */
function rich(): Uint8Array {
  const w = new MessageWriter(1232);
  const owner = nameFromText('www.example.');
  w.addQuestion({ qname: owner, qtype: TYPE.MX, qclass: CLASS.IN });
  const target = nameFromText('mail.example.');
  const mx = new Uint8Array(2 + target.length);
  mx[1] = 10;
  mx.set(target, 2);
  w.addRR(1, { owner, type: TYPE.MX, class: CLASS.IN, ttl: 60, rdata: mx });
  w.addRR(2, { owner, type: TYPE.NS, class: CLASS.IN, ttl: 60, rdata: target });
  w.addOpt(1232, 0, 0);
  return w.finish(0x4242, 0x0100);
}

/** A query whose OPT record is counted in `section` (1 answer, 2 authority) instead. */
function optIn(section: 1 | 2): Uint8Array {
  const b = Uint8Array.from(query('www.example', 'A', { edns: 1232 }));
  b[11] = 0;
  b[5 + section * 2] = 1;
  return b;
}

function twoOpts(): Uint8Array {
  const q = query('www.example', 'A', { edns: 1232 });
  const b = Uint8Array.from([...q, ...q.subarray(q.length - 11)]);
  b[11] = 2;
  return b;
}

const samples = [
  query('www.example', 'A'),
  query('www.example', 'A', { edns: 1232, dnssecOk: true }),
  query('example', 'AXFR', { opcode: 3 }),
  rich(),
];

t.test('settled cases get the handler outcome', async (t) => {
  const q = query('www.example', 'A');
  const cases: [string, Uint8Array, string][] = [
    ['11 bytes', q.subarray(0, 11), 'short'],
    ['QR set', Uint8Array.from(q, (b, i) => (i === 2 ? b | 0x80 : b)), 'response'],
    [
      'QDCOUNT 0, header only',
      Uint8Array.from(q.subarray(0, 12), (b, i) => (i === 5 ? 0 : b)),
      'formerr',
    ],
    ['QDCOUNT 2, one question', Uint8Array.from(q, (b, i) => (i === 5 ? 2 : b)), 'formerr'],
    ['trailing byte', Uint8Array.from([...q, 0]), 'formerr'],
    [
      'forward pointer',
      Uint8Array.of(0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1),
      'formerr',
    ],
    [
      'reserved label type',
      Uint8Array.of(0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 1, 0, 1),
      'formerr',
    ],
    ['ANCOUNT past the end', Uint8Array.from(q, (b, i) => (i === 7 ? 5 : b)), 'formerr'],
    ['OPT in the answer section', optIn(1), 'formerr'],
    ['two OPTs', twoOpts(), 'formerr'],
    ['valid', q, 'pass'],
    ['valid with OPT', samples[1]!, 'pass'],
    ['unknown opcode (NOTIMP from the handler)', samples[2]!, 'pass'],
  ];
  for (const [what, b, want] of cases) {
    t.equal(screenQuery(b), want, what);
    t.ok(agrees(b), `${what}: same outcome as the handler`);
  }
  // With an additional record the FORMERR for QDCOUNT 0 keeps the OPT: left to the handler.
  const withOpt = Uint8Array.from(samples[1]!);
  withOpt[5] = 0;
  const noQuestion = Uint8Array.from([
    ...withOpt.subarray(0, 12),
    ...withOpt.subarray(withOpt.length - 11),
  ]);
  t.equal(screenQuery(noQuestion), 'pass');
  const out = handleQuery(noQuestion, zones, defaultPolicy, ctx);
  t.ok(out.kind === 'reply' && out.bytes.length > 12, 'FORMERR with the OPT echoed');
});

t.test('skipName agrees with readName on every offset of every sample', async (t) => {
  for (const s of samples) {
    const want: number[] = [];
    const got: number[] = [];
    for (let o = 0; o <= s.length; o++) {
      try {
        want.push(readName(s, o).next);
      } catch {
        want.push(-1);
      }
      got.push(skipName(s, o));
    }
    t.same(got, want, `${s.length}-byte sample`);
  }
});

t.test(
  'random bytes and mutations: settled as the handler would, passed only if decodable',
  async (t) => {
    holds(
      t,
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), agrees),
      { numRuns: 5000 },
      'random bytes',
    );
    // Small headers over random bodies reach the section walk instead of the QDCOUNT rule.
    holds(
      t,
      fc.property(
        fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(2), fc.uint8Array({ maxLength: 120 })),
        ([qd, an, ns, ar, body]) =>
          agrees(Uint8Array.from([0, 1, 1, 0, 0, qd, 0, an, 0, ns, 0, ar, ...body])),
      ),
      { numRuns: 5000 },
      'random sections',
    );
    let passed = 0;
    const mutations = fc.property(
      fc.nat(samples.length - 1),
      fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(400),
      (which, edits, cut) => {
        const base = samples[which]!;
        const b = Uint8Array.from(base);
        // Keep QR clear and the counts small so most mutations reach the walk.
        for (const [i, v] of edits) if (i % base.length !== 2) b[i % base.length] = v;
        const m = b.subarray(0, Math.max(12, base.length - (cut % 8)));
        if (screenQuery(m) === 'pass') passed++;
        return agrees(m);
      },
    );
    holds(t, mutations, { numRuns: 10000 }, 'mutations');
    t.ok(passed > 100, `some mutations pass the screen (${passed})`);
  },
);
