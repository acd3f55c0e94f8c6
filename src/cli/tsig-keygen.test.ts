import t from 'tap';
import { tsigKeyText } from './tsig-keygen.js';

t.test('BIND tsig-keygen format, secret as long as the hash, refusals', async (t) => {
  const k = tsigKeyText('ddns-key');
  const m =
    /^key "ddns-key" \{\n\talgorithm hmac-sha256;\n\tsecret "([A-Za-z0-9+/=]+)";\n\};\n$/.exec(k);
  t.ok(m, k);
  t.equal(Buffer.from(m![1]!, 'base64').length, 32);
  t.not(tsigKeyText('ddns-key'), k, 'random each time');
  t.equal(
    Buffer.from(/secret "([^"]+)"/.exec(tsigKeyText('k', 'hmac-sha512'))![1]!, 'base64').length,
    64,
  );
  t.throws(() => tsigKeyText('k', 'hmac-md4'), /unknown algorithm/);
  t.throws(() => tsigKeyText('bad name'), /not a key name/);
});
