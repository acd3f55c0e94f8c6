/**
 * From dhcp.yaml's `ddns` block to a started DdnsClient: the key's secret (a compose
 * secret file or a variable), the reverse zone of each subnet, the clock. Loaded only when
 * DDNS is enabled, so a DHCP server without it never loads the DNS codecs.
 */
import type { ServiceContext } from '../../src/service.js';
import { readDdnsSecret, type DhcpConfig } from './config.js';
import { inNetwork, parseNetwork } from './ipv4.js';

/** The in-addr.arpa zone on the octet boundary at or above a prefix (RFC 2317 §1). */
export function reverseZoneOf(cidr: string): string | undefined {
  const net = parseNetwork(cidr);
  const octets = Math.floor(net.prefix / 8);
  if (octets === 0) return undefined;
  const b = [net.network >>> 24, (net.network >>> 16) & 0xff, (net.network >>> 8) & 0xff];
  return `${b.slice(0, Math.min(octets, 3)).reverse().join('.')}.in-addr.arpa.`;
}

export async function startDdns(cfg: DhcpConfig, ctx: ServiceContext) {
  const { DdnsClient } = await import('./ddns-client.js');
  const { keyFromTriple } = await import('../dns/tsig.js');
  const d = cfg.ddns;
  const s = readDdnsSecret(d.key, ctx.configDir, process.env);
  if (s.error !== undefined) throw new Error(`dhcp.yaml /ddns/key: ${s.error}`);
  const zones = cfg.subnets.map((sub) => ({
    net: parseNetwork(sub.subnet),
    zone: sub.reverseZone ?? reverseZoneOf(sub.subnet),
  }));
  const client = new DdnsClient(
    {
      server: d.server,
      key: keyFromTriple(`${d.key.algorithm}:${d.key.name}:${s.secret!}`),
      forwardZone: d.forwardZone,
      reverseZone: (a) => (d.reverse ? zones.find((z) => inNetwork(a, z.net))?.zone : undefined),
      ttl: d.ttl,
      timeoutMs: d.timeoutMs,
      maxAttempts: d.maxAttempts,
      now: () => ctx.clock.now() / 1000,
    },
    ctx.log.child({ part: 'ddns' }),
  );
  await client.start();
  return client;
}
