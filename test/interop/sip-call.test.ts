/**
 * SIP call interop (issue 6, calls): the built CLI (`node dist/src/main.js sip --config
 * config/dev`) as a B2BUA between two sipp instances (Debian `sip-tester`, peers.md §7),
 * with the media checked by two small Node RTP endpoints.
 *
 * - 2001 and 2002 register with digest auth (reg-auth.xml, -au/-ap: pitfall 11);
 * - a sipp UAS on 2002's registered port answers (180, 200 with SDP), a sipp UAC as 2001
 *   calls 2002: INVITE → 407 → ACK → INVITE with Proxy-Authorization → 180 → 200 → ACK,
 *   12 s of call, BYE → 200 (the UAC follows the route set/Contact, pitfall 12: `rrs` +
 *   `[next_url]`). Each sipp writes the relay port it was given (SDP m= line) to a file;
 * - two Node UDP sockets, bound on the RTP ports the sipp SDPs announce, send 20 ms PCMU
 *   packets to those relay ports for 10.5 s each way and check every packet that arrives
 *   (payload intact, sequence complete). sipp's own RTP (rtp_echo / pcap play) is not used:
 *   Node endpoints let the test check each packet, and do not depend on sipp's pcap build;
 * - the daemon's `sip call ended` log line carries the relay's per-direction QoS report:
 *   0 % loss both ways;
 * - a call to 2003 (not registered) gets 480; to 2999 (no such extension) 404.
 *
 * sipp 3.6.1 only does MD5 and reads the first challenge: the server runs with
 * NETSVC_SIP__AUTH__ALGORITHMS=[MD5, SHA-256] (as sip.test.ts). Replayed nonces: sip.test.ts.
 */
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemon, cleanEnv, freePorts } from '../../src/testing/daemon.js';
import { encodeRtp, decodeRtpHeader } from '../../services/sip/rtp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const regScenario = join(root, 'services/sip/testdata/sipp/reg-auth.xml');
const hasSipp = (() => {
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // sipp -v exits 99 but exists
  }
})();

const CALL_MS = 12_000;
const SEND_MS = 10_500;

/** UAC: 2001 calls `callee`; `final` is the expected final answer (200 → full call). */
function uacXml(callee: string, rtpPort: number, portFile: string, final: number): string {
  const sdp = `v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio ${rtpPort} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
`;
  const invite = (cseq: number, auth: boolean): string => `  <send retrans="500"><![CDATA[
      INVITE sip:${callee}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${callee}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: ${cseq} INVITE
      Contact: <sip:2001@[local_ip]:[local_port]>
      Max-Forwards: 70
${auth ? '      [authentication]\n' : ''}      Content-Type: application/sdp
      Content-Length: [len]

${sdp}
  ]]></send>`;
  const ack = (cseq: number, uri: string): string => `  <send><![CDATA[
      ACK ${uri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${callee}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>`;
  const non2xxAck = `  <send><![CDATA[
      ACK sip:${callee}@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:2001@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${callee}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>`;
  const body =
    final === 200
      ? `  <recv response="200" rtd="true" rrs="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="all,port"/>
      <exec command="echo port=[$port] > ${portFile}"/>
    </action>
  </recv>
${ack(2, '[next_url]')}
  <pause milliseconds="${CALL_MS}"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${callee}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200" crlf="true"/>`
      : `  <recv response="${final}" rtd="true"/>
${non2xxAck}`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac ${callee}">
${invite(1, false)}
  <recv response="407" auth="true"/>
  <send><![CDATA[
      ACK sip:${callee}@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:2001@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${callee}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
${invite(2, true)}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
${body}
${final === 200 ? '  <Reference variables="all"/>\n' : ''}</scenario>
`;
}

/** UAS: 2002 answers (180, 200 with SDP), takes the ACK and the BYE (pitfall 12: Record-Route copied). */
function uasXml(rtpPort: number, portFile: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas 2002">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="all,port"/>
      <exec command="echo port=[$port] > ${portFile}"/>
    </action>
  </recv>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:2002@[local_ip]:[local_port]>
      Content-Length: 0
  ]]></send>
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:2002@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

v=0
o=user2 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio ${rtpPort} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20

  ]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <Reference variables="all"/>
</scenario>
`;
}

interface Endpoint {
  readonly sock: Socket;
  readonly received: Map<number, boolean>;
  readonly badPayload: { n: number };
  readonly from: Set<string>;
}

const payloadFor = (ssrc: number, seq: number): Uint8Array =>
  new Uint8Array(160).fill((ssrc + seq) & 0x7f);

async function rtpEndpoint(port: number, peerSsrc: number): Promise<Endpoint> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(port, '127.0.0.1', () => r()));
  const ep: Endpoint = { sock, received: new Map(), badPayload: { n: 0 }, from: new Set() };
  sock.on('message', (m, rinfo) => {
    const h = decodeRtpHeader(m);
    if (!h.ok || h.header.ssrc !== peerSsrc) return;
    const want = payloadFor(peerSsrc, h.header.sequenceNumber);
    const got = m.subarray(m.length - 160);
    ep.received.set(h.header.sequenceNumber, Buffer.compare(Buffer.from(want), got) === 0);
    if (Buffer.compare(Buffer.from(want), got) !== 0) ep.badPayload.n++;
    ep.from.add(`${rinfo.address}:${rinfo.port}`);
  });
  return ep;
}

