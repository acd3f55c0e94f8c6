import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBindingStore, type Binding } from './store.js';

const b = (contactKey: string, expiresAt: number): Binding => ({
  aor: '2001',
  contactKey,
  contact: `sip:2001@${contactKey}`,
  callId: 'c',
  cseq: 1,
  expiresAt,
  q: undefined,
  transport: 'udp',
  sourceAddress: '192.0.2.1',
  sourcePort: 5060,
  userAgent: 'x',
});

t.test('commit writes a batch in order, atomically, and survives a reopen', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'sipstore-')), 'sip.sqlite');
  const s = new SqliteBindingStore(file);
  s.commit([
    { upsert: [b('a', 1000), b('b', 2000)], remove: [] },
    { upsert: [{ ...b('a', 3000), cseq: 2 }], remove: [{ aor: '2001', contactKey: 'b' }] },
  ]);
  s.commit([{ upsert: [{ ...b('c', 4000), local: '127.0.0.1:5060' }], remove: [] }]);
  s.close();
  const again = new SqliteBindingStore(file);
  t.same(
    again.all().sort((x, y) => x.contactKey.localeCompare(y.contactKey)),
    [
      { ...b('a', 3000), cseq: 2, local: undefined },
      { ...b('c', 4000), local: '127.0.0.1:5060' },
    ],
  );
  // A batch that fails part-way leaves nothing of itself behind.
  t.throws(() =>
    again.commit([
      { upsert: [b('d', 5000)], remove: [] },
      { upsert: [{ ...b('e', 6000), aor: null as unknown as string }], remove: [] },
    ]),
  );
  t.notOk(
    again.all().some((x) => x.contactKey === 'd'),
    'the first REGISTER of the failed batch is not on disk',
  );
  again.close();
});
