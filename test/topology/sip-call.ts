/**
 * A SIP call through netsvc's B2BUA and RTP relay between two client namespaces, for
 * topology.test.ts. The approach is test/interop/sip-call.test.ts's (sipp as UAC and UAS,
 * media sent and checked by small Node RTP endpoints, QoS read from the `sip call ended`
 * log line), adapted to namespaces:
 *
 * - the scenarios also write the relay address (SDP c=) next to the relay port;
 * - each RTP endpoint is a Node child process run with `ip netns exec <client ns>` (a Node
 *   process cannot enter a namespace itself); it binds the port its sipp's SDP announces on
 *   the client's address, waits until both SDPs are known (offer/answer complete, as the
 *   interop test does), sends 20 ms PCMU packets to its relay port, checks every packet that
 *   arrives (SSRC, payload, sequence) and prints one JSON result line.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './compose-model.js';
import { uacXml as interopUacXml, uasXml as interopUasXml } from '../interop/sip-call-helpers.js';

/** UAC: `caller` calls `callee` (the interop test's scenario: INVITE → 407 → auth → 200 → ACK, `callMs`, BYE). */
export function uacXml(
  caller: string,
  callee: string,
  rtpPort: number,
  portFile: string,
  callMs: number,
): string {
  return interopUacXml(callee, rtpPort, portFile, 200, callMs, caller);
}

/** UAS: `callee` answers (the interop test's scenario, Record-Route copied). */
export function uasXml(callee: string, rtpPort: number, portFile: string): string {
  return interopUasXml(rtpPort, portFile, callee);
}

/** Run sipp in a namespace against `server`; resolves with its exit code and output. */
export function sippInNs(
  ns: string,
  server: string,
  args: readonly string[],
  opts: {
    user: string;
    password: string;
    localIp: string;
    timeoutS: number;
    errorFile: string;
    cwd: string;
  },
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'timeout',
        String(opts.timeoutS),
        'sipp',
        server,
        ...args,
        '-au',
        opts.user,
        '-ap',
        opts.password,
        '-i',
        opts.localIp,
        '-m',
        '1',
        '-nostdin',
        '-timeout',
        `${opts.timeoutS - 5}s`,
        '-timeout_error',
        '-trace_err',
        '-error_file',
        opts.errorFile,
      ],
      { cwd: opts.cwd, maxBuffer: 4 << 20 },
      (e, stdout, stderr) =>
        resolve({
          code: e ? Number((e as { code?: number }).code ?? 1) : 0,
          out: stdout + stderr,
        }),
    );
  });
}

