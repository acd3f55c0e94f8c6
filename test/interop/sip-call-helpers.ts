/**
 * Shared pieces of the SIP call interop tests (sip-call.test.ts, monitor-browser.test.ts):
 * the sipp scenarios of a call from 2001 (UAC) to another extension and of 2002 answering
 * (UAS), a sipp runner bounded by `timeout` that can stop what it started, and the small
 * Node RTP endpoints that stream 20 ms PCMU through the relay and check every packet.
 *
 * sipp 3.6.1 only does MD5 and reads the first challenge: the server under test must offer
 * `auth.algorithms: [MD5, SHA-256]` (e.g. NETSVC_SIP__AUTH__ALGORITHMS='[MD5, SHA-256]').
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRtp, decodeRtpHeader } from '../../services/sip/rtp.js';
import { startDaemon, cleanEnv, type Daemon } from '../../src/testing/daemon.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** REGISTER with digest auth (user from an -inf csv, password from -au/-ap). */
export const REG_SCENARIO = join(root, 'services/sip/testdata/sipp/reg-auth.xml');

/** Whether sipp (Debian `sip-tester`) is installed. */
export function hasSipp(): boolean {
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // sipp -v exits 99 but exists
  }
}

/** A PCMU-only offer or answer with sipp's address keywords, media on `rtpPort`. */
function pcmuSdp(user: string, rtpPort: number): string {
  return `v=0
o=${user} 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio ${rtpPort} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
`;
}

/**
 * UAC: `caller` (default 2001) calls `callee`; `final` is the expected final answer (200 →
 * full call: ACK, `callMs` of call, BYE). On the 200 the relay port and address of the
 * answer's SDP are written to `portFile` as `port=N addr=A`. Shared with the topology test.
 */
export function uacXml(
  callee: string,
  rtpPort: number,
  portFile: string,
  final: number,
  callMs = 12_000,
  caller = '2001',
): string {
  const sdp = pcmuSdp('user1', rtpPort);
  const from = `From: <sip:${caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]`;
  const to = `To: <sip:${callee}@[remote_ip]>`;
  const invite = (cseq: number, auth: boolean): string => `  <send retrans="500"><![CDATA[
      INVITE sip:${callee}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      ${from}
      ${to}
      Call-ID: [call_id]
      CSeq: ${cseq} INVITE
      Contact: <sip:${caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
${auth ? '      [authentication]\n' : ''}      Content-Type: application/sdp
      Content-Length: [len]

${sdp}
  ]]></send>`;
  const inDialog = (
    method: string,
    cseq: number,
    uri: string,
    retrans = false,
  ): string => `  <send${retrans ? ' retrans="500"' : ''}><![CDATA[
      ${method} ${uri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      ${from}
      ${to}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>`;
  // The ACK of a non-2xx answer belongs to the INVITE's transaction: same Via.
  const non2xxAck = (cseq: number): string => `  <send><![CDATA[
      ACK sip:${callee}@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      ${from}
      ${to}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>`;
  const body =
    final === 200
      ? `  <recv response="200" rtd="true" rrs="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="mall,port"/>
      <ereg regexp="c=IN IP4 ([0-9.]+)" search_in="body" check_it="true" assign_to="call,addr"/>
      <exec command="echo port=[$port] addr=[$addr] > ${portFile}"/>
    </action>
  </recv>
${inDialog('ACK', 2, '[next_url]')}
  <pause milliseconds="${callMs}"/>
${inDialog('BYE', 3, '[next_url]', true)}
  <recv response="200" crlf="true"/>`
      : `  <recv response="${final}" rtd="true"/>
${non2xxAck(2)}`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac ${caller} calls ${callee}">
${invite(1, false)}
  <recv response="407" auth="true"/>
${non2xxAck(1)}
${invite(2, true)}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
${body}
${final === 200 ? '  <Reference variables="mall,call"/>\n' : ''}</scenario>
`;
}

/**
 * UAS: `callee` (default 2002) answers (180, 200 with SDP), takes the ACK and the BYE
 * (pitfall 12: Record-Route copied). The relay port and address of the offer's SDP are
 * written to `portFile` as `port=N addr=A`. Shared with the topology test.
 */
export function uasXml(rtpPort: number, portFile: string, callee = '2002'): string {
  const reply = (
    status: string,
    sdp: string,
  ): string => `  <send${sdp ? ' retrans="500"' : ''}><![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:${callee}@[local_ip]:[local_port]>
${
  sdp
    ? `      Content-Type: application/sdp
      Content-Length: [len]

${sdp}`
    : '      Content-Length: 0\n'
}  ]]></send>`;
  const sdp = pcmuSdp('user2', rtpPort) + '\n';
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas ${callee}">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="mall,port"/>
      <ereg regexp="c=IN IP4 ([0-9.]+)" search_in="body" check_it="true" assign_to="call,addr"/>
      <exec command="echo port=[$port] addr=[$addr] > ${portFile}"/>
    </action>
  </recv>
${reply('180 Ringing', '')}
  <pause milliseconds="300"/>
${reply('200 OK', sdp)}
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
  <Reference variables="mall,call"/>
</scenario>
`;
}

