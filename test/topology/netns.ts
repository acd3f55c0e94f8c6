/**
 * Small helpers for network namespaces named `nstopo-*` (root only): run a command, create a
 * namespace holding a Pi's interfaces and addresses, and remove everything this run made.
 * Addresses exist only inside the namespaces.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export const PREFIX = 'nstopo-';

export function run(
  cmd: string,
  args: readonly string[],
  opts: { allowFail?: boolean; timeoutMs?: number } = {},
): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 20_000 });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(
      `${cmd} ${args.join(' ')} → ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').trim()}`,
    );
  return r.stdout ?? '';
}

export function inNs(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: { allowFail?: boolean; timeoutMs?: number } = {},
): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export function listNs(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
}

export function deleteNs(name: string): void {
  if (!name.startsWith(PREFIX)) throw new Error(`refusing to delete ${name}`);
  run('ip', ['netns', 'del', name], { allowFail: true });
}

/** Interfaces and IPv4 addresses of one Pi (interface name → CIDR list). */
export type AddressPlan = Readonly<Record<string, readonly string[]>>;

export const PI1: AddressPlan = {
  wlan0: [
    '192.168.0.1/24',
    '192.168.0.2/24',
    '192.168.0.3/24',
    '192.168.0.4/24',
    '192.168.0.5/24',
    '192.168.0.6/24',
    '192.168.0.7/24',
  ],
  eth1: ['192.168.1.1/24'],
  eth2: ['192.168.2.1/24'],
  eth3: ['10.0.1.1/30'],
};
export const PI2: AddressPlan = {
  eth1: ['192.168.4.1/24'],
  eth2: ['192.168.5.1/24'],
  eth3: ['10.0.1.2/30'],
};

/**
 * A namespace standing for one Pi on its own: each interface is one end of a veth pair whose
 * other end (`p-<if>`) stays in the same namespace (this kernel has no dummy module).
 */
export function createStandalonePi(ns: string, plan: AddressPlan): void {
  deleteNs(ns);
  run('ip', ['netns', 'add', ns]);
  inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
  for (const [ifname, addrs] of Object.entries(plan)) {
    inNs(ns, 'ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', `p-${ifname}`]);
    for (const a of addrs) inNs(ns, 'ip', ['addr', 'add', a, 'dev', ifname]);
    inNs(ns, 'ip', ['link', 'set', ifname, 'up']);
    inNs(ns, 'ip', ['link', 'set', `p-${ifname}`, 'up']);
  }
}
