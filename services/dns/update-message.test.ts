/** UPDATE messages round-trip through the strict decoder into the sections update.ts reads. */
import t from 'tap';
import { decodeMessage, OPCODE } from './message.js';
import { nameFromText } from './name.js';
import { CLASS, TYPE } from './rr.js';
import { rrFromText } from './zone-file.js';
import { encodeUpdate, updateRequestOf } from './update-message.js';

t.test('encode → decode keeps every section, class and empty RDATA', async (t) => {
  const origin = nameFromText('tic2023.com.');
  const req = {
    zone: [{ qname: origin, qtype: TYPE.SOA, qclass: CLASS.IN }],
    prerequisites: [
      {
        owner: nameFromText('pc1.tic2023.com.'),
        type: TYPE.ANY,
        class: CLASS.NONE,
        ttl: 0,
        rdata: new Uint8Array(0),
      },
    ],
    updates: [
      {
        owner: nameFromText('pc1.tic2023.com.'),
        type: TYPE.PTR,
        class: CLASS.ANY,
        ttl: 0,
        rdata: new Uint8Array(0),
      },
      rrFromText('pc1 300 A 192.168.1.50', origin),
      rrFromText('pc1 300 CNAME www', origin),
    ],
  };
  const bytes = encodeUpdate(0x4242, req);
  const m = decodeMessage(bytes);
  t.equal(m.opcode, OPCODE.UPDATE);
  t.equal(m.id, 0x4242);
  const back = updateRequestOf(m);
  t.equal(back.zone.length, 1);
  t.same(
    back.prerequisites.map((p) => [p.type, p.class, p.ttl, p.rdata.length]),
    [[TYPE.ANY, CLASS.NONE, 0, 0]],
  );
  t.same(
    back.updates.map((u) => [u.type, u.class, u.rdata.length]),
    [
      [TYPE.PTR, CLASS.ANY, 0],
      [TYPE.A, CLASS.IN, 4],
      [TYPE.CNAME, CLASS.IN, req.updates[2]!.rdata.length],
    ],
  );
  t.same(
    Buffer.from(back.updates[2]!.rdata),
    Buffer.from(req.updates[2]!.rdata),
    'names in RDATA expanded back',
  );
});
