import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { SipConfig, checkSipConfig, resolveSecrets } from './config.js';

const cfg = (o: object) => Value.Default(SipConfig, structuredClone(o)) as SipConfig;

t.test('dev secrets only with allowDevSecrets', async (t) => {
  t.same(
    checkSipConfig(
      cfg({ allowDevSecrets: true, extensions: [{ user: '2001', secret: 'dev-2001' }] }),
      '/',
    ),
    [],
  );
  t.match(
    checkSipConfig(cfg({ extensions: [{ user: '2001', secret: 'dev-2001' }] }), '/')[0],
    /inline secrets are for the dev profile/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'sipcfg-'));
  writeFileSync(join(dir, 's1'), 'dev-2001\n');
  writeFileSync(join(dir, 's2'), 'a-real-secret\n');
  t.match(
    checkSipConfig(cfg({ extensions: [{ user: '2001', secretFile: 's1' }] }), dir)[0],
    /dev secret/,
  );
  t.same(checkSipConfig(cfg({ extensions: [{ user: '2001', secretFile: 's2' }] }), dir), []);
  t.same(
    [...resolveSecrets(cfg({ extensions: [{ user: '2001', secretFile: 's2' }] }), dir)],
    [['2001', 'a-real-secret']],
  );
  t.same(
    [
      ...resolveSecrets(cfg({ extensions: [{ user: '2002', secretEnv: 'SIP_X' }] }), dir, {
        SIP_X: 'from-env-123',
      }),
    ],
    [['2002', 'from-env-123']],
  );
});

t.test(
  'missing secret file: fine for --check (mounted at run time), fatal at create()',
  async (t) => {
    const c = cfg({ extensions: [{ user: '2001', secretFile: '/nonexistent/sip_2001' }] });
    t.same(checkSipConfig(c, '/'), []);
    t.throws(() => resolveSecrets(c, '/'), { code: 'ERR_SIP_SECRETS' });
  },
);

t.test('expiry bounds', async (t) => {
  t.match(
    checkSipConfig(
      cfg({ registrar: { minExpires: 100, maxExpires: 50, defaultExpires: 60 } }),
      '/',
    ).join(),
    /minExpires/,
  );
});
