/**
 * Sites: the validated `sites:` list turned into what the request path needs: absolute
 * roots (against the config dir) and their real paths, index lists, error-page map, open
 * log files (against the data dir), TLS material, compiled proxy routes, and per-site
 * counters. `checkSites` is the semantic check behind `--check`.
 *
 * This is the one place reading config-referenced files at start-up; a root that does not
 * exist yet is not fatal (answers 404 until it appears), a missing certificate is.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { HttpConfig, SiteConfig } from './config.js';
import type { StaticSite } from './static-files.js';
import { LogFile } from './log-store.js';
import { compileProxy, type CompiledProxy } from './proxy.js';
import type { HttpMetrics, SiteCounters } from './metrics.js';

export interface Site extends StaticSite {
  readonly name: string;
  readonly serverNames: readonly string[];
  readonly isDefault: boolean;
  readonly errorPages: ReadonlyMap<number, string>;
  readonly accessLog: LogFile | null;
  readonly errorLog: LogFile | null;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null;
  readonly redirectToHttps: boolean;
  readonly proxy: readonly CompiledProxy[];
  readonly counters: SiteCounters;
}

const under = (base: string, p: string): string => (isAbsolute(p) ? p : resolve(base, p));

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

export interface SiteDirs {
  readonly configDir: string;
  readonly dataDir: string;
}

export function compileSites(cfg: HttpConfig, dirs: SiteDirs, metrics: HttpMetrics): Site[] {
  const anyDefault = cfg.sites.some((s) => s.default);
  return cfg.sites.map((s: SiteConfig, i): Site => {
    const root = under(dirs.configDir, s.root).replace(/\/+$/, '') || '/';
    return {
      name: s.name,
      serverNames: s.serverNames,
      isDefault: anyDefault ? s.default : i === 0,
      root,
      realRoot: realOr(root),
      followSymlinksOutsideRoot: s.followSymlinksOutsideRoot,
      precompressed: s.precompressed,
      keyPrefix: `${i}\0`,
      index: s.index,
      autoindex: s.autoindex,
      cacheControl: s.cacheControl,
      compress: s.compress,
      errorPages: new Map(Object.entries(s.errorPages).map(([k, v]) => [Number(k), v])),
      accessLog: s.accessLog === null ? null : new LogFile(under(dirs.dataDir, s.accessLog)),
      errorLog: s.errorLog === null ? null : new LogFile(under(dirs.dataDir, s.errorLog)),
      tls:
        s.tls === null
          ? null
          : {
              cert: readFileSync(under(dirs.configDir, s.tls.cert)),
              key: readFileSync(under(dirs.configDir, s.tls.key)),
            },
      redirectToHttps: s.redirectToHttps,
      proxy: compileProxy(s.proxy),
      counters: metrics.site(s.name),
    };
  });
}

/** Semantic checks (`/path: message`), beyond the schema. */
export function checkSites(cfg: HttpConfig, configDir: string): string[] {
  const out: string[] = [];
  if (cfg.enabled && cfg.sites.length === 0) out.push('/sites: at least one site is needed');
  const names = new Map<string, number>();
  const seen = new Map<string, string>();
  let defaults = 0;
  cfg.sites.forEach((s, i) => {
    const at = `/sites/${i}`;
    if (names.has(s.name))
      out.push(`${at}/name: "${s.name}" is already used by /sites/${names.get(s.name)}`);
    names.set(s.name, i);
    if (s.default) defaults++;
    const root = under(configDir, s.root);
    if (!existsSync(root)) out.push(`${at}/root: ${root} does not exist`);
    else if (!statSync(root).isDirectory()) out.push(`${at}/root: ${root} is not a directory`);
    for (const n of s.serverNames) {
      const k = n.toLowerCase();
      if (k.includes('*') && !k.startsWith('*.') && !k.endsWith('.*')) {
        out.push(
          `${at}/serverNames: "${n}": a wildcard must be the first label (*.example.org) or the last (www.*)`,
        );
      }
      const other = seen.get(k);
      if (other !== undefined)
        out.push(`${at}/serverNames: "${n}" is also a name of site "${other}"`);
      seen.set(k, s.name);
    }
    if (s.tls !== null) {
      for (const f of ['cert', 'key'] as const) {
        const p = under(configDir, s.tls[f]);
        if (!existsSync(p)) out.push(`${at}/tls/${f}: ${p} does not exist`);
      }
      if (!cfg.https.enabled)
        out.push(`${at}/tls: the site has a certificate but https.enabled is false`);
    }
    if (s.redirectToHttps && (s.tls === null || !cfg.https.enabled)) {
      out.push(`${at}/redirectToHttps: needs tls on the site and https.enabled`);
    }
  });
  if (defaults > 1) out.push('/sites: more than one site has default: true');
  if (cfg.https.enabled && !cfg.sites.some((s) => s.tls !== null))
    out.push('/https/enabled: no site has tls');
  return out;
}
