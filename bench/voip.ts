/**
 * The harness's view of the SIP benches: `sip` (REGISTER with digest per second, sipp
 * against netsvc and Kamailio, bench/sip.ts) and `rtp` (relayed G.711 calls held with 0 %
 * loss and p99 added jitter under 1 ms, netsvc's relay against rtpengine, bench/rtp.ts).
 */
import type { BenchContext, RunSample, Scenario, ServerResult } from './scenario.js';
import { benchSip } from './sip.js';
import { benchRtp } from './rtp.js';

function sample(
  ctx: BenchContext,
  ops: number,
  extra: Record<string, unknown>,
  warnings: string[] = [],
): RunSample {
  return {
    opsPerSec: ops,
    avgLatencyMs: null,
    p99LatencyMs: null,
    sent: 0,
    completed: 0,
    lost: 0,
    loadBefore: [],
    loadAfter: [],
    wallSeconds: ctx.seconds,
    extra,
    warnings,
  };
}

export const sipScenario: Scenario = {
  name: 'sip',
  description:
    'sipp REGISTER with MD5 digest (reg-auth.xml) at BENCH_SIP_RATE/s (default 1000), netsvc vs Kamailio',
  unit: 'registrations/s',
  async run(ctx) {
    const rate = Number(process.env.BENCH_SIP_RATE ?? 1000);
    ctx.progress(`sip: ${rate} REGISTER/s offered for ${ctx.seconds} s`);
    const rows = await benchSip({ rate, durationS: ctx.seconds });
    return rows.map((r): ServerResult => {
      const s = sample(
        ctx,
        r['ops/s'],
        {
          offered: r.offered,
          successful: r.successful,
          failures: r.failures,
          retransmissions: r.retransmissions,
        },
        r.error ? [r.error] : [],
      );
      return {
        server: r.name,
        isNetsvc: r.name === 'netsvc',
        runs: [s],
        median: s,
        rss: {
          totalKb: r.peakRssKb,
          processes: [],
          note: 'VmHWM (summed over processes for kamailio)',
        },
      };
    });
  },
};

export const rtpScenario: Scenario = {
  name: 'rtp',
  description:
    'relayed G.711 calls (50 packets/s each way) held with 0 % loss and p99 added jitter < 1 ms, netsvc relay vs rtpengine',
  unit: 'calls held',
  async run(ctx) {
    const rows = await benchRtp({
      seconds: Math.min(ctx.seconds, 5),
      progress: (m) => ctx.progress(m),
    });
    const out: ServerResult[] = [];
    for (const name of ['netsvc', 'rtpengine']) {
      const max = rows.find((r) => r.server === name && r.kind === 'max');
      if (!max) continue;
      const steps = rows.filter((r) => r.server === name && r.kind === 'step');
      const s = sample(
        ctx,
        max.calls,
        {
          steps: steps.map((r) => ({
            calls: r.calls,
            loss: r.lossPercent,
            p99AddedJitterMs: r.addedJitterP99Ms,
            ok: r.ok,
          })),
        },
        max.skipped ? [max.skipped] : [],
      );
      out.push({
        server: name,
        isNetsvc: name === 'netsvc',
        runs: [s],
        median: s,
        ...(max.skipped ? { skipped: max.skipped } : {}),
      });
    }
    out.sort((a) => (a.isNetsvc ? -1 : 1));
    return out;
  },
};
