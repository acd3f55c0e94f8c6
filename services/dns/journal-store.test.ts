/** The UPDATE journal in SQLite: append, read back, replay chains, survive a reopen. */
import t from 'tap';
import { join } from 'node:path';
import { nameFromText } from './name.js';
import { rrFromText } from './zone-file.js';
import { JournalStore } from './journal-store.js';

const ORIGIN = nameFromText('Example.Test.');
const rr = (line: string) => rrFromText(line, ORIGIN, 60);
const soa = (serial: number) => rr(`@ SOA ns1 hostmaster ${serial} 3600 600 86400 300`);

t.test(
  'append, reopen, replay from the file serial; stale journals are not replayed',
  async (t) => {
    const file = join(t.testdir(), 'dns-journal.sqlite');
    let j = new JournalStore(file);
    j.append(
      ORIGIN,
      { from: 1, to: 2, deletes: [soa(1)], adds: [rr('pc1 A 192.0.2.7'), soa(2)] },
      1000,
    );
    j.append(
      ORIGIN,
      { from: 2, to: 3, deletes: [rr('pc1 A 192.0.2.7'), soa(2)], adds: [soa(3)] },
      1001,
    );
    j.close();
    j = new JournalStore(file);
    t.teardown(() => j.close());
    const all = j.entries(nameFromText('example.test.'));
    t.equal(all.length, 2, 'kept across a reopen; zone names case-insensitive');
    t.same(Buffer.from(all[0]!.adds[0]!.rdata), Buffer.from([192, 0, 2, 7]));
    t.equal(all[0]!.adds[0]!.ttl, 60);
    t.same(
      j.replayFrom(ORIGIN, 1).entries.map((e) => e.to),
      [2, 3],
      'the whole chain',
    );
    t.same(
      j.replayFrom(ORIGIN, 2).entries.map((e) => e.to),
      [3],
      'from a later file serial',
    );
    t.same(j.replayFrom(ORIGIN, 7), { entries: [], stale: true }, 'file edited behind our back');
    t.same(j.replayFrom(nameFromText('other.test.'), 5), { entries: [], stale: false });
    j.clear(ORIGIN);
    t.same(j.entries(ORIGIN), []);
  },
);
