/**
 * Every message of the RFC 4475 torture corpus (shared/corpora/rfc4475 beside the checkout,
 * read in place; see testdata/README.md; NETSVC_SIP_CORPUS overrides) through the decoder and the core, with the outcome the
 * RFC's section asks for; plus every truncated prefix, which must never throw.
 */
import t from 'tap';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from './message.js';
import { testCore, responses, statuses, PHONE, T0 } from './testing.js';

// shared/ lies beside the repository's folder on the developers' machines and in CI.
// NETSVC_SIP_CORPUS (or the older SIP_RFC4475_DIR) names the folder instead.
const OVERRIDE = process.env.NETSVC_SIP_CORPUS ?? process.env.SIP_RFC4475_DIR;
const TRIED =
  OVERRIDE !== undefined
    ? [OVERRIDE]
    : [
        fileURLToPath(new URL('../../../shared/corpora/rfc4475', import.meta.url)),
        '/work/shared/corpora/rfc4475',
      ];
const FOUND = TRIED.find((d) => existsSync(d));
const CORPUS = FOUND ?? TRIED[0]!;

/**
 * Expected: 'parse' (decodes; the status is what the core answers), a status the core
 * answers, or 'drop'. Where the RFC allows a choice, the alternatives are listed.
 */
const EXPECT: Record<string, { decode: 'ok' | 'bad'; answer: (number | 'drop')[]; why: string }> = {
  // 3.1.1 valid
  wsinv: {
    decode: 'ok',
    answer: [481],
    why: 'valid INVITE with a To tag: a re-INVITE for a dialog we do not have (§12.2.2)',
  },
  intmeth: { decode: 'ok', answer: [501], why: 'valid unknown method' },
  esc01: { decode: 'ok', answer: [407], why: 'valid INVITE, challenged (407, as Asterisk)' },
  escnull: { decode: 'ok', answer: [401], why: 'valid REGISTER, challenged' },
  esc02: { decode: 'ok', answer: [501], why: 'RE%47IST%45R is an unknown method' },
  lwsdisp: { decode: 'ok', answer: [200], why: 'valid OPTIONS' },
  longreq: { decode: 'ok', answer: [407], why: 'valid INVITE, challenged (407, as Asterisk)' },
  dblreq: { decode: 'ok', answer: [401], why: 'first REGISTER processed, second ignored' },
  semiuri: { decode: 'ok', answer: [200], why: 'valid OPTIONS' },
  transports: { decode: 'ok', answer: [200], why: 'valid OPTIONS' },
  mpart01: { decode: 'ok', answer: [501], why: 'valid MESSAGE? multipart body kept opaque' },
  unreason: { decode: 'ok', answer: ['drop'], why: 'valid response, no transaction' },
  noreason: { decode: 'ok', answer: ['drop'], why: 'valid response, no transaction' },
  // 3.1.2 invalid
  badinv01: {
    decode: 'bad',
    answer: [400, 'drop'],
    why: 'empty Via params: no Via to answer to, so dropped (the RFC allows either)',
  },
  clerr: { decode: 'bad', answer: [400], why: 'Content-Length past the body' },
  ncl: { decode: 'bad', answer: [400], why: 'negative Content-Length' },
  scalar02: { decode: 'bad', answer: [400], why: 'CSeq and Max-Forwards out of range' },
  scalarlg: { decode: 'bad', answer: ['drop'], why: 'bad response' },
  quotbal: { decode: 'bad', answer: [400], why: 'unbalanced quotes' },
  ltgtruri: { decode: 'bad', answer: [400], why: '<> around the Request-URI' },
  lwsruri: { decode: 'bad', answer: [400], why: 'LWS in the Request-URI' },
  lwsstart: { decode: 'bad', answer: [400], why: 'several spaces in the request line' },
  trws: { decode: 'bad', answer: [400], why: 'trailing whitespace in the request line' },
  escruri: { decode: 'bad', answer: [400], why: 'headers in the Request-URI' },
  baddate: { decode: 'bad', answer: [400], why: 'non-GMT Date' },
  regbadct: { decode: 'bad', answer: [400], why: 'unbracketed Contact with ?' },
  badaspec: { decode: 'bad', answer: [400], why: 'LWS inside <>' },
  baddn: { decode: 'bad', answer: [400], why: 'unquoted display name with comma' },
  badvers: { decode: 'bad', answer: [505], why: 'SIP/7.0' },
  mismatch01: { decode: 'bad', answer: [400], why: 'CSeq method mismatch' },
  mismatch02: {
    decode: 'bad',
    answer: [400, 501],
    why: 'CSeq method mismatch on an unknown method',
  },
  bigcode: { decode: 'bad', answer: ['drop'], why: 'status code out of range' },
  // 3.2 transaction layer
  badbranch: { decode: 'ok', answer: [200], why: 'branch = bare cookie is still a branch' },
  // 3.3 application layer
  insuf: { decode: 'bad', answer: [400], why: 'missing To/From/Call-ID' },
  unkscm: { decode: 'ok', answer: [416], why: 'unknown Request-URI scheme' },
  novelsc: { decode: 'ok', answer: [416], why: 'soap.beep scheme' },
  unksm2: { decode: 'ok', answer: [416, 400], why: 'REGISTER with a non-SIP To' },
  bext01: { decode: 'ok', answer: [420], why: 'Require of unknown options' },
  invut: {
    decode: 'ok',
    answer: [415, 407],
    why: '415 asked; the caller is authenticated first (as Asterisk does), the body checked after',
  },
  regaut01: { decode: 'ok', answer: [401], why: 'unknown auth scheme: challenged' },
  multi01: { decode: 'bad', answer: [400], why: 'duplicate single-value headers' },
  mcl01: { decode: 'bad', answer: [400], why: 'two Content-Length' },
  bcast: { decode: 'ok', answer: ['drop'], why: 'response; not a proxy, no transaction' },
  zeromf: {
    decode: 'ok',
    answer: [200, 483],
    why: 'endpoint answers as if Max-Forwards were positive',
  },
  cparam01: { decode: 'ok', answer: [401], why: 'REGISTER challenged' },
  cparam02: { decode: 'ok', answer: [401], why: 'REGISTER challenged' },
  regescrt: { decode: 'ok', answer: [401], why: 'REGISTER challenged' },
  sdp01: { decode: 'ok', answer: [407], why: 'INVITE, challenged' },
  // 3.4
  inv2543: { decode: 'ok', answer: [407], why: 'RFC 2543 syntax accepted; INVITE challenged' },
};

