/** Codec tests: our own torture cases in the spirit of RFC 4475, round trips, random bytes. */
import t from 'tap';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { decode, encodeMessage, getHeader, type SipRequest } from './message.js';
import { formatVia } from './via.js';
import { parseSipUri, uriKey } from './uri.js';
import { parseNameAddr } from './name-addr.js';
import { holds } from '../../src/testing/property.js';

const BASE = [
  'OPTIONS sip:2001@voip.tic2023.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport',
  'Max-Forwards: 70',
  'From: "Alice" <sip:2002@voip.tic2023.com>;tag=a1',
  'To: <sip:2001@voip.tic2023.com>',
  'Call-ID: c1@192.0.2.10',
  'CSeq: 1 OPTIONS',
];
function msg(
  lines: string[],
  body = '',
  cl: string | null = String(Buffer.byteLength(body)),
): Buffer {
  return Buffer.from(
    [...lines, ...(cl === null ? [] : [`Content-Length: ${cl}`]), '', body].join('\r\n'),
    'latin1',
  );
}
function edit(from: string, to: string | null): string[] {
  return BASE.flatMap((l) => (l.startsWith(from) ? (to === null ? [] : [to]) : [l]));
}

// [name, bytes, expected: 'ok' | 400 | 505 | 'drop']
const CASES: [string, Buffer, 'ok' | 400 | 505 | 'drop'][] = [
  ['baseline', msg(BASE), 'ok'],
  [
    'compact forms',
    msg([
      'OPTIONS sip:2001@h SIP/2.0',
      'v: SIP/2.0/TCP h;branch=z9hG4bK2',
      'f: <sip:a@h>;tag=1',
      't: sip:2001@h',
      'i: x',
      'CSeq: 2 OPTIONS',
    ]),
    'ok',
  ],
  [
    'folded header',
    msg([...edit('To:', 'To:\r\n   <sip:2001@voip.tic2023.com>\r\n\t;foo=bar')]),
    'ok',
  ],
  [
    'odd whitespace around colon and params',
    msg(edit('From:', 'From   :   "A \\"q\\"" <sip:a@b.c> ;  tag =  x1')),
    'ok',
  ],
  [
    'escaped user and IPv6 host',
    msg(edit('To:', 'To: <sip:%32%30%30%31@[2001:db8::1]:5060;transport=udp>')),
    'ok',
  ],
  [
    'leading CRLFs (keepalive before the start line)',
    Buffer.concat([Buffer.from('\r\n\r\n'), msg(BASE)]),
    'ok',
  ],
  [
    'LF-only line ends',
    Buffer.from(msg(BASE).toString('latin1').replace(/\r\n/g, '\n'), 'latin1'),
    'ok',
  ],
  ['missing Max-Forwards (RFC 2543)', msg(edit('Max-Forwards', null)), 'ok'],
  ['missing Content-Length on UDP: body to the end', msg(BASE, '', null), 'ok'],
  [
    'body shorter than datagram: extra ignored',
    Buffer.concat([msg(BASE, 'abc', '3'), Buffer.from('garbage')]),
    'ok',
  ],
  ['Max-Forwards 256', msg(edit('Max-Forwards', 'Max-Forwards: 256')), 400],
  ['negative Max-Forwards', msg(edit('Max-Forwards', 'Max-Forwards: -1')), 400],
  ['CSeq 2^31', msg(edit('CSeq', 'CSeq: 2147483648 OPTIONS')), 400],
  ['CSeq negative', msg(edit('CSeq', 'CSeq: -1 OPTIONS')), 400],
  ['huge Content-Length', msg(BASE, '', '99999999999999999999'), 400],
  ['Content-Length past the body', msg(BASE, 'ab', '5'), 400],
  ['Content-Length not a number', msg(BASE, '', 'ten'), 400],
  ['two Call-IDs', msg([...BASE, 'Call-ID: again']), 400],
  ['missing From', msg(edit('From', null)), 400],
  ['missing CSeq', msg(edit('CSeq', null)), 400],
  ['missing Via', msg(edit('Via', null)), 'drop'],
  ['garbage Via', msg(edit('Via', 'Via: nonsense')), 'drop'],
  ['header without colon', msg([...BASE, 'Broken header']), 400],
  [
    'continuation before any header',
    Buffer.from(' x\r\n' + msg(BASE).toString('latin1'), 'latin1'),
    'drop',
  ],
  ['SIP/3.0', msg([BASE[0]!.replace('SIP/2.0', 'SIP/3.0'), ...BASE.slice(1)]), 505],
  ['Request-URI with <>', msg(['OPTIONS <sip:2001@h> SIP/2.0', ...BASE.slice(1)]), 400],
  ['bad port in URI', msg(['OPTIONS sip:2001@h:70000 SIP/2.0', ...BASE.slice(1)]), 400],
  ['unterminated quote in From', msg(edit('From', 'From: "Alice <sip:a@b>;tag=1')), 400],
  ['empty header param', msg(edit('To:', 'To: <sip:2001@h>;;x')), 400],
  ['bad Date', msg([...BASE, 'Date: yesterday']), 400],
  ['bad Expires', msg([...BASE, 'Expires: soon']), 400],
  ['no empty line', Buffer.from(BASE.join('\r\n'), 'latin1'), 400],
  ['empty', Buffer.alloc(0), 'drop'],
  ['only CRLF', Buffer.from('\r\n\r\n'), 'drop'],
  ['status 700', msg(['SIP/2.0 700 Nope', ...BASE.slice(1)]), 'drop'],
  ['response with garbage status', msg(['SIP/2.0 abc OK', ...BASE.slice(1)]), 'drop'],
  ['response without reason', msg(['SIP/2.0 180', ...BASE.slice(1)]), 'ok'],
  ['too large', Buffer.alloc(70000, 0x41), 'drop'],
];

