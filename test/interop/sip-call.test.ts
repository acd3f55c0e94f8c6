/**
 * SIP call interop (issue 6, calls): the built CLI (`node dist/src/main.js sip --config
 * config/dev`) as a B2BUA between two sipp instances (Debian `sip-tester`, peers.md §7),
 * with the media checked by two small Node RTP endpoints.
 *
 * - 2001 and 2002 register with digest auth (reg-auth.xml, -au/-ap: pitfall 11);
 * - a sipp UAS on 2002's registered port answers (180, 200 with SDP), a sipp UAC as 2001
 *   calls 2002: INVITE → 407 → ACK → INVITE with Proxy-Authorization → 180 → 200 → ACK,
 *   12 s of call, BYE → 200 (the UAC follows the route set/Contact, pitfall 12: `rrs` +
 *   `[next_url]`). Each sipp writes the relay port it was given (SDP m= line) to a file;
 * - two Node UDP sockets, bound on the RTP ports the sipp SDPs announce, send 20 ms PCMU
 *   packets to those relay ports for 10.5 s each way and check every packet that arrives
 *   (payload intact, sequence complete). sipp's own RTP (rtp_echo / pcap play) is not used:
 *   Node endpoints let the test check each packet, and do not depend on sipp's pcap build;
 * - the daemon's `sip call ended` log line carries the relay's per-direction QoS report:
 *   0 % loss both ways;
 * - a call to 2003 (not registered) gets 480; to 2999 (no such extension) 404.
 *
 * sipp 3.6.1 only does MD5 and reads the first challenge: the server runs with
 * NETSVC_SIP__AUTH__ALGORITHMS=[MD5, SHA-256] (as sip.test.ts). Replayed nonces: sip.test.ts.
 * Scenarios, sipp runner and RTP endpoints: sip-call-helpers.ts (shared with
 * monitor-browser.test.ts).
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../src/testing/daemon.js';
import {
  hasSipp as sippInstalled,
  rtpEndpoint,
  sippRunner,
  startSipServer,
  stream,
  uacXml,
  uasXml,
  waitFile,
} from './sip-call-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hasSipp = sippInstalled();

const CALL_MS = 12_000;
const SEND_MS = 10_500;

t.setTimeout(120_000);

if (!hasSipp || !existsSync(join(root, 'dist/src/main.js'))) {
  // CI installs sipp and builds dist/ (.ci/run): there a missing one is a failure, not a skip.
  if (process.env.CI) t.fail('sipp (apt sip-tester) or dist/ missing in CI');
  else t.plan(0, 'sipp (apt sip-tester) or dist/ missing: skipped');
} else {
  const work = mkdtempSync(join(tmpdir(), 'netsvc-sip-call-'));
  const [port, pA, pB, rtpA, rtpB, pC] = await freePorts(6);
  const server = await startSipServer(port!, work, t);
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const { run: sipp, register, errLog, stopAll } = sippRunner(`127.0.0.1:${port}`, work);
  t.teardown(stopAll);

  t.test('2001 and 2002 register', async (t) => {
    t.equal((await register('2001', pA!)).code, 0, '2001');
    t.equal((await register('2002', pB!)).code, 0, '2002');
  });

  t.test(
    '2001 calls 2002 through the B2BUA; RTP both ways through the relay for 10 s; BYE',
    async (t) => {
      const uasFile = join(work, 'uas-relay-port');
      const uacFile = join(work, 'uac-relay-port');
      writeFileSync(join(work, 'uas.xml'), uasXml(rtpB!, uasFile));
      writeFileSync(join(work, 'uac.xml'), uacXml('2002', rtpA!, uacFile, 200, CALL_MS));
      const A_SSRC = 0x1111;
      const B_SSRC = 0x2222;
      const a = await rtpEndpoint(rtpA!, B_SSRC);
      const b = await rtpEndpoint(rtpB!, A_SSRC);
      const uas = sipp(['-sf', join(work, 'uas.xml'), '-p', String(pB)], '2002', 'dev-2002', 40);
      await sleep(300);
      const uac = sipp(['-sf', join(work, 'uac.xml'), '-p', String(pA)], '2001', 'dev-2001', 40);
      let relayA = 0;
      let relayB = 0;
      try {
        [relayA, relayB] = await Promise.all([
          waitFile(uacFile, 10_000),
          waitFile(uasFile, 10_000),
        ]);
      } catch (e) {
        const [rc, rs] = await Promise.all([uac, uas]);
        t.fail(
          `${(e as Error).message}\nUAC ${rc.out.slice(-1500)} ${errLog('err-2001-x.log')}\nUAS ${rs.out.slice(-1500)} ${errLog('err-2002-uas.log')}\nSERVER ${server.output().slice(-4000)}`,
        );
        return;
      }
      t.ok(
        relayA >= 30000 && relayA <= 30999 && relayB >= 30000 && relayB <= 30999,
        `relay ports ${relayA} (caller) / ${relayB} (callee) from the dev range`,
      );
      t.not(relayA, rtpB, "the caller is not told the callee's own port");
      // Mid-call, the admin listener's /state/sip (the monitor's and `netsvc calls`' source)
      // lists the call with live relay figures and both registrations.
      const midCall = (async (): Promise<
        { registrations: unknown[]; calls: { packets: number; lossPercent: number }[] } | undefined
      > => {
        await sleep(5000);
        const m = /"admin":(\d+)/.exec(server.output());
        if (!m) return undefined;
        return (await (await fetch(`http://127.0.0.1:${m[1]}/state/sip`)).json()) as never;
      })();
      const [sentA, sentB, st] = await Promise.all([
        stream(a, relayA, A_SSRC, SEND_MS),
        stream(b, relayB, B_SSRC, SEND_MS),
        midCall,
      ]);
      t.equal(st?.calls.length, 1, '/state/sip lists the call in progress');
      t.ok(
        (st?.calls[0]?.packets ?? 0) > 100,
        `live relay packets ${st?.calls[0]?.packets}, loss ${st?.calls[0]?.lossPercent} %`,
      );
      t.ok((st?.registrations.length ?? 0) >= 2, '/state/sip lists the registrations');
      await sleep(200);
      const [rc, rs] = await Promise.all([uac, uas]);
      t.equal(rc.code, 0, `sipp UAC completed the call ${rc.code ? errLog('err-2001-x.log') : ''}`);
      t.equal(
        rs.code,
        0,
        `sipp UAS completed the call ${rs.code ? errLog('err-2002-uas.log') : ''}`,
      );
      t.equal(b.received.size, sentA, `callee got all ${sentA} packets of the caller`);
      t.equal(a.received.size, sentB, `caller got all ${sentB} packets of the callee`);
      t.equal(a.badPayload.n + b.badPayload.n, 0, 'payloads intact');
      t.same(
        [...a.from],
        [`127.0.0.1:${relayA}`],
        'the caller hears from its relay port (symmetric RTP)',
      );
      t.same([...b.from], [`127.0.0.1:${relayB}`], 'the callee hears from its relay port');
      a.close();
      b.close();

      await sleep(200);
      const line = server
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"sip call ended"') && l.includes('"result":"answered"'))
        .pop();
      t.ok(line, 'call logged');
      const ev = JSON.parse(line!) as {
        durationMs: number;
        qos: { fromCaller: Record<string, number>; fromCallee: Record<string, number> };
      };
      t.comment(
        `QoS fromCaller ${JSON.stringify(ev.qos.fromCaller)} fromCallee ${JSON.stringify(ev.qos.fromCallee)} durationMs ${ev.durationMs}`,
      );
      t.equal(ev.qos.fromCaller.packets, sentA, 'relay counted every caller packet');
      t.equal(ev.qos.fromCallee.packets, sentB, 'relay counted every callee packet');
      t.equal(ev.qos.fromCaller.lost, 0, '0 lost from the caller');
      t.equal(ev.qos.fromCallee.lost, 0, '0 lost from the callee');
      t.equal(ev.qos.fromCaller.lossPercent, 0, '0 % loss (caller → callee)');
      t.equal(ev.qos.fromCallee.lossPercent, 0, '0 % loss (callee → caller)');
      t.ok(
        Math.abs(ev.qos.fromCaller.meanDeltaMs! - 20) < 2,
        `mean delta ${ev.qos.fromCaller.meanDeltaMs} ms ≈ 20`,
      );
      t.ok(ev.durationMs >= CALL_MS, 'call lasted until the BYE');
    },
  );

  t.test('a call to an unregistered extension gets 480, an unknown one 404', async (t) => {
    writeFileSync(join(work, 'uac-480.xml'), uacXml('2003', rtpA!, join(work, 'unused'), 480));
    writeFileSync(join(work, 'uac-404.xml'), uacXml('2999', rtpA!, join(work, 'unused'), 404));
    const r480 = await sipp(
      ['-sf', join(work, 'uac-480.xml'), '-p', String(pC)],
      '2001',
      'dev-2001',
      20,
    );
    t.equal(
      r480.code,
      0,
      `480 Temporarily Unavailable ${r480.code ? errLog('err-2001-x.log') : ''}`,
    );
    const r404 = await sipp(
      ['-sf', join(work, 'uac-404.xml'), '-p', String(pC)],
      '2001',
      'dev-2001',
      20,
    );
    t.equal(r404.code, 0, '404 Not Found');
    t.match(server.output(), /"callee":"2003","result":"unavailable"/);
    t.ok(server.running());
  });
}
