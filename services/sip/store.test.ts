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

t.test('apply commits atomically and survives a reopen', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'sipstore-')), 'sip.sqlite');
  const s = new SqliteBindingStore(file);
  s.apply({ upsert: [b('a', 1000), b('b', 2000)], remove: [] });
  s.apply({ upsert: [{ ...b('a', 3000), cseq: 2 }], remove: [{ aor: '2001', contactKey: 'b' }] });
  s.close();
  const again = new SqliteBindingStore(file);
  t.same(again.all(), [{ ...b('a', 3000), cseq: 2 }]);
  again.close();
});
