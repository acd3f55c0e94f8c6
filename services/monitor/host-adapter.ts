/**
 * Reads the host's /proc and /sys files into a HostReading (host-stats.ts parses them).
 * A missing file (no thermal zone in a VM, a non-Linux dev box) leaves its part out.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  parseLoadavg,
  parseMeminfo,
  parseMillidegrees,
  parseNetDev,
  parseProcStat,
  type HostReading,
} from './host-stats.js';

async function text(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

export async function readHost(procDir: string, sysDir: string): Promise<HostReading> {
  const [stat, loadavg, meminfo, netdev] = await Promise.all([
    text(join(procDir, 'stat')),
    text(join(procDir, 'loadavg')),
    text(join(procDir, 'meminfo')),
    text(join(procDir, 'net/dev')),
  ]);
  const temps = new Map<string, number>();
  const thermal = join(sysDir, 'class/thermal');
  let zones: string[] = [];
  try {
    zones = (await readdir(thermal)).filter((z) => z.startsWith('thermal_zone'));
  } catch {
    // no thermal zones exposed
  }
  for (const z of zones) {
    const c = parseMillidegrees((await text(join(thermal, z, 'temp'))) ?? '');
    if (c === undefined) continue;
    const type = ((await text(join(thermal, z, 'type'))) ?? z).trim() || z;
    temps.set(temps.has(type) ? `${type}-${z}` : type, c);
  }
  const load = loadavg === undefined ? undefined : parseLoadavg(loadavg);
  const mem = meminfo === undefined ? undefined : parseMeminfo(meminfo);
  return {
    cpu: parseProcStat(stat ?? ''),
    ...(load ? { load } : {}),
    ...(mem ? { mem } : {}),
    net: parseNetDev(netdev ?? ''),
    temps,
  };
}
