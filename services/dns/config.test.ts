/** dns.yaml checks for the UPDATE and replication pieces: keys, policies, NOTIFY, secondaries. */
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

t.test('secondary zones and transfer keys: each issue names the field and the fix', async (t) => {
  const dir = t.testdir({ 'z.zone': '' });
  const good = cfgOf({
    keys: [{ name: 'xfr', secretEnv: 'X' }],
    zones: [{ origin: 'sec.test', primaries: ['192.0.2.1', '[2001:db8::1]:5353'], key: 'xfr' }],
    transfer: { keys: ['xfr.'] },
  });
  t.same(checkDnsConfig(good, dir), [], 'a good secondary has no issues');
  const bad = cfgOf({
    workers: 2,
    keys: [{ name: 'xfr', secretEnv: 'X' }],
    zones: [
      {
        origin: 'a.test',
        primaries: ['nowhere'],
        file: 'z.zone',
        update: { allow: [{ key: 'xfr', match: 'zonesub' }] },
        key: 'nokey',
      },
      { origin: 'b.test' },
      { origin: 'c.test', file: 'z.zone', key: 'xfr' },
      { origin: 'A.test.', file: 'z.zone' },
    ],
    transfer: { keys: ['missing'] },
  });
  const issues = checkDnsConfig(bad, dir).join('\n');
  t.match(
    issues,
    /\/zones\/0: a secondary zone \(primaries\) takes its data from them; remove file/,
  );
  t.match(issues, /\/zones\/0\/update: a secondary zone takes no UPDATEs/);
  t.match(issues, /\/zones\/0\/primaries\/0: "nowhere" is not "address" or "address:port"/);
  t.match(issues, /\/zones\/0\/key: "nokey" is not in keys/);
  t.match(issues, /\/zones\/1: give file \(a primary zone\) or primaries \(a secondary zone\)/);
  t.match(issues, /\/zones\/2\/key: only a secondary zone \(primaries\) uses a transfer key/);
  t.match(issues, /\/zones\/3\/origin: A.test. is already zone 0; remove one/);
  t.match(issues, /\/transfer\/keys\/0: "missing" is not in keys/);
  t.notMatch(issues, /\/workers/, 'workers > 1 with secondary and dynamic zones is fine');
});
