import t from 'tap';
import {
  hashPassword,
  hashPasswordSync,
  parseHash,
  scryptRuns,
  verifyPassword,
  verifyPasswordSync,
} from './password-hash.js';

const SMALL = { N: 1024, r: 8, p: 1 };

t.test('hash and verify, async and sync; a malformed hash is a mismatch', async (t) => {
  const h = await hashPassword('s3cret', SMALL);
  t.ok(parseHash(h), h);
  t.equal(await verifyPassword('s3cret', h), true);
  t.equal(await verifyPassword('s3cret!', h), false);
  t.equal(verifyPasswordSync('s3cret', hashPasswordSync('s3cret', SMALL)), true);
  t.equal(await verifyPassword('s3cret', 'scrypt$1$2$3'), false);
  t.equal(verifyPasswordSync('s3cret', 'not a hash'), false);
});

t.test('concurrent checks run one scrypt at a time, each with its own answer', async (t) => {
  const h = hashPasswordSync('right', SMALL);
  scryptRuns.maxRunning = 0;
  const tries = ['wrong1', 'right', 'wrong2', 'right', 'wrong3', 'wrong4', 'right', 'wrong5'];
  const got = await Promise.all(tries.map((p) => verifyPassword(p, h)));
  t.same(
    got,
    tries.map((p) => p === 'right'),
  );
  t.equal(scryptRuns.maxRunning, 1, 'never two at once (16 MiB each at the defaults)');
  t.equal(scryptRuns.running, 0);
  // A failure of one run (maxmem exceeded by absurd parameters) does not stall the queue.
  const huge = h.replace(/^scrypt\$1024\$/, 'scrypt$1073741824$');
  t.equal(await verifyPassword('right', huge), false);
  t.equal(await verifyPassword('right', h), true, 'the next one still runs');
});
