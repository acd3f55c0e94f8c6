/**
 * Architecture rules that a reviewer should not have to check by eye.
 *
 * DESIGN.md rule 1 (sans-I/O cores): under services/<svc>/, only adapter and wiring files
 * (server.ts, index.ts, store.ts, *-server.ts, *-adapter.ts, *-store.ts, and the service's
 * config.ts) may touch sockets, files, SQLite, processes, threads, timers, the clock or
 * Math.random. Every other file is a core and must not import those modules or call those
 * globals, and must not import an adapter (a value import would pull the I/O in behind the
 * rule's back). `import type` of an adapter is allowed: DESIGN.md puts a service's storage
 * port in store.ts next to its SQLite implementation, and type imports are erased by tsc.
 * I/O modules are refused even as types: a core should not know what a socket looks like.
 * Besides the socket, file, process, thread and SQLite modules, node:timers (the same timers
 * by import), node:http2 and node:cluster are refused, and src/store/ counts as an adapter
 * (only a store.ts may use it), as does src/observe/scrape-client.ts (HTTP to admin ports).
 *
 * ESM rule (DESIGN.md "Style"): every relative import in src/, services/ and test/ names a
 * `.js` file (or `.json`), as NodeNext resolution requires at run time.
 *
 * Boundary rule (DESIGN.md "Layout", src/ knows no protocol): nothing under src/ imports
 * services/, even as a type, except src/main.ts, which loads the registry
 * (services/index.ts), and src/testing/. What the CLI shares with the monitor lives in
 * src/observe/; what the monitor must know of a service comes from its definition.
 *
 * The scanner is a small lexer, not a TypeScript parser: it blanks comments and string
 * contents (keeping positions, so line numbers hold) and then matches patterns. It knows
 * template literals with `${}` and the usual regex-literal positions; anything more exotic
 * may need a real parser, which a test of this size does not justify.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ---------------------------------------------------------------------------------------
// Lexing

/**
 * Replace comments (and, unless keepStrings, the contents of string, template and regex
 * literals) with spaces. Newlines and the length are kept, so offsets map 1:1 to `src`.
 */
function blank(src: string, keepStrings: boolean): string {
  const out = src.split('');
  const wipe = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  // For each open template `${`, the `{` depth inside it; `}` at depth 0 resumes the template.
  const templates: number[] = [];
  let depth = 0;
  let prev = ''; // last significant code character, to tell a regex from a division
  let i = 0;
  const n = src.length;

  const template = (): void => {
    // i is just past the opening backtick or the closing `}` of a `${}`.
    const start = i;
    while (i < n) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        if (!keepStrings) wipe(start, i);
        i++;
        prev = 'a';
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        if (!keepStrings) wipe(start, i);
        i += 2;
        templates.push(depth);
        depth = 0;
        prev = '{';
        return;
      } else i++;
    }
    if (!keepStrings) wipe(start, n);
  };

  while (i < n) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      wipe(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      wipe(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < n && src[i] !== c && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
      if (!keepStrings) wipe(start, Math.min(i, n));
      i++;
      prev = 'a';
    } else if (c === '`') {
      i++;
      template();
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev))) {
      // A regex literal: skip to the closing unescaped `/` outside a character class.
      const start = ++i;
      let inClass = false;
      while (i < n && src[i] !== '\n' && (inClass || src[i] !== '/')) {
        if (src[i] === '\\') i++;
        else if (src[i] === '[') inClass = true;
        else if (src[i] === ']') inClass = false;
        i++;
      }
      if (!keepStrings) wipe(start, Math.min(i, n));
      i++;
      prev = 'a';
    } else {
      if (c === '{') depth++;
      else if (c === '}') {
        if (depth === 0 && templates.length > 0) {
          depth = templates.pop()!;
          i++;
          template();
          continue;
        }
        depth--;
      }
      if (!/\s/.test(c)) prev = /[\w$]/.test(c) ? 'a' : c;
      i++;
    }
  }
  return out.join('');
}

function lineAt(src: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset; k++) if (src.charCodeAt(k) === 10) line++;
  return line;
}

