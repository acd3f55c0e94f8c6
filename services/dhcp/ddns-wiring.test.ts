import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { checkDhcpConfig, DhcpConfig, readDdnsSecret } from './config.js';
import { reverseZoneOf } from './ddns-wiring.js';

t.test('reverse zones on the octet boundary (RFC 2317 §1)', async (t) => {
  t.equal(reverseZoneOf('192.168.1.0/24'), '1.168.192.in-addr.arpa.');
  t.equal(reverseZoneOf('192.168.1.128/25'), '1.168.192.in-addr.arpa.', 'a /25 lives in its /24');
  t.equal(reverseZoneOf('10.20.0.0/16'), '20.10.in-addr.arpa.');
  t.equal(reverseZoneOf('172.16.0.0/12'), '172.in-addr.arpa.');
  t.equal(reverseZoneOf('0.0.0.0/0'), undefined);
});

t.test(
  'ddns config: checks name the field and the fix; secrets from a file or a variable',
  async (t) => {
    const cfg = (ddns: object) => Value.Default(DhcpConfig, { ddns }) as DhcpConfig;
    t.same(checkDhcpConfig(cfg({ enabled: false })), [], 'off: nothing required');
    const issues = checkDhcpConfig(cfg({ enabled: true, key: { algorithm: 'hmac-sha3' } }));
    t.match(issues.join('\n'), /\/ddns\/forwardZone: required/);
    t.match(issues.join('\n'), /\/ddns\/key\/name: required/);
    t.match(issues.join('\n'), /\/ddns\/key\/algorithm: "hmac-sha3" is not one of/);
    t.match(issues.join('\n'), /\/ddns\/key: give exactly one of secretFile, secretEnv/);
    const dir = t.testdir({
      'bare.key': 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2Nzg=\n',
      'bind.key':
        'key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2Nzg=";\n};\n',
      'short.key': 'c2hvcnQ=',
    });
    const key = (k: object) => ({ name: 'ddns-key', algorithm: 'hmac-sha256', ...k });
    t.same(readDdnsSecret(key({ secretFile: 'bare.key' }), dir, {}), {
      secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2Nzg=',
    });
    t.same(
      readDdnsSecret(key({ secretFile: 'bind.key' }), dir, {}),
      { secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2Nzg=' },
      'tsig-keygen output',
    );
    t.match(readDdnsSecret(key({ secretFile: 'short.key' }), dir, {}).error, /at least 16 bytes/);
    t.match(
      readDdnsSecret(key({ secretFile: 'missing.key' }), dir, {}).error,
      /does not exist; create it \(tsig-keygen ddns-key/,
    );
    t.same(
      readDdnsSecret(key({ secretEnv: 'K' }), dir, {
        K: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2Nzg=',
      }),
      { secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2Nzg=' },
    );
    t.match(readDdnsSecret(key({ secretEnv: 'K' }), dir, {}).error, /K is not set/);
  },
);
