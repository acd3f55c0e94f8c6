/** dns.yaml checks for the UPDATE pieces: keys, per-zone policies, NOTIFY targets. */
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { DnsConfig, checkDnsConfig, parseHostPort } from './config.js';

const cfgOf = (doc: object) => Value.Default(DnsConfig, doc) as DnsConfig;

t.test('keys, policies and notify targets: each issue names the field and the fix', async (t) => {
  const dir = t.testdir({ 'z.zone': '' });
  const good = cfgOf({
    keys: [{ name: 'ddns-key', secretFile: 'ddns.key' }],
    zones: [
      {
        origin: 'tic2023.com',
        file: 'z.zone',
        update: {
          allow: [
            { key: 'ddns-key.', match: 'wildcard', name: '*.tic2023.com', types: ['A', 'TXT'] },
          ],
        },
        notify: ['192.0.2.53', '192.0.2.54:5353', '[2001:db8::53]:53'],
      },
    ],
  });
  t.same(checkDnsConfig(good, dir), [], 'a good config has no issues');
  const bad = cfgOf({
    keys: [{ name: 'k1', algorithm: 'hmac-md4' }],
    zones: [
      {
        origin: 'tic2023.com',
        file: 'z.zone',
        update: { allow: [{ key: 'nobody', match: 'subdomain', types: ['BOGUS'] }] },
        notify: ['not-an-address', '192.0.2.1:99999'],
      },
    ],
  });
  const issues = checkDnsConfig(bad, dir).join('\n');
  t.match(issues, /\/keys\/0\/algorithm: "hmac-md4" is not one of/);
  t.match(issues, /\/keys\/0: give exactly one of secretFile, secretEnv/);
  t.match(issues, /\/zones\/0\/update\/allow\/0\/key: "nobody" is not in keys; add it there/);
  t.match(issues, /\/zones\/0\/update\/allow: rule 0: unknown type BOGUS/);
  t.match(issues, /\/zones\/0\/notify\/0: "not-an-address"/);
  t.match(issues, /\/zones\/0\/notify\/1: "192.0.2.1:99999"/);
});

t.test('parseHostPort', async (t) => {
  t.same(parseHostPort('192.0.2.1', 53), { address: '192.0.2.1', port: 53 });
  t.same(parseHostPort('192.0.2.1:5353', 53), { address: '192.0.2.1', port: 5353 });
  t.same(parseHostPort('[2001:db8::1]:54', 53), { address: '2001:db8::1', port: 54 });
  t.same(parseHostPort('2001:db8::1', 53), { address: '2001:db8::1', port: 53 });
  t.equal(parseHostPort('ns1.example.com', 53), undefined, 'addresses only, as BIND also-notify');
});
