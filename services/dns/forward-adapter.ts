/**
 * The forwarder's I/O: asks the configured upstream resolvers over UDP (TCP when the
 * upstream truncates), one try per upstream in order, each under a timeout, and caches
 * what comes back (forward-cache.ts). A query nobody answers gets SERVFAIL, as BIND's
 * forwarders do. Only for the client networks the config lists (the reference let its
 * LANs recurse and no one else).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeMessage, MessageWriter, FLAG, RCODE, bareReply, type Message } from './message.js';
import { ForwardCache, cacheKey, renderForwarded } from './forward-cache.js';
import { TcpFramer, frame } from './tcp-framing.js';

export interface ForwardConfig {
  readonly upstreams: readonly string[];
  readonly timeoutMs: number;
  readonly cacheEntries: number;
}

interface Upstream {
  readonly host: string;
  readonly port: number;
}

export function parseUpstream(s: string): Upstream {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 53 };
  if (isIPv6(s)) return { host: s, port: 53 };
  const [host, port] = s.split(':');
  return { host: host!, port: port ? Number(port) : 53 };
}

const UPSTREAM_UDP_SIZE = 1232;

export class Forwarder {
  private readonly cache: ForwardCache;
  private readonly upstreams: Upstream[];
  private readonly pending = new Map<number, (m: Uint8Array | undefined) => void>();
  private sock4: UdpSocket | undefined;
  private sock6: UdpSocket | undefined;

  constructor(
    private readonly cfg: ForwardConfig,
    private readonly log: Logger,
  ) {
    this.cache = new ForwardCache(cfg.cacheEntries);
    this.upstreams = cfg.upstreams.map(parseUpstream);
  }

  private socket(v6: boolean): UdpSocket {
    const existing = v6 ? this.sock6 : this.sock4;
    if (existing) return existing;
    const s = createSocket(v6 ? 'udp6' : 'udp4');
    s.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      const done = this.pending.get(id);
      if (done) {
        this.pending.delete(id);
        done(msg);
      }
    });
    s.on('error', (e) => this.log.warn({ err: e }, 'forwarder socket error'));
    s.unref();
    if (v6) this.sock6 = s;
    else this.sock4 = s;
    return s;
  }

  private encodeUpstreamQuery(q: Message, id: number): Uint8Array {
    const w = new MessageWriter(512);
    w.addQuestion(q.questions[0]!);
    w.addOpt(UPSTREAM_UDP_SIZE, 0, q.edns ? q.edns.flags & 0x8000 : 0);
    return w.finish(id, FLAG.RD);
  }

  private askUdp(up: Upstream, q: Message): Promise<Uint8Array | undefined> {
    let id = randomInt(0x10000);
    while (this.pending.has(id)) id = randomInt(0x10000);
    const bytes = this.encodeUpstreamQuery(q, id);
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        done(undefined);
      }, this.cfg.timeoutMs);
      this.pending.set(id, (m) => {
        clearTimeout(timer);
        done(m);
      });
      this.socket(isIPv6(up.host)).send(bytes, up.port, up.host);
    });
  }

  private askTcp(up: Upstream, q: Message): Promise<Uint8Array | undefined> {
    const bytes = this.encodeUpstreamQuery(q, randomInt(0x10000));
    return new Promise((done) => {
      const s = connect({ host: up.host, port: up.port });
      const framer = new TcpFramer();
      const finish = (m: Uint8Array | undefined): void => {
        s.destroy();
        done(m);
      };
      s.setTimeout(this.cfg.timeoutMs, () => finish(undefined));
      s.on('connect', () => s.write(frame(bytes)));
      s.on('data', (c: Buffer) => {
        const msgs = framer.push(c);
        if (msgs[0]) finish(msgs[0]);
      });
      s.on('error', () => finish(undefined));
    });
  }

  /** The reply for the client (never rejects). */
  async resolve(q: Message, transport: 'udp' | 'tcp'): Promise<Uint8Array> {
    const question = q.questions[0]!;
    const key = cacheKey(question.qname, question.qtype, question.qclass);
    const limit =
      transport === 'tcp'
        ? 65535
        : q.edns
          ? Math.min(Math.max(q.edns.udpSize, 512), UPSTREAM_UDP_SIZE)
          : 512;
    const now = Date.now();
    const hit = this.cache.get(key, now);
    if (hit)
      return renderForwarded(
        q,
        hit,
        Math.floor((now - hit.storedAt) / 1000),
        limit,
        UPSTREAM_UDP_SIZE,
      );
    for (const up of this.upstreams) {
      let raw = await this.askUdp(up, q);
      if (raw && raw.length >= 4 && raw[2]! & (FLAG.TC >>> 8)) raw = await this.askTcp(up, q);
      if (!raw) continue;
      let m: Message;
      try {
        m = decodeMessage(raw);
      } catch {
        this.log.warn({ upstream: `${up.host}:${up.port}` }, 'malformed upstream reply');
        continue;
      }
      if (m.rcode === RCODE.SERVFAIL || m.rcode === RCODE.REFUSED) continue;
      this.cache.put(key, m, Date.now());
      return renderForwarded(q, m, 0, limit, UPSTREAM_UDP_SIZE);
    }
    const fail = bareReply(
      Uint8Array.of(q.id >>> 8, q.id & 0xff, q.flags >>> 8, q.flags & 0xff),
      RCODE.SERVFAIL,
    );
    fail[3] = fail[3]! | 0x80; // RA
    return fail;
  }

  close(): void {
    this.sock4?.close();
    this.sock6?.close();
    for (const done of this.pending.values()) done(undefined);
    this.pending.clear();
  }
}
