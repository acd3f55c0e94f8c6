import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, StoreError } from './sqlite.js';

const MIGRATIONS = [
  'CREATE TABLE lease (ip TEXT PRIMARY KEY, mac TEXT NOT NULL)',
  'CREATE TABLE log (n INTEGER)',
  "INSERT INTO log (n) VALUES (3); ALTER TABLE lease ADD COLUMN host TEXT DEFAULT 'h'",
];

t.test('migrations run once and in order; reopen keeps data and version', async (t) => {
  const file = join(t.testdir(), 'nested', 'dir', 'a.db');
  const s1 = openStore({ file, migrations: MIGRATIONS.slice(0, 2), durability: 'promise' });
  t.equal(s1.version, 2);
  t.equal(s1.db.pragma('user_version', { simple: true }), 2);
  s1.prepare('INSERT INTO lease (ip, mac) VALUES (?, ?)').run('10.0.0.2', 'aa');
  s1.prepare('INSERT INTO log (n) VALUES (?)').run(1);
  s1.close();
  s1.close(); // idempotent

  // Same code: nothing re-runs (a rerun of CREATE TABLE would throw).
  const s2 = openStore({ file, migrations: MIGRATIONS.slice(0, 2), durability: 'promise' });
  t.equal(s2.db.pragma('user_version', { simple: true }), 2);
  t.same(s2.prepare('SELECT ip, mac FROM lease').all(), [{ ip: '10.0.0.2', mac: 'aa' }]);
  s2.close();

  // Newer code: only the third migration runs, after the first two.
  const s3 = openStore({ file, migrations: MIGRATIONS, durability: 'promise' });
  t.equal(s3.version, 3);
  t.equal(s3.db.pragma('user_version', { simple: true }), 3);
  t.same(s3.prepare('SELECT n FROM log ORDER BY rowid').all(), [{ n: 1 }, { n: 3 }]);
  t.same(s3.prepare('SELECT ip, host FROM lease').all(), [{ ip: '10.0.0.2', host: 'h' }]);
  s3.close();
});

t.test('migrations are applied in order on a fresh database', async (t) => {
  const order = ['CREATE TABLE a (x)', 'INSERT INTO a VALUES (1)', 'UPDATE a SET x = x * 10'];
  const s = openStore({ file: ':memory:', migrations: order, durability: 'cache' });
  t.same(s.prepare('SELECT x FROM a').get(), { x: 10 });
  s.close();
});

t.test('a database newer than the code is refused, naming the file', async (t) => {
  const file = join(t.testdir(), 'new.db');
  openStore({ file, migrations: MIGRATIONS, durability: 'cache' }).close();
  const err = t.throws(
    () => openStore({ file, migrations: MIGRATIONS.slice(0, 1), durability: 'cache' }),
    {
      code: 'ERR_STORE_VERSION',
    },
  );
  t.ok(err instanceof StoreError);
  t.match((err as Error).message, file);
  t.match((err as Error).message, /version 3 is newer than this code knows \(1\)/);
});

