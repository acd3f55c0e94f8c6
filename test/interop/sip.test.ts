/**
 * SIP registrar interop: the built CLI (`node dist/src/main.js sip --config config/dev`,
 * run `npm run build` first; `npm run test:interop` does) against sipp (Debian
 * `sip-tester`, peers.md §7).
 *
 * - sipp registers 2001 and 2002 over UDP, and 2003 over TCP, with digest auth (the
 *   `[authentication]` keyword with -au/-ap, one user per run: peers.md pitfall 11);
 * - a wrong password is refused (the second REGISTER gets 401 again and sipp fails the call);
 * - a replayed nonce is refused. sipp cannot replay (it increments nc on every reuse of a
 *   challenge, which RFC 7616 allows), so a small UDP client sends the exact Authorization
 *   of an accepted REGISTER again in a new transaction and expects 401;
 * - a SHA-256 digest (RFC 8760) from the same client is accepted;
 * - afterwards the server still answers OPTIONS, and the registrations are in SQLite.
 *
 * sipp 3.6.1 reads only the first WWW-Authenticate and knows only MD5 ("createAuthHeader:
 * authentication must use MD5 or AKAv1-MD5"). The server runs here with
 * NETSVC_SIP__AUTH__CHALLENGES=all (MD5 first, then SHA-256) so that the SHA-256 step has a
 * challenge to answer; the default single challenge is covered by sip-baresip.test.ts.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { freePorts } from '../../src/testing/daemon.js';
import { REG_SCENARIO, sippRunner, startSipServer } from './sip-call-helpers.js';
import { decode, getHeaders, type SipResponse } from '../../services/sip/message.js';
import {
  digestResponse,
  parseAuthorization,
  type DigestAlgorithm,
} from '../../services/sip/digest.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hasSipp = (() => {
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // sipp -v exits 99 but exists
  }
})();

if (!hasSipp || !existsSync(join(root, 'dist/src/main.js'))) {
  // CI installs sipp and builds dist/ (.ci/run): there a missing one is a failure, not a skip.
  if (process.env.CI) t.fail('sipp (apt sip-tester) or dist/ missing in CI');
  else t.plan(0, 'sipp (apt sip-tester) or dist/ missing: skipped');
} else {
  const work = mkdtempSync(join(tmpdir(), 'netsvc-sip-interop-'));
  const [port, p1, p2, p3, p4] = await freePorts(5);
  const server = await startSipServer(port!, work, t, { NETSVC_SIP__AUTH__CHALLENGES: 'all' });
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const { register: sipp, stopAll } = sippRunner(`127.0.0.1:${port}`, work);
  t.teardown(stopAll);

  t.test('sipp registers 2001 and 2002 (UDP) and 2003 (TCP) with digest auth', async (t) => {
    t.equal((await sipp('2001', p1!, 'dev-2001')).code, 0, '2001');
    t.equal((await sipp('2002', p2!, 'dev-2002')).code, 0, '2002');
    t.equal((await sipp('2003', p3!, 'dev-2003', 't1')).code, 0, '2003 over TCP');
  });

  t.test('a wrong password is refused', async (t) => {
    const r = await sipp('2004', p4!, 'wrong');
    t.not(r.code, 0, 'sipp fails the call (401 instead of 200)');
    t.match(server.output(), /"user":"2004","reason":"credentials"/);
  });

  t.test('a replayed nonce is refused; SHA-256 works', async (t) => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const local = sock.address().port;
    let n = 0;
    const send = (cseq: number, auth?: string): Promise<SipResponse> =>
      new Promise((resolve, reject) => {
        const msg =
          `REGISTER sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKreplay${++n};rport\r\n` +
          `Max-Forwards: 70\r\nFrom: <sip:2004@127.0.0.1>;tag=r1\r\nTo: <sip:2004@127.0.0.1>\r\nCall-ID: replay-1\r\nCSeq: ${cseq} REGISTER\r\n` +
          `Contact: <sip:2004@127.0.0.1:${local}>\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Content-Length: 0\r\n\r\n`;
        const timer = setTimeout(() => reject(new Error('no answer')), 3000);
        sock.once('message', (data) => {
          clearTimeout(timer);
          const d = decode(data);
          if (d.ok && d.message.type === 'response') resolve(d.message);
          else reject(new Error('bad answer'));
        });
        sock.send(msg, port!, '127.0.0.1');
      });
    const answer = (ch: SipResponse, algorithm: DigestAlgorithm): string => {
      const c = getHeaders(ch, 'www-authenticate')
        .map((v) => parseAuthorization(v)!)
        .find((x) => x.params.get('algorithm') === algorithm)!;
      const nonce = c.params.get('nonce')!;
      const uri = `sip:127.0.0.1:${port}`;
      const response = digestResponse({
        algorithm,
        username: '2004',
        realm: 'asterisk',
        password: 'dev-2004',
        method: 'REGISTER',
        uri,
        nonce,
        nc: '00000001',
        cnonce: 'abc',
        qop: 'auth',
      });
      return `Digest username="2004", realm="asterisk", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=00000001, cnonce="abc"`;
    };
    const c1 = await send(1);
    t.equal(c1.status, 401);
    const auth = answer(c1, 'MD5');
    t.equal((await send(2, auth)).status, 200, 'MD5 accepted');
    const replay = await send(3, auth);
    t.equal(replay.status, 401, 'same nonce + nc again: refused');
    const c2 = await send(4);
    t.equal((await send(5, answer(c2, 'SHA-256'))).status, 200, 'SHA-256 accepted');
    sock.close();
  });

  t.test('still serving; bindings are in SQLite', async (t) => {
    const db = new Database(join(work, 'data', 'sip.sqlite'), { readonly: true });
    const aors = (
      db.prepare('SELECT DISTINCT aor FROM binding ORDER BY aor').all() as { aor: string }[]
    ).map((r) => r.aor);
    db.close();
    t.same(aors, ['2001', '2002', '2003', '2004']);
    t.ok(server.running());
  });
}
