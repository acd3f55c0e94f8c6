/**
 * The DNS socket adapter: UDP and TCP listeners per configured address, the answer cache
 * in front of the pure handler, zone (re)loading, metrics and logs.
 *
 * UDP: one datagram in, at most one out. TCP (RFC 7766): 2-byte framing, pipelined queries
 * answered in order, idle timeout (§6.2.3), a connection limit (§6.2.2: BIND's tcp-clients).
 * Against hostile clients (§6.2.3 lets a server close connections that misbehave): a
 * deadline per message that trickled bytes do not extend, a cap per client address below
 * the global one, and a zero-length frame closes the connection. Malformed queries on
 * either transport are settled by a screen of the raw bytes before anything is allocated.
 * Any exception out of the handler is a bug: logged with its stack, counted, answered
 * SERVFAIL, and serving goes on (DESIGN.md rule 2).
 */
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import {
  createServer,
  isIPv6,
  type Server as TcpServer,
  type Socket as TcpSocket,
  type AddressInfo,
} from 'node:net';
import type { Logger } from 'pino';
import { CidrList } from '../../src/net/cidr.js';
import { ConnectionsPerSource } from '../../src/net/connections-per-source.js';
import { LogLimit } from '../../src/log-limit.js';
import { handleQuery, type DnsPolicy, type Outcome } from './handler.js';
import { DynamicZones } from './dynamic-zones.js';
import { NotifySender } from './notify-adapter.js';
import { bareReply, RCODE, rcodeToText } from './message.js';
import { screenQuery } from './query-screen.js';
import { soaSerialOf, TYPE, typeToText, type RR } from './rr.js';
import { nameFromText, nameKey, nameToText } from './name.js';
import { ZoneSet } from './zone-set.js';
import { AnswerCache } from './answer-cache.js';
import { TcpFramer, frame } from './tcp-framing.js';
import { loadZoneFile, ZoneLoadThread, type ZoneLoad } from './zone-store.js';
import type { DnsConfig } from './config.js';
import type { DnsMetrics } from './metrics.js';
import { Zone } from './zone.js';
import { Forwarder } from './forward-adapter.js';
import { Secondaries } from './secondary-adapter.js';
import { loadTsigKeys } from './tsig-secret.js';
import { keyNameOf, sign, type TsigKey } from './tsig.js';
import {
  checkRequestTsig,
  refusalReply,
  signAnswer,
  tsigErrorText,
  tsigSize,
  type RequestTsig,
} from './tsig-request.js';
import { decodeMessage, OPCODE } from './message.js';
import { notifyAnswer } from './notify.js';
import type { ZoneFileSpec } from './zone-store.js';
import type { PackedZone } from './zone-pack.js';
import { UdpWorkerPool, workersAvailable } from './worker-pool-adapter.js';

type TcpCloseReason = 'idle' | 'message_timeout' | 'zero_length' | 'per_source_limit';

const TCP_CLOSE_TEXT: Record<Exclude<TcpCloseReason, 'idle'>, string> = {
  message_timeout: 'tcp connection closed: message not complete within tcp.messageTimeoutMs',
  zero_length: 'tcp connection closed: zero-length message',
  per_source_limit: 'tcp connection refused: client address holds tcp.maxPerSource connections',
};

export class ZoneLoadError extends Error {
  readonly code = 'ERR_DNS_ZONE_LOAD';
}

/** A changed dynamic zone is rebuilt this long after its last change if no query comes first. */
const FRESHEN_IDLE_MS = 100;

