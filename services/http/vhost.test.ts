import t from 'tap';
import { buildHostTable, hostName, isValidHost } from './vhost.js';

const table = buildHostTable([
  { serverNames: ['www.TIC2023.com', 'TIC2023.com'], isDefault: true, site: 'www' },
  { serverNames: ['web1.TIC2023.com'], isDefault: false, site: 'web1' },
  {
    serverNames: ['*.example.org', '*.deep.example.org', 'mail.*', 'mail.example.*'],
    isDefault: false,
    site: 'wild',
  },
  { serverNames: ['exact.example.org'], isDefault: false, site: 'exact' },
  { serverNames: ['*.deep.example.org'], isDefault: false, site: 'deep-dup' },
  { serverNames: ['mail.example.*'], isDefault: false, site: 'mail-long' },
]);

t.test('selection like nginx server_name', async (t) => {
  const cases: [string | undefined, string][] = [
    ['www.TIC2023.com', 'www'],
    ['WWW.tic2023.COM', 'www'], // case-insensitive
    ['www.tic2023.com:18080', 'www'], // port ignored
    ['www.tic2023.com.', 'www'], // trailing dot
    ['web1.tic2023.com', 'web1'],
    ['Web1.TIC2023.com:80', 'web1'],
    ['unknown.test', 'www'], // default server
    [undefined, 'www'],
    ['', 'www'],
    ['exact.example.org', 'exact'], // exact beats wildcard
    ['a.example.org', 'wild'],
    ['a.b.example.org', 'wild'],
    ['x.deep.example.org', 'wild'], // first definition of a name wins, the longer suffix is wild's too
    ['example.org', 'www'], // *.example.org does not match the bare name
    ['mail.example.net', 'wild'],
    ['mail.example.com', 'wild'], // both mail.* and mail.example.*: longest prefix
    ['127.0.0.1', 'www'],
    ['[::1]:8080', 'www'],
  ];
  for (const [host, want] of cases) t.equal(table.select(host), want, String(host));
  // memo returns the same answer
  t.equal(table.select('WWW.tic2023.COM'), 'www');
});

t.test('memo stays bounded', async (t) => {
  for (let i = 0; i < 5000; i++) table.select(`h${i}.random.test`);
  t.equal(table.select('web1.tic2023.com'), 'web1');
});

t.test('hostName and isValidHost', async (t) => {
  t.equal(hostName('Example.ORG.:8080'), 'example.org');
  t.equal(hostName('[::1]:80'), '[::1]');
  t.equal(hostName('[::1]'), '[::1]');
  t.ok(isValidHost('web1.tic2023.com:80'));
  t.ok(isValidHost('[::1]:80'));
  t.notOk(isValidHost('a b'));
  t.notOk(isValidHost('a/b'));
  t.notOk(isValidHost(''));
  t.notOk(isValidHost('evil\r\nx'));
});

t.test('no sites is an error', async (t) => {
  t.throws(() => buildHostTable([]), /ERR_HTTP_NO_SITES/);
});