export interface EndpointResult {
  /** packets sent to the relay */
  readonly sent: number;
  /** distinct sequence numbers received from the peer's SSRC */
  readonly received: number;
  /** received packets whose payload was not the expected one */
  readonly bad: number;
  /** duplicates of an already received sequence number */
  readonly dups: number;
  /** sources the peer's packets came from (address:port) */
  readonly from: readonly string[];
  /** where this endpoint sent (from its SDP) */
  readonly relay: string;
  /** the first and last received sequence numbers, for a readable message */
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/**
 * The RTP endpoint, run by node inside a client namespace. argv: bindIp bindPort mySsrc
 * peerSsrc ownPortFile otherPortFile sendMs. Uses the project's RTP codec (dist/).
 */
const ENDPOINT_JS = `
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const { encodeRtp, decodeRtpHeader } = await import(process.env.NSTOPO_RTP_JS);
const [bindIp, bindPort, mySsrc, peerSsrc, ownFile, otherFile, sendMs] = process.argv.slice(1);
const me = Number(mySsrc), peer = Number(peerSsrc);
const payloadFor = (ssrc, seq) => Buffer.alloc(160, (ssrc + seq) & 0x7f);
const sock = createSocket('udp4');
await new Promise((r) => sock.bind(Number(bindPort), bindIp, r));
const seen = new Set(); let bad = 0, dups = 0, first = -1, last = -1; const from = new Set();
sock.on('message', (m, rinfo) => {
  const h = decodeRtpHeader(m);
  if (!h.ok || h.header.ssrc !== peer) return;
  const seq = h.header.sequenceNumber;
  if (seen.has(seq)) dups++;
  seen.add(seq);
  if (first < 0) first = seq;
  last = seq;
  if (Buffer.compare(payloadFor(peer, seq), m.subarray(m.length - 160)) !== 0) bad++;
  from.add(rinfo.address + ':' + rinfo.port);
});
process.stdout.write('bound\\n');
const read = (f) => {
  if (!existsSync(f)) return undefined;
  const s = readFileSync(f, 'utf8');
  const port = Number(/port=(\\d+)/.exec(s)?.[1] ?? 0), addr = /addr=([0-9.]+)/.exec(s)?.[1];
  return port > 0 && addr ? { port, addr } : undefined;
};
const end = Date.now() + 20000;
let dest;
while (Date.now() < end && !((dest = read(ownFile)) && read(otherFile))) await sleep(10);
if (!dest || !read(otherFile)) { process.stdout.write(JSON.stringify({ error: 'no SDP port files' }) + '\\n'); process.exit(1); }
const count = Math.round(Number(sendMs) / 20);
const start = performance.now();
for (let i = 0; i < count; i++) {
  const pkt = encodeRtp({ marker: i === 0, payloadType: 0, sequenceNumber: i, timestamp: i * 160, ssrc: me }, payloadFor(me, i));
  sock.send(pkt, dest.port, dest.addr);
  const wait = start + (i + 1) * 20 - performance.now();
  if (wait > 0) await sleep(wait);
}
await sleep(700);
sock.close();
process.stdout.write(JSON.stringify({ sent: count, received: seen.size, bad, dups, from: [...from], relay: dest.addr + ':' + dest.port, firstSeq: first, lastSeq: last }) + '\\n');
`;

export interface RtpEndpoint {
  /** resolves once the socket is bound (before the call starts) */
  readonly bound: Promise<void>;
  readonly result: Promise<EndpointResult>;
  stop(): void;
}

export function rtpEndpointInNs(
  ns: string,
  opts: {
    bindIp: string;
    bindPort: number;
    ssrc: number;
    peerSsrc: number;
    ownPortFile: string;
    otherPortFile: string;
    sendMs: number;
  },
): RtpEndpoint {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--input-type=module',
      '-e',
      ENDPOINT_JS,
      opts.bindIp,
      String(opts.bindPort),
      String(opts.ssrc),
      String(opts.peerSsrc),
      opts.ownPortFile,
      opts.otherPortFile,
      String(opts.sendMs),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NSTOPO_RTP_JS: pathToFileURL(join(REPO, 'dist/services/sip/rtp.js')).href,
      },
    },
  );
  let out = '';
  let err = '';
  let onBound: () => void = () => {};
  let onBoundFail: (e: Error) => void = () => {};
  const bound = new Promise<void>((res, rej) => {
    onBound = res;
    onBoundFail = rej;
  });
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('bound\n')) onBound();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const result = new Promise<EndpointResult>((res, rej) =>
    child.on('exit', (code) => {
      onBoundFail(new Error(`RTP endpoint in ${ns} exited before binding: ${err}`));
      const line = out.trim().split('\n').pop() ?? '';
      try {
        const r = JSON.parse(line) as EndpointResult & { error?: string };
        if (r.error) rej(new Error(`RTP endpoint in ${ns}: ${r.error}`));
        else res(r);
      } catch {
        rej(new Error(`RTP endpoint in ${ns} exited ${code}: ${out}${err}`));
      }
    }),
  );
  return {
    bound,
    result,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export interface QosDirection {
  readonly packets: number;
  readonly lost: number;
  readonly lossPercent: number;
  readonly meanDeltaMs?: number;
  readonly jitterMs?: number;
  readonly maxJitterMs?: number;
  /** packets the relay sent to this leg's phone (the other direction's forwarded packets) */
  readonly sentToPhone?: number;
  readonly [k: string]: unknown;
}
export interface CallEnded {
  readonly durationMs: number;
  readonly qos: { fromCaller: QosDirection; fromCallee: QosDirection };
  readonly [k: string]: unknown;
}

/** The last answered call's `sip call ended` event in a JSON log, if any. */
export function lastCallEnded(log: string): CallEnded | undefined {
  const line = log
    .split('\n')
    .filter((l) => l.includes('"msg":"sip call ended"') && l.includes('"result":"answered"'))
    .pop();
  return line ? (JSON.parse(line) as CallEnded) : undefined;
}