t.test('a failing migration rolls back and names the file and step', async (t) => {
  const file = join(t.testdir(), 'm.db');
  const bad = ['CREATE TABLE a (x)', 'CREATE TABLE b (y); THIS IS NOT SQL'];
  t.throws(() => openStore({ file, migrations: bad, durability: 'cache' }), {
    code: 'ERR_STORE_MIGRATION',
    message: /m\.db: migration 1 \(user_version 1 → 2\) failed/,
  });
  const s = openStore({ file, migrations: bad.slice(0, 1), durability: 'cache' });
  t.equal(s.db.pragma('user_version', { simple: true }), 1);
  t.same(s.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").all(), [], 'b rolled back');
  s.close();
});

t.test('a corrupt file gives ERR_STORE_OPEN naming the file', async (t) => {
  const dir = t.testdir({ 'junk.db': 'this is not a database '.repeat(300) });
  const file = join(dir, 'junk.db');
  t.throws(() => openStore({ file, migrations: [], durability: 'promise' }), {
    code: 'ERR_STORE_OPEN',
    message: new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot open database`),
  });
});

t.test('pragmas: WAL, synchronous per durability, foreign keys, busy timeout', async (t) => {
  const dir = t.testdir();
  for (const [durability, sync] of [
    ['promise', 2],
    ['cache', 1],
  ] as const) {
    const file = join(dir, `${durability}.db`);
    // Twice: the second open is a reopened WAL database, where the default would be NORMAL.
    for (const round of [1, 2]) {
      const s = openStore({ file, migrations: [], durability, busyTimeoutMs: 1234 });
      t.equal(s.db.pragma('synchronous', { simple: true }), sync, `${durability} round ${round}`);
      t.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
      t.equal(s.db.pragma('foreign_keys', { simple: true }), 1);
      t.equal(s.db.pragma('busy_timeout', { simple: true }), 1234);
      s.close();
    }
  }
  const m = openStore({ file: ':memory:', migrations: [], durability: 'promise' });
  t.equal(m.db.pragma('busy_timeout', { simple: true }), 5000, 'default busy timeout');
  m.close();
});

t.test('foreign keys are enforced', async (t) => {
  const s = openStore({
    file: ':memory:',
    migrations: [
      'CREATE TABLE aor (id INTEGER PRIMARY KEY); CREATE TABLE contact (aor INTEGER NOT NULL REFERENCES aor(id))',
    ],
    durability: 'cache',
  });
  t.throws(() => s.prepare('INSERT INTO contact (aor) VALUES (?)').run(42), {
    code: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  });
  s.close();
});

t.test('prepare caches statements; transaction commits or rolls back', async (t) => {
  const s = openStore({
    file: ':memory:',
    migrations: ['CREATE TABLE k (v INTEGER)'],
    durability: 'cache',
  });
  t.equal(s.prepare('SELECT 1'), s.prepare('SELECT 1'), 'same statement object');
  const ins = s.prepare<[number]>('INSERT INTO k (v) VALUES (?)');
  t.equal(
    s.transaction(() => {
      ins.run(1);
      ins.run(2);
      return 'done';
    }),
    'done',
  );
  t.throws(() =>
    s.transaction(() => {
      ins.run(3);
      throw new Error('boom');
    }),
  );
  // A nested call is a savepoint: its failure can be caught without losing the outer work.
  s.transaction(() => {
    ins.run(4);
    try {
      s.transaction(() => {
        ins.run(5);
        throw new Error('inner');
      });
    } catch {
      // expected
    }
  });
  const count = s.prepare<[], { v: number }>('SELECT v FROM k ORDER BY v').all();
  t.same(
    count.map((r) => r.v),
    [1, 2, 4],
  );
  s.close();
});

t.test('a committed row survives SIGKILL right after commit', async (t) => {
  const file = join(t.testdir(), 'crash', 'c.db');
  const migrations = ['CREATE TABLE reg (aor TEXT PRIMARY KEY, contact TEXT NOT NULL)'];
  openStore({ file, migrations, durability: 'promise' }).close();

  // The child opens the file the way openStore does, commits, says "ok", then waits to be
  // killed. SIGKILL skips every close and checkpoint, leaving the row only in the WAL file.
  // (This exercises WAL recovery on reopen; the fsync half of FULL needs real power loss.)
  const child = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.prepare('INSERT INTO reg (aor, contact) VALUES (?, ?)').run('sip:alice@tic', 'sip:alice@10.0.0.5');
    process.stdout.write('ok');
    setInterval(() => {}, 1000);
  `;
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const proc = spawn(process.execPath, ['-e', child, file], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    proc.on('exit', (_c, sig) => resolve(sig)),
  );
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ok')) resolve();
    });
    proc.on('exit', () => reject(new Error(`child exited before committing: ${stderr}`)));
  });
  proc.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  t.ok(statSync(`${file}-wal`).size > 0, 'the commit sits in the WAL, not yet checkpointed');

  const s = openStore({ file, migrations, durability: 'promise' });
  t.same(s.prepare('SELECT aor, contact FROM reg').all(), [
    { aor: 'sip:alice@tic', contact: 'sip:alice@10.0.0.5' },
  ]);
  s.close();
});

t.test(':memory: opens with no file; migrations are logged', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const s = openStore({
    file: ':memory:',
    migrations: ['CREATE TABLE a (x)'],
    durability: 'promise',
    log: pino(sink),
  });
  t.equal(s.file, ':memory:');
  t.equal(s.version, 1);
  t.notOk(existsSync(':memory:'));
  s.close();
  t.match(JSON.parse(lines[0] ?? '{}'), { msg: 'store migrated', from: 0, to: 1 });
});
