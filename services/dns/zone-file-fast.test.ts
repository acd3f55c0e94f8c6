/**
 * The master-file parser's short ways for plain names, A, AAAA and TXT (zone-file.ts) must
 * give exactly what the general parsers give (nameFromText, rdataFromText), and leave
 * every other input, errors included, to them: checked on random near-valid tokens.
 */
import t from 'tap';
import fc from 'fast-check';
import { holds } from '../../src/testing/property.js';
import { nameFromText } from './name.js';
import { RdataError, rdataFromText } from './rdata-text.js';
import { TYPE } from './rr.js';
import { parseZoneFile } from './zone-file.js';

const origin = nameFromText('example.com.');

/** The record's owner and RDATA as the parser gives them, or its first error. */
function parsed(line: string): { owner?: Uint8Array; rdata?: Uint8Array; error?: string } {
  const z = parseZoneFile(`$TTL 60\n${line}\n`, { origin, file: 'f' });
  if (z.errors[0]) return { error: z.errors[0].message };
  return { owner: z.records[0]!.owner, rdata: z.records[0]!.rdata };
}

function general(type: number, tokens: string[]): Uint8Array | undefined {
  try {
    return rdataFromText(type, tokens, origin);
  } catch (e) {
    if (e instanceof RdataError) return undefined;
    throw e;
  }
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === undefined || b === undefined ? a === b : Buffer.from(a).equals(Buffer.from(b));

const chars = (alphabet: string, maxLength: number) =>
  fc
    .array(fc.constantFrom(...alphabet.split('')), { minLength: 1, maxLength })
    .map((a) => a.join(''));

t.test('A: the short way agrees with rdataFromText', async (t) => {
  const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), chars('0123456789', 4));
  const quad = fc.oneof(
    fc.tuple(octet, octet, octet, octet).map((p) => p.join('.')),
    chars('0123456789.', 16),
  );
  holds(
    t,
    fc.property(quad, (a) => same(parsed(`h A ${a}`).rdata, general(TYPE.A, [a]))),
    { numRuns: 2000 },
  );
});

t.test('AAAA: the short way agrees with rdataFromText', async (t) => {
  const addr = fc.oneof(
    fc.ipV6(),
    chars('0123456789abcdefABCDEFg:.', 45),
    fc.array(chars('0f', 5), { minLength: 1, maxLength: 9 }).map((g) => g.join(':')),
  );
  holds(
    t,
    fc.property(addr, (a) => same(parsed(`h AAAA ${a}`).rdata, general(TYPE.AAAA, [a]))),
    { numRuns: 3000 },
  );
});

t.test('TXT: the short way agrees with rdataFromText', async (t) => {
  const str = fc.oneof(
    fc.string({ maxLength: 300 }).map((s) => `"${s.replace(/["\n\\]/g, '')}"`),
    chars('abc09é', 8),
    // Escapes, which only the general way handles (a token never ends in a lone `\`).
    fc.constantFrom('\\065', '"a\\"b"', 'a\\;b', '"\\255"', '"\\256"'),
    fc.string({ minLength: 250, maxLength: 260 }).map((s) => `"${s.replace(/["\n\\;]/g, 'x')}"`),
  );
  holds(
    t,
    fc.property(fc.array(str, { minLength: 1, maxLength: 3 }), (toks) =>
      same(parsed(`h TXT ${toks.join(' ')}`).rdata, general(TYPE.TXT, toks)),
    ),
    { numRuns: 2000 },
  );
});

t.test('owner names: the short way agrees with nameFromText', async (t) => {
  const name = fc.oneof(
    fc.domain(),
    fc.domain().map((d) => d + '.'),
    chars('aZ09-_*.\\', 20),
    fc.array(chars('ab', 70), { minLength: 1, maxLength: 5 }).map((l) => l.join('.')),
  );
  holds(
    t,
    fc.property(name, (n) => {
      let want: Uint8Array | undefined;
      try {
        want = nameFromText(n, origin);
      } catch {
        want = undefined;
      }
      const got = parsed(`${n} A 192.0.2.1`);
      return n.startsWith(';') || n.includes('\\') || same(got.owner, want);
    }),
    { numRuns: 2000 },
  );
});
