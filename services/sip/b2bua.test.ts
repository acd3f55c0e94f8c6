/**
 * B2BUA on a manual clock: the caller (A, 2001 at 192.0.2.10:5062) and the callee's phone
 * (B, 2002 at 192.0.2.20:5064) are driven with crafted messages; the relay is played by
 * the test (mediaOpened with fixed ports).
 */
import t from 'tap';
import { Buffer } from 'node:buffer';
import {
  decode,
  getHeader,
  getHeaders,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './message.js';
import { digestResponse, parseAuthorization } from './digest.js';
import { authorize, register, responses, testCore, PHONE, T0 } from './testing.js';
import { parseSdp, mediaEndpoints } from './sdp.js';
import type { CoreOutput, SipCore } from './sip-core.js';
import type { Endpoint } from './transport.js';
import type { MediaOp } from './b2bua.js';
import { DEFAULT_DIALPLAN } from './dialplan.js';

const PHONE_B: Endpoint = { transport: 'udp', address: '192.0.2.20', port: 5064 };
const RELAY = {
  address: '203.0.113.1',
  a: { rtp: 30000, rtcp: 30001 },
  b: { rtp: 30002, rtcp: 30003 },
};
const USERS = new Map([
  ['2001', 'dev-2001'],
  ['2002', 'dev-2002'],
  ['2003', 'dev-2003'],
]);

const sdp = (host: string, port: number): string =>
  `v=0\r\no=- 1 1 IN IP4 ${host}\r\ns=-\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;

let n = 0;
function msg(start: string, headers: string[], body = ''): Buffer {
  return Buffer.from(
    [start, ...headers, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'),
    'latin1',
  );
}

function sent(out: CoreOutput[], to?: Endpoint): SipMessage[] {
  const r: SipMessage[] = [];
  for (const o of out) {
    if (o.type !== 'send') continue;
    if (to && (o.dest.address !== to.address || o.dest.port !== to.port)) continue;
    const d = decode(o.data);
    if (d.ok) r.push(d.message);
  }
  return r;
}
const reqs = (out: CoreOutput[], to: Endpoint): SipRequest[] =>
  sent(out, to).filter((m): m is SipRequest => m.type === 'request');
const resps = (out: CoreOutput[], to: Endpoint): SipResponse[] =>
  sent(out, to).filter((m): m is SipResponse => m.type === 'response');
const media = (out: CoreOutput[]): MediaOp[] =>
  out.flatMap((o) => (o.type === 'media' ? [o.op] : []));
const ended = (out: CoreOutput[]) =>
  out.flatMap((o) => (o.type === 'event' && o.event.type === 'call-ended' ? [o.event] : []));
const tagOf = (h: string | undefined): string | undefined => /;tag=([^;>\s]+)/.exec(h ?? '')?.[1];

function registerB(
  core: SipCore,
  user = '2002',
  ep = PHONE_B,
  contact = `sip:${user}@${ep.address}:${ep.port}`,
): void {
  const via = `SIP/2.0/UDP ${ep.address}:${ep.port};branch=z9hG4bKreg${++n};rport`;
  const first = responses(
    core.handle(
      {
        data: register({ user, contact: `<${contact}>`, via, callId: `reg-${user}-${ep.port}` }),
        source: ep,
      },
      T0,
    ),
  )[0]!;
  const auth = authorize(first, user, USERS.get(user)!);
  const ok = responses(
    core.handle(
      {
        data: register({
          user,
          contact: `<${contact}>`,
          via: via.replace('branch=', 'branch=z9hG4bKb'),
          callId: `reg-${user}-${ep.port}`,
          cseq: 2,
          authorization: auth,
        }),
        source: ep,
      },
      T0,
    ),
  )[0]!;
  if (ok.status !== 200) throw new Error(`register ${user}: ${ok.status}`);
}

interface InviteOpts {
  to?: string;
  from?: string;
  password?: string;
  body?: string;
  callId?: string;
}

/** An INVITE from A, answered 407 then sent with Proxy-Authorization; returns the outputs of the second. */
function call(
  core: SipCore,
  now: number,
  o: InviteOpts = {},
): { out: CoreOutput[]; invite: Buffer; callId: string; branch: string } {
  const to = o.to ?? '2002';
  const from = o.from ?? '2001';
  const callId = o.callId ?? `call-${++n}`;
  const body = o.body ?? sdp('192.0.2.10', 40000);
  const ruri = `sip:${to}@voip.tic2023.com`;
  const build = (cseq: number, branch: string, auth?: string): Buffer =>
    msg(
      `INVITE ${ruri} SIP/2.0`,
      [
        `Via: SIP/2.0/UDP 192.0.2.10:5062;branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:${from}@voip.tic2023.com>;tag=atag${n}`,
        `To: <sip:${to}@voip.tic2023.com>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} INVITE`,
        'Contact: <sip:2001@192.0.2.10:5062>',
        ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
        'Content-Type: application/sdp',
      ],
      body,
    );
  const b1 = `z9hG4bKinv${++n}`;
  const first = core.handle({ data: build(1, b1), source: PHONE }, now);
  const ch = resps(first, PHONE)[0]!;
  if (ch.status !== 407) return { out: first, invite: build(1, 'x'), callId, branch: '' };
  // ACK for the 407 (same branch) is absorbed by the transaction.
  core.handle(
    {
      data: msg(`ACK ${ruri} SIP/2.0`, [
        `Via: SIP/2.0/UDP 192.0.2.10:5062;branch=${b1};rport`,
        'Max-Forwards: 70',
        `From: <sip:${from}@voip.tic2023.com>;tag=atag${n}`,
        `To: ${getHeader(ch, 'to')}`,
        `Call-ID: ${callId}`,
        'CSeq: 1 ACK',
      ]),
      source: PHONE,
    },
    now,
  );
  const c = getHeaders(ch, 'proxy-authenticate')
    .map((v) => parseAuthorization(v)!)
    .find((x) => x.params.get('algorithm') === 'MD5')!;
  const nonce = c.params.get('nonce')!;
  const response = digestResponse({
    algorithm: 'MD5',
    username: from,
    realm: 'asterisk',
    password: o.password ?? USERS.get(from) ?? 'x',
    method: 'INVITE',
    uri: ruri,
    nonce,
    nc: '00000001',
    cnonce: 'cn',
    qop: 'auth',
  });
  const auth = `Digest username="${from}", realm="asterisk", nonce="${nonce}", uri="${ruri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="cn"`;
  const branch = `z9hG4bKinv${++n}`;
  const invite = build(2, branch, auth);
  return { out: core.handle({ data: invite, source: PHONE }, now), invite, callId, branch };
}

