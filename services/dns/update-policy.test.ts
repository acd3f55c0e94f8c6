/** update-policy rules (BIND's grant … name|subdomain|wildcard|zonesub … types). */
import t from 'tap';
import { nameFromText } from './name.js';
import { CLASS, TYPE, type RR } from './rr.js';
import { UpdatePolicy } from './update-policy.js';

const ORIGIN = nameFromText('tic2023.com.');
const rec = (name: string, type: number): RR => ({
  owner: nameFromText(name),
  type,
  class: CLASS.IN,
  ttl: 60,
  rdata: new Uint8Array(4),
});

t.test('each match kind, the type list and the key', async (t) => {
  const p = new UpdatePolicy(ORIGIN, [
    { key: 'dhcp-ddns', match: 'wildcard', name: '*.tic2023.com', types: ['A', 'TXT', 'AAAA'] },
    { key: 'admin.', match: 'zonesub' },
    { key: 'web', match: 'name', name: 'www.tic2023.com.', types: ['A', 'AAAA'] },
    { key: 'lab', match: 'subdomain', name: 'lab.tic2023.com', types: ['A'] },
  ]);
  const ok = (key: string | undefined, ...u: RR[]) => p.allows(key, u).ok;
  t.ok(ok('dhcp-ddns', rec('pc1.tic2023.com.', TYPE.A)), 'wildcard: one label below');
  t.ok(
    ok('DHCP-DDNS.', rec('a.b.tic2023.com.', TYPE.TXT)),
    'two labels; key name case-insensitive',
  );
  t.notOk(ok('dhcp-ddns', rec('tic2023.com.', TYPE.A)), 'not the apex itself');
  t.notOk(ok('dhcp-ddns', rec('pc1.tic2023.com.', TYPE.MX)), 'type not granted');
  t.notOk(ok(undefined, rec('pc1.tic2023.com.', TYPE.A)), 'unsigned: never');
  t.notOk(ok('nobody', rec('pc1.tic2023.com.', TYPE.A)), 'unknown key');
  t.ok(ok('admin', rec('x.tic2023.com.', TYPE.MX)), 'zonesub, types ANY');
  t.notOk(ok('admin', rec('tic2023.com.', TYPE.NS)), 'ANY excludes NS and SOA (BIND)');
  t.notOk(ok('admin', rec('x.other.com.', TYPE.A)), 'zonesub stays in the zone');
  t.ok(ok('web', rec('WWW.tic2023.com.', TYPE.AAAA)), 'name match is case-insensitive');
  t.notOk(ok('web', rec('www2.tic2023.com.', TYPE.A)));
  t.ok(ok('lab', rec('lab.tic2023.com.', TYPE.A)), 'subdomain includes the name');
  t.ok(ok('lab', rec('pc.lab.tic2023.com.', TYPE.A)));
  const mixed = p.allows('dhcp-ddns', [
    rec('pc1.tic2023.com.', TYPE.A),
    rec('pc1.tic2023.com.', TYPE.MX),
  ]);
  t.notOk(mixed.ok, 'one record not granted refuses the whole update');
  t.ok(!mixed.ok && mixed.record.type === TYPE.MX, 'and names it');
  const delAll = { ...rec('pc1.tic2023.com.', TYPE.ANY), class: CLASS.ANY };
  t.notOk(ok('dhcp-ddns', delAll), 'deleting every type needs a rule for every type');
  t.ok(ok('admin', delAll));
});

t.test('bad rules are refused with their index', async (t) => {
  t.throws(
    () => new UpdatePolicy(ORIGIN, [{ key: 'k', match: 'name', name: 'x.', types: ['BOGUS'] }]),
    /rule 0: unknown type BOGUS/,
  );
  t.throws(
    () => new UpdatePolicy(ORIGIN, [{ key: 'k', match: 'subdomain' }]),
    /rule 0: subdomain needs a name/,
  );
  t.throws(
    () => new UpdatePolicy(ORIGIN, [{ key: 'k', match: 'wildcard', name: 'pc.tic2023.com' }]),
    /wildcard name starts/,
  );
});
