/**
 * The attacker's own network namespace for the hostile-client interop tests (issue 18): a
 * veth pair between the host (10.203.N.1/30) and `nshostile-<tag>` (10.203.N.2/30), so the
 * attack tool runs with its own network stack and source address, as a machine on the LAN
 * would, while the legitimate client stays on the host's loopback (127.0.0.2). The server
 * listens on both 127.0.0.1 and the host end. Root only; `ip netns del` removes the pair.
 */
import { spawnSync } from 'node:child_process';

export interface AttackerNs {
  readonly name: string;
  /** The server's address as the attacker reaches it (host end of the veth pair). */
  readonly server: string;
  /** The attacker's source address. */
  readonly attacker: string;
  /** `command args` run inside the namespace: the arguments for spawn('ip', …). */
  exec(command: string, args: readonly string[]): string[];
  remove(): void;
}

function ip(args: readonly string[], allowFail = false): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && !allowFail)
    throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout || '').trim()}`);
}

/** Whether this process may create namespaces (root with `ip` on PATH). */
export function canCreateNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

/** A fresh namespace `nshostile-<tag>` on 10.203.<subnet>.0/30 (subnet 0-255, one per test file). */
export function attackerNamespace(tag: string, subnet: number): AttackerNs {
  const name = `nshostile-${tag}`;
  const host = `hv-${tag}`.slice(0, 15); // IFNAMSIZ
  const peer = `av-${tag}`.slice(0, 15);
  const server = `10.203.${subnet}.1`;
  const attacker = `10.203.${subnet}.2`;
  ip(['netns', 'del', name], true);
  ip(['link', 'del', host], true);
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    ip(['link', 'set', peer, 'netns', name]);
    ip(['addr', 'add', `${server}/30`, 'dev', host]);
    ip(['link', 'set', host, 'up']);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    ip(['-n', name, 'addr', 'add', `${attacker}/30`, 'dev', peer]);
    ip(['-n', name, 'link', 'set', peer, 'up']);
  } catch (e) {
    ip(['netns', 'del', name], true);
    ip(['link', 'del', host], true);
    throw e;
  }
  return {
    name,
    server,
    attacker,
    exec: (command, args) => ['netns', 'exec', name, command, ...args],
    remove: () => {
      ip(['netns', 'del', name], true); // takes the veth pair with it
      ip(['link', 'del', host], true);
    },
  };
}