/** Answer from B to a request it received. */
function answer(
  req: SipRequest,
  status: number,
  o: { toTag?: string; body?: string; reason?: string } = {},
): Buffer {
  const to = getHeader(req, 'to')!;
  const hdrs = [
    ...getHeaders(req, 'via').map((v) => `Via: ${v}`),
    `From: ${getHeader(req, 'from')}`,
    `To: ${o.toTag && !tagOf(to) ? `${to};tag=${o.toTag}` : to}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.cseq.seq} ${req.cseq.method}`,
    ...(status >= 200 && status < 300 && req.method === 'INVITE'
      ? ['Contact: <sip:2002@192.0.2.20:5064>']
      : []),
    ...(o.body ? ['Content-Type: application/sdp'] : []),
  ];
  return msg(`SIP/2.0 ${status} ${o.reason ?? 'X'}`, hdrs, o.body ?? '');
}

/** A request from a phone inside a dialog, built from a message it received (for A: our 200; for B: our INVITE). */
function inDialog(
  method: string,
  dialog: { callId: string; local: string; remote: string; target: string },
  via: Endpoint,
  cseq: number,
  body?: string,
): Buffer {
  return msg(
    `${method} ${dialog.target} SIP/2.0`,
    [
      `Via: SIP/2.0/UDP ${via.address}:${via.port};branch=z9hG4bKdlg${++n};rport`,
      'Max-Forwards: 70',
      `From: ${dialog.local}`,
      `To: ${dialog.remote}`,
      `Call-ID: ${dialog.callId}`,
      `CSeq: ${cseq} ${method}`,
      ...(body ? ['Content-Type: application/sdp'] : []),
    ],
    body ?? '',
  );
}

/** Set up: core with 2002 registered, a call from 2001 ringing at B. */
function ringing(over: Parameters<typeof testCore>[0] = {}) {
  const { core } = testCore({ qualifyIntervalMs: 1e12, ...over }, USERS);
  registerB(core);
  const c = call(core, T0);
  const open = media(c.out).find((m) => m.op === 'open')!;
  const id = open.id;
  const o2 = core.mediaOpened(id, RELAY, T0 + 1);
  const inv = reqs(o2, PHONE_B).find((r) => r.method === 'INVITE')!;
  return { core, c, id, open, o2, inv };
}

