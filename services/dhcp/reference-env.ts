/**
 * The reference deployment's environment variables (one dhcpd container per interface,
 * reference-deployment.md "DHCP") translated into config overrides, so its compose file's
 * settings carry over unchanged:
 *
 *   IFDHCP                    listen: [{ interface: IFDHCP }] (port 67)
 *   IPV4_SUBNET, IPV4_NETMASK subnets: one subnet, replacing the file's list, with
 *   MIN_IPV4_ADDRESS,           pools [{ start: MIN, end: MAX }],
 *   MAX_IPV4_ADDRESS,           options.routers [IPV4_GATEWAY],
 *   IPV4_GATEWAY,               options.subnetMask IPV4_GATEWAY_MASK,
 *   IPV4_GATEWAY_MASK,          options.dnsServers DOMAIN_NAMES_SERVER_IPV4 (comma or
 *   DOMAIN_NAMES_SERVER_IPV4    space separated), interface IFDHCP
 *   DEFAULT_LEASE_TIME,       leaseTime.default / .min / .max (seconds)
 *   MIN_LEASE_TIME, MAX_LEASE_TIME
 *
 * Without IPV4_SUBNET, IPV4_GATEWAY and DOMAIN_NAMES_SERVER_IPV4 set the global options.
 * The result has the shape of src/config.ts EnvOverride (segments + raw YAML value), so the
 * runtime applies it like a NETSVC_DHCP__… variable, before those (which therefore win).
 * A bad value (a non-contiguous netmask) is passed through in a form the schema check
 * rejects with the variable's name in the message.
 *
 * Leaves out: the reference's other variables (none affect DHCP).
 */
import { ipFromText, isIpv4, prefixFromMask } from './ipv4.js';

export interface ReferenceOverride {
  readonly source: string;
  readonly segments: readonly string[];
  readonly raw: string;
}

export const REFERENCE_VARIABLES = [
  'IFDHCP',
  'IPV4_SUBNET',
  'IPV4_NETMASK',
  'MIN_IPV4_ADDRESS',
  'MAX_IPV4_ADDRESS',
  'IPV4_GATEWAY',
  'IPV4_GATEWAY_MASK',
  'DOMAIN_NAMES_SERVER_IPV4',
  'MIN_LEASE_TIME',
  'MAX_LEASE_TIME',
  'DEFAULT_LEASE_TIME',
] as const;

function list(v: string): string[] {
  return v
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function referenceEnvOverrides(env: NodeJS.ProcessEnv): ReferenceOverride[] {
  const get = (k: string): string | undefined => {
    const v = env[k]?.trim();
    return v ? v : undefined;
  };
  const out: ReferenceOverride[] = [];
  const iface = get('IFDHCP');
  if (iface)
    out.push({
      source: 'IFDHCP',
      segments: ['listen'],
      raw: JSON.stringify([{ interface: iface }]),
    });

  for (const [name, key] of [
    ['DEFAULT_LEASE_TIME', 'default'],
    ['MIN_LEASE_TIME', 'min'],
    ['MAX_LEASE_TIME', 'max'],
  ] as const) {
    const v = get(name);
    if (v) out.push({ source: name, segments: ['leaseTime', key], raw: v });
  }

  const subnet = get('IPV4_SUBNET');
  const gateway = get('IPV4_GATEWAY');
  const dns = get('DOMAIN_NAMES_SERVER_IPV4');
  if (subnet) {
    let cidr = subnet;
    if (!subnet.includes('/')) {
      const mask = get('IPV4_NETMASK') ?? '';
      const bits = isIpv4(mask) ? prefixFromMask(ipFromText(mask)) : -1;
      cidr =
        bits >= 0 ? `${subnet}/${bits}` : `${subnet} (IPV4_NETMASK "${mask}" is not a netmask)`;
    }
    const options: Record<string, unknown> = {};
    if (gateway) options.routers = list(gateway);
    if (dns) options.dnsServers = list(dns);
    const gwMask = get('IPV4_GATEWAY_MASK');
    if (gwMask) options.subnetMask = gwMask;
    const min = get('MIN_IPV4_ADDRESS');
    const max = get('MAX_IPV4_ADDRESS');
    const entry: Record<string, unknown> = { subnet: cidr, options };
    if (min && max) entry.pools = [{ start: min, end: max }];
    if (iface) entry.interface = iface;
    out.push({ source: 'IPV4_SUBNET', segments: ['subnets'], raw: JSON.stringify([entry]) });
  } else {
    if (gateway)
      out.push({
        source: 'IPV4_GATEWAY',
        segments: ['options', 'routers'],
        raw: JSON.stringify(list(gateway)),
      });
    if (dns)
      out.push({
        source: 'DOMAIN_NAMES_SERVER_IPV4',
        segments: ['options', 'dnsServers'],
        raw: JSON.stringify(list(dns)),
      });
  }
  return out;
}