export class DnsServer {
  private zones = new ZoneSet([]);
  /** Zones loaded from files (primaries), in config order; secondaries are in `secondaries`. */
  private primaryZones: Zone[] = [];
  private readonly fileZones: (ZoneFileSpec & DnsConfig['zones'][number])[];
  /** TSIG keys by lower-case name with trailing dot (dns.yaml `keys`). */
  private readonly keys: ReadonlyMap<string, TsigKey>;
  /** Zones transferred from primaries (secondary-adapter.ts). */
  private readonly secondaries: Secondaries | undefined;
  private readonly cache: AnswerCache;
  private readonly policy: DnsPolicy;
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: TcpServer[] = [];
  private readonly conns = new Set<TcpSocket>();
  private readonly perSource: ConnectionsPerSource;
  /** At most 5 lines a minute per close reason: a flood must not flood the log too. */
  private readonly closeLog = new LogLimit({ intervalMs: 60_000, burst: 5 });
  private readonly forwarder: Forwarder | undefined;
  private qtypeText = new Map<number, string>();
  private started = false;
  private pool: UdpWorkerPool | undefined;
  /** Reloads parse here, off the answering thread; it queues them (one at a time). */
  private readonly loader = new ZoneLoadThread();
  /** Zones taking RFC 2136 UPDATEs, their journal and keys (dynamic-zones.ts). */
  private readonly dynamic: DynamicZones | undefined;
  /** NOTIFY (RFC 1996) to each zone's secondaries when its serial changes. */
  private readonly notifier: NotifySender;
  /** Dynamic zones changed by committed UPDATEs since their served copy was built. */
  private readonly stale = new Map<string, Uint8Array>();
  /** Worker: zones the parent pushed (applyShared), by origin key, and its unavailable ones. */
  private readonly shared = new Map<string, Zone>();
  private sharedUnavailable: Uint8Array[] = [];
  private staleTimer: NodeJS.Timeout | undefined;
  /** Dynamic zones changed by the commit being answered (afterCommit). */
  private readonly batchChanged = new Map<string, Uint8Array>();
  private afterCommitQueued = false;
  /** screenQuery's finding of a TSIG in the message (one object, reused per query). */
  private readonly screened = { signed: false };
  private readonly udpHits;
  private readonly tcpHits;
  /** The cells a FORMERR outcome (qtype -1) counts in, made on first use. */
  private readonly formerrCells: { udp?: { n: number }; tcp?: { n: number } } = {};
  /** Bound addresses after start (port 0 resolved), for tests. */
  readonly bound: { address: string; port: number }[] = [];

  constructor(
    private readonly cfg: DnsConfig,
    private readonly configDir: string,
    private readonly log: Logger,
    private readonly metrics: DnsMetrics,
    /** Where the UPDATE journal lives; ':memory:' keeps it for the process only (tests). */
    journalFile = ':memory:',
    /** Where secondary zone copies are kept (needed when the config has secondary zones). */
    secondaryDir?: string,
    /**
     * A UDP worker process (worker-server.ts): it answers queries from the zones it loads
     * and those the parent pushes (applyShared), and hands UPDATE and NOTIFY datagrams to
     * the parent, the one process holding the journal and the secondary copies.
     */
    private readonly worker?: {
      forward(socket: number, msg: Uint8Array, address: string, port: number): void;
    },
  ) {
    this.keys = loadTsigKeys(cfg.keys, configDir, process.env);
    this.fileZones = cfg.zones.filter(
      (z): z is ZoneFileSpec & DnsConfig['zones'][number] => z.file !== undefined,
    );
    this.dynamic =
      !worker && DynamicZones.wanted(cfg)
        ? new DynamicZones(cfg, this.keys, journalFile, log)
        : undefined;
    if (!worker && Secondaries.wanted(cfg)) {
      if (secondaryDir === undefined)
        throw new Error('secondary zones need a directory for their copies (the data dir)');
      this.secondaries = new Secondaries(cfg, this.keys, secondaryDir, log, metrics, {
        changed: () => this.rebuildZoneSet(),
      });
    }
    this.notifier = new NotifySender(cfg.zones, () => this.udp, log, metrics);
    this.cache = new AnswerCache(cfg.answerCache.entries);
    this.perSource = new ConnectionsPerSource(cfg.tcp.maxPerSource);
    this.udpHits = metrics.cacheHits.cell(['udp']);
    this.tcpHits = metrics.cacheHits.cell(['tcp']);
    this.policy = {
      udpSize: cfg.udpSize,
      version: cfg.version,
      hostname: cfg.hostname,
      minimalResponses: cfg.minimalResponses,
      transferAllow: new CidrList(cfg.transfer.allow),
      transferKeys: new Set(cfg.transfer.keys.map(keyNameOf)),
      forwardNetworks:
        cfg.forward.networks.length > 0 ? new CidrList(cfg.forward.networks) : undefined,
      ...(this.dynamic ? { journal: (o: Uint8Array) => this.dynamic!.entries(o) } : {}),
    };
    if (cfg.forward.networks.length > 0) {
      this.forwarder = new Forwarder(cfg.forward, log);
    }
  }