/** Answered call: returns the A-side dialog view and the B INVITE. */
function answered() {
  const r = ringing();
  const { core, inv } = r;
  core.handle({ data: answer(inv, 180, { toTag: 'btag' }), source: PHONE_B }, T0 + 100);
  const out = core.handle(
    { data: answer(inv, 200, { toTag: 'btag', body: sdp('192.0.2.20', 50000) }), source: PHONE_B },
    T0 + 2000,
  );
  const ok = resps(out, PHONE).find((x) => x.status === 200)!;
  const aDialog = {
    callId: r.c.callId,
    local: getHeader(ok, 'from')!,
    remote: getHeader(ok, 'to')!,
    target: 'sip:2002@127.0.0.1:5060',
  };
  const bDialog = {
    callId: inv.callId,
    local: `${getHeader(inv, 'to')};tag=btag`,
    remote: getHeader(inv, 'from')!,
    target: 'sip:2001@127.0.0.1:5060',
  };
  return { ...r, out, ok, aDialog, bDialog };
}

t.test(
  'answered call: 407, 100, relay, fork, 180, 200/ACK, SDP rewritten both ways, BYE from A',
  async (t) => {
    const { core, c, open, o2, inv } = ringing();
    t.same(
      resps(c.out, PHONE).map((r) => r.status),
      [100],
      '100 Trying to A',
    );
    t.same(
      open,
      { op: 'open', id: open.op === 'open' ? open.id : '', mode: 'relay' },
      'relay opened',
    );
    const remoteA = media(o2).find((m) => m.op === 'remote');
    t.match(
      remoteA,
      { op: 'remote', leg: 'a', remote: { address: '192.0.2.10', rtpPort: 40000 } },
      'relay learns where A receives',
    );
    // The INVITE to B: its own dialog, SDP pointing at the relay's b ports.
    t.equal(inv.uri, 'sip:2002@192.0.2.20:5064');
    t.not(inv.callId, c.callId, 'new Call-ID on leg b');
    t.ok(tagOf(getHeader(inv, 'from')), 'From tag');
    t.notOk(tagOf(getHeader(inv, 'to')), 'no To tag');
    t.equal(inv.cseq.seq, 1);
    t.match(getHeader(inv, 'contact'), /^<sip:2001@127\.0\.0\.1:5060>$/, 'Contact of the B2BUA');
    const offerB = mediaEndpoints((parseSdp(inv.body) as { ok: true; sdp: never }).sdp)[0]!;
    t.match(offerB, { address: '203.0.113.1', rtpPort: 30002 }, 'offer to B points at the relay');

    // 180 relayed with our tag
    const r180 = resps(
      core.handle({ data: answer(inv, 180, { toTag: 'btag' }), source: PHONE_B }, T0 + 100),
      PHONE,
    );
    t.same(
      r180.map((r) => r.status),
      [180],
    );
    const aTag = tagOf(getHeader(r180[0]!, 'to'));
    t.ok(aTag && aTag !== 'btag', "A sees our tag, not B's");

    // 200 from B → ACK to B, 200 to A with the relay's a ports
    const out = core.handle(
      {
        data: answer(inv, 200, { toTag: 'btag', body: sdp('192.0.2.20', 50000) }),
        source: PHONE_B,
      },
      T0 + 2000,
    );
    const ack = reqs(out, PHONE_B).find((r) => r.method === 'ACK')!;
    t.ok(ack, 'B ACKed');
    t.equal(ack.cseq.seq, 1);
    t.equal(tagOf(getHeader(ack, 'to')), 'btag');
    t.equal(ack.uri, 'sip:2002@192.0.2.20:5064', 'ACK to the Contact of the 200');
    const ok = resps(out, PHONE).find((r) => r.status === 200)!;
    t.equal(tagOf(getHeader(ok, 'to')), aTag, 'same tag as the 180');
    t.equal(ok.callId, c.callId);
    const ansA = mediaEndpoints((parseSdp(ok.body) as { ok: true; sdp: never }).sdp)[0]!;
    t.match(ansA, { address: '203.0.113.1', rtpPort: 30000 }, 'answer to A points at the relay');
    t.match(
      media(out).find((m) => m.op === 'remote'),
      { leg: 'b', remote: { address: '192.0.2.20', rtpPort: 50000 } },
    );
    t.equal(core.b2bua.activeCount, 1);

    // 200 retransmitted to A until the ACK
    t.equal(
      resps(core.handleTimeout(T0 + 2500), PHONE).filter((r) => r.status === 200).length,
      1,
      '2xx retransmitted after T1',
    );
    const aDialog = {
      callId: c.callId,
      local: getHeader(ok, 'from')!,
      remote: getHeader(ok, 'to')!,
      target: 'sip:2002@127.0.0.1:5060',
    };
    t.same(
      core
        .handle({ data: inDialog('ACK', aDialog, PHONE, 2), source: PHONE }, T0 + 2600)
        .filter((o) => o.type === 'send'),
      [],
      'ACK absorbed',
    );
    t.equal(resps(core.handleTimeout(T0 + 10_000), PHONE).length, 0, 'no more 2xx after the ACK');

    // BYE from A → 200 to A, BYE to B, call ended (answered)
    const bye = core.handle(
      { data: inDialog('BYE', aDialog, PHONE, 3), source: PHONE },
      T0 + 12_000,
    );
    t.same(
      resps(bye, PHONE).map((r) => r.status),
      [200],
    );
    const byeB = reqs(bye, PHONE_B).find((r) => r.method === 'BYE')!;
    t.equal(byeB.cseq.seq, 2, 'CSeq of leg b goes on');
    t.equal(tagOf(getHeader(byeB, 'to')), 'btag');
    t.match(ended(bye), [
      { result: 'answered', caller: '2001', callee: '2002', durationMs: 10_000 },
    ]);
    t.equal(core.b2bua.activeCount, 0);
    // B answers the BYE: absorbed; a second BYE from A is 481
    t.same(sent(core.handle({ data: answer(byeB, 200), source: PHONE_B }, T0 + 12_010)), []);
    t.same(
      resps(
        core.handle({ data: inDialog('BYE', aDialog, PHONE, 4), source: PHONE }, T0 + 12_020),
        PHONE,
      ).map((r) => r.status),
      [481],
    );
  },
);

