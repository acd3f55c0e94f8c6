import t from 'tap';
import fc from 'fast-check';
import { holds } from '../testing/property.js';
import { Reader, TruncatedError } from './reader.js';
import { Writer } from './writer.js';

t.test('reads big-endian integers and bytes', async (t) => {
  const r = new Reader(Uint8Array.of(0x01, 0x02, 0x03, 0xff, 0xfe, 0xfd, 0xfc, 9, 8, 7, 6));
  t.equal(r.length, 11);
  t.equal(r.u8(), 0x01);
  t.equal(r.u16(), 0x0203);
  t.equal(r.u32(), 0xfffefdfc, 'top bit set stays unsigned');
  t.equal(r.offset, 7);
  t.equal(r.remaining, 4);
  const b = r.bytes(2);
  t.same([...b], [9, 8]);
  r.skip(1);
  t.equal(r.u8(), 6);
  t.equal(r.remaining, 0);
  t.same([...r.bytes(0)], [], 'a zero-length read at the end is fine');
});

t.test('bytes() is a view, seek() moves anywhere in 0..length', async (t) => {
  const buf = Uint8Array.of(1, 2, 3, 4);
  const r = new Reader(buf, 1);
  const v = r.bytes(2);
  buf[1] = 99;
  t.equal(v[0], 99);
  r.seek(1);
  t.equal(r.u8(), 99);
  r.seek(0);
  t.equal(r.u8(), 1);
  r.seek(4);
  t.equal(r.remaining, 0);
  t.throws(() => r.seek(5), { code: 'ERR_BYTES_TRUNCATED' });
  t.throws(() => r.seek(-1), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => new Reader(buf, 5), { code: 'ERR_BYTES_RANGE' });
});

t.test('reading past the end throws the coded error and does not move', async (t) => {
  const r = new Reader(Uint8Array.of(1, 2, 3));
  r.u16();
  const e = t.throws(() => r.u16(), { code: 'ERR_BYTES_TRUNCATED', need: 2, at: 2, length: 3 });
  t.ok(e instanceof TruncatedError);
  t.equal(r.offset, 2);
  t.throws(() => r.u32(), { code: 'ERR_BYTES_TRUNCATED' });
  t.throws(() => r.bytes(2), { code: 'ERR_BYTES_TRUNCATED' });
  t.throws(() => r.skip(2), { code: 'ERR_BYTES_TRUNCATED' });
  t.throws(() => r.bytes(-1), { code: 'ERR_BYTES_RANGE' });
  t.throws(() => r.skip(0.5), { code: 'ERR_BYTES_RANGE' });
  t.equal(r.u8(), 3);
  t.throws(() => r.u8(), { code: 'ERR_BYTES_TRUNCATED' });
});

type Field =
  | { k: 'u8'; v: number }
  | { k: 'u16'; v: number }
  | { k: 'u32'; v: number }
  | { k: 'bytes'; v: Uint8Array };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((v) => ({ k: 'u8' as const, v })),
  fc.integer({ min: 0, max: 0xffff }).map((v) => ({ k: 'u16' as const, v })),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ k: 'u32' as const, v })),
  fc.uint8Array({ maxLength: 40 }).map((v) => ({ k: 'bytes' as const, v })),
);

function write(fields: Field[]): Uint8Array {
  const w = new Writer({ initial: 1 });
  for (const f of fields) {
    if (f.k === 'bytes') w.bytes(f.v);
    else w[f.k](f.v);
  }
  return w.finish();
}

function read(r: Reader, fields: Field[]): unknown[] {
  return fields.map((f) => (f.k === 'bytes' ? [...r.bytes(f.v.length)] : r[f.k]()));
}

const expected = (fields: Field[]): unknown[] =>
  fields.map((f) => (f.k === 'bytes' ? [...f.v] : f.v));

t.test('round trip through Writer and Reader (fast-check)', async (t) => {
  holds(
    t,
    fc.property(fc.array(field, { maxLength: 30 }), (fields) => {
      const r = new Reader(write(fields));
      const got = read(r, fields);
      return r.remaining === 0 && JSON.stringify(got) === JSON.stringify(expected(fields));
    }),
  );
});

t.test(
  'every truncated prefix throws ERR_BYTES_TRUNCATED, nothing else (fast-check)',
  async (t) => {
    holds(
      t,
      fc.property(fc.array(field, { minLength: 1, maxLength: 20 }), (fields) => {
        const full = write(fields);
        for (let cut = 0; cut < full.length; cut++) {
          try {
            read(new Reader(full.subarray(0, cut)), fields);
          } catch (e) {
            if (!(e instanceof TruncatedError) || e.code !== 'ERR_BYTES_TRUNCATED') throw e;
            continue;
          }
          // Reading every field consumes exactly full.length bytes, so no shorter prefix can.
          return false;
        }
        return true;
      }),
    );
  },
);

t.test('random reads over random bytes throw only TruncatedError (fast-check)', async (t) => {
  const op = fc.oneof(
    fc.constant<['u8' | 'u16' | 'u32', number]>(['u8', 0]),
    fc.constant<['u8' | 'u16' | 'u32', number]>(['u16', 0]),
    fc.constant<['u8' | 'u16' | 'u32', number]>(['u32', 0]),
    fc.tuple(fc.constantFrom('bytes' as const, 'skip' as const), fc.nat(20)),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 32 }), fc.array(op, { maxLength: 20 }), (buf, ops) => {
      const r = new Reader(buf);
      t.equal(r.buffer, buf);
      try {
        for (const [k, n] of ops) {
          if (k === 'bytes' || k === 'skip') r[k](n);
          else r[k]();
        }
      } catch (e) {
        if (!(e instanceof TruncatedError)) throw e;
      }
      return r.offset <= buf.length;
    }),
  );
});
