import t from 'tap';
import { nameFromText, nameToText, nameKey, readName, isSubdomain } from './name.js';

t.test('presentation round trip', async (t) => {
  const origin = nameFromText('TIC2023.com.');
  t.equal(nameToText(nameFromText('www', origin)), 'www.TIC2023.com.');
  t.equal(nameToText(nameFromText('@', origin)), 'TIC2023.com.');
  t.equal(nameToText(nameFromText('a\\.b.c.')), 'a\\.b.c.');
  t.equal(nameToText(nameFromText('\\065\\032x.')), 'A\\032x.');
  t.equal(nameKey(nameFromText('WwW.Example.')), nameKey(nameFromText('www.example.')));
  t.ok(isSubdomain(nameFromText('a.b.example.'), nameFromText('EXAMPLE.')));
  t.notOk(isSubdomain(nameFromText('xexample.'), nameFromText('example.')));
  t.throws(() => nameFromText('a..b.'), { code: 'ERR_DNS_NAME' });
  t.throws(() => nameFromText('x'.repeat(64) + '.'), { code: 'ERR_DNS_NAME' });
});

t.test('readName follows backward pointers and rejects loops', async (t) => {
  const msg = Uint8Array.from([3, 0x66, 0x6f, 0x6f, 0, 1, 0x61, 0xc0, 0]);
  const r = readName(msg, 5);
  t.equal(nameToText(r.name), 'a.foo.');
  t.equal(r.next, 9);
  t.throws(() => readName(Uint8Array.from([0xc0, 0]), 0), { code: 'ERR_DNS_NAME' });
  t.throws(() => readName(Uint8Array.from([5, 1, 2]), 0), { code: 'ERR_DNS_NAME' });
  t.throws(() => readName(Uint8Array.from([0x80]), 0), { code: 'ERR_DNS_NAME' });
});
