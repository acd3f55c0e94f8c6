import t from 'tap';
import { testCore, register, responses, authorize, sends, PHONE, T0 } from './testing.js';
import { getHeader, getHeaders } from './message.js';
import { paramValue } from './name-addr.js';
import { digestResponse, parseAuthorization } from './digest.js';

/** REGISTER → 401 → REGISTER with credentials; returns the final response. */
function registerWithAuth(
  core: ReturnType<typeof testCore>['core'],
  o: Parameters<typeof register>[0] & { password?: string; algorithm?: 'MD5' | 'SHA-256' } = {},
  now = T0,
) {
  const user = o.user ?? '2001';
  const c1 = responses(
    core.handle({ data: register({ ...o, cseq: o.cseq ?? 1 }), source: PHONE }, now),
  )[0]!;
  if (c1.status !== 401) return { challenge: c1, final: c1 };
  const auth = authorize(c1, o.authUser ?? user, o.password ?? `dev-${user}`, o.algorithm ?? 'MD5');
  const out = core.handle(
    { data: register({ ...o, cseq: (o.cseq ?? 1) + 1, authorization: auth }), source: PHONE },
    now,
  );
  return { challenge: c1, final: responses(out)[0]!, auth, out };
}

t.test('no credentials: 401 with SHA-256 then MD5 challenges, qop=auth', async (t) => {
  const { core } = testCore();
  const r = responses(core.handle({ data: register(), source: PHONE }, T0));
  t.equal(r.length, 1);
  t.equal(r[0]!.status, 401);
  const ch = getHeaders(r[0]!, 'www-authenticate').map((v) => parseAuthorization(v)!);
  t.same(
    ch.map((c) => c.params.get('algorithm')),
    ['SHA-256', 'MD5'],
    'RFC 8760 §2.4: most preferred first',
  );
  t.ok(ch.every((c) => c.params.get('qop') === 'auth' && c.params.get('realm') === 'asterisk'));
  t.ok(paramValue(r[0]!.to.params, 'tag'), 'To tag added');
});

t.test('MD5 and SHA-256 registrations succeed; binding committed before the 200', async (t) => {
  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    const { core, store } = testCore();
    const { final } = registerWithAuth(core, { algorithm });
    t.equal(final.status, 200, algorithm);
    t.match(
      getHeader(final, 'contact'),
      /^<sip:2001@192\.0\.2\.10:5062>;expires=120$/,
      'default expiry 120',
    );
    t.ok(getHeader(final, 'date')?.endsWith('GMT'), 'Date header');
    const rows = store.all();
    t.equal(rows.length, 1, 'row in SQLite when the 200 is returned');
    t.equal(rows[0]!.expiresAt, T0 + 120_000);
    t.equal(core.registrar.activeCount, 1);
  }
});

t.test('wrong password and unknown user are answered the same way', async (t) => {
  const { core } = testCore();
  const wrong = registerWithAuth(core, { password: 'nope' }).final;
  const unknown = registerWithAuth(core, { user: '9999', password: 'whatever' }).final;
  for (const r of [wrong, unknown]) {
    t.equal(r.status, 401);
    t.equal(getHeaders(r, 'www-authenticate').length, 2);
    t.notOk(/stale/.test(getHeader(r, 'www-authenticate')!), 'no stale flag');
  }
  t.equal(wrong.reason, unknown.reason);
});

