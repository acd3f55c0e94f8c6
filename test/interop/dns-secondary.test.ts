/**
 * Interop, issue 11: BIND 9 (`named`, on 127.0.0.1, unprivileged) is the PRIMARY and
 * netsvc's DNS (the built CLI on a copy of config/dev) its SECONDARY:
 * - netsvc transfers sec.example from BIND (AXFR, TSIG-signed with xfr-key, which BIND's
 *   allow-transfer demands): it serves BIND's SOA serial and the same records, and the
 *   same whole zone by AXFR;
 * - an nsupdate into BIND (a dynamic zone: BIND keeps a journal) reaches netsvc within a
 *   second: BIND's NOTIFY, netsvc's signed SOA query, then IXFR from BIND's journal (the
 *   zone's REFRESH is an hour, so it was the NOTIFY); a delete the same way; two updates
 *   in quick succession both arrive;
 * - a netsvc whose xfr-key secret differs gets nothing: SERVFAIL for the zone, a failed
 *   check naming TSIG in its log, and BIND's log shows the refusal;
 * - without a key, a zone whose allow-transfer is an address transfers too (and the
 *   key-only zone refuses the unsigned transfer);
 * - after a restart with BIND stopped, netsvc serves its stored copies at once, and a zone
 *   whose SOA EXPIRE is 8 s answers SERVFAIL once EXPIRE has passed without contact
 *   (BIND serves a primary zone's SOA timers as written: no minimum on EXPIRE there).
 */
import t, { type Test } from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePorts, startDaemon, type Daemon } from '../../src/testing/daemon.js';
import { chownTree, lookupUser } from './daemon-user.js';
import { pollUntil } from '../../src/testing/poll.js';
import { repoRoot, startNetsvcDir, which } from '../../bench/dns-servers.js';

const root = repoRoot();
const run = promisify(execFile);
const DIG = which('dig');
const NSUPDATE = which('nsupdate');
const NAMED = which('named');
const ZONE = 'sec.example';
const EXP = 'exp.example';
const OPEN = 'open.example';
const SERIAL = 2026120601;
const DDNS_SECRET = Buffer.from('bind primary ddns key, 32 bytes.').toString('base64');
const XFR_SECRET = Buffer.from('bind primary xfr key, 32 bytes!!').toString('base64');
const WRONG_SECRET = Buffer.from('not the transfer key, 32 bytes!!').toString('base64');
const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

const missing = [
  ['named', NAMED],
  ['dig', DIG],
  ['nsupdate', NSUPDATE],
].flatMap(([name, path]) => (path === undefined ? [name] : []));

