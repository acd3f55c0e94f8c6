/**
 * Which admin listeners the operator commands ask: every `--url`, else the `targets` of
 * `monitor.yaml` in the config dir (the pi profile lists one per container), else the
 * admin listener of `netsvc.yaml` (the dev profile's single process).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { finishConfig, readYamlFile, RuntimeConfig, RUNTIME_FILE } from '../config.js';
import { AdminTarget } from '../observe/admin-target.js';

export type { AdminTarget };

// Only the `targets` key of monitor.yaml: the rest is the monitor's business (and its
// schema lives in services/, which src/ does not import).
const TargetList = Type.Array(AdminTarget);

export function adminTargets(configDir: string, urls: readonly string[]): AdminTarget[] {
  if (urls.length > 0)
    return urls.map((url, i) => ({ name: urls.length === 1 ? 'netsvc' : `target${i + 1}`, url }));
  const dir = resolve(configDir);
  const monitorFile = join(dir, 'monitor.yaml');
  if (existsSync(monitorFile)) {
    const doc = readYamlFile(monitorFile);
    const targets = doc.data.targets;
    if (doc.issues.length === 0 && Value.Check(TargetList, targets)) {
      return targets.map((t) => ({ name: t.name, url: t.url }));
    }
  }
  const runtimeFile = join(dir, RUNTIME_FILE);
  const rt = existsSync(runtimeFile) ? readYamlFile(runtimeFile).data : {};
  const { admin } = finishConfig(RuntimeConfig, rt, runtimeFile).value;
  const port = Number(process.env.NETSVC_ADMIN__PORT ?? admin.port);
  const host = admin.address === '0.0.0.0' ? '127.0.0.1' : admin.address;
  return [{ name: 'netsvc', url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` }];
}