  /**
   * Load every zone on this thread (at start, before any socket is bound, so no answer
   * waits for it); a zone that fails is an error.
   */
  loadZones(): { ok: boolean; errors: string[] } {
    return this.install(
      this.fileZones.map((z) => loadZoneFile(z.origin, z.file, this.configDir)),
      false,
    );
  }

  /**
   * Reload every zone on a worker thread while this one goes on answering from the old
   * set, then swap in the new set in one assignment; a zone that fails keeps its previous
   * version. Reloads asked for while one runs wait for it (one parse at a time).
   */
  async reloadZones(): Promise<{ ok: boolean; errors: string[] }> {
    return this.install(await this.loader.load(this.fileZones, this.configDir), true);
  }

  /**
   * Swap in loaded zones: the old set stays referenced by no one and is freed (its packed
   * arrays are ArrayBuffers, returned to the system as a whole).
   */
  private install(loads: readonly ZoneLoad[], keepOld: boolean): { ok: boolean; errors: string[] } {
    const next: Zone[] = [];
    const errors: string[] = [];
    for (const [i, r] of loads.entries()) {
      for (const w of r.warnings) this.log.warn({ zone: r.origin }, w);
      if (r.zone) {
        // A dynamic zone serves its file plus the journal's changes (BIND's .jnl replay).
        const zone = this.dynamic ? this.dynamic.withJournal(r.zone) : r.zone;
        next.push(zone);
        const before = keepOld ? this.zones.get(zone.origin) : undefined;
        if (before && before.serial !== zone.serial) this.sendNotify(zone.origin, zone.soa);
        this.metrics.zoneSerial.set({ zone: r.origin }, r.zone.serial);
        this.metrics.zoneRecords.set({ zone: r.origin }, r.zone.recordCount);
        this.log.info(
          { zone: r.origin, serial: r.zone.serial, records: r.zone.recordCount, file: r.file },
          'zone loaded',
        );
      } else {
        errors.push(...r.errors);
        for (const e of r.errors) this.log.error({ zone: r.origin }, e);
        const origin = this.fileZones[i]!.origin;
        const old = keepOld ? this.zones.get(this.originOf(origin)) : undefined;
        if (old) {
          next.push(old);
          this.log.warn(
            { zone: r.origin, serial: old.serial },
            'zone file has errors; previous version keeps serving',
          );
        }
      }
    }
    this.primaryZones = next;
    // The zones just built replayed the whole journal: nothing is stale.
    this.stale.clear();
    this.rebuildZoneSet();
    return { ok: errors.length === 0, errors };
  }

  /**
   * The zones served: the primaries' and the secondary copies that may be served now; in a
   * worker, the parent's pushed zones over its own. The parent pushes its dynamic and
   * secondary zones to its workers whenever this changes.
   */
  private rebuildZoneSet(): void {
    const s = this.secondaries;
    if (this.worker) {
      const own = this.primaryZones.filter((z) => !this.shared.has(z.originKey));
      this.zones = new ZoneSet([...own, ...this.shared.values()], this.sharedUnavailable);
    } else
      this.zones = s
        ? new ZoneSet([...this.primaryZones, ...s.served()], s.unavailable())
        : new ZoneSet(this.primaryZones);
    this.cache.clear();
    this.pushToWorkers();
  }

  /** The workers' acknowledgement of the last push (UPDATE replies wait for it). */
  private pushed: Promise<void> = Promise.resolve();

  /** Send the workers what only this process can build (dynamic and secondary zones). */
  private pushToWorkers(): void {
    if (!this.pool) return;
    const dynamic = this.dynamic;
    const zones = [
      ...(dynamic ? this.primaryZones.filter((z) => dynamic.isDynamic(z.origin)) : []),
      ...(this.secondaries?.served() ?? []),
    ];
    if (zones.length === 0 && !this.secondaries) return;
    this.pushed = this.pool.pushZones(
      zones.map((z) => z.packed),
      this.secondaries?.unavailable() ?? [],
    );
  }

  /** Worker: the parent's dynamic and secondary zones, as it serves them now. */
  applyShared(zones: readonly PackedZone[], unavailable: readonly Uint8Array[]): void {
    this.shared.clear();
    for (const p of zones) {
      const z = new Zone(p.origin, p);
      this.shared.set(z.originKey, z);
    }
    this.sharedUnavailable = [...unavailable];
    this.rebuildZoneSet();
  }

