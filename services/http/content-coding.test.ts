import t from 'tap';
import { chooseCoding } from './content-coding.js';

t.test('Accept-Encoding negotiation (RFC 9110 §12.5.3)', async (t) => {
  const cases: [string | undefined, string][] = [
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['br;q=0.5, gzip', 'gzip'],
    ['br;q=0, gzip;q=0', 'identity'],
    ['*', 'br'],
    ['*;q=0.1, gzip;q=0.5', 'gzip'],
    ['identity', 'identity'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    ['deflate', 'identity'],
    ['br;q=bogus, gzip', 'gzip'],
  ];
  for (const [h, want] of cases) t.equal(chooseCoding(h), want, String(h));
});
