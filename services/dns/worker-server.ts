/**
 * Entry point of a DNS UDP worker process (forked by worker-pool-adapter.ts). It receives the
 * service config and the parent's bound UDP sockets, loads the zones and answers on those
 * sockets with the same DnsServer code, reporting counters to the parent every second.
 * It exits when the parent asks, or when the parent goes away.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { Registry } from 'prom-client';
import { createRootLogger } from '../../src/log.js';
import { createDnsMetrics } from './metrics.js';
import { DnsServer } from './server.js';
import type { ParentMessage, WorkerMessage } from './worker-protocol.js';

const send = (m: WorkerMessage): void => {
  if (process.connected) process.send?.(m);
};

let server: DnsServer | undefined;
let expected = 0;
const sockets: UdpSocket[] = [];
const metrics = createDnsMetrics(new Registry());
let init: Extract<ParentMessage, { type: 'init' }> | undefined;
/** Zones pushed before the server existed. */
let pendingZones: Extract<ParentMessage, { type: 'zones' }> | undefined;

function maybeStart(): void {
  if (!init || sockets.length < expected || server) return;
  const log = createRootLogger({ level: 'info', format: 'json' }).child({
    svc: 'dns',
    worker: init.id,
  });
  server = new DnsServer(
    { ...init.cfg, workers: 1 },
    init.configDir,
    log,
    metrics,
    ':memory:',
    undefined,
    {
      forward: (socket, msg, address, port) =>
        send({ type: 'datagram', socket, msg, address, port }),
    },
  );
  if (pendingZones) server.applyShared(pendingZones.zones, pendingZones.unavailable);
  try {
    server.startShared(sockets);
  } catch (e) {
    send({ type: 'failed', error: (e as Error).message });
    process.exit(1);
  }
  setInterval(() => {
    send({
      type: 'report',
      report: {
        queries: metrics.queries.snapshot(),
        dropped: metrics.dropped.snapshot(),
        cacheHits: metrics.cacheHits.snapshot(),
        truncated: metrics.truncated.snapshot(),
        errors: metrics.errors.snapshot(),
        latency: metrics.latency.snapshot(),
      },
    });
  }, 1000).unref();
  send({ type: 'ready' });
}

process.on('message', (m: ParentMessage, handle: unknown) => {
  switch (m.type) {
    case 'init':
      init = m;
      expected = m.sockets;
      maybeStart();
      break;
    case 'socket':
      sockets[m.index] = handle as UdpSocket;
      maybeStart();
      break;
    case 'reload':
      void server?.reload().catch(() => undefined);
      break;
    case 'zones':
      if (server) server.applyShared(m.zones, m.unavailable);
      else pendingZones = m;
      send({ type: 'zones-applied', seq: m.seq });
      break;
    case 'stop':
      void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));
