/**
 * How the image runs node (containers/Dockerfile): the flags its ENTRYPOINT puts between
 * `node` and the script, and its memory environment. Every bench starts netsvc this way,
 * so a bench measures what a Pi runs (issue 13: `--max-semi-space-size=1`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';

/** The node flags of the image: what its ENTRYPOINT puts between `node` and the script. */
export function imageNodeFlags(): string[] {
  const text = readFileSync(join(repoRoot(), 'containers', 'Dockerfile'), 'utf8');
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text)?.[1];
  if (line === undefined) throw new Error('containers/Dockerfile: no ENTRYPOINT in exec form');
  const argv = JSON.parse(line) as string[];
  const node = argv.indexOf('node');
  const script = argv.findIndex((a) => a.endsWith('main.js'));
  return node < 0 || script < node ? [] : argv.slice(node + 1, script);
}

/** The image's memory-related environment (ENV MALLOC_* and UV_THREADPOOL_SIZE). */
export function imageMemoryEnv(): Record<string, string> {
  const text = readFileSync(join(repoRoot(), 'containers', 'Dockerfile'), 'utf8');
  const env: Record<string, string> = {};
  for (const line of text.matchAll(/^ENV\s+(.*)$/gm))
    for (const m of line[1]!.matchAll(/\b(MALLOC_[A-Z_]+|UV_THREADPOOL_SIZE)=(\S+)/g))
      env[m[1]!] = m[2]!;
  return env;
}
