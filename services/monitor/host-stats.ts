/**
 * Host statistics from the Linux text files (proc(5)): /proc/stat (CPU time per core),
 * /proc/loadavg, /proc/meminfo, /proc/net/dev and /sys/class/thermal/thermal_zone*\/temp.
 * Pure parsers; host-adapter.ts reads the files.
 *
 * CPU %: "the amount of time, measured in units of USER_HZ, that the system spent in various
 * states" (proc(5), /proc/stat); busy = total − idle − iowait over two readings, as top(1)
 * and htop do. Memory used = MemTotal − MemAvailable (free(1)'s "used" since procps 3.3.10).
 *
 * Leaves out: per-process accounting (the targets report their own), disk I/O, cgroup limits.
 */

export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/** `cpu` (all) and `cpu0`… lines → times; key 'all' or the core number. */
export function parseProcStat(text: string): Map<string, CpuTimes> {
  const out = new Map<string, CpuTimes>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 4 || f.some((x) => !Number.isFinite(x))) continue;
    // user nice system idle iowait irq softirq steal (guest is already in user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    out.set(m[1] === '' ? 'all' : m[1]!, { busy: total - idle, total });
  }
  return out;
}

/** Busy % per key between two readings (0–100; undefined when no time passed). */
export function cpuPercent(
  prev: ReadonlyMap<string, CpuTimes>,
  cur: ReadonlyMap<string, CpuTimes>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, c] of cur) {
    const p = prev.get(k);
    if (!p) continue;
    const dt = c.total - p.total;
    if (dt <= 0) continue;
    out.set(k, Math.min(100, Math.max(0, ((c.busy - p.busy) / dt) * 100)));
  }
  return out;
}

export function parseLoadavg(text: string): [number, number, number] | undefined {
  const f = text.trim().split(/\s+/).slice(0, 3).map(Number);
  if (f.length !== 3 || f.some((x) => !Number.isFinite(x))) return undefined;
  return [f[0]!, f[1]!, f[2]!];
}

export interface MemInfo {
  readonly total: number;
  readonly used: number;
}

export function parseMeminfo(text: string): MemInfo | undefined {
  const kb = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  if (total === undefined) return undefined;
  // Kernels before 3.14 have no MemAvailable: approximate it as free(1) did.
  const available =
    kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0);
  return { total, used: total - available };
}

export interface NetBytes {
  readonly rx: number;
  readonly tx: number;
}

/** /proc/net/dev: "Inter-| Receive … | Transmit …"; rx bytes is field 1, tx bytes field 9. */
export function parseNetDev(text: string): Map<string, NetBytes> {
  const out = new Map<string, NetBytes>();
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 9 || !Number.isFinite(f[0]) || !Number.isFinite(f[8])) continue;
    out.set(m[1]!, { rx: f[0]!, tx: f[8]! });
  }
  return out;
}

/** thermal_zone*\/temp holds millidegrees Celsius. */
export function parseMillidegrees(text: string): number | undefined {
  const v = Number(text.trim());
  return Number.isFinite(v) && text.trim() !== '' ? v / 1000 : undefined;
}

export interface HostReading {
  readonly cpu: Map<string, CpuTimes>;
  readonly load?: [number, number, number];
  readonly mem?: MemInfo;
  readonly net: Map<string, NetBytes>;
  /** Thermal zone name (its `type`, e.g. cpu-thermal) → °C. */
  readonly temps: Map<string, number>;
}

/**
 * Series from two host readings `seconds` apart: host/cpu/all, host/cpu/<core> (%),
 * host/load/1|5|15, host/mem/used|total (bytes), host/temp/<zone> (°C),
 * host/net/<if>/rx|tx (bytes/s). `interfaces` empty = every interface but lo.
 */
export function hostSeries(
  prev: HostReading | undefined,
  cur: HostReading,
  seconds: number,
  interfaces: readonly string[],
): Map<string, number> {
  const out = new Map<string, number>();
  if (prev) for (const [k, v] of cpuPercent(prev.cpu, cur.cpu)) out.set(`host/cpu/${k}`, v);
  if (cur.load) {
    out.set('host/load/1', cur.load[0]);
    out.set('host/load/5', cur.load[1]);
    out.set('host/load/15', cur.load[2]);
  }
  if (cur.mem) {
    out.set('host/mem/used', cur.mem.used);
    out.set('host/mem/total', cur.mem.total);
  }
  for (const [zone, c] of cur.temps) out.set(`host/temp/${zone}`, c);
  if (prev && seconds > 0) {
    for (const [name, n] of cur.net) {
      if (interfaces.length > 0 ? !interfaces.includes(name) : name === 'lo') continue;
      const p = prev.net.get(name);
      if (!p) continue;
      // 32-bit counters wrap on some drivers: a decrease counts from zero, like rates().
      out.set(`host/net/${name}/rx`, (n.rx >= p.rx ? n.rx - p.rx : n.rx) / seconds);
      out.set(`host/net/${name}/tx`, (n.tx >= p.tx ? n.tx - p.tx : n.tx) / seconds);
    }
  }
  return out;
}