if (FOUND === undefined) {
  const why = `RFC 4475 corpus not found; tried ${TRIED.join(', ')}`;
  if (process.env.CI) {
    // CI must run the corpus: a missing one is a broken checkout, not a pass.
    t.fail(`${why} (CI is set: the corpus must be present)`);
  } else {
    t.test('RFC 4475 corpus', { skip: `${why} (set NETSVC_SIP_CORPUS)` }, async () => {});
  }
} else {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.dat') && f !== 'test.dat');
  t.equal(files.length, 49, '49 RFC messages (test.dat is referred to by no section)');
  for (const f of files) {
    const name = f.replace(/\.dat$/, '');
    const exp = EXPECT[name];
    t.test(name, async (t) => {
      t.ok(exp, 'has an expectation');
      if (!exp) return;
      const bytes = readFileSync(join(CORPUS, f));
      const d = decode(bytes);
      t.equal(d.ok ? 'ok' : 'bad', exp.decode, `decode: ${exp.why}${d.ok ? '' : ` (${d.reason})`}`);
      const { core } = testCore({ qualifyIntervalMs: 1e12 });
      const out = core.handle({ data: bytes, source: PHONE }, T0);
      const r = statuses(out);
      const got = r.length === 0 ? 'drop' : r[0]!;
      t.ok(exp.answer.includes(got), `answer ${got} in [${exp.answer.join(', ')}]: ${exp.why}`);
      // Still serving afterwards.
      const ping = Buffer.from(
        'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: p\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
      );
      t.equal(responses(core.handle({ data: ping, source: PHONE }, T0 + 1))[0]?.status, 200);
    });
  }
  t.test('every truncated prefix of every message decodes without throwing', async (t) => {
    let n = 0;
    const internal: string[] = [];
    const { core } = testCore({ qualifyIntervalMs: 1e12 });
    for (const f of readdirSync(CORPUS).filter((x) => x.endsWith('.dat'))) {
      const bytes = readFileSync(join(CORPUS, f));
      for (let i = 0; i <= bytes.length; i++) {
        const d = decode(bytes.subarray(0, i));
        if (!d.ok && d.reason.startsWith('internal')) internal.push(`${f}[0..${i}]: ${d.reason}`);
        core.handle({ data: bytes.subarray(0, i), source: PHONE }, T0 + i);
        n++;
      }
    }
    t.same(
      internal,
      [],
      `${n} prefixes decode or are refused with a reason, none crashes the core`,
    );
  });
}