  private originOf(text: string): Uint8Array {
    return nameFromText(text.endsWith('.') ? text : text + '.');
  }

  async start(): Promise<void> {
    const r = this.loadZones();
    if (!r.ok) throw new ZoneLoadError(`zone files have errors:\n  ${r.errors.join('\n  ')}`);
    // Stored secondary copies serve from the first query; their clocks start checking.
    this.secondaries?.start();
    this.rebuildZoneSet();
    for (const l of this.cfg.listen) {
      const udp = createSocket({ type: isIPv6(l.address) ? 'udp6' : 'udp4', reuseAddr: false });
      await new Promise<void>((ok, fail) => {
        udp.once('error', fail);
        udp.bind(l.port, l.address, () => {
          udp.off('error', fail);
          ok();
        });
      });
      const port = udp.address().port;
      try {
        // A burst of queries must not overflow the kernel's default socket buffer.
        udp.setRecvBufferSize(4 * 1024 * 1024);
        udp.setSendBufferSize(4 * 1024 * 1024);
      } catch {
        /* capped by net.core.rmem_max; the default still works */
      }
      this.attachUdp(udp);
      // TCP on the same port as UDP (a port-0 UDP bind chooses it for both).
      const tcp = createServer({ noDelay: true }, (s) => this.onTcp(s));
      tcp.maxConnections = this.cfg.tcp.maxConnections;
      await new Promise<void>((ok, fail) => {
        tcp.once('error', fail);
        tcp.listen(port, l.address, () => {
          tcp.off('error', fail);
          ok();
        });
      });
      tcp.on('error', (e) => this.log.error({ err: e }, 'tcp server error'));
      this.tcp.push(tcp);
      this.bound.push({ address: l.address, port: (tcp.address() as AddressInfo).port });
      this.log.info({ address: l.address, port }, 'listening (udp, tcp)');
    }
    if (this.cfg.workers > 1) {
      if (workersAvailable()) {
        this.pool = new UdpWorkerPool(
          this.cfg.workers - 1,
          this.cfg,
          this.configDir,
          this.log,
          this.metrics,
          (m) => {
            // A worker read an UPDATE or NOTIFY off a shared socket: handled here, and
            // answered from the same socket (the client sees one server).
            const sock = this.udp[m.socket];
            if (!sock) return;
            this.onUdp(sock, Buffer.from(m.msg.buffer, m.msg.byteOffset, m.msg.byteLength), {
              address: m.address,
              port: m.port,
              family: isIPv6(m.address) ? 'IPv6' : 'IPv4',
              size: m.msg.byteLength,
            });
          },
        );
        await this.pool.start(this.udp);
        this.pushToWorkers();
        this.log.info({ processes: this.cfg.workers }, 'UDP served by worker processes');
      } else {
        this.log.warn(
          'workers > 1 needs the built worker entry (npm run build); serving UDP in one process',
        );
      }
    }
    this.started = true;
  }

  private attachUdp(udp: UdpSocket): void {
    udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
    udp.on('error', (e) => this.log.error({ err: e }, 'udp socket error'));
    this.udp.push(udp);
  }

  /** Worker mode: serve UDP sockets bound by the parent process (worker.ts). */
  startShared(sockets: readonly UdpSocket[]): void {
    const r = this.loadZones();
    if (!r.ok) throw new ZoneLoadError(`zone files have errors:\n  ${r.errors.join('\n  ')}`);
    for (const s of sockets) this.attachUdp(s);
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.pool?.stop();
    for (const u of this.udp) u.close();
    for (const c of this.conns) c.destroy();
    await Promise.all(this.tcp.map((t) => new Promise<void>((ok) => t.close(() => ok()))));
    this.forwarder?.close();
    this.secondaries?.stop();
    await this.loader.close();
    this.dynamic?.close();
    this.notifier.stop();
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.udp.length = 0;
    this.tcp.length = 0;
  }

  ready(): boolean {
    return this.started;
  }

  async reload(): Promise<void> {
    this.pool?.reload();
    const r = await this.reloadZones();
    if (!r.ok) throw new ZoneLoadError(r.errors.join('; '));
  }

