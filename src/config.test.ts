/**
 * loadConfigDir: YAML → env overrides → defaults → validation (every issue) → freeze.
 * A small TypeBox schema stands in for a service; each case writes a temp config dir.
 */
import t from 'tap';
import { join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { registerService } from './service.js';
import {
  loadConfigDir,
  formatIssue,
  ConfigError,
  type ServiceSchemaInfo,
  type ConfigIssue,
} from './config.js';

const Listen = Type.Object(
  {
    address: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ default: 7, minimum: 0, maximum: 65535 }),
  },
  { additionalProperties: false },
);

const FakeConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    name: Type.String({ default: 'fake' }),
    listen: Type.Array(Listen, { default: [{ address: '127.0.0.1', port: 7 }] }),
    allow: Type.Array(Type.String(), { default: [] }),
    limits: Type.Object(
      {
        maxConnections: Type.Integer({ default: 10, minimum: 1 }),
        idleTimeoutMs: Type.Integer({ default: 5000, minimum: 100 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false, default: {} },
);
type FakeConfig = Static<typeof FakeConfig>;

const fake: ServiceSchemaInfo = { name: 'fake', config: FakeConfig };
const other: ServiceSchemaInfo = {
  name: 'other',
  config: Type.Object(
    { enabled: Type.Boolean({ default: false }) },
    { additionalProperties: false, default: {} },
  ),
};
const SERVICES = [fake, other];

function fakeValue(cfg: ReturnType<typeof loadConfigDir>): FakeConfig {
  return cfg.services.get('fake')!.value as unknown as FakeConfig;
}

function load(
  dir: string,
  env: NodeJS.ProcessEnv = {},
  services: readonly ServiceSchemaInfo[] = SERVICES,
) {
  return loadConfigDir(dir, services, env);
}

const fmt = (issues: readonly ConfigIssue[]): string[] => issues.map(formatIssue);

t.test('empty dir: every default filled, services not present', async (t) => {
  const dir = t.testdir({});
  const cfg = load(dir);
  t.same(cfg.issues, []);
  t.equal(cfg.configDir, resolve(dir));
  t.same(cfg.runtime, {
    admin: { enabled: true, address: '127.0.0.1', port: 10090 },
    dataDir: 'data',
    log: { level: 'info', format: 'auto' },
    startTimeoutMs: 15000,
    stopTimeoutMs: 10000,
  });
  t.equal(cfg.dataDir, join(resolve(dir), 'data'), 'dataDir relative to the config dir');
  t.same(fakeValue(cfg), {
    enabled: true,
    name: 'fake',
    listen: [{ address: '127.0.0.1', port: 7 }],
    allow: [],
    limits: { maxConnections: 10, idleTimeoutMs: 5000 },
  });
  t.equal(cfg.services.get('fake')!.present, false);
  t.equal(cfg.services.get('other')!.value.enabled, false);
});

t.test('file values kept, nested defaults filled, present flag', async (t) => {
  const dir = t.testdir({
    'fake.yaml': 'enabled: false\nlisten:\n  - { port: 5300 }\nlimits:\n  maxConnections: 3\n',
    'netsvc.yaml': 'admin:\n  port: 9999\ndataDir: /var/lib/x\n',
  });
  const cfg = load(dir);
  t.same(cfg.issues, []);
  const v = fakeValue(cfg);
  t.equal(v.enabled, false);
  t.same(v.listen, [{ address: '127.0.0.1', port: 5300 }], 'array item defaults filled');
  t.same(v.limits, { maxConnections: 3, idleTimeoutMs: 5000 });
  t.equal(cfg.services.get('fake')!.present, true);
  t.equal(cfg.runtime.admin.port, 9999);
  t.equal(cfg.runtime.admin.address, '127.0.0.1');
  t.equal(cfg.dataDir, '/var/lib/x', 'absolute dataDir kept');
});

t.test('empty file is a valid, present config', async (t) => {
  const dir = t.testdir({ 'fake.yaml': '# nothing yet\n' });
  const cfg = load(dir);
  t.same(cfg.issues, []);
  t.equal(cfg.services.get('fake')!.present, true);
  t.equal(fakeValue(cfg).name, 'fake');
});

t.test('unknown key reported as `file /path: unknown key…`', async (t) => {
  const dir = t.testdir({ 'fake.yaml': 'enabled: true\nlimts: {}\n' });
  const cfg = load(dir);
  const file = join(resolve(dir), 'fake.yaml');
  t.equal(cfg.issues.length, 1);
  t.same(cfg.issues[0], {
    file,
    path: '/limts',
    message: 'unknown key (remove it or check its spelling)',
  });
  t.equal(fmt(cfg.issues)[0], `${file} /limts: unknown key (remove it or check its spelling)`);
});

t.test('several issues reported at once, across files', async (t) => {
  const dir = t.testdir({
    'fake.yaml': [
      'enabled: yes-please', // not a boolean
      'listen:',
      '  - { address: 10.0.0.1, port: 70000, proto: udp }', // maximum + unknown key
      'limits:',
      '  maxConnections: 0', // minimum
      'colour: blue', // unknown key
      '',
    ].join('\n'),
    'netsvc.yaml': 'admin:\n  prot: 1\nlog:\n  level: loud\n',
  });
  const cfg = load(dir);
  const d = resolve(dir);
  const lines = fmt(cfg.issues);
  t.ok(cfg.issues.length >= 6, `${cfg.issues.length} issues:\n${lines.join('\n')}`);
  const has = (file: string, path: string, re: RegExp): void => {
    t.ok(
      cfg.issues.some((i) => i.file === join(d, file) && i.path === path && re.test(i.message)),
      `${file} ${path} ${re}`,
    );
  };
  has('fake.yaml', '/enabled', /boolean/);
  has('fake.yaml', '/listen/0/port', /65535/);
  has('fake.yaml', '/listen/0/proto', /unknown key/);
  has('fake.yaml', '/limits/maxConnections', /1/);
  has('fake.yaml', '/colour', /unknown key/);
  has('netsvc.yaml', '/admin/prot', /unknown key/);
  has('netsvc.yaml', '/log/level', /./);
  // One issue per path even though the union reports every branch.
  t.equal(cfg.issues.filter((i) => i.path === '/log/level').length, 1);
  // The error a caller throws carries the same list.
  const err = new ConfigError(cfg.issues);
  t.equal(err.code, 'ERR_CONFIG_INVALID');
  t.match(err.message, /\/colour: unknown key/);
});

t.test('YAML syntax error names its line', async (t) => {
  const dir = t.testdir({ 'fake.yaml': 'enabled: true\nname: a\nname: b\n' });
  const cfg = load(dir);
  t.equal(cfg.issues.length, 1);
  const i = cfg.issues[0]!;
  t.equal(i.file, join(resolve(dir), 'fake.yaml'));
  t.equal(i.path, '');
  t.match(i.message, /^YAML syntax error at line 3: /);
  t.match(formatIssue(i), / \/: YAML syntax error at line 3/, 'empty path shown as /');
  t.notMatch(i.message, /\n/, 'one line');
  t.same(fakeValue(cfg).name, 'fake', 'defaults used for the broken file');
});

t.test('a file that is not a mapping', async (t) => {
  for (const text of ['- a\n- b\n', 'just a string\n', '42\n']) {
    const dir = t.testdir({ 'fake.yaml': text });
    const cfg = load(dir);
    t.same(
      cfg.issues,
      [
        {
          file: join(resolve(dir), 'fake.yaml'),
          path: '',
          message: 'must be a YAML mapping of keys to values',
        },
      ],
      JSON.stringify(text),
    );
  }
});

t.test('an unknown *.yaml file in the dir is reported', async (t) => {
  const dir = t.testdir({
    'fake.yaml': '',
    'fkae.yaml': 'enabled: true\n',
    'notes.yml': '',
    'README.md': '# hi\n',
  });
  const cfg = load(dir);
  const d = resolve(dir);
  t.equal(cfg.issues.length, 2, fmt(cfg.issues).join('\n'));
  for (const f of ['fkae.yaml', 'notes.yml']) {
    const i = cfg.issues.find((x) => x.file === join(d, f));
    t.ok(i, f);
    t.match(
      i?.message,
      /^not a known config file; expected netsvc\.yaml, fake\.yaml, other\.yaml$/,
    );
  }
});

t.test('missing config dir is an issue, not an exception', async (t) => {
  const dir = join(t.testdir({}), 'nope');
  const cfg = load(dir);
  t.equal(cfg.issues.length, 1);
  t.equal(cfg.issues[0]!.file, dir);
  t.match(cfg.issues[0]!.message, /does not exist/);
});

t.test('environment overrides', async (t) => {
  const files = {
    'fake.yaml':
      'listen:\n  - { address: 10.0.0.1, port: 53 }\n  - { address: 10.0.0.2, port: 53 }\n',
    'netsvc.yaml': 'admin:\n  port: 9090\n',
  };

  t.test('a top-level key, typed as YAML', async (t) => {
    const cfg = load(t.testdir(files), {
      NETSVC_FAKE__ENABLED: 'false',
      NETSVC_FAKE__ALLOW: '[10.0.0.0/8, 192.168.0.0/16]',
    });
    t.same(cfg.issues, []);
    t.equal(fakeValue(cfg).enabled, false, 'boolean');
    t.same(fakeValue(cfg).allow, ['10.0.0.0/8', '192.168.0.0/16'], 'flow list');
  });

  t.test('nested key, case-insensitive, numeric value', async (t) => {
    const cfg = load(t.testdir(files), {
      netsvc_FAKE__Limits__MAXCONNECTIONS: '4096',
    } as NodeJS.ProcessEnv);
    // The NETSVC_ prefix itself is case-sensitive, like every other env convention.
    t.equal(fakeValue(cfg).limits.maxConnections, 10, 'lower-case prefix ignored');
    const cfg2 = load(t.testdir(files), { NETSVC_fake__Limits__MAXCONNECTIONS: '4096' });
    t.same(cfg2.issues, []);
    t.equal(fakeValue(cfg2).limits.maxConnections, 4096);
    t.equal(fakeValue(cfg2).limits.idleTimeoutMs, 5000, 'sibling default kept');
  });

  t.test('array index', async (t) => {
    const cfg = load(t.testdir(files), { NETSVC_FAKE__LISTEN__1__PORT: '5300' });
    t.same(cfg.issues, []);
    t.same(fakeValue(cfg).listen, [
      { address: '10.0.0.1', port: 53 },
      { address: '10.0.0.2', port: 5300 },
    ]);
    // With no file, the element is created and its defaults filled.
    const cfg2 = load(t.testdir({}), { NETSVC_FAKE__LISTEN__0__PORT: '0' });
    t.same(cfg2.issues, []);
    t.same(fakeValue(cfg2).listen, [{ address: '127.0.0.1', port: 0 }]);
  });

  t.test('a string schema keeps the text as written', async (t) => {
    const cfg = load(t.testdir(files), {
      NETSVC_FAKE__NAME: '1e3',
      NETSVC_FAKE__LISTEN__0__ADDRESS: '::1',
      NETSVC_FAKE__ALLOW__0: '10.0.0.0/8',
    });
    t.same(cfg.issues, []);
    t.equal(fakeValue(cfg).name, '1e3');
    t.equal(fakeValue(cfg).listen[0]!.address, '::1');
    t.same(fakeValue(cfg).allow, ['10.0.0.0/8']);
    const cfg2 = load(t.testdir(files), { NETSVC_FAKE__NAME: 'true' });
    t.equal(fakeValue(cfg2).name, 'true');
  });

  t.test('a value of the wrong type is a validation issue', async (t) => {
    const dir = t.testdir(files);
    const cfg = load(dir, { NETSVC_FAKE__LIMITS__MAXCONNECTIONS: 'many' });
    t.equal(cfg.issues.length, 1);
    t.equal(cfg.issues[0]!.file, join(resolve(dir), 'fake.yaml'));
    t.equal(cfg.issues[0]!.path, '/limits/maxConnections');
  });

  t.test('runtime keys', async (t) => {
    const cfg = load(t.testdir(files), {
      NETSVC_ADMIN__PORT: '0',
      NETSVC_LOG__LEVEL: 'debug',
      NETSVC_STARTTIMEOUTMS: '500',
    });
    t.same(cfg.issues, []);
    t.equal(cfg.runtime.admin.port, 0);
    t.equal(cfg.runtime.admin.address, '127.0.0.1');
    t.equal(cfg.runtime.log.level, 'debug');
    t.equal(cfg.runtime.startTimeoutMs, 500);
  });

  t.test('an unknown key is reported naming the variable', async (t) => {
    const dir = t.testdir(files);
    const d = resolve(dir);
    const cfg = load(dir, {
      NETSVC_FAKE__LIMITS__MAXCONN: '3',
      NETSVC_ADMN__PORT: '1',
      NETSVC_FAKE__ENABLED: 'true',
    });
    t.equal(cfg.issues.length, 2, fmt(cfg.issues).join('\n'));
    const svc = cfg.issues.find((i) => i.file === join(d, 'fake.yaml'));
    t.equal(svc?.path, '/limits/MAXCONN');
    t.match(svc?.message, /unknown key set by environment variable NETSVC_FAKE__LIMITS__MAXCONN/);
    const rt = cfg.issues.find((i) => i.file === join(d, 'netsvc.yaml'));
    t.equal(rt?.path, '/ADMN');
    t.match(rt?.message, /NETSVC_ADMN__PORT/);
    t.equal(fakeValue(cfg).enabled, true, 'the good override still applied');
  });

  t.test('NETSVC_CONFIG_DIR and NETSVC_DATA_DIR are not keys', async (t) => {
    const dir = t.testdir(files);
    const data = join(t.testdirName, 'elsewhere');
    const cfg = load(dir, { NETSVC_DATA_DIR: data, NETSVC_CONFIG_DIR: '/x', OTHER: '1' });
    t.same(cfg.issues, []);
    t.equal(cfg.dataDir, data);
    t.equal(cfg.runtime.dataDir, 'data', 'the file value is left alone');
  });
  t.test('relative NETSVC_DATA_DIR resolves against the cwd', async (t) => {
    const cfg = load(t.testdir(files), { NETSVC_DATA_DIR: 'rel/data' });
    t.equal(cfg.dataDir, resolve('rel/data'));
  });
});

t.test('the service check hook: `/path: message` strings become issues', async (t) => {
  let seen: { cfg: FakeConfig; dir: string } | undefined;
  const checked: ServiceSchemaInfo = registerService({
    name: 'fake',
    config: FakeConfig,
    create: () => {
      throw new Error('not started in this test');
    },
    check: (cfg: FakeConfig, dir: string) => {
      seen = { cfg, dir };
      return cfg.name === 'bad'
        ? [
            '/name: "bad" is a bad name',
            '/listen/0/port: port 7 is reserved\nsecond line',
            'no path here',
          ]
        : [];
    },
  });
  const dir = t.testdir({ 'fake.yaml': 'name: bad\n' });
  const cfg = load(dir, {}, [checked]);
  const file = join(resolve(dir), 'fake.yaml');
  t.same(cfg.issues, [
    { file, path: '/name', message: '"bad" is a bad name' },
    { file, path: '/listen/0/port', message: 'port 7 is reserved\nsecond line' },
    { file, path: '', message: 'no path here' },
  ]);
  t.equal(seen?.dir, resolve(dir), 'check receives the config dir');
  t.equal(seen?.cfg.limits.maxConnections, 10, 'check receives the config with defaults');

  // The hook does not run on a config that failed the schema.
  seen = undefined;
  const cfg2 = load(t.testdir({ 'fake.yaml': 'name: bad\nextra: 1\n' }), {}, [checked]);
  t.equal(seen, undefined);
  t.equal(cfg2.issues.length, 1);
  t.equal(cfg2.issues[0]!.path, '/extra');
});

t.test('the result is deep-frozen', async (t) => {
  const cfg = load(t.testdir({ 'fake.yaml': 'listen:\n  - { port: 1 }\n' }));
  const v = fakeValue(cfg);
  t.ok(Object.isFrozen(cfg.runtime));
  t.ok(Object.isFrozen(cfg.runtime.admin));
  t.ok(Object.isFrozen(cfg.runtime.log));
  t.ok(Object.isFrozen(v));
  t.ok(Object.isFrozen(v.listen));
  t.ok(Object.isFrozen(v.listen[0]));
  t.ok(Object.isFrozen(v.limits));
  t.throws(() => {
    (v.listen[0] as { port: number }).port = 2;
  }, TypeError);
  t.throws(() => {
    (v.listen as unknown as unknown[]).push({});
  }, TypeError);
  t.throws(() => {
    (cfg.runtime.admin as { port: number }).port = 1;
  }, TypeError);
  t.equal(v.listen[0]!.port, 1);
});
