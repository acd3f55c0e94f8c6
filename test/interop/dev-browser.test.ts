/**
 * Interop: `npm start` then "open the page" (issue 17). The built netsvc runs the dev
 * profile's http and monitor services on their real dev ports (config/dev), and headless
 * Chromium (Debian's `chromium`, driven by playwright-core) loads every dev vhost and the
 * monitor page with zero console errors, page errors, failed requests or 4xx/5xx
 * responses (favicons included). Host names map to 127.0.0.1 with
 * --host-resolver-rules, so no traffic leaves loopback. The old port 10080 is shown to be
 * refused (net::ERR_UNSAFE_PORT, Fetch standard "port blocking"): why the port moved.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cleanEnv, startDaemon } from '../../src/testing/daemon.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const HTTP = 18080; // config/dev/http.yaml
const MONITOR = 18888; // config/dev/monitor.yaml

const tmp = mkdtempSync(join(tmpdir(), 'netsvc-dev-browser-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('dev vhosts and monitor load in Chromium with zero errors', async (t) => {
  await startDaemon({
    name: 'netsvc',
    command: process.execPath,
    args: [join(ROOT, 'dist/src/main.js'), 'http', 'monitor', '--config', 'config/dev'],
    cwd: ROOT,
    env: cleanEnv({ NETSVC_DATA_DIR: join(tmp, 'data') }),
    ready: [{ tcp: { host: '127.0.0.1', port: HTTP } }, { http: `http://127.0.0.1:${MONITOR}/` }],
    teardown: t,
  });
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmp, 'chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP *.TIC2023.com 127.0.0.1, MAP TIC2023.com 127.0.0.1',
    ],
  });
  t.teardown(() => context.close());
  const urls = [
    `http://www.TIC2023.com:${HTTP}/`,
    `http://web1.TIC2023.com:${HTTP}/`,
    `http://web2.TIC2023.com:${HTTP}/`,
    `http://web2.TIC2023.com:${HTTP}/photos/`,
    `http://127.0.0.1:${MONITOR}/`,
  ];
  for (const url of urls) {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('requestfailed', (r) =>
      problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`),
    );
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`response ${r.status()}: ${r.url()}`);
    });
    const res = await page.goto(url, { waitUntil: 'load' });
    // The favicon request starts after load; give it time to finish (or fail).
    await page.waitForTimeout(1000);
    t.equal(res?.status(), 200, `${url} status`);
    t.ok(((await res?.body()) ?? Buffer.alloc(0)).length > 0, `${url} body not empty`);
    t.same(problems, [], `${url}: no console errors, page errors, failed requests, >= 400`);
    await page.close();
  }

  const page = await context.newPage();
  const err = await page.goto('http://127.0.0.1:10080/').then(
    () => '',
    (e: unknown) => String(e),
  );
  t.match(err, /net::ERR_UNSAFE_PORT/, 'Chromium refuses port 10080 (Fetch bad port)');
  await page.close();
});
