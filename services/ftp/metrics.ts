/**
 * ftp_* metrics (DESIGN.md rule 5). Counters are FastCounter (plain numbers rendered at
 * scrape time); open sessions and transfers are prom-client gauges.
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter } from '../../src/metrics.js';

export interface FtpMetrics {
  readonly sessions: Gauge;
  readonly connections: FastCounter<'result'>;
  readonly logins: FastCounter<'result' | 'kind'>;
  readonly commands: FastCounter<'command'>;
  readonly transfers: FastCounter<'direction' | 'result'>;
  readonly bytes: FastCounter<'direction'>;
  readonly refused: FastCounter<'reason'>;
  readonly timeouts: FastCounter<'which'>;
  readonly activeTransfers: Gauge;
  readonly errors: FastCounter<'where'>;
  readonly loginRefused: FastCounter<'reason'>;
  readonly bans: FastCounter<'key'>;
  readonly rejected: FastCounter<'reason'>;
}

export function createFtpMetrics(registry: Registry): FtpMetrics {
  return {
    sessions: new Gauge({
      name: 'ftp_sessions',
      help: 'Open control connections',
      registers: [registry],
    }),
    connections: new FastCounter(
      'ftp_connections_total',
      'Control connections, by result (accepted, too_many, too_many_per_ip, banned)',
      ['result'],
      registry,
    ),
    logins: new FastCounter(
      'ftp_logins_total',
      'Login attempts, by result (ok, failed) and kind (user, anonymous)',
      ['result', 'kind'],
      registry,
    ),
    commands: new FastCounter(
      'ftp_commands_total',
      'Commands received, by verb (unknown verbs count as "other")',
      ['command'],
      registry,
    ),
    transfers: new FastCounter(
      'ftp_transfers_total',
      'Transfers, by direction (download, upload, listing) and result (ok, aborted, failed, quota, refused)',
      ['direction', 'result'],
      registry,
    ),
    bytes: new FastCounter(
      'ftp_transfer_bytes_total',
      'Bytes moved on data connections, by direction',
      ['direction'],
      registry,
    ),
    refused: new FastCounter(
      'ftp_data_refused_total',
      'Data connections refused, by reason (bounce, privileged_port, theft, disabled, epsv_all)',
      ['reason'],
      registry,
    ),
    timeouts: new FastCounter(
      'ftp_timeouts_total',
      'Sessions or transfers ended by a timer (login, idle, data, data_open)',
      ['which'],
      registry,
    ),
    activeTransfers: new Gauge({
      name: 'ftp_active_transfers',
      help: 'Transfers in progress',
      registers: [registry],
    }),
    errors: new FastCounter(
      'ftp_internal_errors_total',
      'Bugs caught at the adapter (answered 451/500)',
      ['where'],
      registry,
    ),
    loginRefused: new FastCounter(
      'ftp_login_refused_total',
      'PASS answered 530 without checking the password, by the key that blocked it (source, account_source, account)',
      ['reason'],
      registry,
    ),
    bans: new FastCounter(
      'ftp_login_bans_total',
      'Failed-login bans started, by key (source, account_source, account)',
      ['key'],
      registry,
    ),
    rejected: new FastCounter(
      'ftp_requests_rejected_total',
      'Commands refused for safety, by reason (chmod_disabled, chmod_home, chmod_mode, bad_name)',
      ['reason'],
      registry,
    ),
  };
}