t.test('BYE from the callee is answered and sent on to the caller', async (t) => {
  const { core, aDialog, bDialog } = answered();
  core.handle({ data: inDialog('ACK', aDialog, PHONE, 2), source: PHONE }, T0 + 2100);
  const out = core.handle(
    { data: inDialog('BYE', bDialog, PHONE_B, 1), source: PHONE_B },
    T0 + 5000,
  );
  t.same(
    resps(out, PHONE_B).map((r) => r.status),
    [200],
  );
  const byeA = reqs(out, PHONE).find((r) => r.method === 'BYE')!;
  t.equal(byeA.callId, aDialog.callId);
  t.equal(byeA.uri, 'sip:2001@192.0.2.10:5062', "to the caller's Contact");
  t.equal(tagOf(getHeader(byeA, 'from')), tagOf(aDialog.remote), 'From = our tag on leg a');
  t.equal(tagOf(getHeader(byeA, 'to')), tagOf(aDialog.local), "To = the caller's tag");
  t.match(ended(out), [{ result: 'answered' }]);
});

t.test('busy: 486 from the callee is relayed', async (t) => {
  const { core, inv } = ringing();
  const out = core.handle({ data: answer(inv, 486, { toTag: 'bt' }), source: PHONE_B }, T0 + 500);
  t.ok(
    reqs(out, PHONE_B).some((r) => r.method === 'ACK' && r.cseq.method === 'ACK'),
    'the transaction ACKs the 486',
  );
  t.same(
    resps(out, PHONE).map((r) => r.status),
    [486],
  );
  t.match(ended(out), [{ result: 'busy', status: 486 }]);
  t.equal(core.b2bua.activeCount, 0);
});