  private qtypeName(t: number): string {
    let s = this.qtypeText.get(t);
    if (s === undefined) {
      // Bound the label set: unusual types share one label.
      s = t < 0 ? 'none' : this.qtypeText.size < 64 ? typeToText(t) : 'other';
      this.qtypeText.set(t, s);
    }
    return s;
  }

  /** Handle with the safety net: a bug becomes SERVFAIL, never a crash. */
  private handle(
    msg: Uint8Array,
    transport: 'udp' | 'tcp',
    client: string,
    tsig?: { readonly key: TsigKey },
  ): Outcome {
    try {
      return handleQuery(
        msg,
        this.zones,
        this.policy,
        tsig
          ? { transport, client, tsigKey: tsig.key.name, reserve: tsigSize(tsig.key) }
          : { transport, client },
      );
    } catch (e) {
      this.log.error(
        { err: e, client, transport, query: Buffer.from(msg).toString('base64') },
        'handler bug: answered SERVFAIL',
      );
      this.metrics.errors.inc(['handler']);
      return {
        kind: 'reply',
        bytes: bareReply(msg, RCODE.SERVFAIL),
        qtype: -1,
        rcode: RCODE.SERVFAIL,
        cacheable: false,
        truncated: false,
      };
    }
  }

  /**
   * What both transports share: runts dropped, the answer cache, the handler, the reply
   * sent and counted. Returns the outcomes only a transport can carry out (a zone transfer,
   * a forwarded query); undefined when the query is done.
   */
  private answer(
    msg: Uint8Array,
    transport: 'udp' | 'tcp',
    client: string,
    send: (reply: Uint8Array) => void,
    t0: number,
  ): Extract<Outcome, { kind: 'transfer' | 'forward' }> | undefined {
    // RFC 2136 UPDATE (opcode 5, not a response) to a server with dynamic zones.
    if (this.dynamic && msg.length >= 12 && ((msg[2]! >>> 3) & 0x0f) === 5 && !(msg[2]! & 0x80)) {
      this.onUpdate(msg, transport, send, t0);
      return undefined;
    }
    // Every answer reflects every UPDATE already answered NOERROR.
    if (this.stale.size > 0) this.freshen();
    // Malformed queries are settled here, before the cache key or the decoder allocate
    // anything, with the outcome the handler would give them (query-screen.ts).
    const screen = screenQuery(msg, this.screened);
    if (screen !== 'pass') {
      if (screen === 'formerr') {
        send(bareReply(msg, RCODE.FORMERR));
        (this.formerrCells[transport] ??= this.metrics.queries.cell(['none', 'FORMERR', transport]))
          .n++;
        this.metrics.latency.observe((performance.now() - t0) / 1000);
      } else this.metrics.dropped.inc([screen]);
      return undefined;
    }
    const key = this.cache.maxEntries > 0 ? AnswerCache.key(transport, msg) : '';
    const hit = key ? this.cache.get(key, msg) : undefined;
    if (hit) {
      // The cache entry already counted the query in its (qtype, rcode, transport) cell.
      send(hit);
      (transport === 'udp' ? this.udpHits : this.tcpHits).n++;
      this.metrics.latency.observe((performance.now() - t0) / 1000);
      return undefined;
    }
    // RFC 8945: a signed request is verified here, the handler sees it unsigned, and every
    // answer to it is signed (no cache: each answer's MAC covers the request's).
    let tsig: Extract<RequestTsig, { kind: 'verified' }> | undefined;
    let query: Uint8Array = msg;
    if (this.screened.signed) {
      const now = Date.now() / 1000;
      const t = checkRequestTsig(msg, (n) => this.keys.get(n), now);
      if (t.kind === 'formerr' || t.kind === 'refused') {
        const rcode = t.kind === 'formerr' ? RCODE.FORMERR : RCODE.NOTAUTH;
        const bare = bareReply(msg, rcode);
        send(t.kind === 'refused' ? refusalReply(bare, t, now) : bare);
        if (t.kind === 'refused') this.metrics.tsig.inc([tsigErrorText(t.error)]);
        this.metrics.queries.inc(['none', rcodeToText(rcode), transport]);
        return undefined;
      }
      if (t.kind === 'verified') {
        tsig = t;
        query = t.unsigned;
        this.metrics.tsig.inc(['verified']);
        const plain = send;
        send = (b) => plain(sign(b, t.key, { now: Date.now() / 1000, requestMac: t.mac }).message);
      }
    }
    // RFC 1996 §3.7: a primary's NOTIFY for one of our secondary zones.
    if (this.secondaries && ((query[2]! >>> 3) & 0x0f) === OPCODE.NOTIFY) {
      const done = this.onNotify(query, transport, client, send);
      if (done) return undefined;
    }
    const out = this.handle(query, transport, client, tsig);
    switch (out.kind) {
      case 'drop':
        this.metrics.dropped.inc([out.reason]);
        return undefined;
      case 'reply': {
        send(out.bytes);
        const cell = this.metrics.queries.cell([
          this.qtypeName(out.qtype),
          rcodeToText(out.rcode),
          transport,
        ]);
        cell.n++;
        if (out.cacheable && key && !tsig) this.cache.set(key, out.bytes, cell);
        if (out.truncated) this.metrics.truncated.inc([transport]);
        this.metrics.latency.observe((performance.now() - t0) / 1000);
        return undefined;
      }
      case 'transfer':
        // RFC 8945 §5.3.1: every message signed, each over the prior one's MAC.
        return tsig
          ? {
              ...out,
              messages: signAnswer(out.messages, tsig.key, tsig.mac, Date.now() / 1000),
            }
          : out;
      default:
        return out;
    }
  }

