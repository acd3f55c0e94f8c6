/**
 * Interop: the monitor page in headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no downloaded browser). Every dev service runs in this process with the
 * monitor (the runner and admin listener as main.ts wires them, config/dev copied to a temp
 * dir, the monitor scraping every 2 s). A small load runs first: dig queries (answers and
 * NXDOMAIN), curl requests to the three sites, and a relayed DHCP DISCOVER/REQUEST from
 * Node to the dev port 10067, and sipp registers 2001 and 2002. Then the page must show
 * every service up and ready, draw non-empty series, list the lease and both registrations
 * in their tables, show the calls table's empty state, and update live: a call from 2001
 * to 2002 is then placed (sipp UAC/UAS, two Node RTP endpoints streaming 20 ms PCMU both
 * ways through the relay, as sip-call.test.ts; helpers in sip-call-helpers.ts) and, without
 * a reload, its row must appear with a packet count > 0 and 0 % loss, and leave when the
 * call ends. The full-page screenshot (taken with the call in progress) is written to
 * .tap/monitor-browser.png (path printed). Needs chromium, dig, curl and sipp; the SIP
 * service runs with auth.algorithms [MD5, SHA-256] for sipp.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium, type Page } from 'playwright-core';
import { loadConfigDir } from '../../src/config.js';
import { createRegistry } from '../../src/metrics.js';
import { Runner } from '../../src/runner.js';
import { startAdmin } from '../../src/admin.js';
import { registerService, type RegisteredService } from '../../src/service.js';
import { loadServices } from '../../services/index.js';
import monitorDef, {
  createMonitorService,
  type MonitorService,
} from '../../services/monitor/index.js';
import { decode, encode, type DhcpPacket } from '../../services/dhcp/codec.js';
import { clientMessage, macFromText } from '../../services/dhcp/client-messages.js';
import { MSG, OPT } from '../../services/dhcp/options.js';
import { ipFromText } from '../../services/dhcp/ipv4.js';
import { freePorts } from '../../src/testing/daemon.js';
import {
  hasSipp,
  rtpEndpoint,
  sippRunner,
  stream,
  uacXml,
  uasXml,
  waitFile,
  type Endpoint,
} from './sip-call-helpers.js';

const services = await loadServices();

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const missing = [CHROMIUM, '/usr/bin/dig', '/usr/bin/curl'].filter((f) => !existsSync(f));
if (!hasSipp()) missing.push('sipp');
if (missing.length > 0) {
  t.plan(0, `needs ${missing.join(', ')}`);
  process.exit(0);
}

t.setTimeout(120_000);

const tmp = mkdtempSync(join(tmpdir(), 'netsvc-monitor-browser-'));
const configDir = join(tmp, 'config/dev');
cpSync(join(ROOT, 'config/dev'), configDir, { recursive: true });
cpSync(join(ROOT, 'config/sites'), join(tmp, 'config/sites'), { recursive: true });

// The fake relay: the server answers a relayed request to giaddr at relayPort.
const relay = createSocket('udp4');
await new Promise<void>((ok) => relay.bind(0, '127.0.0.1', ok));
const inbox: DhcpPacket[] = [];
relay.on('message', (b) => inbox.push(decode(b)));

// SIP on a free port; 2001/2002 register from pA/pB (the UAC/UAS reuse them), RTP on rtpA/rtpB.
const [sipPort, pA, pB, rtpA, rtpB] = (await freePorts(5)) as [
  number,
  number,
  number,
  number,
  number,
];
const CALL_MS = 20_000; // the page check runs while the call is up
const SEND_MS = CALL_MS - 1500;

const admin = { port: 0 };
// The monitor's create() is wrapped to keep a handle on the service it makes.
let monitor: MonitorService | undefined;
const defs: RegisteredService[] = [
  ...services.filter((s) => s.name !== 'monitor'),
  registerService({
    ...monitorDef,
    create: (c, ctx) => (monitor = createMonitorService(c, ctx)),
  }),
];
const env: NodeJS.ProcessEnv = {
  NETSVC_DATA_DIR: join(tmp, 'data'),
  NETSVC_DHCP__LISTEN__0__RELAYPORT: String(relay.address().port),
  NETSVC_SIP__LISTEN__0__PORT: String(sipPort),
  NETSVC_SIP__AUTH__ALGORITHMS: '[MD5, SHA-256]', // sipp 3.6 does MD5 and reads the first challenge
};
// Written once the admin port is known (the monitor's only target).
const cfgFor = (adminPort: number) => {
  writeFileSync(
    join(configDir, 'monitor.yaml'),
    [
      'enabled: true',
      'listen: { address: 127.0.0.1, port: 0 }',
      `targets: [{ name: netsvc, url: "http://127.0.0.1:${adminPort}" }]`,
      'scrapeIntervalSeconds: 2',
    ].join('\n') + '\n',
  );
  return loadConfigDir(configDir, defs, env);
};

const log = pino({ level: 'warn' });
const registry = createRegistry();
const runner = new Runner({
  log,
  metrics: registry,
  dataDir: join(tmp, 'data'),
  configDir,
  startTimeoutMs: 15000,
  stopTimeoutMs: 10000,
});
const adminServer = await startAdmin({
  address: '127.0.0.1',
  port: 0,
  registry,
  hooks: {
    readiness: () => runner.readiness(),
    reload: () => runner.reload(),
    state: (n) => runner.state(n),
  },
});
admin.port = adminServer.port;
const cfg = cfgFor(admin.port);
if (cfg.issues.length > 0)
  throw new Error(cfg.issues.map((i) => `${i.file} ${i.path}: ${i.message}`).join('\n'));
const plan = defs
  .filter(
    (d) => cfg.services.get(d.name)?.present && cfg.services.get(d.name)?.value.enabled !== false,
  )
  .map((def) => ({ def, config: cfg.services.get(def.name)!.value }));
await runner.start(plan);
const mon = monitor!;
const base = `http://127.0.0.1:${mon.server.address!.port}`;
t.comment(`services: ${plan.map((p) => p.def.name).join(', ')}; monitor at ${base}`);

const sippWork = join(tmp, 'sipp');
mkdirSync(sippWork);
const sipp = sippRunner(`127.0.0.1:${sipPort}`, sippWork);
const endpoints: Endpoint[] = [];

t.teardown(async () => {
  sipp.stopAll();
  for (const ep of endpoints) ep.close();
  await runner.stop();
  await adminServer.close();
  relay.close();
  rmSync(tmp, { recursive: true, force: true });
});

const run = (cmd: string, args: string[]): Promise<string> =>
  new Promise((ok) => execFile(cmd, args, { timeout: 10000 }, (_e, out) => ok(String(out))));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function nextReply(type: number, ms = 3000): Promise<DhcpPacket> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const i = inbox.findIndex((p) => p.options.get(OPT.MESSAGE_TYPE)?.[0] === type);
    if (i >= 0) return inbox.splice(i, 1)[0]!;
    await sleep(20);
  }
  throw new Error(`no DHCP message type ${type}`);
}

async function dhcpLease(mac: string, hostname: string): Promise<string> {
  const id = { mac: macFromText(mac), hostname };
  const giaddr = ipFromText('127.0.0.1');
  const send = (bytes: Uint8Array) =>
    new Promise<void>((ok) => relay.send(bytes, 10067, '127.0.0.1', () => ok()));
  await send(encode(clientMessage(MSG.DISCOVER, id, { xid: 0x1001, giaddr })).bytes);
  const offer = await nextReply(MSG.OFFER);
  await send(
    encode(
      clientMessage(MSG.REQUEST, id, {
        xid: 0x1002,
        giaddr,
        requested: offer.yiaddr,
        serverId: giaddr,
      }),
    ).bytes,
  );
  const ack = await nextReply(MSG.ACK);
  const y = ack.yiaddr;
  return [y >>> 24, (y >>> 16) & 255, (y >>> 8) & 255, y & 255].join('.');
}

async function load(): Promise<void> {
  const digs = [];
  for (let i = 0; i < 5; i++) {
    digs.push(
      run('dig', [
        '@127.0.0.1',
        '-p',
        '10053',
        '+short',
        '+tries=1',
        '+time=2',
        'www.TIC2023.com',
        'A',
      ]),
    );
    digs.push(
      run('dig', [
        '@127.0.0.1',
        '-p',
        '10053',
        '+short',
        '+tries=1',
        '+time=2',
        `nope${i}.TIC2023.com`,
        'A',
      ]),
    );
  }
  for (const host of ['www.TIC2023.com', 'web1.TIC2023.com', 'web2.TIC2023.com']) {
    digs.push(
      run('curl', ['-sS', '-o', '/dev/null', '-H', `Host: ${host}`, 'http://127.0.0.1:18080/']),
    );
  }
  digs.push(run('curl', ['-sS', '-o', '/dev/null', 'http://127.0.0.1:18080/missing.html']));
  await Promise.all(digs);
}

/** The cells of each body row of the table in `#id` (none when it shows its empty state). */
async function tableRows(page: Page, id: string): Promise<string[][]> {
  const rows = page.locator(`#${id} tbody tr`);
  const out: string[][] = [];
  for (let i = 0, n = await rows.count(); i < n; i++)
    out.push(await rows.nth(i).locator('td').allTextContents());
  return out;
}
/** A count as the page prints it ('1234', '12.3k'). */
const count = (s: string | undefined): number => {
  const m = /^([\d.]+)([kMG]?)$/.exec((s ?? '').trim());
  return m
    ? Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!]!
    : NaN;
};
// The calls table's columns (page.ts renderState).
const CALL = { from: 1, to: 2, state: 3, packets: 5, loss: 6, jitter: 7 } as const;
const callRow = (rows: string[][]) =>
  rows.find((r) => /\b2001\b/.test(r[CALL.from] ?? '') && /\b2002\b/.test(r[CALL.to] ?? ''));

