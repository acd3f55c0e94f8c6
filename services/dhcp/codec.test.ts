import t from 'tap';
import fc from 'fast-check';
import {
  decode,
  encode,
  encodingLength,
  DhcpDecodeError,
  hwText,
  MAGIC_COOKIE,
  type EncodeInput,
} from './codec.js';
import { clientMessage, macFromText } from './client-messages.js';
import { MSG, OPT } from './options.js';
import { ipFromText } from './ipv4.js';

const base = (): EncodeInput =>
  clientMessage(
    MSG.DISCOVER,
    { mac: macFromText('52:54:00:12:34:56'), hostname: 'pc1' },
    { xid: 0x1234abcd },
  );

t.test('round trip keeps header fields and options in order', async (t) => {
  const m = base();
  const { bytes, omitted } = encode(m);
  t.same(omitted, []);
  t.equal(bytes.length, Math.max(300, encodingLength(m)));
  t.equal(bytes.length, 300, 'padded to the BOOTP minimum (RFC 1542 §2.1)');
  const d = decode(bytes);
  t.equal(d.op, 1);
  t.equal(d.xid, 0x1234abcd);
  t.equal(hwText(d), '52:54:00:12:34:56');
  t.same(
    [...d.options.keys()],
    m.options.map(([c]) => c),
  );
  t.same(d.options.get(OPT.HOSTNAME), new TextEncoder().encode('pc1'));
});

t.test('overload (option 52) reads file then sname (RFC 2132 §9.3)', async (t) => {
  const { bytes } = encode({
    ...base(),
    options: [
      [OPT.MESSAGE_TYPE, Uint8Array.of(1)],
      [OPT.OVERLOAD, Uint8Array.of(3)],
    ],
  });
  const b = bytes.slice();
  // sname at 44, file at 108: put option 12 in file, option 15 in sname.
  b.set([12, 2, 0x61, 0x62, 255], 108);
  b.set([15, 1, 0x78, 255], 44);
  const d = decode(b);
  t.same(d.options.get(12), Uint8Array.of(0x61, 0x62));
  t.same(d.options.get(15), Uint8Array.of(0x78));
  t.same([...d.options.keys()], [53, 52, 12, 15], 'options, then file, then sname');
});

t.test(
  'repeated options are concatenated (RFC 3396 §7) and long ones split on encode',
  async (t) => {
    const long = new Uint8Array(600).map((_, i) => i & 0xff);
    const { bytes } = encode(
      {
        ...base(),
        options: [
          [OPT.MESSAGE_TYPE, Uint8Array.of(1)],
          [43, long],
        ],
      },
      1472,
    );
    const d = decode(bytes);
    t.same(d.options.get(43), long);
  },
);

t.test('options that do not fit the client maximum are left out and reported', async (t) => {
  const big = new Uint8Array(250);
  const r = encode(
    {
      ...base(),
      options: [
        [53, Uint8Array.of(2)],
        [43, big],
        [44, big],
        [45, big],
      ],
    },
    548,
  );
  t.same(r.omitted, [44, 45]);
  t.ok(r.bytes.length <= 548);
});

t.test('errors: short, no cookie, hlen, truncated option', async (t) => {
  const { bytes } = encode(base());
  t.throws(() => decode(bytes.subarray(0, 239)), { code: 'ERR_DHCP_DECODE' });
  const noCookie = bytes.slice();
  noCookie[236] = 0;
  t.throws(() => decode(noCookie), { code: 'ERR_DHCP_DECODE' });
  const badHlen = bytes.slice();
  badHlen[2] = 17;
  t.throws(() => decode(badHlen), { code: 'ERR_DHCP_DECODE' });
  const trunc = bytes.slice(0, 243);
  trunc[240] = 53;
  trunc[241] = 5;
  t.throws(() => decode(trunc), { code: 'ERR_DHCP_DECODE' });
  t.equal((MAGIC_COOKIE >>> 0).toString(16), '63825363');
});

t.test('every truncated prefix of a real message fails cleanly or decodes', async (t) => {
  const { bytes } = encode(
    clientMessage(
      MSG.REQUEST,
      {
        mac: macFromText('aa:bb:cc:dd:ee:ff'),
        clientId: Uint8Array.of(1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff),
      },
      { xid: 7, requested: ipFromText('192.168.1.10'), serverId: ipFromText('192.168.1.1') },
    ),
  );
  let decoded = 0;
  for (let n = 0; n <= bytes.length; n++) {
    try {
      decode(bytes.subarray(0, n));
      decoded++;
    } catch (e) {
      if (!(e instanceof DhcpDecodeError)) throw e;
    }
  }
  t.ok(decoded > 0);
});

t.test('random bytes never throw anything but DhcpDecodeError', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), fc.boolean(), (raw, cookie) => {
      const b = raw.slice();
      if (cookie && b.length >= 240) b.set([0x63, 0x82, 0x53, 0x63], 236);
      try {
        decode(b);
      } catch (e) {
        if (!(e instanceof DhcpDecodeError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('random option soup after a valid header', async () => {
  const head = encode(base()).bytes.subarray(0, 240);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (opts) => {
      const b = new Uint8Array(240 + opts.length);
      b.set(head);
      b.set(opts, 240);
      try {
        const d = decode(b);
        // what decodes re-encodes and decodes to the same options
        const again = decode(encode({ ...d, options: [...d.options] }, 4096).bytes);
        if (again.options.size !== d.options.size) throw new Error('round trip lost options');
      } catch (e) {
        if (!(e instanceof DhcpDecodeError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
