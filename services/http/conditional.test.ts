import t from 'tap';
import {
  evaluatePreconditions,
  etagListMatches,
  ifRangeMatches,
  type Validators,
} from './conditional.js';

const v: Validators = {
  etag: '"abc-10"',
  lastModified: 'Sun, 06 Nov 1994 08:49:37 GMT',
  lastModifiedSec: Date.UTC(1994, 10, 6, 8, 49, 37) / 1000,
};
const weak: Validators = { ...v, etag: 'W/"abc-10"' };

t.test('entity-tag comparison (RFC 9110 §8.8.3.2)', async (t) => {
  t.ok(etagListMatches('"abc-10"', '"abc-10"', true));
  t.ok(etagListMatches('W/"abc-10"', '"abc-10"', false));
  t.notOk(etagListMatches('W/"abc-10"', '"abc-10"', true));
  t.notOk(etagListMatches('W/"abc-10"', 'W/"abc-10"', true));
  t.ok(etagListMatches('"x", "abc-10"', '"abc-10"', true));
  t.ok(etagListMatches('*', '"abc-10"', true));
  t.notOk(etagListMatches('"x"', '"abc-10"', false));
});

t.test('evaluation order (RFC 9110 §13.2.2)', async (t) => {
  const cases: [Parameters<typeof evaluatePreconditions>[0], Validators, string][] = [
    [{}, v, 'proceed'],
    [{ ifNoneMatch: '"abc-10"' }, v, 'not-modified'],
    [{ ifNoneMatch: '"abc-10"' }, weak, 'not-modified'],
    [{ ifNoneMatch: '"other"' }, v, 'proceed'],
    [{ ifNoneMatch: '*' }, v, 'not-modified'],
    [{ ifModifiedSince: v.lastModified }, v, 'not-modified'],
    [{ ifModifiedSince: 'Mon, 07 Nov 1994 08:49:37 GMT' }, v, 'not-modified'],
    [{ ifModifiedSince: 'Sat, 05 Nov 1994 08:49:37 GMT' }, v, 'proceed'],
    [{ ifModifiedSince: 'not a date' }, v, 'proceed'],
    // If-None-Match wins over If-Modified-Since (§13.1.3)
    [{ ifNoneMatch: '"other"', ifModifiedSince: v.lastModified }, v, 'proceed'],
    [{ ifMatch: '"abc-10"' }, v, 'proceed'],
    [{ ifMatch: '"other"' }, v, 'failed'],
    [{ ifMatch: '"abc-10"' }, weak, 'failed'], // strong comparison
    [{ ifUnmodifiedSince: 'Sat, 05 Nov 1994 08:49:37 GMT' }, v, 'failed'],
    [{ ifUnmodifiedSince: v.lastModified }, v, 'proceed'],
    [{ ifMatch: '"abc-10"', ifUnmodifiedSince: 'Sat, 05 Nov 1994 08:49:37 GMT' }, v, 'proceed'],
  ];
  for (const [h, val, want] of cases)
    t.equal(evaluatePreconditions(h, val, true), want, JSON.stringify(h));
  t.equal(evaluatePreconditions({ ifNoneMatch: '"abc-10"' }, v, false), 'failed');
  t.equal(evaluatePreconditions({ ifModifiedSince: v.lastModified }, v, false), 'proceed');
});

t.test('If-Range (RFC 9110 §13.1.5)', async (t) => {
  t.ok(ifRangeMatches(undefined, v));
  t.ok(ifRangeMatches('"abc-10"', v));
  t.notOk(ifRangeMatches('"old"', v));
  t.notOk(ifRangeMatches('W/"abc-10"', v));
  t.notOk(ifRangeMatches('"abc-10"', weak));
  t.ok(ifRangeMatches(v.lastModified, v));
  t.notOk(ifRangeMatches('Mon, 07 Nov 1994 08:49:37 GMT', v));
  t.notOk(ifRangeMatches('garbage', v));
});