t.test(
  'the page shows every service, charts, the lease and registrations, and a call live',
  async (t) => {
    await load();
    const ip = await dhcpLease('52:54:00:12:34:56', 'monitor-test-pc');
    t.match(ip, /^127\.16\./, `leased ${ip}`);
    const reg1 = await sipp.register('2001', pA);
    const reg2 = await sipp.register('2002', pB);
    t.equal(
      reg1.code,
      0,
      `2001 registered (sipp) ${reg1.code ? sipp.errLog('err-2001-x.log') : ''}`,
    );
    t.equal(
      reg2.code,
      0,
      `2002 registered (sipp) ${reg2.code ? sipp.errLog('err-2002-x.log') : ''}`,
    );
    // Two more rounds so rates exist, with load in between.
    await mon.server.collector!.tick();
    await load();
    await sleep(2100);
    await mon.server.collector!.tick();

    // A fresh profile each run (launchPersistentContext is playwright's way to name it).
    const context = await chromium.launchPersistentContext(mkdtempSync(join(tmp, 'chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    t.teardown(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const failed: string[] = [];
    page.on('pageerror', (e) => failed.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') failed.push(`console: ${m.text()}`);
    });
    page.on('requestfailed', (r) => {
      if (!r.url().endsWith('/api/events')) failed.push(`request failed: ${r.url()}`);
    });
    await page.goto(base + '/', { waitUntil: 'load' });
    await page.waitForSelector('body[data-loaded="1"]', { timeout: 10000 });
    await page.waitForSelector('body[data-rounds]', { timeout: 10000 });
    // From here on the page must never navigate: every update below arrives live.
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations++;
    });

    const expected = plan.map((p) => p.def.name);
    for (const svc of expected) {
      const cls = await page.getAttribute(`.tile[data-svc="${svc}"]`, 'class');
      t.match(cls ?? '', /\bready\b/, `${svc} tile shows up and ready`);
    }

    const charts = (await page.evaluate('window.netsvcMonitor.charts()')) as Record<
      string,
      { series: number; points: number; drawn: boolean }
    >;
    for (const id of ['req', 'cpu', 'rss', 'dns', 'http', 'dhcp', 'hcpu', 'mem']) {
      t.ok(
        charts[id]?.drawn && charts[id].points > 0,
        `chart ${id} draws a non-empty series (${JSON.stringify(charts[id])})`,
      );
    }
    t.ok((await page.locator('.chart canvas').count()) >= 8, 'uPlot canvases on the page');

    const leases = await page.textContent('#leases');
    t.match(leases, /52:54:00:12:34:56/, 'the lease MAC is in the table');
    t.match(leases, /monitor-test-pc/, 'with its hostname');
    t.match(leases, ip, 'and its address');

    const aors = (await tableRows(page, 'registrations')).map((r) => r[0] ?? '');
    t.ok(
      aors.some((a) => /\b2001\b/.test(a)),
      `registrations table lists 2001 (${aors.join(', ')})`,
    );
    t.ok(
      aors.some((a) => /\b2002\b/.test(a)),
      'registrations table lists 2002',
    );

    t.match(
      (await page.textContent('#calls')) ?? '',
      /No active calls\./,
      'calls table shows its empty state before the call',
    );

    // The call: sipp UAS as 2002 on its registered port, sipp UAC as 2001, then RTP both ways.
    const uasFile = join(sippWork, 'uas-relay-port');
    const uacFile = join(sippWork, 'uac-relay-port');
    writeFileSync(join(sippWork, 'uas.xml'), uasXml(rtpB, uasFile));
    writeFileSync(join(sippWork, 'uac.xml'), uacXml('2002', rtpA, uacFile, 200, CALL_MS));
    const A_SSRC = 0x1111;
    const B_SSRC = 0x2222;
    const a = await rtpEndpoint(rtpA, B_SSRC);
    const b = await rtpEndpoint(rtpB, A_SSRC);
    endpoints.push(a, b);
    const uas = sipp.run(
      ['-sf', join(sippWork, 'uas.xml'), '-p', String(pB)],
      '2002',
      'dev-2002',
      45,
    );
    await sleep(300);
    const uac = sipp.run(
      ['-sf', join(sippWork, 'uac.xml'), '-p', String(pA)],
      '2001',
      'dev-2001',
      45,
    );
    let relayA = 0;
    let relayB = 0;
    try {
      [relayA, relayB] = await Promise.all([waitFile(uacFile, 10_000), waitFile(uasFile, 10_000)]);
    } catch (e) {
      sipp.stopAll();
      const [rc, rs] = await Promise.all([uac, uas]);
      t.fail(
        `${(e as Error).message}\nUAC ${rc.out.slice(-1500)} ${sipp.errLog('err-2001-x.log')}\nUAS ${rs.out.slice(-1500)} ${sipp.errLog('err-2002-uas.log')}`,
      );
      return;
    }
    const streams = Promise.all([
      stream(a, relayA, A_SSRC, SEND_MS),
      stream(b, relayB, B_SSRC, SEND_MS),
    ]);
    t.comment(`call up: relay ports ${relayA} (caller) / ${relayB} (callee)`);

    // Live: the call's row appears with media counted, without a reload (scrapes every 2 s).
    let row: string[] | undefined;
    for (let i = 0; i < 100 && !(row && count(row[CALL.packets]) > 0); i++) {
      await sleep(100);
      row = callRow(await tableRows(page, 'calls'));
    }
    t.ok(row, `calls table shows the call 2001 → 2002 (${JSON.stringify(row)})`);
    t.ok(count(row?.[CALL.packets]) > 0, `packets ${row?.[CALL.packets]} > 0`);
    t.equal(Number(row?.[CALL.loss]), 0, `loss ${row?.[CALL.loss]} %`);
    t.match(row?.[CALL.state] ?? '', /\S/, `state ${row?.[CALL.state]}`);

    // Live: a new round arrives over SSE without a reload.
    const before = Number(await page.getAttribute('body', 'data-rounds'));
    // (Polled from here: the page's CSP forbids the eval behind waitForFunction.)
    let after = before;
    for (let i = 0; i < 80 && after <= before; i++) {
      await sleep(100);
      after = Number(await page.getAttribute('body', 'data-rounds'));
    }
    t.ok(after > before, `rounds ${before} -> ${after}`);
    const later = callRow(await tableRows(page, 'calls'));
    t.ok(
      count(later?.[CALL.packets]) > count(row?.[CALL.packets]),
      `the packet count grew live: ${row?.[CALL.packets]} -> ${later?.[CALL.packets]}`,
    );
    t.equal(navigations, 0, 'a live round arrived without reloading');

    // The screenshots, with the call still up (checked just before).
    const shotDir = join(ROOT, '.tap');
    mkdirSync(shotDir, { recursive: true });
    const shot = join(shotDir, 'monitor-browser.png');
    t.ok(callRow(await tableRows(page, 'calls')), 'the call is still listed for the screenshot');
    await page.screenshot({ path: shot, fullPage: true });
    // A phone-sized view keeps one column and no horizontal page scroll.
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(400);
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    t.ok(Number(overflow) <= 1, `no horizontal scroll on a phone (${overflow}px)`);
    const phone = join(shotDir, 'monitor-browser-phone.png');
    await page.screenshot({ path: phone });
    t.comment(`screenshots: ${shot} ${phone}`);
    console.log(`# screenshot: ${shot}\n# screenshot (phone): ${phone}`);

    // The call ends (BYE after CALL_MS): both sipps succeed, every packet went through.
    const [sentA, sentB] = await streams;
    const [rc, rs] = await Promise.all([uac, uas]);
    t.equal(
      rc.code,
      0,
      `sipp UAC completed the call ${rc.code ? sipp.errLog('err-2001-x.log') : ''}`,
    );
    t.equal(
      rs.code,
      0,
      `sipp UAS completed the call ${rs.code ? sipp.errLog('err-2002-uas.log') : ''}`,
    );
    await sleep(200);
    t.equal(b.received.size, sentA, `callee got all ${sentA} packets of the caller`);
    t.equal(a.received.size, sentB, `caller got all ${sentB} packets of the callee`);
    a.close();
    b.close();
    // ...and the row leaves the page at the next round, still without a reload.
    let calls = '';
    for (let i = 0; i < 80 && !/No active calls\./.test(calls); i++) {
      await sleep(100);
      calls = (await page.textContent('#calls')) ?? '';
    }
    t.match(calls, /No active calls\./, 'the ended call leaves the calls table live');
    t.equal(navigations, 0, 'no reload at any point');

    t.same(failed, [], 'no page errors, console errors or failed requests');
  },
);