export interface SippResult {
  readonly code: number;
  readonly out: string;
}

export interface SippRunner {
  /** One sipp run (`-m 1`) against the server, bounded by `timeout timeoutS`. */
  run(args: string[], user: string, password: string, timeoutS?: number): Promise<SippResult>;
  /**
   * Register `user` from `localPort` with reg-auth.xml; the password defaults to
   * `dev-<user>`, the transport to UDP (`t1`: TCP).
   */
  register(
    user: string,
    localPort: number,
    password?: string,
    transport?: 'u1' | 't1',
  ): Promise<SippResult>;
  /** The tail of a sipp error file in the work dir (`err-<user>-uas.log` / `err-<user>-x.log`). */
  errLog(name: string): string;
  /** SIGTERM every sipp still running (timeout(1) passes it on to sipp). */
  stopAll(): void;
}

/** A sipp runner against `server` (host:port), writing its files in `work`. */
export function sippRunner(server: string, work: string): SippRunner {
  const children = new Set<ChildProcess>();
  const run = (
    args: string[],
    user: string,
    password: string,
    timeoutS = 30,
  ): Promise<SippResult> =>
    new Promise((resolve) => {
      const child = execFile(
        'timeout',
        [
          String(timeoutS),
          'sipp',
          server,
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
        (e, stdout, stderr) => {
          children.delete(child);
          resolve({
            code: e ? Number((e as { code?: number }).code ?? 1) : 0,
            out: stdout + stderr,
          });
        },
      );
      children.add(child);
    });
  return {
    run,
    register(user, localPort, password = `dev-${user}`, transport = 'u1') {
      const csv = join(work, `users-${user}.csv`);
      writeFileSync(csv, `SEQUENTIAL\n${user}\n`);
      return run(
        ['-sf', REG_SCENARIO, '-inf', csv, '-p', String(localPort), '-t', transport],
        user,
        password,
        20,
      );
    },
    errLog(name) {
      const f = join(work, name);
      return existsSync(f) ? readFileSync(f, 'utf8').slice(-3000) : '';
    },
    stopAll() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    },
  };
}

/** A Node RTP endpoint: sends with `stream`, records every packet of `peerSsrc` it gets. */
export interface Endpoint {
  readonly sock: Socket;
  /** sequence number → payload intact */
  readonly received: Map<number, boolean>;
  readonly badPayload: { n: number };
  /** `address:port` of every sender heard */
  readonly from: Set<string>;
  /** Close the socket; a `stream` in progress stops at its next packet. */
  close(): void;
  readonly closed: boolean;
}

export const payloadFor = (ssrc: number, seq: number): Uint8Array =>
  new Uint8Array(160).fill((ssrc + seq) & 0x7f);

export async function rtpEndpoint(port: number, peerSsrc: number): Promise<Endpoint> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(port, '127.0.0.1', () => r()));
  let closed = false;
  const ep: Endpoint = {
    sock,
    received: new Map(),
    badPayload: { n: 0 },
    from: new Set(),
    close() {
      if (closed) return;
      closed = true;
      sock.close();
    },
    get closed() {
      return closed;
    },
  };
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

/** Send 20 ms PCMU packets to 127.0.0.1:`destPort` for `ms`; resolves with the number sent. */
export async function stream(
  ep: Endpoint,
  destPort: number,
  ssrc: number,
  ms: number,
): Promise<number> {
  const count = Math.round(ms / 20);
  const start = performance.now();
  let sent = 0;
  for (let i = 0; i < count && !ep.closed; i++) {
    const pkt = encodeRtp(
      { marker: i === 0, payloadType: 0, sequenceNumber: i, timestamp: i * 160, ssrc },
      payloadFor(ssrc, i),
    );
    ep.sock.send(pkt, destPort, '127.0.0.1');
    sent++;
    const next = start + (i + 1) * 20;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return sent;
}

/** Wait for a `port=N` file written by a sipp scenario; resolves with N. */
export async function waitFile(file: string, ms: number): Promise<number> {
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

/**
 * The built `netsvc sip` on config/dev at `port`, its data in `work`, offering MD5 first
 * (sipp 3.6 reads only the first challenge and speaks only MD5). Stopped by `teardown`.
 */
export function startSipServer(
  port: number,
  work: string,
  teardown: { teardown(fn: () => unknown): void },
  extraEnv: Record<string, string> = {},
): Promise<Daemon> {
  return startDaemon({
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
      ...extraEnv,
    }),
    ready: { log: /"msg":"ready"/ },
    teardown,
  });
}
