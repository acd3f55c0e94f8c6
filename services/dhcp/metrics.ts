/**
 * dhcp_* metrics. Per-packet counters are FastCounter (plain numbers rendered at scrape
 * time); lease counts per pool are computed at scrape time from the lease table.
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/metrics.js';

export interface DhcpMetrics {
  readonly received: FastCounter<'type'>;
  readonly sent: FastCounter<'type'>;
  readonly dropped: FastCounter<'reason'>;
  readonly naks: FastCounter<'subnet'>;
  readonly exhausted: FastCounter<'subnet'>;
  readonly commit: FastHistogram;
  readonly errors: FastCounter<'where'>;
  readonly leases: Gauge<'subnet' | 'pool' | 'state'>;
  readonly interfaceUp: Gauge<'interface'>;
  /** Where dhcp_leases reads its numbers at scrape time. */
  setLeaseSource(fn: () => readonly PoolCount[]): void;
}

export interface PoolCount {
  readonly subnet: string;
  readonly pool: string;
  readonly state: 'active' | 'offered' | 'declined' | 'free';
  readonly value: number;
}

export function createDhcpMetrics(registry: Registry): DhcpMetrics {
  let source: (() => readonly PoolCount[]) | undefined;
  return {
    setLeaseSource(fn) {
      source = fn;
    },
    received: new FastCounter(
      'dhcp_packets_received_total',
      'DHCP messages received, by type (option 53)',
      ['type'],
      registry,
    ),
    sent: new FastCounter(
      'dhcp_packets_sent_total',
      'DHCP messages sent, by type',
      ['type'],
      registry,
    ),
    dropped: new FastCounter(
      'dhcp_dropped_total',
      'Messages answered with nothing, by reason',
      ['reason'],
      registry,
    ),
    naks: new FastCounter('dhcp_naks_total', 'DHCPNAKs sent, by subnet', ['subnet'], registry),
    exhausted: new FastCounter(
      'dhcp_pool_exhausted_total',
      'DISCOVERs left unanswered because no address was free',
      ['subnet'],
      registry,
    ),
    commit: new FastHistogram(
      'dhcp_lease_commit_duration_seconds',
      'Time to commit a batch of lease changes with synchronous=FULL (fsync included)',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registry,
    ),
    errors: new FastCounter(
      'dhcp_internal_errors_total',
      'Bugs and I/O failures caught at the adapter',
      ['where'],
      registry,
    ),
    leases: new Gauge({
      name: 'dhcp_leases',
      help: 'Addresses per pool by state: active (bound), offered, declined, free',
      labelNames: ['subnet', 'pool', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of source?.() ?? [])
          this.set({ subnet: c.subnet, pool: c.pool, state: c.state }, c.value);
      },
    }),
    interfaceUp: new Gauge({
      name: 'dhcp_interface_up',
      help: '1 while the service listens on the interface (it has an IPv4 address and a bound socket)',
      labelNames: ['interface'],
      registers: [registry],
    }),
  };
}