interface Import {
  spec: string;
  line: number;
  /** `import type …`, `export type …`, or braces holding only `type` names. */
  typeOnly: boolean;
}

// Matched on the blanked code, so an "import" in a comment or a string is never seen. The
// three forms: dynamic import('x'); import/export … from 'x'; side-effect import 'x'.
const IMPORT_RE =
  /(?<![\w$.])(?:import\s*\(\s*|(import|export)\b(\s+type\b)?\s*([\w$*\s,]*(?:\{[^{}()'"`;]*\})?[\w$*\s,]*?)\s*\bfrom\s*|import\s*)(['"])/g;

function importsOf(src: string): Import[] {
  const code = blank(src, false);
  const withStrings = blank(src, true);
  const found: Import[] = [];
  for (const m of code.matchAll(IMPORT_RE)) {
    const quote = m.index + m[0].length - 1;
    const end = withStrings.indexOf(m[4]!, quote + 1);
    const spec = withStrings.slice(quote + 1, end);
    const clause = (m[3] ?? '').trim();
    const braces = /^\{([^}]*)\}$/.exec(clause);
    const names =
      braces?.[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean) ?? [];
    const typeOnly =
      m[2] !== undefined || (names.length > 0 && names.every((s) => /^type\s/.test(s)));
    found.push({ spec, line: lineAt(src, quote), typeOnly });
  }
  return found;
}

// ---------------------------------------------------------------------------------------
// Rule 1

/** Adapters and wiring: the only service files allowed to do I/O. src/ is shared runtime. */
function isExempt(file: string): boolean {
  if (!file.startsWith('services/')) return true;
  const parts = file.split('/');
  if (parts.length < 3) return true; // services/index.ts: the service list, wiring
  const base = parts[parts.length - 1]!;
  if (base === 'config.ts' && parts.length === 3) return true;
  return isAdapter(file);
}

/**
 * The service files allowed to do I/O besides DESIGN.md's fixed three (a service's
 * server.ts, index.ts and store.ts), named one by one: a file is not an adapter because of
 * its name (files were once named *-store.ts to pass a pattern). A new adapter is added
 * here with its reason; anything else under services/ is a core.
 */
const ADAPTERS: Readonly<Record<string, string>> = {
  'services/dhcp/interface-adapter.ts': 'per-interface sockets (SO_BINDTODEVICE addon)',
  'services/dhcp/ddns-client.ts': 'UPDATEs to the DNS server (UDP)',
  'services/dhcp/ddns-wiring.ts': 'starts the DDNS client (reads its key file)',
  'services/dns/forward-adapter.ts': 'upstream sockets of the forwarder',
  'services/dns/worker-pool-adapter.ts': 'UDP worker processes',
  'services/dns/worker-server.ts': 'the UDP worker process itself',
  'services/dns/zone-store.ts': 'zone files read from disk',
  'services/dns/journal-store.ts': 'the UPDATE journal in SQLite',
  'services/dns/dynamic-zones.ts': 'UPDATEs committed to the journal',
  'services/dns/tsig-secret.ts': 'TSIG secrets from files',
  'services/dns/notify-adapter.ts': 'NOTIFY out on the UDP listeners, resend timer',
  'services/dns/secondary-adapter.ts':
    'SOA queries (UDP) and transfers (TCP) to the primaries, refresh timers',
  'services/dns/secondary-store.ts': 'secondary zone copies on disk',
  'services/ftp/account-store.ts': 'user and secret files',
  'services/ftp/connection-adapter.ts': 'one control connection: socket, timers, effects',
  'services/ftp/data-channel-adapter.ts': 'active/passive data sockets',
  'services/ftp/home-fs-adapter.ts': 'the chrooted file system',
  'services/ftp/log-file-adapter.ts': 'xferlog file',
  'services/ftp/quota-store.ts': 'quota accounting on disk',
  'services/http/app-adapter.ts': 'request handling on node:http',
  'services/http/file-store.ts': 'static files on disk',
  'services/http/log-store.ts': 'access and error log files',
  'services/http/site-store.ts': 'site roots and TLS files',
  'services/http/upstream-adapter.ts': 'proxy upstream connections',
  'services/monitor/app-adapter.ts': 'dashboard HTTP handling',
  'services/monitor/collector-adapter.ts': 'sampling timers',
  'services/monitor/history-store.ts': 'samples in SQLite',
  'services/monitor/host-adapter.ts': '/proc and /sys reads',
  'services/sip/relay-adapter.ts': 'RTP/RTCP sockets of the relay',
};

/** Test helpers beside a service: imported only by tests, kept out of dist/ by tsconfig.build.json. */
function isTestHelper(file: string): boolean {
  return /^services\/[^/]+\/testing(-[a-z0-9-]+)?\.ts$/.test(file);
}

/** A file a core must not import for its value. */
function isAdapter(file: string): boolean {
  // src/store is the shared SQLite helper: only a service's store.ts may use it. (src/net
  // is not listed: it also holds pure helpers such as CIDR math that cores may use.)
  if (file.startsWith('src/store/')) return true;
  // The admin-listener client shared by the monitor and the CLI: HTTP requests.
  if (file === 'src/observe/scrape-client.ts') return true;
  const parts = file.split('/');
  if (parts[0] !== 'services') return false;
  if (parts.length === 3 && ['server.ts', 'index.ts', 'store.ts'].includes(parts[2]!)) return true;
  return Object.hasOwn(ADAPTERS, file) || isTestHelper(file);
}

const IO_MODULES = [
  'dgram',
  'net',
  'tls',
  'http',
  'https',
  'http2',
  'fs',
  'child_process',
  'worker_threads',
  'cluster',
  'timers',
];

function ioModule(spec: string): boolean {
  if (spec === 'better-sqlite3' || spec.startsWith('better-sqlite3/')) return true;
  const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
  const root = bare.split('/')[0]!;
  return IO_MODULES.includes(root);
}

// `(?<!(?<!globalThis)\.)`: a method of some object (clock.setTimeout) is not the global;
// globalThis.setTimeout is.
const GLOBAL = String.raw`(?<![\w$])(?<!(?<!globalThis)\.)`;
const FORBIDDEN_CALLS: [RegExp, string][] = [
  [new RegExp(`${GLOBAL}setTimeout\\s*\\(`, 'g'), 'setTimeout()'],
  [new RegExp(`${GLOBAL}setInterval\\s*\\(`, 'g'), 'setInterval()'],
  [new RegExp(`${GLOBAL}setImmediate\\s*\\(`, 'g'), 'setImmediate()'],
  [new RegExp(`${GLOBAL}Date\\.now\\s*\\(`, 'g'), 'Date.now()'],
  // `new Date()` and `new Date` read the clock; `new Date(ms)` does not.
  [new RegExp(`${GLOBAL}new\\s+Date(?:\\s*\\(\\s*\\)|(?![\\w$]|\\s*\\())`, 'g'), 'new Date()'],
  [new RegExp(`${GLOBAL}performance\\.now\\s*\\(`, 'g'), 'performance.now()'],
  [new RegExp(`${GLOBAL}Math\\.random\\s*\\(`, 'g'), 'Math.random()'],
];

/** Rule-1 violations in one core file, as `file:line: what`. */
function scanCore(file: string, src: string): string[] {
  const out: string[] = [];
  for (const imp of importsOf(src)) {
    if (ioModule(imp.spec)) {
      out.push(`${file}:${imp.line}: core imports '${imp.spec}' (I/O belongs in an adapter)`);
    } else if (imp.spec.startsWith('.') && !imp.typeOnly) {
      const target = posix.join(posix.dirname(file), imp.spec).replace(/\.js$/, '.ts');
      if (isAdapter(target)) {
        out.push(`${file}:${imp.line}: core imports adapter '${imp.spec}' (use import type)`);
      }
    }
  }
  const code = blank(src, false);
  for (const [re, what] of FORBIDDEN_CALLS) {
    for (const m of code.matchAll(re)) {
      out.push(`${file}:${lineAt(src, m.index)}: core calls ${what} (inject a Clock/Rng)`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// ESM rule

function scanExtensions(file: string, src: string): string[] {
  return importsOf(src)
    .filter((i) => i.spec.startsWith('./') || i.spec.startsWith('../'))
    .filter((i) => !/\.(js|json)$/.test(i.spec))
    .map((i) => `${file}:${i.line}: relative import '${i.spec}' must name a .js file`);
}

// ---------------------------------------------------------------------------------------
// Boundary rule

/** The files under src/ allowed to import services/: the entry point and test helpers. */
function mayImportServices(file: string): boolean {
  return file === 'src/main.ts' || file.startsWith('src/testing/');
}

/** Imports of services/ from a file under src/, as `file:line: what`. */
function scanBoundary(file: string, src: string): string[] {
  if (!file.startsWith('src/') || mayImportServices(file)) return [];
  return importsOf(src)
    .filter((i) => i.spec.startsWith('.'))
    .filter((i) => posix.join(posix.dirname(file), i.spec).startsWith('services/'))
    .map((i) => `${file}:${i.line}: src/ imports '${i.spec}' (src/ must not know services/)`);
}

// ---------------------------------------------------------------------------------------
// The tree

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(posix.join(ROOT, dir), { withFileTypes: true });
  } catch {
    return []; // a folder not written yet
  }
  return entries.flatMap((e) => {
    const rel = posix.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

const read = (rel: string): string => readFileSync(posix.join(ROOT, rel), 'utf8');

// ---------------------------------------------------------------------------------------
// Tests

t.test('scanner self-test on inline sources', async (t) => {
  const core = [
    "import { createSocket } from 'node:dgram';", // 1
    'import fs from "fs";', // 2
    "import type { Database } from 'better-sqlite3';", // 3
    '// setTimeout(() => {}, 1); import x from "node:net";', // 4
    'const s = "Date.now() and setInterval(";', // 5
    'const t = `at ${Date.now()} ms`;', // 6
    'const d = new Date(0); const e = new Date();', // 7
    'clock.setTimeout(f); const r = /\\/\\/ Math.random(/;', // 8
    'globalThis.setImmediate(f);', // 9
    "import { send } from './server.js';", // 10
    "import type { LeaseStore } from './store.js';", // 11
    "import { type A, type B } from './udp-adapter.js';", // 12
    'import {', // 13
    '  parse,', // 14
    "} from './codec.js';", // 15
    '/* performance.now() */ const q = Math.random();', // 16
    "const later = await import('node:fs/promises');", // 17
    'const u = `${`${Math.random()}`}`; const v = { a: `}` };', // 18
    "export * from '../../src/store/sqlite.js';", // 19
    'const w = new Date;', // 20
  ].join('\n');
  t.same(
    scanCore('services/x/handler.ts', core).sort(),
    [
      "services/x/handler.ts:1: core imports 'node:dgram' (I/O belongs in an adapter)",
      "services/x/handler.ts:10: core imports adapter './server.js' (use import type)",
      'services/x/handler.ts:16: core calls Math.random() (inject a Clock/Rng)',
      "services/x/handler.ts:17: core imports 'node:fs/promises' (I/O belongs in an adapter)",
      'services/x/handler.ts:18: core calls Math.random() (inject a Clock/Rng)',
      "services/x/handler.ts:19: core imports adapter '../../src/store/sqlite.js' (use import type)",
      "services/x/handler.ts:2: core imports 'fs' (I/O belongs in an adapter)",
      'services/x/handler.ts:20: core calls new Date() (inject a Clock/Rng)',
      "services/x/handler.ts:3: core imports 'better-sqlite3' (I/O belongs in an adapter)",
      'services/x/handler.ts:6: core calls Date.now() (inject a Clock/Rng)',
      'services/x/handler.ts:7: core calls new Date() (inject a Clock/Rng)',
      'services/x/handler.ts:9: core calls setImmediate() (inject a Clock/Rng)',
    ].sort(),
  );
  t.same(scanCore('services/x/zone.ts', "import { a } from './rr.js';\nf(a);\n"), []);

  t.same(importsOf(core)[6], { spec: './codec.js', line: 15, typeOnly: false });
  t.same(
    scanExtensions(
      'test/a.test.ts',
      "import a from './a';\nimport b from '../b.js';\nimport 'x';\n",
    ),
    ["test/a.test.ts:1: relative import './a' must name a .js file"],
  );

  t.ok(isExempt('src/anything.ts'));
  t.ok(isExempt('services/index.ts'));
  for (const f of ['server.ts', 'index.ts', 'config.ts', 'zone-store.ts', 'testing.ts']) {
    t.ok(isExempt(`services/dns/${f}`), f);
  }
  for (const f of [
    'handler.ts',
    'zone.ts',
    'sub/config.ts',
    'server-name.ts',
    'storage.ts',
    'udp-server.ts',
    'rtp-adapter.ts',
    'lease-store.ts',
  ]) {
    t.notOk(isExempt(`services/dns/${f}`), `${f}: not on the allow-list, so a core`);
  }
});

t.test('rule 1: sans-I/O cores in services/*/', async (t) => {
  const cores = tsFiles('services').filter((f) => !f.endsWith('.test.ts') && !isExempt(f));
  t.ok(cores.length > 0, `found ${cores.length} core file(s)`);
  const violations = cores.flatMap((f) => scanCore(f, read(f)));
  t.same(violations, [], `core files doing I/O:\n${violations.join('\n')}`);
});

t.test(
  'rule 1: every allow-listed adapter exists; test helpers stay out of the build',
  async (t) => {
    const files = new Set(tsFiles('services'));
    const missing = Object.keys(ADAPTERS).filter((f) => !files.has(f));
    t.same(missing, [], 'allow-list names only files that exist');
    const helpers = [...files].filter(isTestHelper);
    t.ok(helpers.length > 0, `test helpers: ${helpers.join(', ')}`);
    const users = [...files]
      .filter((f) => !f.endsWith('.test.ts') && !isTestHelper(f))
      .flatMap((f) =>
        importsOf(read(f))
          .filter((i) => isTestHelper(posix.join(posix.dirname(f), i.spec).replace(/\.js$/, '.ts')))
          .map((i) => `${f}: imports ${i.spec}`),
      );
    t.same(users, [], 'only tests and other helpers import test helpers');
    const build = JSON.parse(read('tsconfig.build.json')) as { exclude: string[] };
    for (const pattern of ['services/*/testing.ts', 'services/*/testing-*.ts'])
      t.ok(build.exclude.includes(pattern), `tsconfig.build.json excludes ${pattern}`);
  },
);

t.test('boundary: src/ does not import services/', async (t) => {
  t.same(
    scanBoundary(
      'src/cli/x.ts',
      [
        "import { a } from '../../services/monitor/snapshot.js';",
        "import type { B } from '../../services/dns/config.js';",
        "const c = await import('../../services/index.js');",
        "import { d } from '../observe/snapshot.js';",
        "// import { e } from '../../services/x.js';",
      ].join('\n'),
    ),
    [
      "src/cli/x.ts:1: src/ imports '../../services/monitor/snapshot.js' (src/ must not know services/)",
      "src/cli/x.ts:2: src/ imports '../../services/dns/config.js' (src/ must not know services/)",
      "src/cli/x.ts:3: src/ imports '../../services/index.js' (src/ must not know services/)",
    ],
    'self-test: value, type and dynamic imports are caught; src/ and comments are not',
  );
  t.same(scanBoundary('src/main.ts', "import { x } from '../services/index.js';"), []);
  const files = tsFiles('src');
  t.ok(files.includes('src/main.ts'), 'scanned src/');
  const bad = files.flatMap((f) => scanBoundary(f, read(f)));
  t.same(bad, [], `src/ files importing services/:\n${bad.join('\n')}`);
  t.ok(
    importsOf(read('src/main.ts')).some((i) => i.spec === '../services/index.js'),
    'src/main.ts is the one place that loads the registry',
  );
});

t.test('ESM: relative imports end in .js', async (t) => {
  const files = ['src', 'services', 'test'].flatMap(tsFiles);
  t.ok(files.length > 0);
  const bad = files.flatMap((f) => scanExtensions(f, read(f)));
  t.same(bad, [], `relative imports without .js:\n${bad.join('\n')}`);
});
