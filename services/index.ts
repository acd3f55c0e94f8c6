/**
 * The explicit list of services, in start order (DESIGN.md). Stop order is the reverse.
 * DNS starts first: the others may name hosts that it serves. The monitor starts last: it
 * scrapes the others. Each is loaded on demand, so a container that runs one service loads
 * only that service's modules (issue 13: all six cost a process ~13 MB more than one).
 */
import type { ServiceDefinition } from '../src/service.js';

const LOADERS = {
  dns: () => import('./dns/index.js'),
  dhcp: () => import('./dhcp/index.js'),
  ftp: () => import('./ftp/index.js'),
  http: () => import('./http/index.js'),
  sip: () => import('./sip/index.js'),
  monitor: () => import('./monitor/index.js'),
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
): Promise<readonly ServiceDefinition[]> {
  const chosen = serviceNames.filter((n) => names.includes(n));
  const mods = await Promise.all(chosen.map((n) => LOADERS[n]()));
  // Each definition is typed by its own config schema; the runner hands create() the value
  // that loadConfigDir validated against that same schema, so the erasure is sound.
  return mods.map((m) => m.default as unknown as ServiceDefinition);
}
