/**
 * Zone loading from disk: a file with thousands of bad lines is reported as its first
 * MAX_REPORTED_ISSUES errors with file and line, then one line counting the rest, so the
 * log line a refused zone becomes stays small.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  loadZoneFile,
  loadZoneFileInThread,
  MAX_REPORTED_ISSUES,
  MAX_ISSUE_LENGTH,
} from './zone-store.js';
import { nameFromText } from './name.js';
import { rrToText } from './rdata-text.js';
import { TYPE } from './rr.js';

const HEAD = `$TTL 300
@ SOA ns1 admin 1 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.53
`; // lines 1-4

t.test('25,000 bad lines: the first 20 with file:line, then a count', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'bad.zone');
  const bad = Array.from({ length: 25_000 }, (_, i) => `h${i} A 999.0.0.${i % 256}`);
  writeFileSync(file, HEAD + bad.join('\n') + '\n');
  const r = loadZoneFile('example.com', 'bad.zone', dir);
  t.equal(r.zone, undefined, 'the zone is refused');
  t.equal(r.errors.length, MAX_REPORTED_ISSUES + 1);
  t.equal(MAX_REPORTED_ISSUES, 20);
  for (let i = 0; i < MAX_REPORTED_ISSUES; i++) {
    t.match(r.errors[i], `${file}:${i + 5}: A: `, `error ${i + 1} names its file and line`);
  }
  t.equal(r.errors[MAX_REPORTED_ISSUES], '… and 24980 more errors');
  const logged = r.errors.join('\n');
  t.ok(logged.length < 4000, `all errors fit in ${logged.length} characters`);
});

t.test('check errors are capped the same way; warnings too', async (t) => {
  const dir = t.testdir({});
  // 30 CNAMEs beside other data (check errors) and 30 TTL mismatches (warnings).
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) lines.push(`c${i} CNAME ns1`, `c${i} TXT x`);
  for (let i = 0; i < 30; i++) lines.push(`t${i} A 192.0.2.1`, `t${i} 60 A 192.0.2.2`);
  writeFileSync(join(dir, 'z.zone'), HEAD + lines.join('\n') + '\n');
  const r = loadZoneFile('example.com.', 'z.zone', dir);
  t.equal(r.errors.length, 21);
  t.match(r.errors[0], /z\.zone:6: c0\.example\.com\.: CNAME and other data/);
  t.equal(r.errors[20], '… and 10 more errors');
  t.equal(r.warnings.length, 21);
  t.equal(r.warnings[20], '… and 10 more warnings');
});

t.test('a very long issue line is cut at MAX_ISSUE_LENGTH', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'z.zone'), HEAD + `www ${'X'.repeat(100_000)} 192.0.2.1\n`);
  const r = loadZoneFile('example.com', 'z.zone', dir);
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0]!.length, MAX_ISSUE_LENGTH);
  t.match(r.errors[0], /z\.zone:5: unknown RR type 'XXXX/);
  t.ok(r.errors[0]!.endsWith('…'));
});

t.test('a good zone loads; a missing file is one error', async (t) => {
  const dir = t.testdir({ 'z.zone': HEAD + 'www A 192.0.2.1\n' });
  const ok = loadZoneFile('example.com', 'z.zone', dir);
  t.same(ok.errors, []);
  t.equal(ok.zone?.recordCount, 4);
  const missing = loadZoneFile('example.com', 'nope.zone', dir);
  t.equal(missing.zone, undefined);
  t.equal(missing.errors.length, 1);
  t.match(missing.errors[0], /nope\.zone: cannot read/);
});

t.test('loadZoneFileInThread: the same zone, built on a worker thread', async (t) => {
  const dir = t.testdir({ 'z.zone': HEAD + 'www A 192.0.2.1\n*.w TXT "wild"\n' });
  const r = await loadZoneFileInThread('example.com', 'z.zone', dir);
  t.same(r.errors, []);
  const inline = loadZoneFile('example.com', 'z.zone', dir).zone!;
  t.equal(r.zone?.serial, 1);
  t.equal(r.zone?.recordCount, inline.recordCount);
  t.same([...r.zone!.records()].map(rrToText), [...inline.records()].map(rrToText));
  const hit = r.zone!.lookup(nameFromText('x.w.example.com.'), TYPE.TXT);
  t.equal(hit.kind, 'answer');
  const bad = await loadZoneFileInThread('example.com', 'nope.zone', dir);
  t.equal(bad.zone, undefined);
  t.match(bad.errors[0], /nope\.zone: cannot read/);
});

t.test('checks on the packed zone: big RRsets, $INCLUDE lines, case, order', async (t) => {
  const dir = t.testdir({
    'inc.zone': 'mx1 CNAME www\n@ MX 10 mx1\n', // lines 1-2 of the included file
    'z.zone':
      HEAD +
      // 40 TXT records at one name, each given twice: the duplicate check past
      // SCAN_LIMIT records uses a key set.
      Array.from({ length: 40 }, (_, i) => `big TXT "t${i}"\nbig TXT "t${i}"`).join('\n') +
      '\nsub NS NS1.example.com.\nsub NS ns1.EXAMPLE.com.\n' +
      'a.b.c A 192.0.2.9\nWWW A 192.0.2.1\n$INCLUDE inc.zone\n',
  });
  const r = loadZoneFile('example.com', 'z.zone', dir);
  t.same(r.errors, []);
  // An included file is named as the $INCLUDE line wrote it.
  t.same(r.warnings, [`inc.zone:2: MX 'mx1.example.com.' is a CNAME (RFC 2181 §10.3)`]);
  const z = r.zone!;
  t.equal(z.recordCount, 3 + 40 + 1 + 2 + 2, 'duplicates merged, names compared without case');
  const big = z.lookup(nameFromText('BIG.example.com.'), TYPE.TXT);
  t.equal(big.kind === 'answer' && big.rrs.length, 40);
  // Empty non-terminals exist (NODATA, not NXDOMAIN); owner case is the file's.
  t.equal(z.lookup(nameFromText('b.c.example.com.'), TYPE.A).kind, 'nodata');
  t.equal(z.lookup(nameFromText('x.c.example.com.'), TYPE.A).kind, 'nxdomain');
  const www = z.lookup(nameFromText('www.example.com.'), TYPE.A);
  t.equal(
    www.kind === 'answer' && rrToText(www.rrs[0]!),
    'WWW.example.com.\t300\tIN\tA\t192.0.2.1',
  );
  t.equal(z.lookup(nameFromText('q.sub.example.com.'), TYPE.A).kind, 'delegation');
  // AXFR order: SOA, then nodes in order of first appearance (a record's owner, then its
  // missing ancestors), RRsets at a node in order of first appearance.
  const axfr = [...z.records()].map((rr) => rrToText(rr).split('\t').slice(0, 4).join(' '));
  t.same(axfr.slice(0, 4), [
    'example.com. 300 IN SOA',
    'example.com. 300 IN NS',
    'example.com. 300 IN MX',
    'ns1.example.com. 300 IN A',
  ]);
  t.same(axfr.slice(-4), [
    'sub.example.com. 300 IN NS',
    'a.b.c.example.com. 300 IN A',
    'WWW.example.com. 300 IN A',
    'mx1.example.com. 300 IN CNAME',
  ]);
});
