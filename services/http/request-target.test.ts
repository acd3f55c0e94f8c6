import t from 'tap';
import fc from 'fast-check';
import { holds } from '../../src/testing/property.js';
import { parseTarget } from './request-target.js';

t.test('origin-form', async (t) => {
  t.match(parseTarget('/'), { ok: true, path: '/', rawPath: '/', query: '' });
  t.match(parseTarget('/about%20us.html?x=1'), {
    ok: true,
    path: '/about us.html',
    rawPath: '/about%20us.html',
    query: '?x=1',
  });
  t.match(parseTarget('/a//b/./c/'), { ok: true, path: '/a/b/c/' });
  t.match(parseTarget('/a/.'), { ok: true, path: '/a/' });
  t.match(parseTarget('/caf%C3%A9'), { ok: true, path: '/café' });
  t.match(parseTarget('/%252e%252e/x'), { ok: true, path: '/%2e%2e/x' }); // decoded once only
  t.match(parseTarget('/a#frag'), { ok: true, path: '/a', query: '' });
});

t.test('absolute-form (RFC 9112 §3.2.2)', async (t) => {
  t.match(parseTarget('http://web1.TIC2023.com/x?y'), {
    ok: true,
    authority: 'web1.TIC2023.com',
    path: '/x',
    query: '?y',
  });
  t.match(parseTarget('http://web1.TIC2023.com'), { ok: true, path: '/' });
});

t.test('traversal and garbage refused', async (t) => {
  for (const bad of [
    '/../etc/passwd',
    '/a/../../etc/passwd',
    '/%2e%2e/etc/passwd',
    '/%2E%2E%2Fetc%2Fpasswd',
    '/a/%2e%2e',
    '/..',
    '/a\\..\\b',
    '/a%5c..%5cb',
    '/a%00.html',
    '/%zz',
    '/%C0%AE%C0%AE/', // overlong UTF-8 is malformed
    '*',
    'example.org:80',
    'ftp://x/',
  ]) {
    t.equal(parseTarget(bad).ok, false, bad);
  }
});

t.test('property: an accepted path never has a dot-dot segment, NUL or backslash', async (t) => {
  holds(
    t,
    fc.property(
      fc.array(
        fc.constantFrom('a', '.', '..', '%2e', '%2E%2e', '/', '%2f', '%5c', '%00', ' ', '%20', '%'),
        { maxLength: 12 },
      ),
      (parts) => {
        const r = parseTarget('/' + parts.join(''));
        if (!r.ok) return true;
        return (
          !r.path.split('/').includes('..') &&
          !r.path.includes('\0') &&
          !r.path.includes('\\') &&
          r.path.startsWith('/')
        );
      },
    ),
  );
});
