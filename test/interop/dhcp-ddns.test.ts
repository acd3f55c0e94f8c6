/**
 * Interop, issue 11: the DHCP service's DDNS client (services/dhcp/ddns-client.ts) against
 * a real BIND 9 primary (named, Debian bind9) holding tic2023.com and 1.168.192.in-addr.arpa
 * with `update-policy { grant ddns-key zonesub ANY; }`. Leases are handed to the client as
 * the DHCP server hands them after a commit; dig reads what BIND serves:
 * - a bound lease publishes A, DHCID and PTR (RFC 4703 §5.3.1, §5.4);
 * - another client with the same host name does not take the name (DHCID differs, §5.3.2);
 * - a renewal on a new address moves the A and PTR; a release removes them (§5.5);
 * - a wrong TSIG secret is refused by BIND and nothing changes.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startNamed, which } from '../../bench/dns-servers.js';
import { freePorts } from '../../src/testing/daemon.js';
import { DdnsClient } from '../../services/dhcp/ddns-client.js';
import { keyFromTriple } from '../../services/dns/tsig.js';
import { ipFromText, ipToText } from '../../services/dhcp/ipv4.js';
import type { Lease } from '../../services/dhcp/lease.js';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import { startDaemon, cleanEnv } from '../../src/testing/daemon.js';
import { decode, encode, type DhcpPacket } from '../../services/dhcp/codec.js';
import { clientMessage, macFromText } from '../../services/dhcp/client-messages.js';
import { MSG, OPT } from '../../services/dhcp/options.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = Buffer.from('interop ddns key, 32 bytes long!').toString('base64');
const DIG = which('dig');

if (which('named') === undefined || DIG === undefined) {
  if (process.env.CI) t.fail('named (bind9) or dig missing in CI');
  else t.plan(0, 'named (apt bind9) or dig missing: skipped');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-ddns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const soa =
    '@ 300 IN SOA ns1.tic2023.com. hostmaster.tic2023.com. 1 3600 600 86400 300\n@ 300 IN NS ns1.tic2023.com.\n';
  writeFileSync(join(dir, 'fwd.zone'), `$ORIGIN tic2023.com.\n${soa}ns1 300 IN A 192.168.0.2\n`);
  writeFileSync(join(dir, 'rev.zone'), `$ORIGIN 1.168.192.in-addr.arpa.\n${soa}`);
  writeFileSync(join(dir, 'lo.zone'), `$ORIGIN 0.16.127.in-addr.arpa.\n${soa}`);
  const [port] = await freePorts(1);
  await startNamed({
    dir: join(dir, 'named'),
    port: port!,
    zones: [
      { origin: 'tic2023.com', file: join(dir, 'fwd.zone') },
      { origin: '1.168.192.in-addr.arpa', file: join(dir, 'rev.zone') },
      { origin: '0.16.127.in-addr.arpa', file: join(dir, 'lo.zone') },
    ],
    extraConfig: `key "ddns-key" { algorithm hmac-sha256; secret "${SECRET}"; };`,
    zoneOptions: 'update-policy { grant ddns-key zonesub ANY; };',
    teardown: t,
  });
  const dig = (name: string, type: string): string =>
    execFileSync(
      DIG,
      ['@127.0.0.1', '-p', String(port), '+short', '+time=2', '+tries=1', name, type],
      {
        encoding: 'utf8',
      },
    ).trim();

  const client = (secret = SECRET): DdnsClient =>
    new DdnsClient(
      {
        server: { address: '127.0.0.1', port: port! },
        key: keyFromTriple(`hmac-sha256:ddns-key:${secret}`),
        forwardZone: 'tic2023.com',
        reverseZone: (a) =>
          a >>> 8 === ipFromText('192.168.1.0') >>> 8 ? '1.168.192.in-addr.arpa.' : undefined,
        ttl: 300,
        timeoutMs: 2000,
        maxAttempts: 2,
        now: () => Date.now() / 1000,
      },
      pino({ level: 'silent' }),
    );
  const lease = (mac: string, host: string, address: string): Lease => ({
    address: ipFromText(address),
    subnet: '192.168.1.0/24',
    clientKey: `hw:01${mac}`,
    chaddr: mac,
    hostname: host,
    state: 'bound',
    starts: Date.now(),
    ends: Date.now() + 120_000,
  });

  t.test('publish, no stealing, move, release', async (t) => {
    const c = client();
    await c.start();
    t.teardown(() => c.stop());
    const alice = lease('020000000001', 'Alice-PC', '192.168.1.50');
    c.leaseBound(alice);
    await c.idle();
    t.equal(dig('alice-pc.tic2023.com', 'A'), '192.168.1.50', 'A published');
    t.match(dig('alice-pc.tic2023.com', 'DHCID'), /^AAAB/, 'DHCID of an htype+chaddr client');
    t.equal(dig('50.1.168.192.in-addr.arpa', 'PTR'), 'alice-pc.tic2023.com.', 'PTR published');
    const mallory = lease('020000000002', 'alice-pc', '192.168.1.51');
    c.leaseBound(mallory);
    await c.idle();
    t.equal(dig('alice-pc.tic2023.com', 'A'), '192.168.1.50', "another client's claim is refused");
    c.leaseBound({ ...alice, address: ipFromText('192.168.1.60') });
    await c.idle();
    t.equal(dig('alice-pc.tic2023.com', 'A'), '192.168.1.60', 'moved');
    t.equal(dig('60.1.168.192.in-addr.arpa', 'PTR'), 'alice-pc.tic2023.com.');
    t.equal(dig('50.1.168.192.in-addr.arpa', 'PTR'), '', 'the old PTR is gone');
    c.leaseGone(alice.clientKey);
    await c.idle();
    t.equal(dig('alice-pc.tic2023.com', 'A'), '', 'released: A gone');
    t.equal(dig('alice-pc.tic2023.com', 'DHCID'), '', 'and the DHCID');
    t.equal(dig('60.1.168.192.in-addr.arpa', 'PTR'), '');
  });

  t.test(
    'the built DHCP service publishes a relayed client in BIND; time from ACK to name',
    { skip: !existsSync(join(ROOT, 'dist/src/main.js')) && 'dist/ missing (npm run build)' },
    async (t) => {
      const cfgDir = join(dir, 'dhcp-config');
      mkdirSync(cfgDir, { recursive: true });
      writeFileSync(
        join(cfgDir, 'ddns.key'),
        `key "ddns-key" {\n\talgorithm hmac-sha256;\n\tsecret "${SECRET}";\n};\n`,
      );
      const relay = createSocket('udp4');
      await new Promise<void>((ok) => relay.bind(0, '127.0.0.1', ok));
      t.teardown(() => relay.close());
      const inbox: DhcpPacket[] = [];
      relay.on('message', (b) => inbox.push(decode(b)));
      const [dhcpPort] = await freePorts(1);
      writeFileSync(
        join(cfgDir, 'dhcp.yaml'),
        JSON.stringify({
          listen: [{ address: '127.0.0.1', port: dhcpPort, relayPort: relay.address().port }],
          // Replies go to the relay at giaddr, so the subnet is on loopback; its PTRs go to
          // the zone named here (the octet-boundary default would be 127.in-addr.arpa).
          subnets: [
            {
              subnet: '127.0.0.0/8',
              serverId: '127.0.0.1',
              reverseZone: '0.16.127.in-addr.arpa',
              pools: [{ start: '127.16.0.100', end: '127.16.0.110' }],
              options: { routers: ['127.0.0.1'] },
            },
          ],
          ddns: {
            enabled: true,
            server: { address: '127.0.0.1', port },
            forwardZone: 'tic2023.com',
            key: { name: 'ddns-key', secretFile: 'ddns.key' },
          },
        }),
      );
      writeFileSync(
        join(cfgDir, 'netsvc.yaml'),
        'admin: {enabled: false}\nlog: {level: info, format: json}\n',
      );
      await startDaemon({
        name: 'netsvc-dhcp',
        command: process.execPath,
        args: [join(ROOT, 'dist/src/main.js'), 'dhcp', '--config', cfgDir],
        env: cleanEnv({ NETSVC_DATA_DIR: join(dir, 'dhcp-data') }),
        ready: { log: /"msg":"ready"/ },
        teardown: t,
      });
      const next = async (): Promise<DhcpPacket> => {
        for (let i = 0; i < 100 && inbox.length === 0; i++)
          await new Promise((ok) => setTimeout(ok, 20));
        const p = inbox.shift();
        if (!p) throw new Error('no DHCP reply');
        return p;
      };
      const giaddr = ipFromText('127.0.0.1');
      const who = { mac: macFromText('52:54:00:dd:00:01'), hostname: 'Lab-PC-1' };
      const send = (b: Uint8Array) => relay.send(b, dhcpPort!, '127.0.0.1');
      send(encode(clientMessage(MSG.DISCOVER, who, { xid: 11, giaddr })).bytes);
      const offer = await next();
      send(
        encode(
          clientMessage(MSG.REQUEST, who, {
            xid: 12,
            giaddr,
            requested: offer.yiaddr,
            serverId: (() => {
              const id = offer.options.get(OPT.SERVER_ID)!;
              return ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0;
            })(),
          }),
        ).bytes,
      );
      const ack = await next();
      const ackAt = performance.now();
      t.equal(ack.options.get(OPT.MESSAGE_TYPE)?.[0], MSG.ACK);
      let name = '';
      while (name === '' && performance.now() - ackAt < 5000) {
        name = dig('lab-pc-1.tic2023.com', 'A');
        if (name === '') await new Promise((ok) => setTimeout(ok, 10));
      }
      const ms = performance.now() - ackAt;
      t.equal(name, ipToText(ack.yiaddr), "the leased address under the client's name");
      t.comment(`ACK to resolvable name (dig polling every 10 ms): ${ms.toFixed(0)} ms`);
      t.equal(
        dig(`${ipToText(ack.yiaddr).split('.').reverse().join('.')}.in-addr.arpa`, 'PTR'),
        'lab-pc-1.tic2023.com.',
      );
    },
  );

  t.test('a wrong TSIG secret is refused by BIND; nothing changes', async (t) => {
    const results: string[] = [];
    const c = new DdnsClient(
      {
        server: { address: '127.0.0.1', port: port! },
        key: keyFromTriple(
          `hmac-sha256:ddns-key:${Buffer.from('not the secret').toString('base64')}`,
        ),
        forwardZone: 'tic2023.com',
        reverseZone: () => undefined,
        ttl: 300,
        timeoutMs: 1000,
        maxAttempts: 1,
        now: () => Date.now() / 1000,
      },
      pino({ level: 'silent' }),
      { onResult: (r) => results.push(r) },
    );
    await c.start();
    t.teardown(() => c.stop());
    c.leaseBound(lease('020000000003', 'bob', '192.168.1.70'));
    await c.idle();
    t.equal(dig('bob.tic2023.com', 'A'), '');
    t.same(results, ['failed'], 'counted as failed');
  });
}
