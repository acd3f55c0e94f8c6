/**
 * Every config profile shipped in config/ loads with zero issues against the real service
 * list (DESIGN.md rule 3, as Kea loads every example config in its tests), and every YAML
 * file there belongs to a known service or the runtime. Only validation is checked: the pi
 * profile's listen addresses need not exist on this host.
 */
import t from 'tap';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadServices } from '../services/index.js';
import { loadConfigDir, formatIssue, RUNTIME_FILE } from '../src/config.js';

const services = await loadServices();

const CONFIG = fileURLToPath(new URL('../config/', import.meta.url));
// A profile is a directory holding YAML files (config/sites and the like hold content).
const profiles = readdirSync(CONFIG).filter(
  (d) =>
    statSync(join(CONFIG, d)).isDirectory() &&
    readdirSync(join(CONFIG, d)).some((f) => /\.ya?ml$/.test(f)),
);
const known = new Set([RUNTIME_FILE, ...services.map((s) => `${s.name}.yaml`)]);

t.ok(profiles.includes('dev') && profiles.includes('pi'), `profiles: ${profiles.join(', ')}`);
t.ok(services.length > 0, `services: ${services.map((s) => s.name).join(', ')}`);

for (const profile of profiles) {
  t.test(`config/${profile}`, async (t) => {
    const dir = join(CONFIG, profile);
    // An empty env: the shipped files alone must be valid, whatever the developer's shell sets.
    const cfg = loadConfigDir(dir, services, {});
    t.same(cfg.issues.map(formatIssue), [], 'no issues');

    const yamls = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    t.ok(yamls.includes(RUNTIME_FILE), `${RUNTIME_FILE} present`);
    for (const f of yamls)
      t.ok(known.has(f), `${f} belongs to the runtime or a service in services/index.ts`);

    // Each file present maps to a loaded service entry marked present.
    for (const svc of services) {
      const entry = cfg.services.get(svc.name);
      t.ok(entry, `${svc.name} loaded`);
      t.equal(entry?.present, yamls.includes(`${svc.name}.yaml`), `${svc.name} present flag`);
    }
  });
}