t.test('CANCEL before the answer: 200 + 487 to A, CANCEL to B after its 180', async (t) => {
  const { core, c, inv } = ringing();
  // B has not sent a provisional: the CANCEL waits (§9.1).
  const cancel = msg(`CANCEL sip:2002@voip.tic2023.com SIP/2.0`, [
    `Via: SIP/2.0/UDP 192.0.2.10:5062;branch=${c.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:2001@voip.tic2023.com>;tag=x`,
    `To: <sip:2002@voip.tic2023.com>`,
    `Call-ID: ${c.callId}`,
    'CSeq: 2 CANCEL',
  ]);
  const out = core.handle({ data: cancel, source: PHONE }, T0 + 300);
  t.same(
    resps(out, PHONE)
      .map((r) => `${r.status} ${r.cseq.method}`)
      .sort(),
    ['200 CANCEL', '487 INVITE'],
  );
  t.same(reqs(out, PHONE_B), [], 'no CANCEL before a provisional');
  t.match(ended(out), [{ result: 'cancelled' }]);
  const o180 = core.handle({ data: answer(inv, 180, { toTag: 'bt' }), source: PHONE_B }, T0 + 400);
  const cb = reqs(o180, PHONE_B).find((r) => r.method === 'CANCEL')!;
  t.ok(cb, 'CANCEL sent once B rang');
  t.equal(cb.via[0]!.branch, inv.via[0]!.branch, 'same branch as the INVITE');
  t.same(resps(o180, PHONE), [], 'nothing more to A');
  // B: 200 to CANCEL, 487 to INVITE (ACKed by the transaction)
  core.handle({ data: answer(cb, 200), source: PHONE_B }, T0 + 410);
  const o487 = core.handle({ data: answer(inv, 487, { toTag: 'bt' }), source: PHONE_B }, T0 + 420);
  t.ok(reqs(o487, PHONE_B).some((r) => r.method === 'ACK'));
});

t.test('ring timeout → CANCEL B, answer A, greeting, BYE when played', async (t) => {
  const { core, id, inv } = ringing();
  core.handle({ data: answer(inv, 180, { toTag: 'bt' }), source: PHONE_B }, T0 + 100);
  t.equal(core.nextTimeout()! <= T0 + 1 + 20_000, true);
  const out = core.handleTimeout(T0 + 1 + 20_000);
  t.ok(
    reqs(out, PHONE_B).some((r) => r.method === 'CANCEL'),
    'CANCEL to B',
  );
  const ok = resps(out, PHONE).find((r) => r.status === 200)!;
  t.ok(ok, 'A answered by us');
  const ans = parseSdp(ok.body);
  t.ok(
    ans.ok && /m=audio 30000 RTP\/AVP 0\r\n/.test(Buffer.from(ok.body).toString()),
    'PCMU at the relay a port',
  );
  const aDialog = {
    callId: ok.callId,
    local: getHeader(ok, 'from')!,
    remote: getHeader(ok, 'to')!,
    target: 'sip:2002@127.0.0.1:5060',
  };
  const ackOut = core.handle(
    { data: inDialog('ACK', aDialog, PHONE, 2), source: PHONE },
    T0 + 20_100,
  );
  t.same(media(ackOut), [{ op: 'play', id }], 'the greeting starts at the ACK');
  const done = core.playDone(id, T0 + 26_100);
  const bye = reqs(done, PHONE).find((r) => r.method === 'BYE')!;
  t.ok(bye, 'BYE to A after the prompt');
  t.match(ended(done), [{ result: 'noanswer' }]);
});

t.test('ring timeout with fallback hangup → 480', async (t) => {
  const { core, inv } = ringing({
    calls: {
      maxCalls: 10,
      greeting: true,
      dialplan: { ...DEFAULT_DIALPLAN, fallback: 'hangup', ringTimeoutS: 5 },
    },
  });
  core.handle({ data: answer(inv, 180, { toTag: 'bt' }), source: PHONE_B }, T0 + 100);
  const out = core.handleTimeout(T0 + 5001);
  t.same(
    resps(out, PHONE).map((r) => r.status),
    [480],
  );
  t.match(ended(out), [{ result: 'noanswer' }]);
});

