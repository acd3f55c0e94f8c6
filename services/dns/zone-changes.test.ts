/** ZoneRecords: the file plus the journal, and what update.ts decides on. */
import t from 'tap';
import { nameFromText } from './name.js';
import { TYPE } from './rr.js';
import { rrFromText } from './zone-file.js';
import { ZoneRecords } from './zone-changes.js';
import { decideUpdate } from './update.js';

const O = nameFromText('example.test.');
const rr = (l: string) => rrFromText(l, O, 60);

t.test('replaying decisions keeps the view and the record list in step', async (t) => {
  const z = new ZoneRecords(O, [
    rr('@ SOA ns1 h 1 3600 600 86400 300'),
    rr('@ NS ns1'),
    rr('@ NS ns1'),
  ]);
  t.equal(z.size, 2, 'duplicates collapse (an RRset is a set)');
  const d = decideUpdate(
    {
      zone: [{ qname: O, qtype: TYPE.SOA, qclass: 1 }],
      prerequisites: [],
      updates: [rr('pc1 A 192.0.2.1'), rr('pc1 TXT "x"')],
    },
    z.view(),
  );
  z.apply(d);
  t.same([...z.view().types(nameFromText('pc1.example.test.'))].sort(), [TYPE.A, TYPE.TXT]);
  t.equal(z.size, 4);
  const soa = [...z.records()].find((r) => r.type === TYPE.SOA)!;
  t.equal(
    new DataView(soa.rdata.buffer, soa.rdata.byteOffset).getUint32(soa.rdata.length - 20),
    2,
    'serial bumped',
  );
  z.apply({ deletes: [rr('pc1 A 192.0.2.1'), rr('pc1 TXT "x"')], adds: [] });
  t.same(
    z.view().types(nameFromText('pc1.example.test.')),
    [],
    'the name is gone with its last record',
  );
  z.apply({ deletes: [rr('nothere A 192.0.2.9')], adds: [] });
  t.equal(z.size, 2, 'deleting what is not there changes nothing');
});
