import t from 'tap';
import fc from 'fast-check';
import {
  mediaEndpoints,
  parseSdp,
  rewriteSdp,
  rewriteSdpBody,
  sdpText,
  type SdpRewrite,
} from './sdp.js';

const crlf = (lines: string[]): string => lines.map((l) => `${l}\r\n`).join('');

// A Linphone-style offer: PCMU/PCMA/telephone-event, a=rtcp, ptime (RFC 3264 §10.1 style).
const OFFER = crlf([
  'v=0',
  'o=2001 3456 789 IN IP4 192.168.0.23',
  's=Talk',
  'c=IN IP4 192.168.0.23',
  't=0 0',
  'm=audio 7078 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=rtcp:7079',
  'a=ptime:20',
  'a=sendrecv',
]);

const RELAY: SdpRewrite = { address: '192.168.0.6', ports: [{ rtp: 10002, rtcp: 10003 }] };

t.test('round trip is byte-exact (CRLF, LF, mixed, no final EOL, empty lines)', async (t) => {
  const bodies = [
    OFFER,
    OFFER.replace(/\r\n/g, '\n'),
    OFFER.replace('t=0 0\r\n', 't=0 0\n').slice(0, -2),
    OFFER + '\r\n',
  ];
  for (const b of bodies) {
    const p = parseSdp(b);
    t.ok(p.ok, JSON.stringify(b.slice(-12)));
    if (p.ok) t.equal(sdpText(p.sdp.lines), b);
  }
  // latin1 bytes (a UTF-8 session name) survive through Uint8Array too.
  const utf8 = new Uint8Array(Buffer.from(OFFER.replace('s=Talk', 's=Llamada niño'), 'utf8'));
  const r = rewriteSdpBody(utf8, { address: '192.168.0.23', ports: [{ rtp: 7078, rtcp: 7079 }] });
  t.ok(
    r.ok && Buffer.from(r.body).equals(Buffer.from(utf8)),
    'rewrite to the same address/ports is the identity',
  );
});

t.test('parse: endpoints of the offer', async (t) => {
  const p = parseSdp(OFFER);
  t.ok(p.ok);
  if (!p.ok) return;
  const [e] = mediaEndpoints(p.sdp);
  t.match(e, {
    media: 'audio',
    rejected: false,
    address: '192.168.0.23',
    rtpPort: 7078,
    rtcpPort: 7079,
    direction: 'sendrecv',
    payloadTypes: [0, 8, 101],
  });
  t.same(
    [...e!.clockRates],
    [
      [0, 8000],
      [8, 8000],
      [101, 8000],
    ],
  );
  t.same([...e!.telephoneEvents], [101]);
});

t.test('rewrites (table)', async (t) => {
  const rows: { name: string; in: string[]; rw?: Partial<SdpRewrite>; out: string[] }[] = [
    {
      name: 'c= session level, m= port, a=rtcp; everything else byte-exact',
      in: OFFER.split('\r\n').slice(0, -1),
      out: OFFER.split('\r\n')
        .slice(0, -1)
        .map((l) =>
          l === 'c=IN IP4 192.168.0.23'
            ? 'c=IN IP4 192.168.0.6'
            : l === 'm=audio 7078 RTP/AVP 0 8 101'
              ? 'm=audio 10002 RTP/AVP 0 8 101'
              : l === 'a=rtcp:7079'
                ? 'a=rtcp:10003'
                : l,
        ),
    },
    {
      name: 'media-level c= and a=rtcp with address; o= kept unless asked',
      in: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        't=0 0',
        'm=audio 4000 RTP/AVP 8',
        'c=IN IP4 10.0.0.5',
        'a=rtcp:4001 IN IP4 10.0.0.5',
      ],
      out: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        't=0 0',
        'm=audio 10002 RTP/AVP 8',
        'c=IN IP4 192.168.0.6',
        'a=rtcp:10003 IN IP4 192.168.0.6',
      ],
    },
    {
      name: 'replaceOrigin',
      in: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 10.0.0.5',
        't=0 0',
        'm=audio 4000 RTP/AVP 0',
      ],
      rw: { replaceOrigin: true },
      out: [
        'v=0',
        'o=- 1 1 IN IP4 192.168.0.6',
        's=-',
        'c=IN IP4 192.168.0.6',
        't=0 0',
        'm=audio 10002 RTP/AVP 0',
      ],
    },
    {
      name: 'hold: c=0.0.0.0 and a=sendonly pass through',
      in: [
        'v=0',
        'o=- 1 2 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 0.0.0.0',
        't=0 0',
        'm=audio 4000 RTP/AVP 0',
        'a=sendonly',
      ],
      out: [
        'v=0',
        'o=- 1 2 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 0.0.0.0',
        't=0 0',
        'm=audio 10002 RTP/AVP 0',
        'a=sendonly',
      ],
    },
    {
      name: 'rejected stream keeps port 0; a stream the relay does not carry gets port 0',
      in: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 10.0.0.5',
        't=0 0',
        'm=video 0 RTP/AVP 96',
        'm=audio 4000 RTP/AVP 0',
        'm=video 5000/2 RTP/AVP 97',
      ],
      rw: { ports: [undefined, { rtp: 10002, rtcp: 10003 }, undefined] },
      out: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 192.168.0.6',
        't=0 0',
        'm=video 0 RTP/AVP 96',
        'm=audio 10002 RTP/AVP 0',
        'm=video 0 RTP/AVP 97',
      ],
    },
    {
      name: 'ICE attributes stripped (session and media level)',
      in: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 10.0.0.5',
        't=0 0',
        'a=ice-ufrag:abcd',
        'a=ice-pwd:0123456789012345678901',
        'm=audio 4000 RTP/AVP 0',
        'a=candidate:1 1 UDP 2130706431 10.0.0.5 4000 typ host',
        'a=end-of-candidates',
      ],
      out: [
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.5',
        's=-',
        'c=IN IP4 192.168.0.6',
        't=0 0',
        'm=audio 10002 RTP/AVP 0',
      ],
    },
    {
      name: 'IPv6 c= rewritten to the IPv4 relay',
      in: [
        'v=0',
        'o=- 1 1 IN IP6 2001:db8::1',
        's=-',
        'c=IN IP6 2001:db8::1',
        't=0 0',
        'm=audio 4000 RTP/AVP 0',
      ],
      out: [
        'v=0',
        'o=- 1 1 IN IP6 2001:db8::1',
        's=-',
        'c=IN IP4 192.168.0.6',
        't=0 0',
        'm=audio 10002 RTP/AVP 0',
      ],
    },
  ];
  for (const row of rows) {
    const p = parseSdp(crlf(row.in));
    t.ok(p.ok, row.name);
    if (!p.ok) continue;
    t.equal(sdpText(rewriteSdp(p.sdp, { ...RELAY, ...row.rw })), crlf(row.out), row.name);
  }
});