/** Send 20 ms PCMU packets to `dest` for `ms`; resolves with the number sent. */
async function stream(ep: Endpoint, destPort: number, ssrc: number, ms: number): Promise<number> {
  const count = Math.round(ms / 20);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const pkt = encodeRtp(
      { marker: i === 0, payloadType: 0, sequenceNumber: i, timestamp: i * 160, ssrc },
      payloadFor(ssrc, i),
    );
    ep.sock.send(pkt, destPort, '127.0.0.1');
    const next = start + (i + 1) * 20;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return count;
}

async function waitFile(file: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(file)) {
      const v = Number(/port=(\d+)/.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
      if (v > 0) return v;
    }
    await sleep(20);
  }
  throw new Error(`${file} not written`);
}

t.setTimeout(120_000);

if (!hasSipp || !existsSync(join(root, 'dist/src/main.js'))) {
  t.pass('sipp (apt sip-tester) or dist/ missing: skipped');
} else {
  const work = mkdtempSync(join(tmpdir(), 'netsvc-sip-call-'));
  const [port, pA, pB, rtpA, rtpB, pC] = await freePorts(6);
  const server = await startDaemon({
    name: 'netsvc-sip',
    command: process.execPath,
    args: ['dist/src/main.js', 'sip', '--config', 'config/dev'],
    cwd: root,
    env: cleanEnv({
      NETSVC_DATA_DIR: join(work, 'data'),
      NETSVC_ADMIN__PORT: '0',
      NETSVC_LOG__FORMAT: 'json',
      NETSVC_SIP__LISTEN__0__PORT: String(port),
      NETSVC_SIP__AUTH__ALGORITHMS: '[MD5, SHA-256]',
    }),
    ready: { log: /"msg":"ready"/ },
    teardown: t,
  });
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const sipp = (
    args: string[],
    user: string,
    password: string,
    timeoutS = 30,
  ): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      execFile(
        'timeout',
        [
          String(timeoutS),
          'sipp',
          `127.0.0.1:${port}`,
          ...args,
          '-au',
          user,
          '-ap',
          password,
          '-i',
          '127.0.0.1',
          '-m',
          '1',
          '-nostdin',
          '-timeout',
          `${timeoutS - 5}s`,
          '-timeout_error',
          '-trace_err',
          '-error_file',
          join(work, `err-${user}-${args.includes('-sn') ? 'uas' : 'x'}.log`),
        ],
        { cwd: work },
        (e, stdout, stderr) =>
          resolve({
            code: e ? Number((e as { code?: number }).code ?? 1) : 0,
            out: stdout + stderr,
          }),
      );
    });
  const register = (user: string, localPort: number): Promise<{ code: number; out: string }> => {
    const csv = join(work, `users-${user}.csv`);
    writeFileSync(csv, `SEQUENTIAL\n${user}\n`);
    return sipp(
      ['-sf', regScenario, '-inf', csv, '-p', String(localPort)],
      user,
      `dev-${user}`,
      20,
    );
  };
  const errLog = (name: string): string => {
    const f = join(work, name);
    return existsSync(f) ? readFileSync(f, 'utf8').slice(-3000) : '';
  };

  t.test('2001 and 2002 register', async (t) => {
    t.equal((await register('2001', pA!)).code, 0, '2001');
    t.equal((await register('2002', pB!)).code, 0, '2002');
  });

  t.test(
    '2001 calls 2002 through the B2BUA; RTP both ways through the relay for 10 s; BYE',
    async (t) => {
      const uasFile = join(work, 'uas-relay-port');
      const uacFile = join(work, 'uac-relay-port');
      writeFileSync(join(work, 'uas.xml'), uasXml(rtpB!, uasFile));
      writeFileSync(join(work, 'uac.xml'), uacXml('2002', rtpA!, uacFile, 200));
      const A_SSRC = 0x1111;
      const B_SSRC = 0x2222;
      const a = await rtpEndpoint(rtpA!, B_SSRC);
      const b = await rtpEndpoint(rtpB!, A_SSRC);
      const uas = sipp(['-sf', join(work, 'uas.xml'), '-p', String(pB)], '2002', 'dev-2002', 40);
      await sleep(300);
      const uac = sipp(['-sf', join(work, 'uac.xml'), '-p', String(pA)], '2001', 'dev-2001', 40);
      let relayA = 0;
      let relayB = 0;
      try {
        [relayA, relayB] = await Promise.all([
          waitFile(uacFile, 10_000),
          waitFile(uasFile, 10_000),
        ]);
      } catch (e) {
        const [rc, rs] = await Promise.all([uac, uas]);
        t.fail(
          `${(e as Error).message}\nUAC ${rc.out.slice(-1500)} ${errLog('err-2001-x.log')}\nUAS ${rs.out.slice(-1500)} ${errLog('err-2002-uas.log')}\nSERVER ${server.output().slice(-4000)}`,
        );
        return;
      }
      t.ok(
        relayA >= 30000 && relayA <= 30999 && relayB >= 30000 && relayB <= 30999,
        `relay ports ${relayA} (caller) / ${relayB} (callee) from the dev range`,
      );
      t.not(relayA, rtpB, "the caller is not told the callee's own port");
      // Mid-call, the admin listener's /state/sip (the monitor's and `netsvc calls`' source)
      // lists the call with live relay figures and both registrations.
      const midCall = (async (): Promise<{ registrations: unknown[]; calls: { packets: number; lossPercent: number }[] } | undefined> => {
        await sleep(5000);
        const m = /"admin":(\d+)/.exec(server.output());
        if (!m) return undefined;
        return (await (await fetch(`http://127.0.0.1:${m[1]}/state/sip`)).json()) as never;
      })();
      const [sentA, sentB, st] = await Promise.all([
        stream(a, relayA, A_SSRC, SEND_MS),
        stream(b, relayB, B_SSRC, SEND_MS),
        midCall,
      ]);
      t.equal(st?.calls.length, 1, '/state/sip lists the call in progress');
      t.ok((st?.calls[0]?.packets ?? 0) > 100, `live relay packets ${st?.calls[0]?.packets}, loss ${st?.calls[0]?.lossPercent} %`);
      t.ok((st?.registrations.length ?? 0) >= 2, '/state/sip lists the registrations');
      await sleep(200);
      const [rc, rs] = await Promise.all([uac, uas]);
      t.equal(rc.code, 0, `sipp UAC completed the call ${rc.code ? errLog('err-2001-x.log') : ''}`);
      t.equal(
        rs.code,
        0,
        `sipp UAS completed the call ${rs.code ? errLog('err-2002-uas.log') : ''}`,
      );
      t.equal(b.received.size, sentA, `callee got all ${sentA} packets of the caller`);
      t.equal(a.received.size, sentB, `caller got all ${sentB} packets of the callee`);
      t.equal(a.badPayload.n + b.badPayload.n, 0, 'payloads intact');
      t.same(
        [...a.from],
        [`127.0.0.1:${relayA}`],
        'the caller hears from its relay port (symmetric RTP)',
      );
      t.same([...b.from], [`127.0.0.1:${relayB}`], 'the callee hears from its relay port');
      a.sock.close();
      b.sock.close();

      await sleep(200);
      const line = server
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"sip call ended"') && l.includes('"result":"answered"'))
        .pop();
      t.ok(line, 'call logged');
      const ev = JSON.parse(line!) as {
        durationMs: number;
        qos: { fromCaller: Record<string, number>; fromCallee: Record<string, number> };
      };
      t.comment(
        `QoS fromCaller ${JSON.stringify(ev.qos.fromCaller)} fromCallee ${JSON.stringify(ev.qos.fromCallee)} durationMs ${ev.durationMs}`,
      );
      t.equal(ev.qos.fromCaller.packets, sentA, 'relay counted every caller packet');
      t.equal(ev.qos.fromCallee.packets, sentB, 'relay counted every callee packet');
      t.equal(ev.qos.fromCaller.lost, 0, '0 lost from the caller');
      t.equal(ev.qos.fromCallee.lost, 0, '0 lost from the callee');
      t.equal(ev.qos.fromCaller.lossPercent, 0, '0 % loss (caller → callee)');
      t.equal(ev.qos.fromCallee.lossPercent, 0, '0 % loss (callee → caller)');
      t.ok(
        Math.abs(ev.qos.fromCaller.meanDeltaMs! - 20) < 2,
        `mean delta ${ev.qos.fromCaller.meanDeltaMs} ms ≈ 20`,
      );
      t.ok(ev.durationMs >= CALL_MS, 'call lasted until the BYE');
    },
  );

  t.test('a call to an unregistered extension gets 480, an unknown one 404', async (t) => {
    writeFileSync(join(work, 'uac-480.xml'), uacXml('2003', rtpA!, join(work, 'unused'), 480));
    writeFileSync(join(work, 'uac-404.xml'), uacXml('2999', rtpA!, join(work, 'unused'), 404));
    const r480 = await sipp(
      ['-sf', join(work, 'uac-480.xml'), '-p', String(pC)],
      '2001',
      'dev-2001',
      20,
    );
    t.equal(
      r480.code,
      0,
      `480 Temporarily Unavailable ${r480.code ? errLog('err-2001-x.log') : ''}`,
    );
    const r404 = await sipp(
      ['-sf', join(work, 'uac-404.xml'), '-p', String(pC)],
      '2001',
      'dev-2001',
      20,
    );
    t.equal(r404.code, 0, '404 Not Found');
    t.match(server.output(), /"callee":"2003","result":"unavailable"/);
    t.ok(server.running());
  });
}