t.test('re-INVITE from B passes to A with SDP rewritten; answer back to B', async (t) => {
  const { core, aDialog, bDialog } = answered();
  core.handle({ data: inDialog('ACK', aDialog, PHONE, 2), source: PHONE }, T0 + 2100);
  const out = core.handle(
    { data: inDialog('INVITE', bDialog, PHONE_B, 5, sdp('192.0.2.21', 50010)), source: PHONE_B },
    T0 + 5000,
  );
  t.same(
    resps(out, PHONE_B).map((r) => r.status),
    [100],
  );
  t.match(
    media(out),
    [{ op: 'remote', leg: 'b', remote: { address: '192.0.2.21', rtpPort: 50010 } }],
    'relay follows B',
  );
  const re = reqs(out, PHONE).find((r) => r.method === 'INVITE')!;
  t.equal(re.callId, aDialog.callId);
  t.equal(re.cseq.seq, 1, 'our first request on leg a');
  t.match(
    Buffer.from(re.body).toString(),
    /c=IN IP4 203\.0\.113\.1\r\n[\s\S]*m=audio 30000 /,
    'A still sends to its relay port',
  );
  // A answers 200 → we ACK A, 200 to B
  const o2 = core.handle(
    { data: answer(re, 200, { body: sdp('192.0.2.10', 40000) }), source: PHONE },
    T0 + 5100,
  );
  t.ok(
    reqs(o2, PHONE).some((r) => r.method === 'ACK' && r.cseq.seq === 1),
    'ACK to A',
  );
  const okB = resps(o2, PHONE_B).find((r) => r.status === 200)!;
  t.match(Buffer.from(okB.body).toString(), /m=audio 30002 /, 'B keeps its relay port');
  t.equal(okB.cseq.seq, 5);
  // B's ACK ends our retransmission
  t.same(
    sent(core.handle({ data: inDialog('ACK', bDialog, PHONE_B, 5), source: PHONE_B }, T0 + 5200)),
    [],
  );
  t.same(resps(core.handleTimeout(T0 + 8000), PHONE_B), []);
  // A second re-INVITE from A while one is pending gets 491
  core.handle(
    { data: inDialog('INVITE', aDialog, PHONE, 3, sdp('192.0.2.10', 40000)), source: PHONE },
    T0 + 9000,
  );
  const r491 = core.handle(
    { data: inDialog('INVITE', bDialog, PHONE_B, 6, sdp('192.0.2.21', 50010)), source: PHONE_B },
    T0 + 9001,
  );
  t.same(
    resps(r491, PHONE_B).map((r) => r.status),
    [491],
  );
});

t.test('UPDATE is passed through', async (t) => {
  const { core, aDialog } = answered();
  core.handle({ data: inDialog('ACK', aDialog, PHONE, 2), source: PHONE }, T0 + 2100);
  const out = core.handle(
    { data: inDialog('UPDATE', aDialog, PHONE, 3, sdp('192.0.2.10', 40002)), source: PHONE },
    T0 + 3000,
  );
  const up = reqs(out, PHONE_B).find((r) => r.method === 'UPDATE')!;
  t.equal(up.cseq.seq, 2);
  t.match(Buffer.from(up.body).toString(), /m=audio 30002 /);
  const o2 = core.handle(
    { data: answer(up, 200, { body: sdp('192.0.2.20', 50000) }), source: PHONE_B },
    T0 + 3100,
  );
  t.same(
    resps(o2, PHONE).map((r) => `${r.status} ${r.cseq.method}`),
    ['200 UPDATE'],
  );
});

t.test(
  'unknown extension 404, unregistered 480, wrong password 407 again, From mismatch 403, no SDP 488',
  async (t) => {
    const { core } = testCore({ qualifyIntervalMs: 1e12 }, USERS);
    t.same(
      resps(call(core, T0, { to: '9999' }).out, PHONE).map((r) => r.status),
      [404],
    );
    const r480 = call(core, T0, { to: '2003' }).out;
    t.same(
      resps(r480, PHONE).map((r) => r.status),
      [480],
    );
    t.match(ended(r480), [{ result: 'unavailable' }]);
    t.same(
      resps(call(core, T0, { password: 'nope' }).out, PHONE).map((r) => r.status),
      [407],
    );
    registerB(core);
    t.same(
      resps(call(core, T0, { body: '' }).out, PHONE).map((r) => r.status),
      [488],
    );
    t.equal(core.b2bua.activeCount, 0);
  },
);

t.test('echo extension 600 answers with the relay in echo mode', async (t) => {
  const { core } = testCore({ qualifyIntervalMs: 1e12 }, USERS);
  const c = call(core, T0, { to: '600' });
  const open = media(c.out).find((m) => m.op === 'open')!;
  t.match(open, { mode: 'echo' });
  const out = core.mediaOpened(
    open.id,
    { address: RELAY.address, a: RELAY.a, b: undefined },
    T0 + 5,
  );
  const ok = resps(out, PHONE).find((r) => r.status === 200)!;
  t.match(Buffer.from(ok.body).toString(), /m=audio 30000 RTP\/AVP 0 101/);
  t.match(Buffer.from(ok.body).toString(), /a=sendrecv/);
});

