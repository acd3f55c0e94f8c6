import t from 'tap';
import fc from 'fast-check';
import { holds } from '../testing/property.js';
import { Writer, OverflowError } from './writer.js';
import { Reader } from './reader.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('writes big-endian and grows past the initial capacity', async (t) => {
  const w = new Writer({ initial: 2 });
  w.u8(0xab)
    .u16(0x1234)
    .u32(0xdeadbeef)
    .bytes(Uint8Array.of(1, 2, 3));
  t.equal(w.length, 10);
  t.equal(hex(w.finish()), 'ab1234deadbeef010203');
  t.equal(hex(new Writer().finish()), '', 'empty writer gives empty bytes');
  const big = new Writer({ initial: 1 });
  big.bytes(new Uint8Array(1000).fill(7));
  t.equal(big.finish().length, 1000);
});

t.test('patchU16 fills in a length written later', async (t) => {
  const w = new Writer();
  w.u16(0);
  const mark = w.length;
  w.bytes(Uint8Array.of(9, 9, 9));
  w.patchU16(0, w.length - mark);
  t.equal(hex(w.finish()), '0003090909');
  t.throws(() => w.patchU16(4, 1), { code: 'ERR_BYTES_RANGE' }, 'past what was written');
  t.throws(() => w.patchU16(-1, 1), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => w.patchU16(0, 0x10000), { code: 'ERR_BYTES_RANGE' });
});

t.test('values out of range for the field are refused, not masked', async (t) => {
  const w = new Writer();
  t.throws(() => w.u8(256), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => w.u8(-1), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => w.u16(0x10000), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => w.u32(0x100000000), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => w.u32(1.5), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => w.u16(NaN), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => new Writer({ max: -1 }), { code: 'ERR_BYTES_RANGE' });
  t.equal(w.length, 0);
});

t.test('max size: the overflowing write throws and changes nothing', async (t) => {
  const w = new Writer({ max: 5 });
  w.u32(1);
  const e = t.throws(() => w.u16(2), { code: 'ERR_BYTES_OVERFLOW', need: 6, max: 5 });
  t.ok(e instanceof OverflowError);
  t.equal(w.length, 4);
  t.throws(() => w.bytes(Uint8Array.of(1, 2)), { code: 'ERR_BYTES_OVERFLOW' });
  w.u8(0xff);
  t.equal(hex(w.finish()), '00000001ff', 'exactly max is allowed');
  t.throws(() => w.u8(0), { code: 'ERR_BYTES_OVERFLOW' });
  const zero = new Writer({ max: 0 });
  t.throws(() => zero.u8(0), { code: 'ERR_BYTES_OVERFLOW' });
  t.equal(zero.finish().length, 0);
});

t.test('truncate rolls back to a mark (DNS TC on overflow)', async (t) => {
  const w = new Writer({ max: 6 });
  w.u16(0xaaaa);
  const mark = w.length;
  w.u16(0xbbbb);
  t.throws(() => w.u32(0xcccccccc), { code: 'ERR_BYTES_OVERFLOW' });
  w.truncate(mark);
  t.equal(hex(w.finish()), 'aaaa');
  t.throws(() => w.truncate(3), { code: 'ERR_BYTES_RANGE' });
});

t.test('finish() is unaffected by later writes', async (t) => {
  const w = new Writer({ initial: 2 });
  w.u16(0x0102);
  const out = w.finish();
  w.u32(0xffffffff);
  t.equal(hex(out), '0102');
});

t.test(
  'any write sequence under max round-trips; over max throws only OverflowError',
  async (t) => {
    const op = fc.oneof(
      fc.integer({ min: 0, max: 0xff }).map((v) => ['u8', v] as const),
      fc.integer({ min: 0, max: 0xffff }).map((v) => ['u16', v] as const),
      fc.integer({ min: 0, max: 0xffffffff }).map((v) => ['u32', v] as const),
      fc.uint8Array({ maxLength: 16 }).map((v) => ['bytes', v] as const),
    );
    holds(
      t,
      fc.property(fc.array(op, { maxLength: 30 }), fc.nat(100), (ops, max) => {
        const w = new Writer({ initial: 1, max });
        const done: (typeof ops)[number][] = [];
        for (const o of ops) {
          try {
            if (o[0] === 'bytes') w.bytes(o[1]);
            else w[o[0]](o[1]);
            done.push(o);
          } catch (e) {
            if (!(e instanceof OverflowError)) throw e;
          }
        }
        const out = w.finish();
        if (out.length > max) return false;
        const r = new Reader(out);
        for (const o of done) {
          if (o[0] === 'bytes') {
            if (hex(r.bytes(o[1].length)) !== hex(o[1])) return false;
          } else if (r[o[0]]() !== o[1]) return false;
        }
        return r.remaining === 0;
      }),
    );
  },
);
