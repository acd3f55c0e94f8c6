/**
 * Codec tests: decode of captured BIND responses, encode/decode round trips, every
 * truncated prefix and random bytes either decode or throw FormatError (never another error).
 */
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeMessage, FormatError, MessageWriter, FLAG } from './message.js';
import { nameFromText, nameToText } from './name.js';
import { rrToText } from './rdata-text.js';
import { TYPE, CLASS, type RR } from './rr.js';

const golden = readFileSync(
  fileURLToPath(new URL('./testdata/bind-golden.txt', import.meta.url)),
  'utf8',
)
  .split('\n')
  .filter((l) => /^[QR] /.test(l))
  .map((l) => Buffer.from(l.slice(2), 'hex'));

t.test('decodes BIND responses, compressed names included', async (t) => {
  const r = decodeMessage(golden[3]!); // WEB1.tic2023.com response
  t.equal(r.flags & FLAG.QR, FLAG.QR);
  t.same(
    r.answers.map((a) => rrToText(a).replace(/\s+/g, ' ')),
    [
      'web1.TIC2023.com. 604800 IN CNAME www.TIC2023.com.',
      'www.TIC2023.com. 604800 IN A 192.168.0.5',
    ],
  );
  t.equal(r.edns?.udpSize, 1232);
  const soa = decodeMessage(golden[5]!).authorities[0]!;
  t.equal(
    rrToText(soa).replace(/\s+/g, ' '),
    'TIC2023.com. 604800 IN SOA TIC2023.com. root.TIC2023.com. 2 604800 86400 2419200 604800',
  );
});

t.test('every golden message decodes; every strict prefix throws FormatError', async (t) => {
  let prefixes = 0;
  for (const m of golden) {
    decodeMessage(m);
    for (let i = 12; i < m.length; i++) {
      t.throws(() => decodeMessage(m.subarray(0, i)), { code: 'ERR_DNS_FORMAT' });
      prefixes++;
    }
  }
  t.ok(prefixes > 500, `${prefixes} prefixes`);
});

const arbLabel = fc.uint8Array({ minLength: 1, maxLength: 20 });
const arbName = fc.array(arbLabel, { maxLength: 5 }).map((labels) => {
  const parts: number[] = [];
  for (const l of labels) parts.push(l.length, ...l);
  parts.push(0);
  return Uint8Array.from(parts);
});
const arbRR = fc
  .record({
    owner: arbName,
    type: fc.constantFrom(TYPE.A, TYPE.NS, TYPE.CNAME, TYPE.MX, TYPE.TXT, TYPE.SRV, 65280),
    ttl: fc.nat(),
    target: arbName,
    raw: fc.uint8Array({ maxLength: 40 }),
  })
  .map(({ owner, type, ttl, target, raw }): RR => {
    let rdata: Uint8Array;
    if (type === TYPE.A)
      rdata = raw.subarray(0, 4).length === 4 ? raw.slice(0, 4) : Uint8Array.of(1, 2, 3, 4);
    else if (type === TYPE.NS || type === TYPE.CNAME) rdata = target;
    else if (type === TYPE.MX) rdata = Uint8Array.from([0, 10, ...target]);
    else if (type === TYPE.SRV) rdata = Uint8Array.from([0, 1, 0, 2, 0x13, 0xc4, ...target]);
    else rdata = raw;
    return { owner, type, class: CLASS.IN, ttl, rdata };
  });

t.test('encode → decode round trip with compression', async (t) => {
  fc.assert(
    fc.property(arbName, fc.array(arbRR, { maxLength: 12 }), (qname, rrs) => {
      const w = new MessageWriter(65535);
      w.addQuestion({ qname, qtype: 1, qclass: 1 });
      for (const rr of rrs) w.addRR(1, rr);
      const bytes = w.finish(7, FLAG.QR);
      const m = decodeMessage(bytes);
      if (m.answers.length !== rrs.length) return false;
      return m.answers.every(
        (a, i) =>
          Buffer.compare(Buffer.from(a.owner), Buffer.from(rrs[i]!.owner)) === 0 &&
          Buffer.compare(Buffer.from(a.rdata), Buffer.from(rrs[i]!.rdata)) === 0 &&
          a.ttl === rrs[i]!.ttl,
      );
    }),
    { numRuns: 500 },
  );
});

t.test('compression reuses suffixes and never points forward', async (t) => {
  const w = new MessageWriter(512);
  w.addQuestion({ qname: nameFromText('www.example.com.'), qtype: 1, qclass: 1 });
  w.addRR(1, {
    owner: nameFromText('www.example.com.'),
    type: TYPE.CNAME,
    class: 1,
    ttl: 1,
    rdata: nameFromText('mail.example.com.'),
  });
  const b = w.finish(1, FLAG.QR);
  // question 17 bytes name; owner = pointer; rdata = 'mail' + pointer to example.com.
  t.equal(b.length, 12 + 17 + 4 + 2 + 10 + 5 + 2);
  const m = decodeMessage(b);
  t.equal(nameToText(m.answers[0]!.rdata), 'mail.example.com.');
});

t.test('size limit: tryAddRR rolls back cleanly', async (t) => {
  const w = new MessageWriter(48);
  w.addQuestion({ qname: nameFromText('a.example.'), qtype: 1, qclass: 1 });
  const rr: RR = {
    owner: nameFromText('a.example.'),
    type: TYPE.A,
    class: 1,
    ttl: 1,
    rdata: Uint8Array.of(1, 2, 3, 4),
  };
  t.ok(w.tryAddRR(1, rr));
  t.notOk(w.tryAddRR(1, { ...rr, owner: nameFromText('long-name-that-does-not-fit.example.') }));
  const m = decodeMessage(w.finish(1, FLAG.QR));
  t.equal(m.answers.length, 1);
});

t.test('random bytes: decode or FormatError, nothing else', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      try {
        decodeMessage(b);
      } catch (e) {
        return e instanceof FormatError;
      }
      return true;
    }),
    { numRuns: 5000 },
  );
  // Mutations of real messages reach deeper into the parser.
  fc.assert(
    fc.property(
      fc.constantFrom(...golden),
      fc.array(fc.tuple(fc.nat(400), fc.nat(255)), { maxLength: 4 }),
      (m, edits) => {
        const b = Uint8Array.from(m);
        for (const [i, v] of edits) b[i % b.length] = v;
        try {
          decodeMessage(b);
        } catch (e) {
          return e instanceof FormatError;
        }
        return true;
      },
    ),
    { numRuns: 5000 },
  );
});

t.test('pointer loops and forward pointers are FORMERR material', async (t) => {
  const hdr = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  t.throws(
    () => decodeMessage(Uint8Array.from([...hdr, 0xc0, 12, 0, 1, 0, 1])),
    { code: 'ERR_DNS_FORMAT' },
    'self pointer',
  );
  t.throws(
    () => decodeMessage(Uint8Array.from([...hdr, 0xc0, 14, 0, 1, 0, 1, 0])),
    { code: 'ERR_DNS_FORMAT' },
    'forward pointer',
  );
  t.throws(
    () => decodeMessage(Uint8Array.from([...hdr, 0x40, 0, 0, 1, 0, 1])),
    { code: 'ERR_DNS_FORMAT' },
    'extended label type',
  );
});
