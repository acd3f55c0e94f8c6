import t from 'tap';
import {
  cpuPercent,
  hostSeries,
  parseLoadavg,
  parseMeminfo,
  parseMillidegrees,
  parseNetDev,
  parseProcStat,
} from './host-stats.js';

// Shapes copied from a Raspberry Pi 4 (Debian 12, kernel 6.1).
const STAT1 = `cpu  100 0 50 800 50 0 0 0 0 0
cpu0 25 0 12 200 13 0 0 0 0 0
cpu1 75 0 38 600 37 0 0 0 0 0
intr 123 4 5
ctxt 999`;
const STAT2 = `cpu  200 0 100 1600 100 0 0 0 0 0
cpu0 125 0 12 250 13 0 0 0 0 0
cpu1 75 0 88 1350 37 0 0 0 0 0`;

t.test('/proc/stat → busy % per core', async (t) => {
  const p = parseProcStat(STAT1);
  t.same(p.get('all'), { busy: 150, total: 1000 });
  const pct = cpuPercent(p, parseProcStat(STAT2));
  t.equal(pct.get('all'), 15);
  t.equal(pct.get('0'), (100 / 150) * 100);
  t.equal(pct.get('1'), (50 / 800) * 100);
});

t.test('loadavg, meminfo, net/dev, thermal', async (t) => {
  t.same(parseLoadavg('0.52 0.58 0.59 1/331 12345\n'), [0.52, 0.58, 0.59]);
  t.equal(parseLoadavg('garbage'), undefined);
  t.same(
    parseMeminfo(
      'MemTotal:        3884356 kB\nMemFree:          112000 kB\nMemAvailable:    3251234 kB\n',
    ),
    {
      total: 3884356 * 1024,
      used: (3884356 - 3251234) * 1024,
    },
  );
  t.same(parseMeminfo('MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n'), {
    total: 102400,
    used: 65 * 1024,
  });
  const net =
    parseNetDev(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
 wlan0: 5000 40 0 0 0 0 0 0 7000 50 0 0 0 0 0 0
`);
  t.same(Object.fromEntries(net), { lo: { rx: 1000, tx: 1000 }, wlan0: { rx: 5000, tx: 7000 } });
  t.equal(parseMillidegrees('48686\n'), 48.686);
  t.equal(parseMillidegrees(''), undefined);
});

t.test('host series', async (t) => {
  const r1 = {
    cpu: parseProcStat(STAT1),
    net: new Map([
      ['lo', { rx: 0, tx: 0 }],
      ['eth0', { rx: 100, tx: 100 }],
    ]),
    temps: new Map([['cpu-thermal', 50]]),
  };
  const r2 = {
    cpu: parseProcStat(STAT2),
    load: [1, 2, 3] as [number, number, number],
    mem: { total: 10, used: 4 },
    net: new Map([
      ['lo', { rx: 50, tx: 50 }],
      ['eth0', { rx: 1100, tx: 50 }],
    ]),
    temps: new Map([['cpu-thermal', 51]]),
  };
  const s = hostSeries(r1, r2, 10, []);
  t.equal(s.get('host/cpu/all'), 15);
  t.equal(s.get('host/load/5'), 2);
  t.equal(s.get('host/mem/used'), 4);
  t.equal(s.get('host/temp/cpu-thermal'), 51);
  t.equal(s.get('host/net/eth0/rx'), 100);
  t.equal(s.get('host/net/eth0/tx'), 5, 'a decrease (wrap) counts from zero');
  t.notOk(s.has('host/net/lo/rx'), 'lo is left out by default');
  t.ok(hostSeries(r1, r2, 10, ['lo']).has('host/net/lo/rx'));
});