  /** A NOTIFY for a secondary zone of ours: answered here; false when not for one. */
  private onNotify(
    query: Uint8Array,
    transport: 'udp' | 'tcp',
    client: string,
    send: (b: Uint8Array) => void,
  ): boolean {
    let m;
    try {
      m = decodeMessage(query);
    } catch {
      return false; // the handler answers FORMERR
    }
    const q = m.questions[0];
    if (m.questions.length !== 1 || !q || !this.secondaries!.has(q.qname)) return false;
    // RFC 1996 §3.7: the answer section may carry the zone's new SOA.
    const soa = m.answers.find((r) => r.type === TYPE.SOA);
    const rcode = this.secondaries!.notify(
      q.qname,
      client,
      soa && soa.rdata.length >= 20 ? soaSerialOf(soa) : undefined,
    );
    send(notifyAnswer(m.id, q, rcode));
    this.metrics.queries.inc(['NOTIFY', rcodeToText(rcode), transport]);
    return true;
  }

  private onUpdate(
    msg: Uint8Array,
    transport: 'udp' | 'tcp',
    send: (reply: Uint8Array) => void,
    t0: number,
  ): void {
    try {
      this.dynamic!.submit(
        msg,
        (origin) => this.zones.get(origin),
        Date.now(),
        (r) => {
          if (!r.changed) send(r.reply);
          else {
            // Committed: the served copy is stale. The replies of one commit come in one go;
            // what follows a commit is done once for the batch (afterCommit).
            this.batchChanged.set(nameKey(r.changed), r.changed);
            if (!this.afterCommitQueued) {
              this.afterCommitQueued = true;
              queueMicrotask(() => this.afterCommit());
            }
            // With workers, a NOERROR waits until every worker serves the new zone.
            if (this.pool)
              void Promise.resolve()
                .then(() => this.pushed)
                .then(() => send(r.reply));
            else send(r.reply);
          }
          this.metrics.queries.cell(['UPDATE', rcodeToText(r.rcode), transport]).n++;
          this.metrics.latency.observe((performance.now() - t0) / 1000);
        },
      );
    } catch (e) {
      this.log.error({ err: e }, 'update bug: answered SERVFAIL');
      this.metrics.errors.inc(['update']);
      send(bareReply(msg, RCODE.SERVFAIL));
    }
  }

  /**
   * Once per committed batch: cached answers dropped, the serial gauge and one NOTIFY per
   * changed zone, and the served copy rebuilt before the next query (freshen); at once when
   * workers answer without asking this process.
   */
  private afterCommit(): void {
    this.afterCommitQueued = false;
    this.cache.clear();
    for (const [k, origin] of this.batchChanged) {
      this.stale.set(k, origin);
      const soa = this.dynamic!.soa(origin);
      this.metrics.zoneSerial.set({ zone: nameToText(origin) }, soaSerialOf(soa));
      this.sendNotify(origin, soa);
    }
    this.batchChanged.clear();
    if (this.pool) this.freshen();
    else this.freshenSoon();
  }

