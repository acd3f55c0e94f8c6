import t from 'tap';
import { Buffer } from 'node:buffer';
import { TcpFramer } from './tcp-framing.js';

const m1 = Buffer.from(
  'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 3\r\n\r\nabc',
);
const m2 = Buffer.from(
  'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nl: 0\r\n\r\n',
);

function messages(rs: ReturnType<TcpFramer['push']>): string[] {
  return rs
    .filter((r) => r.type === 'message')
    .map((r) => Buffer.from((r as { bytes: Uint8Array }).bytes).toString());
}

t.test('whole, byte by byte, with trailing bytes', async (t) => {
  const f = new TcpFramer();
  t.same(messages(f.push(Buffer.concat([m1, m2]))), [m1.toString(), m2.toString()], 'two at once');
  const g = new TcpFramer();
  const got: string[] = [];
  for (const b of Buffer.concat([m1, m2, m1.subarray(0, 10)]))
    got.push(...messages(g.push(Buffer.from([b]))));
  t.same(got, [m1.toString(), m2.toString()], 'byte by byte');
  t.ok(g.pending > 0, 'partial third held');
});

t.test('keepalive CRLFs between messages', async (t) => {
  const f = new TcpFramer();
  const rs = f.push(Buffer.concat([Buffer.from('\r\n\r\n'), m2, Buffer.from('\r\n'), m2]));
  t.equal(rs.filter((r) => r.type === 'ping').length, 1, 'double CRLF is a ping (RFC 5626)');
  t.equal(messages(rs).length, 2);
});

t.test('bad Content-Length and oversize heads are framing errors', async (t) => {
  t.equal(
    new TcpFramer().push(Buffer.from('X sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n')).at(-1)?.type,
    'error',
  );
  t.equal(new TcpFramer().push(Buffer.alloc(70000, 0x41)).at(-1)?.type, 'error');
  t.equal(
    new TcpFramer().push(Buffer.from('X sip:a SIP/2.0\r\nContent-Length: 99999\r\n\r\n')).at(-1)
      ?.type,
    'error',
  );
});