if (missing.length > 0) {
  if (process.env.CI) t.fail(`${missing.join(', ')} missing in CI (bind9, bind9-dnsutils)`);
  else t.plan(0, `${missing.join(', ')} missing: skipped`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-dns-secondary-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // As root, named drops to the `bind` user (-u); its folder is given to that user (it
  // writes the journal of the dynamic zone there).
  const asRoot = userInfo().uid === 0;
  const bindUser = asRoot ? (lookupUser('bind') ?? lookupUser('nobody')) : undefined;
  if (bindUser) chmodSync(dir, 0o755);

  const bindKey = (name: string, secret: string): string =>
    `key "${name}" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`;

  const [port, adminPort, bindPort, port2, adminPort2, port3, adminPort3] = (await freePorts(
    7,
  )) as [number, number, number, number, number, number, number];

  /** A copy of config/dev in dir/<name>: DNS on `port`, its zones changed by `edit`. */
  const netsvcDir = (
    name: string,
    dnsPort: number,
    admin: number,
    edit: (dns: Record<string, unknown>) => void,
  ): string => {
    const d = join(dir, name);
    mkdirSync(d);
    for (const f of ['netsvc.yaml', 'dns.yaml', 'zones'])
      cpSync(join(root, 'config', 'dev', f), join(d, f), { recursive: true });
    const dns = parse(readFileSync(join(d, 'dns.yaml'), 'utf8')) as Record<string, unknown>;
    dns.listen = [{ address: '127.0.0.1', port: dnsPort }];
    edit(dns);
    writeFileSync(join(d, 'dns.yaml'), stringify(dns));
    const main = parse(readFileSync(join(d, 'netsvc.yaml'), 'utf8')) as Record<string, unknown>;
    main.admin = { ...(main.admin as object), address: '127.0.0.1', port: admin };
    main.dataDir = join(d, 'data');
    main.log = { ...(main.log as object), level: 'info', format: 'json' };
    writeFileSync(join(d, 'netsvc.yaml'), stringify(main));
    return d;
  };
  const secondary = (origin: string, key?: string): Record<string, unknown> => ({
    origin,
    primaries: [`127.0.0.1:${bindPort}`],
    ...(key === undefined ? {} : { key }),
  });

  // ---- BIND, the primary ------------------------------------------------------------
  const bdir = join(dir, 'named');
  mkdirSync(bdir);
  const soa = (origin: string, serial: number, timers: string): string =>
    `$TTL 300\n@ IN SOA ns1.${origin}. hostmaster.${origin}. ${serial} ${timers}\n` +
    `@ IN NS ns1\nns1 IN A 127.0.0.1\n`;
  // REFRESH 1 h: following within a second can only be the NOTIFY.
  writeFileSync(
    join(bdir, `${ZONE}.db`),
    soa(ZONE, SERIAL, '3600 600 604800 60') +
      `www IN A 192.0.2.10\nmail IN A 192.0.2.25\n@ IN MX 10 mail\n` +
      `@ IN TXT "bind primary"\nalias IN CNAME www\n`,
  );
  // REFRESH 2 s keeps the contact fresh while BIND runs; EXPIRE 8 s once it is gone.
  writeFileSync(join(bdir, `${EXP}.db`), soa(EXP, 1, '2 2 8 60') + `www IN A 192.0.2.80\n`);
  writeFileSync(
    join(bdir, `${OPEN}.db`),
    soa(OPEN, 7, '3600 600 604800 60') + `www IN A 192.0.2.70\n`,
  );
  // sec.example is dynamic (allow-update: BIND keeps a journal and serves IXFR from it) and
  // NOTIFYs netsvc only; notify-delay 0: a NOTIFY per change (BIND's default, 5 s, would
  // hold back the one after a change it has just notified).
  const namedConf = join(bdir, 'named.conf');
  writeFileSync(
    namedConf,
    `${bindKey('xfr-key', XFR_SECRET)}${bindKey('ddns', DDNS_SECRET)}
options { directory "${bdir}"; pid-file none; listen-on port ${bindPort} { 127.0.0.1; };
  listen-on-v6 { none; }; recursion no; dnssec-validation no; notify no; };
controls { };
zone "${ZONE}" { type primary; file "${ZONE}.db"; allow-update { key ddns; };
  allow-transfer { key xfr-key; }; notify explicit; notify-delay 0;
  also-notify { 127.0.0.1 port ${port}; }; };
zone "${EXP}" { type primary; file "${EXP}.db"; allow-transfer { key xfr-key; }; };
zone "${OPEN}" { type primary; file "${OPEN}.db"; allow-transfer { 127.0.0.1; }; };
`,
  );
  if (bindUser) chownTree(bdir, bindUser.uid, bindUser.gid);
  const check = spawnSync(which('named-checkconf') ?? 'named-checkconf', ['-z', namedConf], {
    encoding: 'utf8',
  });
  if (check.status !== 0 && check.error === undefined)
    throw new Error(`named-checkconf failed:\n${check.stdout}${check.stderr}`);

  /** dig at 127.0.0.1:`at`: the rcode and the answer lines (sorted, lowercase, one space). */
  const ask = async (
    at: number,
    name: string,
    type: string,
  ): Promise<{ status: string; answers: string[] }> => {
    const { stdout } = await run(
      DIG!,
      [
        '@127.0.0.1',
        '-p',
        String(at),
        '+time=1',
        '+tries=1',
        '+noall',
        '+comments',
        '+answer',
      ].concat([name, type]),
      { encoding: 'utf8', timeout: 5000 },
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'no answer';
    const answers = stdout
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith(';'))
      .map((l) => l.trim().split(/\s+/).join(' ').toLowerCase())
      .sort();
    return { status, answers };
  };
  /** The RDATA of the answers, joined: "192.0.2.10", or "" when there are none. */
  const short = async (at: number, name: string, type: string): Promise<string> =>
    (await ask(at, name, type)).answers.map((l) => l.split(' ').slice(4).join(' ')).join('\n');
  const serialAt = async (at: number, origin: string): Promise<number | undefined> => {
    const s = (await short(at, origin, 'SOA')).split(' ')[2];
    return s === undefined ? undefined : Number(s);
  };
  /** A whole-zone transfer as sorted record lines (the closing SOA dropped). */
  const axfr = async (at: number, origin: string, key?: string): Promise<string[]> => {
    const { stdout } = await run(
      DIG!,
      ['@127.0.0.1', '-p', String(at), '+nocomments', '+nostats', '+time=2', '+tries=1']
        .concat(key === undefined ? [] : ['-y', key])
        .concat([origin, 'AXFR']),
      { encoding: 'utf8', timeout: 10_000 },
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const lines = stdout
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith(';'))
      .map((l) => l.trim().split(/\s+/).join(' ').toLowerCase())
      .filter((l) => !/ tsig /.test(l));
    return [...new Set(lines)].sort();
  };
  /** Poll `probe` every 20 ms until it holds, at most `ms`; the time taken or undefined. */
  const until = (probe: () => Promise<boolean>, ms = 10_000) => pollUntil(probe, ms, 20);
  const nsupdate = (script: string) =>
    spawnSync(NSUPDATE!, ['-y', `hmac-sha256:ddns:${DDNS_SECRET}`], {
      input: `server 127.0.0.1 ${bindPort}\nzone ${ZONE}\n${script}\nsend\n`,
      encoding: 'utf8',
      timeout: 15_000,
    });
  /** netsvc's JSON log lines with this msg (and zone, when given). */
  const logs = (d: Daemon, msg: string, zone?: string): Record<string, unknown>[] =>
    d
      .output()
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      })
      .filter((o) => o.msg === msg && (zone === undefined || o.zone === `${zone}.`));
  const transferred = (d: Daemon, zone: string) => logs(d, 'secondary zone transferred', zone);
  const failedChecks = (d: Daemon, zone: string) =>
    logs(d, 'secondary zone: primary check or transfer failed', zone);
  interface SecondaryState {
    serial: number | null;
    serving: boolean;
    expires: string | null;
    primaries: string[];
    nextCheckInMs: number | null;
  }
  const state = async (admin: number, zone: string): Promise<SecondaryState | undefined> => {
    const s = (await fetch(`http://127.0.0.1:${admin}/state/dns`).then((r) => r.json())) as {
      secondary?: Record<string, SecondaryState>;
    };
    return s.secondary?.[`${zone}.`];
  };
  const metric = async (admin: number, name: string, label: string): Promise<number> => {
    const text = await fetch(`http://127.0.0.1:${admin}/metrics`).then((r) => r.text());
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${label}}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  const startNamed = (tt: { teardown(fn: () => unknown): void }): Promise<Daemon> =>
    startDaemon({
      name: 'named-primary',
      command: NAMED!,
      args: ['-g', '-c', namedConf, ...(bindUser ? ['-u', bindUser.name] : [])],
      cwd: bdir,
      ready: { check: async () => (await serialAt(bindPort, ZONE)) !== undefined },
      teardown: tt,
    });
  const named = await startNamed(t);
  const bindLog = (re: RegExp): string[] =>
    named
      .output()
      .split('\n')
      .filter((l) => re.test(l));

  // ---- netsvc, the secondary (the dev zones kept: primaries and secondaries side by side)
  const cfg1 = netsvcDir('netsvc', port, adminPort, (dns) => {
    dns.keys = [{ name: 'xfr-key', secretFile: 'xfr.key' }];
    dns.zones = [
      ...(dns.zones as Record<string, unknown>[]),
      secondary(ZONE, 'xfr-key'),
      secondary(EXP, 'xfr-key'),
    ];
    // netsvc passes its copy on by AXFR: the whole zone can be compared with BIND's.
    dns.transfer = { allow: ['127.0.0.1/32'] };
  });
  writeFileSync(join(cfg1, 'xfr.key'), bindKey('xfr-key', XFR_SECRET), { mode: 0o600 });
  const t0 = performance.now();
  let server = await startNetsvcDir({ configDir: cfg1, adminPort, teardown: t });
  const startedMs = performance.now() - t0;

  t.test('netsvc transfers sec.example from BIND (AXFR, TSIG)', async (t) => {
    const bindSoa = await short(bindPort, ZONE, 'SOA');
    t.equal(Number(bindSoa.split(' ')[2]), SERIAL, `BIND serves ${ZONE} (${bindSoa})`);
    const t1 = performance.now();
    const ms = await until(async () => (await short(port, ZONE, 'SOA')) === bindSoa);
    t.ok(ms !== undefined, "netsvc serves BIND's SOA");
    if (ms === undefined) {
      t.comment(server.output().split('\n').slice(-20).join('\n'));
      return;
    }
    t.comment(
      `netsvc start ${startedMs.toFixed(0)} ms; ready to serving the zone ${(performance.now() - t1).toFixed(0)} ms`,
    );
    for (const [name, type] of [
      [ZONE, 'NS'],
      [ZONE, 'MX'],
      [ZONE, 'TXT'],
      [`www.${ZONE}`, 'A'],
      [`mail.${ZONE}`, 'A'],
      [`alias.${ZONE}`, 'CNAME'],
    ] as const) {
      const want = await ask(bindPort, name, type);
      t.not(want.answers.length, 0, `BIND answers ${name} ${type}`);
      t.same((await ask(port, name, type)).answers, want.answers, `netsvc: ${name} ${type}`);
    }
    const none = await ask(port, `nope.${ZONE}`, 'A');
    t.equal(none.status, 'NXDOMAIN', 'a name not in the zone: NXDOMAIN from the copy');
    t.same(
      await axfr(port, ZONE),
      await axfr(bindPort, ZONE, `hmac-sha256:xfr-key:${XFR_SECRET}`),
      'the same whole zone',
    );
    t.notMatch(
      (await axfr(bindPort, ZONE)).join('\n'),
      / soa /,
      'BIND refuses an unsigned AXFR of sec.example: netsvc signed its transfer',
    );
    const done = transferred(server, ZONE);
    t.equal(done.length, 1, 'one transfer logged');
    t.match(
      done[0],
      { primary: `127.0.0.1:${bindPort}`, serial: SERIAL, kind: 'AXFR' },
      `by AXFR: ${JSON.stringify(done[0])}`,
    );
    t.match(bindLog(/transfer of 'sec\.example\/IN'/).join('\n'), /AXFR started: TSIG xfr-key/);
    const st = await state(adminPort, ZONE);
    t.match(st, { serial: SERIAL, serving: true, primaries: [`127.0.0.1:${bindPort}`] }, 'state');
    t.ok((st?.nextCheckInMs ?? 0) > 3_000_000, `next check in ${st?.nextCheckInMs} ms (REFRESH)`);
    t.ok((await metric(adminPort, 'dns_secondary_checks_total', 'result="axfr"')) >= 1);
    t.equal(await short(port, 'www.TIC2023.com', 'A'), '192.168.0.5', 'the dev zone still served');
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${named.pid}/status`, 'utf8'))?.[1];
    t.not(uid, '0', `named runs unprivileged (uid ${uid})`);
  });

  // NOTIFYs within netsvc's hold (secondary-timers.ts notifyHoldMs, 200 ms) start one
  // check: the updates here are spaced well past it; closer ones are the next subtest's.
  let lastUpdate = -Infinity;
  const pastHold = async (): Promise<void> => {
    const wait = lastUpdate + 500 - performance.now();
    if (wait > 0) await sleep(wait);
  };
  /** nsupdate into BIND, then the time until `probe` holds at netsvc. */
  const follow = async (
    t: Test,
    what: string,
    script: string,
    probe: () => Promise<boolean>,
  ): Promise<void> => {
    await pastHold();
    const before = (await serialAt(port, ZONE))!;
    const seen = transferred(server, ZONE).length;
    const r = nsupdate(script);
    const t1 = performance.now();
    lastUpdate = t1;
    t.equal(r.status, 0, `nsupdate ${what} ${r.stderr}`);
    const ms = await until(
      async () => (await probe()) && (await serialAt(port, ZONE)) === before + 1,
    );
    t.ok(ms !== undefined, `netsvc serves the ${what} and serial ${before + 1}`);
    t.ok(ms !== undefined && ms < 1000, `within 1 s of nsupdate returning: ${ms?.toFixed(0)} ms`);
    t.comment(`nsupdate ${what} into BIND to netsvc's answer: ${ms?.toFixed(0)} ms`);
    await until(async () => transferred(server, ZONE).length > seen, 2000);
    const last = transferred(server, ZONE).at(-1);
    t.match(last, { serial: before + 1, kind: 'IXFR' }, `by IXFR: ${JSON.stringify(last)}`);
  };

  t.test('an nsupdate into BIND reaches netsvc on the NOTIFY, by IXFR', async (t) => {
    const notifies = await metric(adminPort, 'dns_notify_total', 'event="received"');
    await follow(
      t,
      'add',
      `update add new.${ZONE}. 300 A 192.0.2.99\nupdate add new.${ZONE}. 300 TXT "added"`,
      async () => (await short(port, `new.${ZONE}`, 'A')) === '192.0.2.99',
    );
    t.equal(await short(port, `new.${ZONE}`, 'TXT'), '"added"');
    await follow(
      t,
      'delete',
      `update delete new.${ZONE}. A`,
      async () => (await ask(port, `new.${ZONE}`, 'A')).answers.length === 0,
    );
    t.equal(await short(port, `new.${ZONE}`, 'TXT'), '"added"', 'the TXT stays');
    t.ok(
      (await metric(adminPort, 'dns_notify_total', 'event="received"')) >= notifies + 2,
      "BIND's NOTIFYs counted",
    );
    t.ok((await metric(adminPort, 'dns_secondary_checks_total', 'result="ixfr"')) >= 2);
    const ixfr = bindLog(/transfer of 'sec\.example\/IN': IXFR/);
    t.comment(`BIND:\n${ixfr.slice(-4).join('\n')}`);
    t.match(ixfr.join('\n'), /IXFR started: TSIG xfr-key/, 'BIND served IXFR, signed');
    t.notMatch(ixfr.join('\n'), /AXFR-style IXFR/, 'from its journal, not in AXFR form');
    t.same(
      await axfr(port, ZONE),
      await axfr(bindPort, ZONE, `hmac-sha256:xfr-key:${XFR_SECRET}`),
      'the same whole zone again',
    );
  });

  // BIND (notify-delay 0) sends a NOTIFY per change; the second comes while netsvc is
  // still checking or transferring the first, or within its 200 ms hold. RFC 1996
  // §4.7 and BIND's own secondary (a refresh queued behind the running one): the later
  // change must not wait for REFRESH (an hour here).
  t.test('two updates in quick succession both reach netsvc', async (t) => {
    await pastHold();
    const before = (await serialAt(port, ZONE))!;
    const notifies = await metric(adminPort, 'dns_notify_total', 'event="received"');
    const a = nsupdate(`update add burst1.${ZONE}. 300 A 192.0.2.101`);
    const b = nsupdate(`update add burst2.${ZONE}. 300 A 192.0.2.102`);
    const t1 = performance.now();
    lastUpdate = t1;
    t.ok(a.status === 0 && b.status === 0, `both nsupdates ${a.stderr}${b.stderr}`);
    t.equal(await serialAt(bindPort, ZONE), before + 2, 'BIND is two serials on');
    const ms = await until(async () => (await serialAt(port, ZONE)) === before + 2, 5000);
    const st = await state(adminPort, ZONE);
    t.comment(
      `netsvc at serial ${await serialAt(port, ZONE)} after ${(performance.now() - t1).toFixed(0)} ms; ` +
        `next check in ${st?.nextCheckInMs} ms; transfers: ${JSON.stringify(transferred(server, ZONE).slice(-2))}`,
    );
    t.comment(
      `NOTIFYs answered meanwhile: ${(await metric(adminPort, 'dns_notify_total', 'event="received"')) - notifies}`,
    );
    t.comment(
      `BIND:\n${bindLog(/sec\.example\/IN: sending notifies|sec\.example\/IN.*IXFR (started|ended)/)
        .slice(-4)
        .join('\n')}`,
    );
    t.ok(ms !== undefined, `netsvc followed both (${ms?.toFixed(0)} ms)`);
    t.equal(await short(port, `burst2.${ZONE}`, 'A'), '192.0.2.102', 'the second update served');
  });

  t.test('a wrong xfr-key secret gets no zone', async (t) => {
    const cfg2 = netsvcDir('netsvc-wrong-key', port2, adminPort2, (dns) => {
      dns.keys = [{ name: 'xfr-key', secretFile: 'xfr.key' }];
      dns.zones = [secondary(ZONE, 'xfr-key')];
    });
    writeFileSync(join(cfg2, 'xfr.key'), bindKey('xfr-key', WRONG_SECRET), { mode: 0o600 });
    const bad = await startNetsvcDir({ configDir: cfg2, adminPort: adminPort2, teardown: t });
    const ms = await until(async () => failedChecks(bad, ZONE).length > 0);
    t.ok(ms !== undefined, 'a failed check is logged');
    const err = String(failedChecks(bad, ZONE)[0]?.err);
    t.comment(`netsvc: ${JSON.stringify(failedChecks(bad, ZONE)[0])}`);
    t.match(err, /TSIG|BADSIG|BADKEY|signature/i, 'because of TSIG');
    t.equal((await ask(port2, `www.${ZONE}`, 'A')).status, 'SERVFAIL', 'SERVFAIL for a name');
    t.equal((await ask(port2, ZONE, 'SOA')).status, 'SERVFAIL', 'and for the SOA');
    t.match(await state(adminPort2, ZONE), { serial: null, serving: false });
    t.equal(transferred(bad, ZONE).length, 0, 'nothing transferred');
    t.ok((await metric(adminPort2, 'dns_secondary_checks_total', 'result="failed"')) >= 1);
    const refused = bindLog(/xfr-key|tsig|BADSIG|signature/i).filter((l) => !/transfer of/.test(l));
    t.comment(`BIND:\n${refused.slice(-3).join('\n')}`);
    t.match(refused.join('\n'), /tsig verify failure|BADSIG|invalid signature/i, 'BIND refused');
    await bad.stop();
  });

  t.test('without a key: an address-allowed zone transfers, a key-only one does not', async (t) => {
    const cfg3 = netsvcDir('netsvc-no-key', port3, adminPort3, (dns) => {
      dns.zones = [secondary(OPEN), secondary(ZONE)];
    });
    const open = await startNetsvcDir({ configDir: cfg3, adminPort: adminPort3, teardown: t });
    const ms = await until(async () => (await short(port3, `www.${OPEN}`, 'A')) === '192.0.2.70');
    t.ok(ms !== undefined, `${OPEN} served (${ms?.toFixed(0)} ms after ready)`);
    t.match(transferred(open, OPEN)[0], { serial: 7, kind: 'AXFR' }, 'by AXFR, unsigned');
    t.same(await axfr(port3, OPEN), [], 'netsvc itself keeps transfers refused (dev config)');
    await until(async () => failedChecks(open, ZONE).length > 0);
    t.comment(`netsvc on ${ZONE}: ${JSON.stringify(failedChecks(open, ZONE)[0])}`);
    t.match(String(failedChecks(open, ZONE)[0]?.err), /REFUSED/, `BIND refuses ${ZONE} unsigned`);
    const denied = bindLog(/zone transfer 'sec\.example\/[^']*' denied/);
    t.comment(`BIND:\n${denied.slice(-2).join('\n')}`);
    t.ok(denied.length > 0, "BIND's log shows the denied transfer");
    t.equal((await ask(port3, `www.${ZONE}`, 'A')).status, 'SERVFAIL');
    await open.stop();
  });

  t.test('a restart with BIND stopped serves the stored copies; EXPIRE ends one', async (t) => {
    const serial = (await serialAt(port, ZONE))!;
    t.equal(await short(port, `www.${EXP}`, 'A'), '192.0.2.80', `${EXP} served before`);
    const copy = await axfr(port, ZONE);
    const expBefore = await state(adminPort, EXP);
    t.comment(`${EXP} before: ${JSON.stringify(expBefore)}`);
    await server.stop();
    await named.stop();
    const t1 = performance.now();
    server = await startNetsvcDir({ configDir: cfg1, adminPort, teardown: t });
    const readyMs = performance.now() - t1;
    t.equal(await serialAt(port, ZONE), serial, `${ZONE} at once from disk (serial ${serial})`);
    t.same(await axfr(port, ZONE), copy, 'the whole copy, with the updates');
    t.equal(await short(port, `www.${EXP}`, 'A'), '192.0.2.80', `${EXP} too`);
    t.comment(`restart to serving from disk: ${readyMs.toFixed(0)} ms`);
    t.equal(logs(server, 'secondary zone copy loaded from disk').length, 2, 'both loaded');
    t.match(await state(adminPort, ZONE), { serial, serving: true });
    const exp = await state(adminPort, EXP);
    t.match(exp, { serial: 1, serving: true });
    t.comment(`${EXP} after the restart: ${JSON.stringify(exp)}`);
    const expiresIn = Date.parse(exp?.expires ?? '') - Date.now();
    t.ok(expiresIn > 0 && expiresIn <= 8000, `expires in ${expiresIn} ms (EXPIRE 8 s)`);

    // The bound: EXPIRE, plus one SOA query's timeout (3 s) that may be running then.
    const gone = await until(
      async () => (await ask(port, `www.${EXP}`, 'A')).status === 'SERVFAIL',
      expiresIn + 5000,
    );
    t.ok(gone !== undefined, `${EXP}: SERVFAIL after EXPIRE (${gone?.toFixed(0)} ms)`);
    t.comment(
      `SERVFAIL ${gone?.toFixed(0)} ms after serving resumed; expiry predicted ${expiresIn} ms`,
    );
    t.ok(gone !== undefined && gone > expiresIn - 1000, 'not before the expiry');
    t.equal((await ask(port, EXP, 'SOA')).status, 'SERVFAIL', 'the SOA too');
    t.match(await state(adminPort, EXP), { serving: false });
    t.equal(
      logs(
        server,
        `secondary zone expired: no primary confirmed it within EXPIRE; answering SERVFAIL`,
        EXP,
      ).length,
      1,
    );
    const expiredAt = Number(
      logs(
        server,
        `secondary zone expired: no primary confirmed it within EXPIRE; answering SERVFAIL`,
        EXP,
      )[0]?.time,
    );
    t.comment(
      `netsvc logged the expiry ${expiredAt - Date.parse(exp?.expires ?? '')} ms after the EXPIRE instant`,
    );
    t.ok(failedChecks(server, EXP).length > 0, 'the checks without BIND failed');
    t.comment(`a failed check: ${JSON.stringify(failedChecks(server, EXP)[0])}`);
    t.equal(await serialAt(port, ZONE), serial, `${ZONE} (EXPIRE 1 week) still served`);
    t.ok((await metric(adminPort, 'dns_secondary_checks_total', 'result="failed"')) >= 1);
  });
}
