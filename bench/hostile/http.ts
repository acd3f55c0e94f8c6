/**
 * HTTP under attack (issue 18's HTTP row): slowhttptest holds 1,100 slowloris connections
 * from 127.0.0.1 (above maxConnections 1024) for 40 s against `netsvc http` on config/dev;
 * curl from 127.0.0.2 asks for `/` once a second meanwhile (before: denied 48 times in 60).
 */
import { join } from 'node:path';
import { freePorts } from '../../src/testing/daemon.js';
import { has, probeWhile, run, sample, sleep, startService, type AttackRow } from './common.js';

const ATTACK_SECONDS = 40;
const CONNECTIONS = 1100;

export async function httpAttacks(work: string): Promise<AttackRow[]> {
  const attack = `slowloris, ${CONNECTIONS} connections, ${ATTACK_SECONDS} s`;
  if (!(await has('slowhttptest')) || !(await has('curl')))
    return [
      {
        service: 'http',
        attack,
        attackerGot: '-',
        legit: '-',
        rssPeakMb: null,
        rssAfterMb: null,
        notes: 'slowhttptest or curl missing',
      },
    ];
  const [port] = await freePorts(1);
  const svc = await startService('http', join(work, 'http'), {
    NETSVC_HTTP__LISTEN__PORT: String(port),
  });
  try {
    const url = `http://127.0.0.1:${port}/`;
    const curl = async (): Promise<boolean> =>
      (
        await run(
          'curl',
          [
            '-sS',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            '--interface',
            '127.0.0.2',
            '--max-time',
            '3',
            url,
          ],
          10_000,
        )
      ).output.trim() === '200';
    svc.resetPeak();
    let done = false;
    const slow = run(
      'slowhttptest',
      [
        '-H',
        '-c',
        String(CONNECTIONS),
        '-r',
        '300',
        '-i',
        '10',
        '-l',
        String(ATTACK_SECONDS),
        '-u',
        url,
      ],
      (ATTACK_SECONDS + 30) * 1000,
      work,
    ).finally(() => (done = true));
    // 1,100 connections at 300/s are all open after about 4 s.
    await sleep(4500);
    const t0 = Date.now();
    const legit = await probeWhile(
      curl,
      () => done || Date.now() - t0 > (ATTACK_SECONDS - 8) * 1000,
      1000,
    );
    const m = await svc.metrics();
    const peak = svc.rss().peakMb;
    await slow;
    await sleep(3000);
    return [
      {
        service: 'http',
        attack,
        attackerGot: `${sample(m, 'http_connections_shed_total')} of its connections shed`,
        legit: `${legit.ok}/${legit.tries}`,
        rssPeakMb: peak,
        rssAfterMb: svc.rss().nowMb,
        notes:
          `shed: per_source_cap ${sample(m, 'http_connections_shed_total', { reason: 'per_source_cap' })}, ` +
          `evicted ${sample(m, 'http_connections_shed_total') - sample(m, 'http_connections_shed_total', { reason: 'per_source_cap' })}`,
      },
    ];
  } finally {
    await svc.daemon.stop();
  }
}