t.test('expired nonce: 401 stale=true; replayed nonce refused', async (t) => {
  const { core } = testCore();
  const c1 = responses(core.handle({ data: register(), source: PHONE }, T0))[0]!;
  const auth = authorize(c1, '2001', 'dev-2001');
  const late = responses(
    core.handle({ data: register({ cseq: 2, authorization: auth }), source: PHONE }, T0 + 301_000),
  )[0]!;
  t.equal(late.status, 401);
  t.match(getHeader(late, 'www-authenticate'), /stale=true/);

  const ok = registerWithAuth(core, {}, T0 + 400_000);
  t.equal(ok.final.status, 200);
  // Same Authorization (same nonce, same nc) in a new transaction: a replay.
  const replay = responses(
    core.handle(
      { data: register({ cseq: 5, authorization: ok.auth! }), source: PHONE },
      T0 + 400_100,
    ),
  )[0]!;
  t.equal(replay.status, 401, 'replay refused');
  // A forged nonce (not ours) is refused.
  const forged = ok.auth!.replace(/nonce="[^"]+"/, 'nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"');
  t.equal(
    responses(
      core.handle(
        { data: register({ cseq: 6, authorization: forged }), source: PHONE },
        T0 + 400_200,
      ),
    )[0]!.status,
    401,
  );
  // A higher nc on the same nonce is legitimate (RFC 7616 §3.4).
  const c = responses(
    core.handle({ data: register({ cseq: 7 }), source: PHONE }, T0 + 400_300),
  )[0]!;
  const a1 = authorize(c, '2001', 'dev-2001', 'MD5', '00000001');
  t.equal(
    responses(
      core.handle({ data: register({ cseq: 8, authorization: a1 }), source: PHONE }, T0 + 400_300),
    )[0]!.status,
    200,
  );
  const a2 = authorize(c, '2001', 'dev-2001', 'MD5', '00000002');
  t.equal(
    responses(
      core.handle({ data: register({ cseq: 9, authorization: a2 }), source: PHONE }, T0 + 400_300),
    )[0]!.status,
    200,
  );
});

t.test('auth user must be the AOR user (403)', async (t) => {
  const { core } = testCore();
  const { final } = registerWithAuth(core, {
    user: '2002',
    authUser: '2001',
    password: 'dev-2001',
  });
  t.equal(final.status, 403);
});

t.test(
  'Expires: 423 below min with Min-Expires, clamp above max, contact param wins',
  async (t) => {
    const { core } = testCore();
    t.equal(registerWithAuth(core, { expires: '30' }).final.status, 423);
    t.equal(
      getHeader(registerWithAuth(core, { expires: '30', callId: 'x2' }).final, 'min-expires'),
      '60',
    );
    const big = registerWithAuth(core, { expires: '99999999999999999999999', callId: 'x3' }).final;
    t.equal(big.status, 200);
    t.match(getHeader(big, 'contact'), /expires=3600$/);
    const p = registerWithAuth(core, {
      contact: '<sip:2001@192.0.2.10:5062>;expires=600',
      expires: '3000',
      callId: 'x4',
    }).final;
    t.match(getHeader(p, 'contact'), /expires=600$/);
  },
);

t.test('several contacts, removal with expires=0, "*" with Expires 0, max contacts', async (t) => {
  const { core } = testCore();
  const two = registerWithAuth(core, {
    contact: ['<sip:2001@192.0.2.10:5062>', '<sip:2001@192.0.2.11:5062>;q=0.5'],
  }).final;
  t.equal(getHeaders(two, 'contact').length, 2);
  const third = registerWithAuth(core, {
    contact: '<sip:2001@192.0.2.12:5062>',
    callId: 'other',
  }).final;
  t.equal(getHeaders(third, 'contact').length, 3, 'bindings of other Call-IDs kept');
  const fourth = registerWithAuth(core, {
    contact: '<sip:2001@192.0.2.13:5062>',
    callId: 'fourth',
  }).final;
  t.equal(fourth.status, 503, 'maxContacts 3 (Kamailio max_contacts)');
  const rm = registerWithAuth(core, {
    contact: '<sip:2001@192.0.2.12:5062>;expires=0',
    callId: 'other',
    cseq: 10,
  }).final;
  t.equal(getHeaders(rm, 'contact').length, 2);
  const badStar = registerWithAuth(core, { contact: '*', callId: 'z', cseq: 20 }).final;
  t.equal(badStar.status, 400, '"*" without Expires: 0');
  const star = registerWithAuth(core, { contact: '*', expires: '0', callId: 'z', cseq: 20 }).final;
  t.equal(star.status, 200);
  t.equal(getHeaders(star, 'contact').length, 0);
  t.equal(core.registrar.activeCount, 0);
});