t.test('torture table', async (t) => {
  for (const [name, bytes, exp] of CASES) {
    const d = decode(bytes);
    if (exp === 'ok') t.ok(d.ok, `${name}${d.ok ? '' : ': ' + d.reason}`);
    else if (exp === 'drop') t.ok(!d.ok && (d.status === undefined || !d.head), `${name} dropped`);
    else
      t.ok(
        !d.ok && d.status === exp && d.head !== undefined,
        `${name} → ${exp}${d.ok ? '' : ` (${d.reason}, ${d.status})`}`,
      );
  }
});

t.test('parsed fields', async (t) => {
  const d = decode(msg(edit('To:', 'To:\r\n   <sip:2001@voip.tic2023.com>\r\n\t;foo=bar')));
  t.ok(d.ok);
  if (!d.ok || d.message.type !== 'request') return;
  const m: SipRequest = d.message;
  t.equal(m.method, 'OPTIONS');
  t.equal(m.cseq.seq, 1);
  t.equal(m.via[0]!.branch, 'z9hG4bK1');
  t.equal(m.from.display, '"Alice"');
  t.same(m.to.params, [['foo', 'bar']]);
  t.equal(getHeader(m, 'call-id'), 'c1@192.0.2.10');
  const c = decode(
    msg([
      'OPTIONS sip:2001@h SIP/2.0',
      'v: SIP/2.0/TCP h;branch=z9hG4bK2',
      'f: <sip:a@h>;tag=1',
      't: sip:2001@h',
      'i: x',
      'CSeq: 2 OPTIONS',
    ]),
  );
  t.ok(c.ok && getHeader(c.message, 'call-id') === 'x', 'compact i → Call-ID');
});

t.test('round trip: decode(encode(decode(x))) is the same message', async (t) => {
  for (const [name, bytes, exp] of CASES) {
    if (exp !== 'ok') continue;
    const a = decode(bytes);
    if (!a.ok) continue;
    const b = decode(encodeMessage(a.message, formatVia));
    t.ok(b.ok, name);
    if (!b.ok) continue;
    t.same(b.message.via, a.message.via, `${name}: via`);
    t.same(b.message.cseq, a.message.cseq, `${name}: cseq`);
    t.same(Buffer.from(b.message.body), Buffer.from(a.message.body), `${name}: body`);
  }
});

t.test('URIs', async (t) => {
  t.ok(
    parseSipUri(
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    ),
  );
  t.ok(parseSipUri('sips:alice@[::1]:5061;transport=tcp;lr'));
  t.notOk(parseSipUri('sip:alice@exa mple.com'));
  t.notOk(parseSipUri('sip:alice@host;;lr'));
  t.equal(
    uriKey(parseSipUri('sip:%61lice@EXAMPLE.com;Transport=UDP')!),
    uriKey(parseSipUri('sip:alice@example.com;transport=udp')!),
    '§19.1.4',
  );
  t.ok(parseNameAddr('caller<sip:caller@example.com>;tag=323'), 'no space before <');
  t.notOk(parseNameAddr('< sip:a@b >'));
});

t.test('random bytes and mutations never throw', async (t) => {
  holds(
    t,
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const d = decode(b);
      return d.ok || !d.reason.startsWith('internal');
    }),
    { numRuns: 3000 },
    'random bytes decode or are refused with a reason',
  );
  const base = msg(BASE, 'v=0\r\n');
  holds(
    t,
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: 8,
      }),
      (muts) => {
        const b = Buffer.from(base);
        for (const [i, v] of muts) b[i] = v;
        const d = decode(b);
        return d.ok || !d.reason.startsWith('internal');
      },
    ),
    { numRuns: 3000 },
    'mutated messages decode or are refused with a reason',
  );
  const internal: number[] = [];
  for (let i = 0; i <= base.length; i++) {
    const d = decode(base.subarray(0, i));
    if (!d.ok && d.reason.startsWith('internal')) internal.push(i);
  }
  t.same(internal, [], `every prefix of ${base.length + 1} decodes or is refused with a reason`);
});
