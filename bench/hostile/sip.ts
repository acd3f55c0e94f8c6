/**
 * SIP under attack (issue 18's SIP rows), each against a fresh `netsvc sip` on config/dev:
 *
 * - svcrack (SIPVicious) with a 1,000-word list whose last word is 2001's secret: checked
 *   guesses per second (sip_auth_failures_total{reason=credentials} over the run) while the
 *   phone registers from its own address (127.0.0.2) once a second;
 * - one unauthenticated UDP INVITE from 127.0.0.3 that never ACKs: responses it draws in
 *   33 s (RFC 3261 Timer G would resend the 407 ten more times: 11 packets);
 * - an INVITE flood from 127.0.0.4 at 8,000/s for 10 s, unique Call-ID and branch each (no
 *   retransmissions): live transactions and RSS at peak and after, the phone registering
 *   every 500 ms meanwhile.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, getHeader, type SipResponse } from '../../services/sip/message.js';
import { authorize } from '../../services/sip/testing.js';
import { freePorts } from '../../src/testing/daemon.js';
import { has, probeWhile, run, sample, sleep, startService, type AttackRow } from './common.js';

const FLOOD_RATE = 8000;
const FLOOD_SECONDS = 10;

function bindUdp(address: string): Promise<Socket> {
  return new Promise((ok, fail) => {
    const s = createSocket('udp4');
    s.once('error', fail);
    s.bind(0, address, () => ok(s));
  });
}

/** Final statuses (or "timeout") the phone saw, for the notes. */
const seen = new Map<string, number>();
const saw = (what: string): void => void seen.set(what, (seen.get(what) ?? 0) + 1);
const seenText = (): string => [...seen].map(([k, v]) => `${k} x${v}`).join(', ');

/**
 * A phone: one socket, one Call-ID and Contact, CSeq counting up, as a real UA refreshes its
 * registration (RFC 3261 §10.2.4). Each request is retransmitted on Timer E (500 ms, 1 s,
 * 2 s) until a final response or 4 s (a short Timer F, so one attempt does not outlast the
 * probe interval much).
 */
class Phone {
  private cseq = 0;
  private constructor(
    private readonly sock: Socket,
    private readonly address: string,
    private readonly port: number,
  ) {}

  static async open(address: string, port: number): Promise<Phone> {
    return new Phone(await bindUdp(address), address, port);
  }

