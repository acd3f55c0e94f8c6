import t from 'tap';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { Kind, type TSchema } from '@sinclair/typebox';
import { HttpConfig } from './config.js';
import { checkSites } from './site-store.js';
import service from './index.js';
import { makeFixture, fixtureConfig } from './testing-store.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

t.test('shipped configs load and pass check()', async (t) => {
  for (const profile of ['dev', 'pi']) {
    const dir = join(repo, 'config', profile);
    const doc = parse(readFileSync(join(dir, 'http.yaml'), 'utf8'));
    const cfg = Value.Default(HttpConfig, doc) as HttpConfig;
    t.same(
      [...Value.Errors(HttpConfig, cfg)].map((e) => `${e.path}: ${e.message}`),
      [],
      profile,
    );
    t.same(service.check!(cfg, dir), [], profile);
    t.same(
      cfg.sites.map((s) => s.name),
      ['www', 'web1', 'web2'],
    );
    t.equal(cfg.limits.keepAliveTimeoutMs, 65000);
  }
});

t.test('schema: defaults, descriptions, unknown keys', async (t) => {
  t.equal(service.name, 'http');
  const cfg = Value.Default(HttpConfig, {}) as HttpConfig;
  t.equal(cfg.enabled, true);
  t.equal(cfg.listen.port, 18080);
  t.equal(cfg.limits.maxHeaderBytes, 32768);
  // HTTP/2 on both listeners unless switched off (nginx `listen … http2`), 128 streams
  t.equal(cfg.listen.http2, true);
  t.equal(cfg.https.http2, true);
  t.equal(cfg.limits.maxConcurrentStreams, 128);
  t.notOk(Value.Check(HttpConfig, Value.Default(HttpConfig, { listen: { http2: 'yes' } })));
  t.notOk(
    Value.Check(HttpConfig, Value.Default(HttpConfig, { limits: { maxConcurrentStreams: 0 } })),
  );
  t.notOk(Value.Check(HttpConfig, { ...cfg, bogus: 1 }));
  t.notOk(
    Value.Check(
      HttpConfig,
      Value.Default(HttpConfig, { sites: [{ name: 'a', root: 'x', colour: 'red' }] }),
    ),
  );
  // every leaf has a description (the README is written from them)
  const missing: string[] = [];
  const walk = (s: TSchema, path: string) => {
    const kind = (s as { [Kind]?: string })[Kind];
    if (kind === 'Object') {
      for (const [k, v] of Object.entries(
        (s as unknown as { properties: Record<string, TSchema> }).properties,
      )) {
        const vk = (v as { [Kind]?: string })[Kind];
        if (vk !== 'Object' && !(v as { description?: string }).description)
          missing.push(`${path}/${k}`);
        walk(v, `${path}/${k}`);
      }
    } else if (kind === 'Array') walk((s as unknown as { items: TSchema }).items, `${path}/*`);
  };
  walk(HttpConfig, '');
  t.same(missing, []);
});

t.test('check() reports semantic problems as /path: message', async (t) => {
  const f = makeFixture();
  t.teardown(() => f.cleanup());
  const cfg = fixtureConfig((d) => {
    d.sites[1].root = 'nope';
    d.sites[2].serverNames.push('www.tic2023.com', 'a.*.b');
    d.sites[2].default = true;
    d.sites[1].tls = { cert: 'missing.crt', key: 'missing.key' };
    d.sites[0].redirectToHttps = true;
  });
  const issues = checkSites(cfg, f.dir);
  t.match(issues, [
    /^\/sites\/0\/redirectToHttps: needs tls/,
    /^\/sites\/1\/root: .*nope does not exist/,
    /^\/sites\/1\/tls\/cert: .* does not exist/,
    /^\/sites\/1\/tls\/key: .* does not exist/,
    /^\/sites\/1\/tls: .*https.enabled is false/,
    /^\/sites\/2\/serverNames: "www.tic2023.com" is also a name of site "www"/,
    /^\/sites\/2\/serverNames: "a.\*.b": a wildcard/,
    /^\/sites: more than one site has default: true/,
  ]);
  t.same(checkSites(fixtureConfig(), f.dir), []);
  t.match(
    checkSites(
      fixtureConfig((d) => (d.sites = [])),
      f.dir,
    ),
    ['/sites: at least one site is needed'],
  );
});