t.test('parallel forking: two contacts, the first 200 wins, the other is cancelled', async (t) => {
  const { core } = testCore({ qualifyIntervalMs: 1e12 }, USERS);
  const B2: Endpoint = { transport: 'udp', address: '192.0.2.22', port: 5066 };
  registerB(core);
  registerB(core, '2002', B2);
  const c = call(core, T0);
  const id = media(c.out).find((m) => m.op === 'open')!.id;
  const o = core.mediaOpened(id, RELAY, T0 + 1);
  const i1 = reqs(o, PHONE_B)[0]!;
  const i2 = reqs(o, B2)[0]!;
  t.ok(i1 && i2, 'INVITE to both contacts');
  t.equal(i1.callId, i2.callId);
  t.not(i1.via[0]!.branch, i2.via[0]!.branch);
  core.handle({ data: answer(i2, 180, { toTag: 't2' }), source: B2 }, T0 + 50);
  const out = core.handle(
    { data: answer(i1, 200, { toTag: 't1', body: sdp('192.0.2.20', 50000) }), source: PHONE_B },
    T0 + 100,
  );
  t.ok(
    reqs(out, B2).some((r) => r.method === 'CANCEL'),
    'the other branch is cancelled',
  );
  t.ok(resps(out, PHONE).some((r) => r.status === 200));
  // A late 200 from the cancelled branch is ACKed and BYEd (§13.2.2.4).
  const late = core.handle(
    { data: answer(i2, 200, { toTag: 't2', body: sdp('192.0.2.22', 50020) }), source: B2 },
    T0 + 150,
  );
  t.same(
    reqs(late, B2).map((r) => r.method),
    ['ACK', 'BYE'],
  );
});

t.test('no ACK for our 2xx: BYE both legs after 64*T1', async (t) => {
  const { core } = answered();
  const out = core.handleTimeout(T0 + 2000 + 32_000);
  t.ok(reqs(out, PHONE).some((r) => r.method === 'BYE'));
  t.ok(reqs(out, PHONE_B).some((r) => r.method === 'BYE'));
  t.match(ended(out), [{ result: 'failed' }]);
});

t.test('media timeout hangs up both legs', async (t) => {
  const { core, id, aDialog } = answered();
  core.handle({ data: inDialog('ACK', aDialog, PHONE, 2), source: PHONE }, T0 + 2100);
  const out = core.mediaEnded(id, 'media_timeout', T0 + 40_000);
  t.ok(reqs(out, PHONE).some((r) => r.method === 'BYE'));
  t.ok(reqs(out, PHONE_B).some((r) => r.method === 'BYE'));
  t.match(ended(out), [{ result: 'answered', reason: 'media_timeout' }]);
});

t.test('Timer B on the only branch → 480 to A', async (t) => {
  const { core } = ringing({
    calls: { maxCalls: 10, greeting: true, dialplan: { ...DEFAULT_DIALPLAN, ringTimeoutS: 60 } },
  });
  let out: CoreOutput[] = [];
  for (let at = T0 + 500; at <= T0 + 33_000; at += 500) out = out.concat(core.handleTimeout(at));
  t.same(
    [...new Set(resps(out, PHONE).map((r) => r.status))],
    [480],
    '480 (retransmitted by Timer G until ACKed)',
  );
  t.match(ended(out), [{ result: 'unavailable' }]);
});

t.test('max concurrent calls → 503; garbage in a dialog never throws', async (t) => {
  const { core } = ringing({ calls: { maxCalls: 1, greeting: true, dialplan: DEFAULT_DIALPLAN } });
  t.same(
    resps(call(core, T0 + 10).out, PHONE).map((r) => r.status),
    [503],
  );
  for (const m of ['BYE', 'INVITE', 'UPDATE', 'INFO', 'ACK']) {
    t.doesNotThrow(() =>
      core.handle(
        {
          data: inDialog(
            m,
            {
              callId: 'nope',
              local: '<sip:a@b>;tag=1',
              remote: '<sip:c@d>;tag=2',
              target: 'sip:x@y',
            },
            PHONE,
            1,
            'v=0\r\nbroken',
          ),
          source: PHONE,
        },
        T0 + 20,
      ),
    );
  }
});
