import t from 'tap';
import fc from 'fast-check';
import { TcpFramer, frame } from './tcp-framing.js';

const msgs = [
  Uint8Array.of(1, 2, 3),
  new Uint8Array(0),
  Uint8Array.from({ length: 300 }, (_, i) => i & 0xff),
];
const stream = Buffer.concat(msgs.map((m) => frame(m)));

t.test('whole, byte by byte, and with trailing bytes', async (t) => {
  t.same(
    new TcpFramer().push(stream).map((m) => [...m]),
    msgs.map((m) => [...m]),
  );
  const f = new TcpFramer();
  const out: number[][] = [];
  for (const b of stream) out.push(...f.push(Uint8Array.of(b)).map((m) => [...m]));
  t.same(
    out,
    msgs.map((m) => [...m]),
  );
  const g = new TcpFramer();
  t.equal(g.push(Buffer.concat([stream, Buffer.from([0, 9, 1])])).length, 3);
  t.equal(g.buffered, 3, 'partial message kept');
});

t.test('any split of the stream yields the same messages', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.nat(stream.length), { maxLength: 10 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const f = new TcpFramer();
      const got: number[][] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        got.push(...f.push(stream.subarray(prev, p)).map((m) => [...m]));
        prev = p;
      }
      return JSON.stringify(got) === JSON.stringify(msgs.map((m) => [...m]));
    }),
  );
});

t.test(
  'partialSince: the first byte of the held message, not moved by the bytes after it',
  async (t) => {
    const q = frame(Uint8Array.from({ length: 20 }, (_, i) => i));
    const f = new TcpFramer();
    t.equal(f.partialSince, undefined, 'nothing held');
    f.push(q.subarray(0, 1), 100);
    t.equal(f.partialSince, 100, 'a message began at 100');
    for (let i = 1; i < 10; i++) f.push(q.subarray(i, i + 1), 100 + i * 1000);
    t.equal(f.partialSince, 100, 'trickled bytes keep the start');
    // The rest of this message and the first byte of the next one, at 20000.
    t.equal(f.push(Buffer.concat([q.subarray(10), q.subarray(0, 1)]), 20000).length, 1);
    t.equal(f.partialSince, 20000, 'the next message began in that chunk');
    t.equal(f.push(q.subarray(1), 20500).length, 1);
    t.equal(f.partialSince, undefined, 'all complete');
    t.equal(f.push(new Uint8Array(0), 30000).length, 0);
    t.equal(f.partialSince, undefined, 'an empty chunk starts nothing');
  },
);
