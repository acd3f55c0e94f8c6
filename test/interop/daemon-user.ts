/**
 * Running a peer daemon (knotd, named) as its own unprivileged user when the tests run as
 * root: the user's ids from /etc/passwd and /etc/group, and a folder tree handed to it.
 */
import { chownSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function lookupUser(
  name: string,
): { name: string; group: string; uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (line === undefined) return undefined;
  const [, , uid, gid] = line.split(':');
  const group =
    readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === gid)
      ?.split(':')[0] ?? String(gid);
  return { name, group, uid: Number(uid), gid: Number(gid) };
}

export function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory())
    for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}