  private request(auth?: string): Promise<SipResponse | undefined> {
    const local = this.sock.address().port;
    const cseq = ++this.cseq;
    const text = [
      `REGISTER sip:127.0.0.1:${this.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address}:${local};branch=z9hG4bKlegit${local}x${cseq};rport`,
      'Max-Forwards: 70',
      `From: <sip:2001@127.0.0.1>;tag=ph${local}`,
      `To: <sip:2001@127.0.0.1>`,
      `Call-ID: legit-${local}@${this.address}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:2001@${this.address}:${local}>`,
      ...(auth ? [`Authorization: ${auth}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const data = Buffer.from(text, 'latin1');
    return new Promise((ok) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = (r: SipResponse | undefined): void => {
        for (const t of timers) clearTimeout(t);
        this.sock.off('message', onMessage);
        ok(r);
      };
      const onMessage = (b: Buffer): void => {
        const d = decode(b);
        if (!d.ok || d.message.type !== 'response' || d.message.status < 200) return;
        if (!getHeader(d.message, 'cseq')?.startsWith(`${cseq} `)) return; // a late answer
        finish(d.message);
      };
      this.sock.on('message', onMessage);
      const send = (): void => this.sock.send(data, this.port, '127.0.0.1');
      send();
      for (const at of [500, 1500, 3500]) timers.push(setTimeout(send, at));
      timers.push(setTimeout(() => finish(undefined), 4000));
    });
  }

  /** Challenge, then the right MD5 digest: whether the REGISTER got 200. */
  async register(): Promise<boolean> {
    const c = await this.request();
    if (c?.status !== 401) {
      saw(c === undefined ? 'timeout' : `challenge ${c.status}`);
      return false;
    }
    const auth = authorize(c, '2001', 'dev-2001', 'MD5', '00000001', `sip:127.0.0.1:${this.port}`);
    const r = await this.request(auth);
    saw(r === undefined ? 'timeout' : String(r.status));
    return r?.status === 200;
  }

  close(): void {
    this.sock.close();
  }
}

function invite(address: string, localPort: number, port: number, id: string): Buffer {
  const sdp =
    'v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n' +
    'm=audio 40000 RTP/AVP 0\r\n';
  return Buffer.from(
    [
      `INVITE sip:2002@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${address}:${localPort};branch=z9hG4bK${id}`,
      'Max-Forwards: 70',
      `From: <sip:2001@127.0.0.1>;tag=f${id}`,
      `To: <sip:2002@127.0.0.1>`,
      `Call-ID: ${id}@${address}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:2001@${address}:${localPort}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${sdp.length}`,
      '',
      sdp,
    ].join('\r\n'),
    'latin1',
  );
}

async function svcrack(work: string): Promise<AttackRow> {
  const row = { service: 'sip', attack: 'svcrack, 1,000-word list' };
  if (!(await has('svcrack')))
    return {
      ...row,
      attackerGot: '-',
      legit: '-',
      rssPeakMb: null,
      rssAfterMb: null,
      notes: 'svcrack missing (apt sipvicious)',
    };
  const [port, svPort] = await freePorts(2);
  const svc = await startService('sip', join(work, 'svcrack'), {
    NETSVC_SIP__LISTEN__0__PORT: String(port),
  });
  try {
    const words = join(work, 'sip-words.txt');
    writeFileSync(
      words,
      [...Array.from({ length: 999 }, (_, i) => `guess${i + 1}`), 'dev-2001', ''].join('\n'),
    );
    svc.resetPeak();
    let done = false;
    const attack = run(
      'svcrack',
      ['-u', '2001', '-d', words, '-p', String(port), '-P', String(svPort), '127.0.0.1'],
      60_000,
    ).finally(() => (done = true));
    await sleep(500);
    seen.clear();
    const phone0 = await Phone.open('127.0.0.2', port!);
    const legit = await probeWhile(
      () => phone0.register(),
      () => done,
      1000,
    );
    phone0.close();
    const phone = seenText();
    const r = await attack;
    const m = await svc.metrics();
    const checked = sample(m, 'sip_auth_failures_total', { reason: 'credentials' });
    const refused = sample(m, 'sip_auth_throttled_total');
    const peak = svc.rss().peakMb;
    await sleep(3000);
    return {
      ...row,
      attackerGot: `${((checked * 1000) / r.ms).toFixed(2)} checked guesses/s`,
      legit: `${legit.ok}/${legit.tries}`,
      rssPeakMb: peak,
      rssAfterMb: svc.rss().nowMb,
      notes:
        `${checked} checked in ${(r.ms / 1000).toFixed(1)} s, ${refused} refused unchecked; ` +
        `password ${r.output.includes('dev-2001') ? 'FOUND' : 'not found'}; phone saw ${phone}`,
    };
  } finally {
    await svc.daemon.stop();
  }
}

/** The amplification check and the flood share one server (the INVITE's 33 s overlap). */
async function inviteFlood(work: string): Promise<AttackRow[]> {
  const [port] = await freePorts(1);
  const svc = await startService('sip', join(work, 'flood'), {
    NETSVC_SIP__LISTEN__0__PORT: String(port),
  });
  try {
    // One INVITE, never ACKed: count what comes back.
    const probe = await bindUdp('127.0.0.3');
    let answers = 0;
    let answerBytes = 0;
    probe.on('message', (b) => {
      answers++;
      answerBytes += b.length;
    });
    const one = invite('127.0.0.3', probe.address().port, port!, 'amplify1');
    const sentAt = Date.now();
    probe.send(one, port!, '127.0.0.1');

    // The flood.
    svc.resetPeak();
    const flood = await bindUdp('127.0.0.4');
    flood.on('message', () => undefined);
    const floodPort = flood.address().port;
    let sent = 0;
    let maxTransactions = 0;
    const t0 = Date.now();
    const ticker = setInterval(() => {
      const due = Math.min(
        FLOOD_RATE * FLOOD_SECONDS,
        Math.floor(((Date.now() - t0) * FLOOD_RATE) / 1000),
      );
      while (sent < due)
        flood.send(invite('127.0.0.4', floodPort, port!, `fl${sent++}`), port!, '127.0.0.1');
    }, 5);
    const floodOver = (): boolean => Date.now() - t0 >= FLOOD_SECONDS * 1000;
    const watcher = setInterval(() => {
      void svc.metrics().then(
        (m) => (maxTransactions = Math.max(maxTransactions, sample(m, 'sip_transactions'))),
        () => undefined,
      );
    }, 1000);
    seen.clear();
    const phone0 = await Phone.open('127.0.0.2', port!);
    const legit = await probeWhile(() => phone0.register(), floodOver, 500);
    phone0.close();
    const phone = seenText();
    clearInterval(ticker);
    clearInterval(watcher);
    const peak = svc.rss().peakMb;
    const m = await svc.metrics();
    const answered = sample(m, 'sip_responses_total');
    const shed = sample(m, 'sip_shed_total');
    // Let the INVITE's 33 s pass (Timer G/H span 64*T1 = 32 s), then read RSS "after".
    await sleep(Math.max(3000, 33_000 - (Date.now() - sentAt)));
    const after = svc.rss().nowMb;
    const transactionsAfter = sample(await svc.metrics(), 'sip_transactions');
    flood.close();
    probe.close();
    return [
      {
        service: 'sip',
        attack: '1 unauthenticated UDP INVITE, no ACK',
        attackerGot: `${answers} response(s) in 33 s, ${(answerBytes / one.length).toFixed(2)} bytes out per byte in`,
        legit: '-',
        rssPeakMb: null,
        rssAfterMb: null,
        notes: 'stateless 407 (was 11 packets: Timer G)',
      },
      {
        service: 'sip',
        attack: `INVITE flood ${FLOOD_RATE}/s for ${FLOOD_SECONDS} s`,
        attackerGot: `${sent} sent, ${maxTransactions} live transactions at most`,
        legit: `${legit.ok}/${legit.tries}`,
        rssPeakMb: peak,
        rssAfterMb: after,
        notes: `${answered} responses sent, ${shed} shed (503), ${transactionsAfter} transactions after; phone saw ${phone}`,
      },
    ];
  } finally {
    await svc.daemon.stop();
  }
}

export async function sipAttacks(work: string): Promise<AttackRow[]> {
  return [await svcrack(work), ...(await inviteFlood(work))];
}