  /** Secondary zones: serial, serving, expiry, next check (admin `GET /state/dns`). */
  secondaryState(): Record<string, unknown> | undefined {
    return this.secondaries?.state();
  }

  /** Dynamic changes per zone (admin `GET /state/dns`). */
  dynamicState(): Record<string, unknown> | undefined {
    const d = this.dynamic;
    if (!d) return undefined;
    const out: Record<string, unknown> = {};
    for (const z of this.zones.zones()) out[nameToText(z.origin)] = d.dynamicRecords(z.origin);
    return out;
  }

  /** RFC 1996 §3.6: tell the zone's secondaries (notify-adapter.ts). */
  private sendNotify(origin: Uint8Array, soa: RR): void {
    this.notifier.changed(origin, soa);
  }

  /**
   * Serve what the committed UPDATEs made: rebuild each changed dynamic zone (once, however
   * many batches changed it since) and swap it in. Called before any query is answered, so
   * an answer never lags a NOERROR already sent (read-your-writes, as BIND), and 100 ms
   * after the last change when no query comes.
   */
  private freshen(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    if (this.stale.size === 0) return;
    for (const origin of this.stale.values()) {
      const z = this.dynamic!.build(origin);
      this.primaryZones = this.primaryZones.map((x) => (x.originKey === z.originKey ? z : x));
      this.metrics.zoneRecords.set({ zone: nameToText(z.origin) }, z.recordCount);
    }
    this.stale.clear();
    this.rebuildZoneSet();
  }