t.test('out-of-order CSeq on the same Call-ID fails', async (t) => {
  const { core } = testCore();
  t.equal(registerWithAuth(core, { cseq: 10 }).final.status, 200);
  t.equal(registerWithAuth(core, { cseq: 3 }).final.status, 400);
});

t.test('rport/received: response to the source; binding keeps the NAT address', async (t) => {
  const { core, store } = testCore();
  const nat = { transport: 'udp' as const, address: '203.0.113.5', port: 40000 };
  const c1 = core.handle({ data: register(), source: nat }, T0);
  const s = sends(c1)[0]!;
  t.same([s.dest.address, s.dest.port], ['203.0.113.5', 40000], 'RFC 3581: to received:rport');
  const via = responses(c1)[0]!.via[0]!;
  t.equal(paramValue(via.params, 'rport'), '40000');
  t.equal(paramValue(via.params, 'received'), '203.0.113.5');
  const auth = authorize(responses(c1)[0]!, '2001', 'dev-2001');
  core.handle({ data: register({ cseq: 2, authorization: auth }), source: nat }, T0);
  t.same([store.all()[0]!.sourceAddress, store.all()[0]!.sourcePort], ['203.0.113.5', 40000]);
  // Without rport: to the sent-by port at the received address (§18.2.2).
  const noRport = core.handle(
    { data: register({ via: 'SIP/2.0/UDP phone.example.com:5070;branch=z9hG4bKnr' }), source: nat },
    T0,
  );
  t.same([sends(noRport)[0]!.dest.address, sends(noRport)[0]!.dest.port], ['203.0.113.5', 5070]);
});