t.test('endpoints: hold, rejected, rtcp-mux, direction inheritance', async (t) => {
  const p = parseSdp(
    crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.5',
      's=-',
      'c=IN IP4 10.0.0.5',
      't=0 0',
      'a=recvonly',
      'm=audio 4000 RTP/AVP 0',
      'a=rtcp-mux',
      'm=audio 0 RTP/AVP 0',
      'm=audio 6000 RTP/AVP 0',
      'c=IN IP4 0.0.0.0',
      'a=inactive',
    ]),
  );
  t.ok(p.ok);
  if (!p.ok) return;
  const [m, r, h] = mediaEndpoints(p.sdp);
  t.match(m, { rtcpMux: true, rtcpPort: 4000, direction: 'recvonly', address: '10.0.0.5' });
  t.match(r, { rejected: true });
  t.match(h, { address: undefined, direction: 'inactive' });
});

t.test('errors (table), never throws', async (t) => {
  const rows: [string, string[], string, number?][] = [
    ['empty', [''], 'ERR_SDP_EMPTY'],
    ['no v=', ['o=- 1 1 IN IP4 1.2.3.4', 's=-'], 'ERR_SDP_VERSION', 1],
    ['v=1', ['v=1'], 'ERR_SDP_VERSION', 1],
    ['not type=value', ['v=0', 'garbage'], 'ERR_SDP_SYNTAX', 2],
    ['upper-case type', ['v=0', 'X=1'], 'ERR_SDP_SYNTAX', 2],
    ['bad c=', ['v=0', 'c=IN IP4 999.1.1.1'], 'ERR_SDP_CONNECTION', 2],
    ['c= nettype', ['v=0', 'c=ATM NSAP 1'], 'ERR_SDP_CONNECTION', 2],
    ['bad m= port', ['v=0', 'c=IN IP4 1.2.3.4', 'm=audio 70000 RTP/AVP 0'], 'ERR_SDP_MEDIA', 3],
    ['m= without formats', ['v=0', 'c=IN IP4 1.2.3.4', 'm=audio 4000 RTP/AVP'], 'ERR_SDP_MEDIA', 3],
    ['m= without c=', ['v=0', 'm=audio 4000 RTP/AVP 0'], 'ERR_SDP_NO_CONNECTION', 2],
    [
      'bad a=rtcp',
      ['v=0', 'c=IN IP4 1.2.3.4', 'm=audio 4000 RTP/AVP 0', 'a=rtcp:x'],
      'ERR_SDP_RTCP',
      4,
    ],
  ];
  for (const [name, lines, code, line] of rows) {
    const p = parseSdp(crlf(lines));
    t.equal(p.ok ? 'ok' : p.error.code, code, name);
    if (!p.ok && line !== undefined) t.equal(p.error.line, line, `${name}: line`);
  }
  t.equal(
    (parseSdp('v=0\r\n' + 'a=x\r\n'.repeat(20000)) as { error: { code: string } }).error.code,
    'ERR_SDP_TOO_LONG',
  );
  // Rejected media needs no c= (RFC 3264 §6).
  t.ok(parseSdp(crlf(['v=0', 'm=audio 0 RTP/AVP 0'])).ok);

  for (let n = 0; n <= OFFER.length; n++) {
    const p = parseSdp(OFFER.slice(0, n));
    if (p.ok) rewriteSdp(p.sdp, RELAY);
  }
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constantFrom(...OFFER.split('\r\n')), fc.string()), { maxLength: 20 }),
      fc.constantFrom('\r\n', '\n'),
      (ls, eol) => {
        const p = parseSdp(ls.join(eol));
        if (p.ok) {
          mediaEndpoints(p.sdp);
          rewriteSdp(p.sdp, RELAY);
          return sdpText(p.sdp.lines) === ls.join(eol);
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (b) => (parseSdp(b), true)));
});
