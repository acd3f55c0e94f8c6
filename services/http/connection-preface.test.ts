import t from 'tap';
import { CLIENT_PREFACE, classifyPreface } from './connection-preface.js';

t.test('the preface is 24 octets (RFC 9113 §3.4)', async (t) => {
  t.equal(CLIENT_PREFACE.length, 24);
  t.equal(CLIENT_PREFACE.toString('hex'), '505249202a20485454502f322e300d0a0d0a534d0d0a0d0a');
});

t.test('fed byte by byte: more until the last octet, then h2', async (t) => {
  for (let n = 0; n < CLIENT_PREFACE.length; n++)
    t.equal(classifyPreface(CLIENT_PREFACE.subarray(0, n)), 'more', `${n} octets`);
  t.equal(classifyPreface(CLIENT_PREFACE), 'h2');
  // the SETTINGS frame that must follow (§3.4) arrives in the same segment
  const settings = Buffer.from('000000040000000000', 'hex');
  t.equal(classifyPreface(Buffer.concat([CLIENT_PREFACE, settings])), 'h2');
});

t.test('HTTP/1.1 is decided at the first differing byte', async (t) => {
  const cases: [string, string][] = [
    ['GET / HTTP/1.1\r\n', 'G differs at once'],
    ['POST / HTTP/1.1\r\n', 'P then O'],
    ['PUT /x HTTP/1.1\r\n', 'P then U'],
    ['PRI * HTTP/1.1\r\n\r\n', 'an HTTP/1.1 PRI request'],
    ['PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', 'differs in the last line'],
    ['\r\n', 'a stray CRLF before a request (RFC 9112 §2.2)'],
    ['\x16\x03\x01', 'a TLS ClientHello on the plain port'],
  ];
  for (const [bytes, why] of cases)
    t.equal(classifyPreface(Buffer.from(bytes, 'latin1')), 'http1', why);
  t.equal(classifyPreface(Buffer.from('PRI * HTTP/1', 'latin1')), 'http1');
  t.equal(classifyPreface(Buffer.from('PRI * HTTP/2', 'latin1')), 'more');
});

t.test('random bytes never throw and are h2 only with the preface', async (t) => {
  let seed = 7;
  let h2 = 0;
  for (let i = 0; i < 2000; i++) {
    const len = i % 40;
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      b[k] = seed >> 16;
    }
    if (classifyPreface(b) === 'h2') h2++;
  }
  t.equal(h2, 0, '2000 random inputs, none taken for the preface');
});