t.test('qualify marks reachable and unreachable', async (t) => {
  const { core } = testCore();
  registerWithAuth(core, { expires: '3600' });
  t.equal(core.registrar.activeCount, 1);
  // Qualify after 60 s: an OPTIONS goes to the source address.
  const q = core.handleTimeout(T0 + 60_000);
  const opt = sends(q)[0]!;
  t.match(Buffer.from(opt.data).toString(), /^OPTIONS sip:2001@192\.0\.2\.10:5062 SIP\/2\.0/);
  t.same([opt.dest.address, opt.dest.port], [PHONE.address, PHONE.port]);
  const text = Buffer.from(opt.data).toString('latin1');
  const branch = /branch=([^;\r\n]+)/.exec(text)![1]!;
  const callId = /Call-ID: (.*)\r/.exec(text)![1]!;
  const reply = `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch};rport=5060\r\nFrom: <sip:qualify@127.0.0.1>;tag=1\r\nTo: <sip:2001@192.0.2.10:5062>;tag=2\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  const r = core.handle({ data: Buffer.from(reply), source: PHONE }, T0 + 60_050);
  t.ok(
    r.some((o) => o.type === 'event' && o.event.type === 'reachable'),
    'reachable',
  );
  t.equal(core.qualify.reachableCount, 1);
  // Next probe unanswered: Timer F (32 s) → unreachable.
  let events: string[] = [];
  for (let now = T0 + 120_000; now <= T0 + 119_000 + 33_000; now += 500) {
    for (const o of core.handleTimeout(now)) if (o.type === 'event') events.push(o.event.type);
  }
  t.ok(events.includes('unreachable'), 'unreachable after Timer F');
  t.equal(core.qualify.reachableCount, 0);
  events = [];
});

t.test('expiry fires exactly at expiresAt, not before', async (t) => {
  const { core, store } = testCore({ qualifyIntervalMs: 10_000_000 });
  registerWithAuth(core, {});
  core.handleTimeout(T0 + 119_999);
  t.equal(core.registrar.activeCount, 1);
  const out = core.handleTimeout(T0 + 120_000);
  t.equal(core.registrar.activeCount, 0);
  t.equal(store.all().length, 0, 'deleted from SQLite');
  t.ok(out.some((o) => o.type === 'event' && o.event.type === 'unbound'));
});

t.test('bindings survive a restart (loaded from the store)', async (t) => {
  const { core, store } = testCore();
  registerWithAuth(core, {});
  const { SipCore } = await import('./sip-core.js');
  const { seededRng } = await import('./testing.js');
  const { opts } = testCore();
  const again = new SipCore(opts, seededRng(3));
  t.equal(again.start(T0 + 1000, store.all()).active, 1);
  const late = new SipCore(opts, seededRng(4)).start(T0 + 121_000, store.all());
  t.equal(late.active, 0, 'expired ones dropped on load');
  t.equal(late.expired.remove.length, 1, 'and handed back for deletion');
});

t.test(
  'To must be a SIP URI (416); malformed Authorization is 400; query without Contact',
  async (t) => {
    const { core } = testCore();
    const r = core.handle(
      {
        data: Buffer.from(
          register()
            .toString('latin1')
            .replace('To: <sip:2001@voip.tic2023.com>', 'To: <tel:+2001>'),
        ),
        source: PHONE,
      },
      T0,
    );
    t.equal(responses(r)[0]!.status, 416);
    t.equal(
      responses(
        core.handle({ data: register({ authorization: 'Digest ,,,' }), source: PHONE }, T0),
      )[0]!.status,
      400,
    );
    registerWithAuth(core, {});
    const q = registerWithAuth(core, { contact: [], callId: 'q', cseq: 50 }).final;
    t.equal(q.status, 200);
    t.equal(getHeaders(q, 'contact').length, 1, 'query lists bindings');
  },
);

t.test(
  'a failed binding commit: 500, memory rolled back, retransmission not answered 200',
  async (t) => {
    const { core, store } = testCore();
    const c1 = responses(core.handle({ data: register({ cseq: 1 }), source: PHONE }, T0))[0]!;
    const auth = authorize(c1, '2001', 'dev-2001', 'MD5');
    const req = register({ cseq: 2, authorization: auth, branch: 'z9hG4bKfail1' });
    store.failNext = 1;
    const first = responses(core.handle({ data: req, source: PHONE }, T0));
    t.same(
      first.map((r) => r.status),
      [500],
      'nothing is answered 200 that is not on disk',
    );
    t.equal(getHeader(first[0]!, 'retry-after'), '5');
    t.equal(store.all().length, 0, 'nothing on disk');
    t.equal(core.registrar.activeCount, 0, 'memory is not ahead of disk');
    t.same(core.registrar.lookup('2001'), [], 'no route to an unstored binding');
    t.equal(core.heldCount, 0);
    // The phone retransmits the same request (same branch): the transaction repeats the 500.
    const again = responses(core.handle({ data: req, source: PHONE }, T0 + 500));
    t.same(
      again.map((r) => r.status),
      [500],
      'the retransmission gets the 500, never a cached 200',
    );
    // The disk recovers: the next REGISTER (new transaction) is stored and answered 200.
    const { final } = registerWithAuth(core, { cseq: 3 }, T0 + 6000);
    t.equal(final.status, 200);
    t.equal(store.all().length, 1);
    t.equal(core.registrar.activeCount, 1);
  },
);

t.test('a failed commit of a refresh puts the old binding back', async (t) => {
  const { core, store } = testCore();
  t.equal(registerWithAuth(core, { cseq: 1 }).final.status, 200);
  const before = store.all()[0]!;
  store.failNext = 1;
  const r = registerWithAuth(core, { cseq: 3, expires: '600' }, T0 + 10_000);
  t.equal(r.final.status, 500);
  t.same(core.registrar.lookup('2001'), [before], 'memory equals disk again');
  store.failNext = 1;
  const rm = registerWithAuth(core, { cseq: 5, expires: '0' }, T0 + 20_000);
  t.equal(rm.final.status, 500, 'an unregister that did not reach disk fails too');
  t.same(core.registrar.lookup('2001'), [before], 'and the binding stays');
});

t.test('one challenge per 401 by default; per-extension algorithms; no downgrade', async (t) => {
  const { core } = testCore({
    registrar: {
      realm: 'asterisk',
      algorithms: ['MD5', 'SHA-256'],
      challenges: 'first',
      userAlgorithms: new Map([['2002', ['SHA-256'] as const]]),
      defaultExpires: 120,
      minExpires: 60,
      maxExpires: 3600,
      maxContacts: 3,
      users: new Map([
        ['2001', 'dev-2001'],
        ['2002', 'dev-2002'],
      ]),
    },
  });
  const algs = (user: string) => {
    const r = responses(
      core.handle({ data: register({ user, callId: `c-${user}` }), source: PHONE }, T0),
    )[0]!;
    t.equal(r.status, 401);
    return {
      r,
      list: getHeaders(r, 'www-authenticate').map((v) =>
        parseAuthorization(v)!.params.get('algorithm'),
      ),
    };
  };
  t.same(algs('2001').list, ['MD5'], 'one challenge, MD5, for a default extension (baresip, sipp)');
  t.same(algs('9999').list, ['MD5'], 'an unknown user gets the default one');
  const sha = algs('2002');
  t.same(sha.list, ['SHA-256'], 'an extension moved to SHA-256 is challenged with it alone');
  // That extension cannot be talked into MD5 (RFC 8760 §3 downgrade).
  const nonce = parseAuthorization(getHeader(sha.r, 'www-authenticate')!)!.params.get('nonce')!;
  const md5Auth = `Digest username="2002", realm="asterisk", nonce="${nonce}", uri="sip:voip.tic2023.com", response="${digestResponse(
    {
      algorithm: 'MD5',
      username: '2002',
      realm: 'asterisk',
      password: 'dev-2002',
      method: 'REGISTER',
      uri: 'sip:voip.tic2023.com',
      nonce,
      nc: '00000001',
      cnonce: 'c0ffee',
      qop: 'auth',
    },
  )}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`;
  const down = responses(
    core.handle(
      {
        data: register({ user: '2002', callId: 'c-2002', cseq: 2, authorization: md5Auth }),
        source: PHONE,
      },
      T0,
    ),
  )[0]!;
  t.equal(down.status, 401, 'MD5 credentials refused for a SHA-256 extension');
  const { final } = registerWithAuth(core, {
    user: '2002',
    callId: 'c-2002b',
    algorithm: 'SHA-256',
  });
  t.equal(final.status, 200, 'SHA-256 registers');
  t.equal(
    registerWithAuth(core, { user: '2001', callId: 'c-2001b' }).final.status,
    200,
    'MD5 registers',
  );
});

t.test('a nonce answers only from the address it was sent to (no spoofed failures)', async (t) => {
  const { core } = testCore();
  const c1 = responses(core.handle({ data: register({ cseq: 1 }), source: PHONE }, T0))[0]!;
  t.equal(c1.status, 401);
  const auth = authorize(c1, '2001', 'dev-2001', 'MD5');
  const spoofer = { ...PHONE, address: '198.51.100.66' };
  const moved = responses(
    core.handle({ data: register({ cseq: 2, authorization: auth }), source: spoofer }, T0),
  )[0]!;
  t.equal(moved.status, 401, 'the right digest over a nonce sent elsewhere is not accepted');
  t.equal(core.registrar.activeCount, 0);
  // Wrong digests from another address over the phone's nonce are not checked guesses:
  // they cannot ban the phone's (extension, address) pair.
  for (let i = 0; i < 20; i++) {
    const bad = authorize(c1, '2001', `guess-${i}`, 'MD5');
    core.handle({ data: register({ cseq: 3 + i, authorization: bad }), source: spoofer }, T0);
  }
  const ok = responses(
    core.handle({ data: register({ cseq: 30, authorization: auth }), source: PHONE }, T0),
  )[0]!;
  t.equal(ok.status, 200, 'the phone, from its own address, still registers');
});
