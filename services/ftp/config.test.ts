import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readYamlFile, finishConfig } from '../../src/config.js';
import { FtpConfig, checkFtpConfig } from './config.js';
import { hashPassword, verifyPassword, parseHash } from '../../src/password-hash.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

for (const profile of ['dev', 'pi']) {
  t.test(`config/${profile}/ftp.yaml loads and checks clean`, async (t) => {
    const dir = join(ROOT, 'config', profile);
    const doc = readYamlFile(join(dir, 'ftp.yaml'));
    t.same(doc.issues, []);
    const { value, issues } = finishConfig(FtpConfig, doc.data, 'ftp.yaml');
    t.same(issues, []);
    t.same(checkFtpConfig(value, dir), []);
  });
}

t.test('the pi profile refuses the dev passwords (inline, hashed, or by env)', async (t) => {
  const dir = join(ROOT, 'config', 'pi');
  const doc = readYamlFile(join(dir, 'ftp.yaml')).data as { users: Record<string, unknown>[] };
  const devDoc = readYamlFile(join(ROOT, 'config/dev/ftp.yaml')).data as {
    users: { passwordHash: string }[];
  };
  doc.users[0]!.password = 'dev-admin';
  doc.users[1]!.passwordHash = devDoc.users[1]!.passwordHash;
  const { value } = finishConfig(FtpConfig, doc, 'ftp.yaml');
  t.same(checkFtpConfig(value, dir), [
    '/users/0/password: a dev-profile password; set a real one from a secret file or the environment',
    '/users/1/passwordHash: hash of a dev-profile password; set a real one',
  ]);
});

t.test('semantic checks', async (t) => {
  const { value } = finishConfig(
    FtpConfig,
    {
      users: [
        { name: 'a', home: 'h', seed: 'nope' },
        { name: 'a', home: 'h', passwordHash: 'md5$x' },
      ],
      passive: { portMin: 200, portMax: 100 },
      tls: { enabled: true },
    },
    'ftp.yaml',
  );
  const out = checkFtpConfig(value, '/nonexistent');
  t.match(out.join('\n'), /\/users\/0: no password source/);
  t.match(out.join('\n'), /\/users\/0\/seed: .* is not a folder/);
  t.match(out.join('\n'), /\/users\/1\/name: duplicate user a/);
  t.match(out.join('\n'), /\/users\/1\/passwordHash: not a scrypt/);
  t.match(out.join('\n'), /\/passive\/portMin: 200 is above portMax 100/);
  t.match(out.join('\n'), /\/tls\/cert: required/);
  const bad = finishConfig(
    FtpConfig,
    { bogus: 1, users: [{ name: 'x', home: 'h', permissions: ['fly'] }] },
    'ftp.yaml',
  );
  t.ok(bad.issues.some((i) => i.path === '/bogus'));
  t.ok(bad.issues.some((i) => i.path.startsWith('/users/0/permissions')));
});

t.test('hashPassword / verifyPassword', async (t) => {
  const h = await hashPassword('s3cret', { N: 1024, r: 8, p: 1 });
  t.match(h, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  t.ok(await verifyPassword('s3cret', h));
  t.notOk(await verifyPassword('s3creT', h));
  t.notOk(await verifyPassword('s3cret', 'scrypt$3$8$1$xx$yy'), 'malformed: false, no throw');
  t.notOk(await verifyPassword('x', 'garbage'));
  t.equal(parseHash('scrypt$16384$8$1$' + 'A'.repeat(22) + '$' + 'B'.repeat(43))?.N, 16384);
});
