import t from 'tap';
import fc from 'fast-check';
import { resolveVirtual, parentOf, baseName, isInside, underHome } from './virtual-path.js';

t.test('table', async (t) => {
  const table: [string, string, string | undefined][] = [
    ['/', 'a', '/a'],
    ['/a', 'b/c', '/a/b/c'],
    ['/a/b', '..', '/a'],
    ['/a', '../../../etc/passwd', '/etc/passwd'],
    ['/a', '/etc/passwd', '/etc/passwd'],
    ['/a', '', '/a'],
    ['/', '.', '/'],
    ['/', '//a///b/./', '/a/b'],
    ['/x', '/..', '/'],
    ['/', 'a\0b', undefined],
    ['/', 'a\\..\\b', '/a\\..\\b'],
  ];
  for (const [cwd, arg, want] of table) t.equal(resolveVirtual(cwd, arg), want, `${cwd} + ${arg}`);
  t.equal(parentOf('/a/b'), '/a');
  t.equal(parentOf('/a'), '/');
  t.equal(baseName('/a/b'), 'b');
  t.ok(isInside('/srv/h', '/srv/h'));
  t.ok(isInside('/srv/h', '/srv/h/x'));
  t.notOk(isInside('/srv/h', '/srv/hx'), 'a sibling with the same prefix is outside');
  t.equal(underHome('/srv/h', '/'), '/srv/h');
});

t.test(
  'property: never a ".." segment, always absolute, always under the home textually',
  async () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('..', '.', '', 'a', 'b', '/', '../..'), { maxLength: 12 }),
        (segs) => {
          const v = resolveVirtual('/x/y', segs.join('/'));
          return (
            v !== undefined &&
            v.startsWith('/') &&
            !v.split('/').includes('..') &&
            isInside('/h', underHome('/h', v))
          );
        },
      ),
    );
  },
);
