/**
 * sip_* metrics. Hot counters are FastCounter (plain numbers rendered at scrape time);
 * gauges are read from the core when /metrics is scraped.
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter } from '../../src/metrics.js';

export interface SipMetrics {
  readonly requests: FastCounter<'method' | 'transport'>;
  readonly responses: FastCounter<'method' | 'class'>;
  readonly authFailures: FastCounter<'reason'>;
  readonly authThrottled: FastCounter<'reason'>;
  readonly authBans: FastCounter<'reason'>;
  readonly dropped: FastCounter<'reason'>;
  readonly shed: FastCounter<'reason'>;
  readonly retransmissions: FastCounter<'direction'>;
  readonly errors: FastCounter<'where'>;
  readonly calls: FastCounter<'result'>;
}

export interface SipGauges {
  registrations(): number;
  reachable(): number;
  transactions(): number;
  transactionBytes(): number;
  tcpConnections(): number;
  calls(): number;
  authBans(): number;
}

export function createSipMetrics(registry: Registry): SipMetrics {
  return {
    requests: new FastCounter(
      'sip_requests_total',
      'Requests received (new transactions and retransmissions), by method and transport',
      ['method', 'transport'],
      registry,
    ),
    responses: new FastCounter(
      'sip_responses_total',
      'Responses sent by us, by request method and class (1xx..6xx)',
      ['method', 'class'],
      registry,
    ),
    authFailures: new FastCounter(
      'sip_auth_failures_total',
      'Digest authentications refused, by reason (credentials, replay, nonce, qop, algorithm, aor-mismatch)',
      ['reason'],
      registry,
    ),
    authThrottled: new FastCounter(
      'sip_auth_throttled_total',
      'Requests answered 403 without checking their digest while their key was delayed or banned (auth.guard), by key: extension-source, source, extension',
      ['reason'],
      registry,
    ),
    authBans: new FastCounter(
      'sip_auth_bans_total',
      'Bans started by auth.guard, by key: extension-source, source, extension',
      ['reason'],
      registry,
    ),
    dropped: new FastCounter(
      'sip_dropped_total',
      'Messages dropped without an answer, by reason',
      ['reason'],
      registry,
    ),
    shed: new FastCounter(
      'sip_shed_total',
      'New requests answered 503 Retry-After because the transaction budget was full, by limit (transaction-bytes, transaction-count)',
      ['reason'],
      registry,
    ),
    retransmissions: new FastCounter(
      'sip_retransmissions_total',
      'Retransmitted requests absorbed (in) and messages retransmitted by timers (out)',
      ['direction'],
      registry,
    ),
    errors: new FastCounter(
      'sip_internal_errors_total',
      'Bugs caught at the adapter (answered 500 where possible)',
      ['where'],
      registry,
    ),
    calls: new FastCounter(
      'sip_calls_total',
      'Calls ended, by result (answered, busy, noanswer, unavailable, notfound, cancelled, failed)',
      ['result'],
      registry,
    ),
  };
}

export function registerSipGauges(registry: Registry, g: SipGauges): void {
  const mk = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  mk('sip_registrations_active', 'Contacts currently bound (all AORs)', g.registrations);
  mk(
    'sip_contacts_reachable',
    'Bound contacts whose last OPTIONS qualify was answered',
    g.reachable,
  );
  mk('sip_transactions', 'Live server and client transactions', g.transactions);
  mk(
    'sip_transaction_bytes',
    'Estimated bytes held by live transactions (capped by maxTransactionBytes)',
    g.transactionBytes,
  );
  mk('sip_tcp_connections', 'Open TCP connections', g.tcpConnections);
  mk('sip_calls_active', 'Calls in progress (ringing or answered)', g.calls);
  mk('sip_auth_bans_active', 'auth.guard keys banned now (all key kinds)', g.authBans);
}

const KNOWN = new Set([
  'REGISTER',
  'OPTIONS',
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'SUBSCRIBE',
  'NOTIFY',
  'MESSAGE',
  'INFO',
  'PRACK',
  'UPDATE',
  'REFER',
  'PUBLISH',
]);

/** Method as a bounded label value. */
export function methodLabel(m: string): string {
  return KNOWN.has(m) ? m : 'other';
}
