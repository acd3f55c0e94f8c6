/**
 * The explicit list of services, in start order (DESIGN.md). Stop order is the reverse.
 * DNS starts first: the others may name hosts that it serves. The monitor starts last: it
 * scrapes the others. Each is loaded on demand, so a container that runs one service loads
 * only that service's modules (issue 13: all six cost a process ~13 MB more than one).
 */
import { registerService, type RegisteredService } from '../src/service.js';

// One registerService call per module, so each is checked against its own schema type.
const LOADERS = {
  dns: async () => registerService((await import('./dns/index.js')).default),
  dhcp: async () => registerService((await import('./dhcp/index.js')).default),
  ftp: async () => registerService((await import('./ftp/index.js')).default),
  http: async () => registerService((await import('./http/index.js')).default),
  sip: async () => registerService((await import('./sip/index.js')).default),
  monitor: async () => registerService((await import('./monitor/index.js')).default),
} as const;

export type ServiceName = keyof typeof LOADERS;

/** Every service name, in start order. */
export const serviceNames = Object.keys(LOADERS) as readonly ServiceName[];

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(LOADERS, name);
}

/** The definitions of `names` (default: every service), in start order. */
export async function loadServices(
  names: readonly string[] = serviceNames,
): Promise<readonly RegisteredService[]> {
  const chosen = serviceNames.filter((n) => names.includes(n));
  return Promise.all(chosen.map((n) => LOADERS[n]()));
}