  private freshenSoon(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => this.freshen(), FRESHEN_IDLE_MS);
    this.staleTimer.unref();
  }

  private onUdp(sock: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    const t0 = performance.now();
    if (this.worker && msg.length >= 12) {
      // UPDATE (opcode 5) and NOTIFY (4, either way) belong to the parent (journal, NOTIFY
      // schedule, secondaries): handed over with the socket they came in on.
      const opcode = (msg[2]! >>> 3) & 0x0f;
      if (opcode === 5 || opcode === 4) {
        this.worker.forward(this.udp.indexOf(sock), msg, rinfo.address, rinfo.port);
        return;
      }
    }
    // A secondary's answer to our NOTIFY (QR set, opcode 4): it ends the resends.
    if (msg.length >= 12 && msg[2]! & 0x80 && ((msg[2]! >>> 3) & 0x0f) === 4) {
      this.notifier.answered(msg, rinfo);
      return;
    }
    const send = (b: Uint8Array): void => {
      sock.send(b, rinfo.port, rinfo.address);
    };
    const rest = this.answer(msg, 'udp', rinfo.address, send, t0);
    // handleQuery never transfers over UDP.
    if (rest?.kind === 'forward') this.forward(rest, 'udp', send, t0);
  }

  /**
   * Forward a query; `done` runs exactly once whatever happens (answered, the forwarder
   * threw, no forwarder), so a TCP connection's in-flight count always comes back down and
   * a paused connection resumes. A throw is a bug: logged, counted, answered SERVFAIL.
   */
  private forward(
    out: Extract<Outcome, { kind: 'forward' }>,
    transport: 'udp' | 'tcp',
    send: (b: Uint8Array) => void,
    t0: number,
    done: () => void = () => {},
  ): void {
    const q = out.query;
    const servfail = (): void => {
      const b = bareReply(
        Uint8Array.of(q.id >>> 8, q.id & 0xff, q.flags >>> 8, q.flags & 0xff),
        RCODE.SERVFAIL,
      );
      b[3] = b[3]! | 0x80; // RA: we offered recursion to this client
      send(b);
    };
    const forwarder = this.forwarder;
    if (!forwarder) {
      servfail();
      done();
      return;
    }
    let p: Promise<Uint8Array>;
    try {
      p = forwarder.resolve(q, transport);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (bytes) => {
        send(bytes);
        this.metrics.queries.inc([
          this.qtypeName(out.qtype),
          rcodeToText(bytes[3]! & 0xf),
          transport,
        ]);
        this.metrics.latency.observe((performance.now() - t0) / 1000);
      },
      (e: unknown) => {
        this.log.error({ err: e }, 'forwarder bug');
        this.metrics.errors.inc(['forward']);
        servfail();
      },
    ).finally(done);
  }

  /**
   * Close a TCP connection for `reason`: counted, and but for the ordinary idle close,
   * logged at a bounded rate.
   */
  private closeTcp(s: TcpSocket, reason: TcpCloseReason, client: string): void {
    this.metrics.tcpClosed.inc([reason]);
    if (reason !== 'idle') {
      const a = this.closeLog.admit(reason, performance.now());
      if (a.write) {
        this.log.warn(
          { client, reason, ...(a.suppressed > 0 ? { suppressed: a.suppressed } : {}) },
          TCP_CLOSE_TEXT[reason],
        );
      }
    }
    s.destroy();
  }

  private onTcp(s: TcpSocket): void {
    const client = s.remoteAddress ?? '';
    s.on('error', () => s.destroy());
    // One address may not hold every slot of tcp.maxConnections (one-byte-a-second
    // clients did): past tcp.maxPerSource its connections are closed at once.
    if (!this.perSource.acquire(client)) {
      this.closeTcp(s, 'per_source_limit', client);
      return;
    }
    this.conns.add(s);
    this.metrics.tcpConnections.set(this.conns.size);
    const framer = new TcpFramer();
    // RFC 7766 §6.2.1.1: pipelined queries may be answered out of order; forwarded ones are
    // in flight concurrently, bounded per connection by pausing the reads.
    let inFlight = 0;
    s.setTimeout(this.cfg.tcp.idleTimeoutMs, () => {
      // RFC 7766 §6.2.3: the server closes idle connections.
      this.closeTcp(s, 'idle', client);
    });
    // The message deadline: armed when a message begins arriving, not moved by the bytes
    // that follow (the idle timer above is, which is how a client sending one byte a second
    // used to keep its slot forever). Stopped while reading is paused for our own forwards.
    const deadlineMs = this.cfg.tcp.messageTimeoutMs;
    let deadline: NodeJS.Timeout | undefined;
    let armedFor: number | undefined;
    const disarm = (): void => {
      clearTimeout(deadline);
      deadline = undefined;
      armedFor = undefined;
    };
    const arm = (since: number, ms: number): void => {
      clearTimeout(deadline);
      armedFor = since;
      deadline = setTimeout(() => this.closeTcp(s, 'message_timeout', client), ms);
    };
    s.on('data', (chunk: Buffer) => {
      const now = performance.now();
      for (const msg of framer.push(chunk, now)) {
        if (msg.length === 0) {
          // A zero-length frame carries no message (RFC 1035 §4.2.2: the prefix gives the
          // message length; no query is shorter than its 12-byte header) and its only use
          // is keeping the connection open: close it.
          disarm();
          this.closeTcp(s, 'zero_length', client);
          return;
        }
        const t0 = performance.now();
        const out = this.answer(msg, 'tcp', client, (b) => s.write(frame(b)), t0);
        switch (out?.kind) {
          case 'transfer':
            for (const m of out.messages) s.write(frame(m));
            this.log.info(
              {
                client,
                zone: out.zone,
                kind: out.incremental ? 'IXFR' : 'AXFR',
                records: out.records,
                messages: out.messages.length,
              },
              'zone transfer',
            );
            this.metrics.queries.inc([this.qtypeName(out.qtype), 'NOERROR', 'tcp']);
            break;
          case 'forward':
            inFlight++;
            if (inFlight >= this.cfg.tcp.maxPipelined) s.pause();
            this.forward(
              out,
              'tcp',
              (b) => {
                if (s.writable) s.write(frame(b));
              },
              t0,
              () => {
                inFlight--;
                if (inFlight < this.cfg.tcp.maxPipelined && s.isPaused() && !s.destroyed) {
                  s.resume();
                  // The client could not send while we did not read: a fresh deadline.
                  const since = framer.partialSince;
                  if (since !== undefined) arm(since, deadlineMs);
                }
              },
            );
            break;
        }
      }
      const since = framer.partialSince;
      if (since === undefined || s.isPaused()) disarm();
      else if (since !== armedFor) arm(since, since + deadlineMs - now);
    });
    s.on('close', () => {
      disarm();
      this.perSource.release(client);
      this.conns.delete(s);
      this.metrics.tcpConnections.set(this.conns.size);
    });
  }
}
