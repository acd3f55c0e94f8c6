/**
 * Schema of `dns.yaml`: every default lives here, with a description per field.
 * Semantic checks (zone files exist, CIDRs parse) are in `checkDnsConfig`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkCidrs } from '../../src/net/cidr.js';
import { isIP } from 'node:net';
import { nameFromText } from './name.js';
import { keyNameOf, TSIG_ALGORITHMS } from './tsig.js';
import { UpdatePolicy } from './update-policy.js';

/** "192.0.2.1", "192.0.2.1:5353" or "[2001:db8::1]:53": address and port, or undefined. */
export function parseHostPort(
  text: string,
  defaultPort: number,
): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const address = m?.[1] ?? (isIP(text) === 6 ? text : undefined);
  const port = m?.[2] !== undefined ? Number(m[2]) : defaultPort;
  if (address === undefined || isIP(address) === 0 || !(port >= 1 && port <= 65535))
    return undefined;
  return { address, port };
}

const Listen = Type.Object(
  {
    address: Type.String({
      default: '127.0.0.1',
      description: 'IPv4 or IPv6 address to bind (UDP and TCP)',
    }),
    port: Type.Integer({
      default: 53,
      minimum: 0,
      maximum: 65535,
      description: 'Port; 0 picks a free one (tests)',
    }),
  },
  { additionalProperties: false },
);

const PolicyRule = Type.Object(
  {
    key: Type.String({ description: 'TSIG key name (from `keys`)' }),
    match: Type.Union(
      [
        Type.Literal('name'),
        Type.Literal('subdomain'),
        Type.Literal('wildcard'),
        Type.Literal('zonesub'),
      ],
      {
        description:
          "BIND update-policy rule type: the name, it and below, '*.'-pattern, anything in the zone",
      },
    ),
    name: Type.Optional(Type.String({ description: 'Name or pattern; not for zonesub' })),
    types: Type.Optional(
      Type.Array(Type.String(), {
        description: "Record types granted; absent: all but SOA, NS and DNSSEC's (BIND's ANY)",
      }),
    ),
  },
  { additionalProperties: false },
);

const ZoneEntry = Type.Object(
  {
    origin: Type.String({ description: 'Zone name, e.g. TIC2023.com' }),
    file: Type.Optional(
      Type.String({
        description:
          'RFC 1035 master file, relative to the config dir (a primary zone); absent for a secondary',
      }),
    ),
    primaries: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        description:
          'A secondary zone: the primaries it is transferred from, "address" or "address:port", tried in order (BIND\'s type secondary; primaries { ... })',
      }),
    ),
    key: Type.Optional(
      Type.String({
        description:
          'Secondary zone: TSIG key (from `keys`) that signs the SOA queries and transfers to the primaries',
      }),
    ),
    update: Type.Optional(
      Type.Object(
        {
          allow: Type.Array(PolicyRule, {
            default: [],
            description: 'Who may change what by RFC 2136 UPDATE (BIND update-policy grant rules)',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    notify: Type.Array(Type.String(), {
      default: [],
      description:
        'Secondaries told of each change by NOTIFY (RFC 1996): "address" or "address:port"',
    }),
  },
  { additionalProperties: false },
);

const TsigKeyEntry = Type.Object(
  {
    name: Type.String({
      description: 'Key name, as the client signs with it (nsupdate -y, DHCP ddns.key)',
    }),
    algorithm: Type.String({ default: 'hmac-sha256', description: 'RFC 8945 §6 algorithm' }),
    secretFile: Type.Optional(
      Type.String({
        description:
          'File with the base64 secret or a BIND key file (netsvc tsig-keygen); relative to the config dir',
      }),
    ),
    secretEnv: Type.Optional(
      Type.String({ description: 'Environment variable holding the base64 secret' }),
    ),
  },
  { additionalProperties: false },
);

export const DnsConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Run this service when no service is named',
    }),
    listen: Type.Array(Listen, {
      default: [{ address: '127.0.0.1', port: 53 }],
      description: 'Addresses to serve on, UDP and TCP each',
    }),
    workers: Type.Integer({
      default: 1,
      minimum: 1,
      maximum: 16,
      description:
        'Processes answering UDP on the same sockets (the parent plus workers-1 forked ones); more than 1 uses more cores and ~40 MB RSS each',
    }),
    zones: Type.Array(ZoneEntry, { default: [], description: 'Zones served authoritatively' }),
    keys: Type.Array(TsigKeyEntry, {
      default: [],
      description:
        'TSIG keys (RFC 8945) for UPDATE and transfers; secrets from files or variables only',
    }),
    transfer: Type.Object(
      {
        allow: Type.Array(Type.String(), {
          default: [],
          description:
            "Networks (CIDR) allowed AXFR/IXFR over TCP; default none, like BIND's allow-transfer { none; }",
        }),
        keys: Type.Array(Type.String(), {
          default: [],
          description:
            "TSIG keys (from `keys`) whose signed AXFR/IXFR requests are allowed from any address; the answer is signed (BIND's allow-transfer { key k; })",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    version: Type.Union([Type.String(), Type.Null()], {
      default: null,
      description: 'Answer for version.bind CH TXT; null hides it (REFUSED), as `version none;`',
    }),
    hostname: Type.Union([Type.String(), Type.Null()], {
      default: null,
      description: 'Answer for hostname.bind / id.server CH TXT; null hides it',
    }),
    udpSize: Type.Integer({
      default: 1232,
      minimum: 512,
      maximum: 4096,
      description:
        'Largest UDP reply (EDNS payload size); 1232 avoids IP fragmentation (DNS Flag Day 2020)',
    }),
    minimalResponses: Type.Union(
      [
        Type.Literal('no'),
        Type.Literal('yes'),
        Type.Literal('no-auth'),
        Type.Literal('no-auth-recursive'),
      ],
      {
        default: 'no-auth-recursive',
        description: "BIND's minimal-responses: when NS go into the authority section",
      },
    ),
    tcp: Type.Object(
      {
        idleTimeoutMs: Type.Integer({
          default: 10000,
          minimum: 100,
          description:
            "Close a TCP connection idle this long (RFC 7766 §6.2.3; BIND's tcp-idle-timeout is 30 s, we keep 10 s)",
        }),
        messageTimeoutMs: Type.Integer({
          default: 5000,
          minimum: 100,
          description:
            "A DNS message (length and body) that has begun arriving must be complete within this time or the connection is closed; bytes trickling in do not extend it (RFC 7766 §6.2.3; BIND's tcp-initial-timeout bounds the first message alike)",
        }),
        maxConnections: Type.Integer({
          default: 150,
          minimum: 1,
          description: "Concurrent TCP clients (BIND's tcp-clients default)",
        }),
        maxPerSource: Type.Integer({
          default: 10,
          minimum: 0,
          description:
            'Concurrent TCP connections from one client address, below maxConnections so one host cannot take every slot; more are closed at once; 0: no cap (nginx limit_conn, vsftpd max_per_ip)',
        }),
        maxPipelined: Type.Integer({
          default: 64,
          minimum: 1,
          description:
            'Queries in flight per TCP connection before reading pauses (RFC 7766 §6.2.1.1)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    answerCache: Type.Object(
      {
        entries: Type.Integer({
          default: 20000,
          minimum: 0,
          description:
            'Ready-made wire answers kept, keyed by the query bytes; 0 disables; cleared on reload',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    forward: Type.Object(
      {
        networks: Type.Array(Type.String(), {
          default: [],
          description:
            'Client networks (CIDR) whose queries outside our zones are forwarded; others get REFUSED',
        }),
        upstreams: Type.Array(Type.String(), {
          default: [],
          description: 'Resolvers to forward to, "address" or "address:port" ([v6]:port)',
        }),
        timeoutMs: Type.Integer({ default: 2000, minimum: 100, description: 'Per upstream try' }),
        cacheEntries: Type.Integer({
          default: 5000,
          minimum: 0,
          description: 'Forwarded answers cached (TTL-bound)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type DnsConfig = Static<typeof DnsConfig>;

export function checkDnsConfig(cfg: DnsConfig, configDir: string): string[] {
  const out: string[] = [];
  cfg.zones.forEach((z, i) => {
    try {
      nameFromText(z.origin.endsWith('.') ? z.origin : z.origin + '.');
    } catch (e) {
      out.push(`/zones/${i}/origin: ${(e as Error).message}`);
    }
    if (z.primaries !== undefined) {
      if (z.file !== undefined)
        out.push(
          `/zones/${i}: a secondary zone (primaries) takes its data from them; remove file (the copy is kept in the data dir)`,
        );
      if (z.update !== undefined)
        out.push(
          `/zones/${i}/update: a secondary zone takes no UPDATEs (its primary does); remove update`,
        );
      z.primaries.forEach((p, j) => {
        if (parseHostPort(p, 53) === undefined)
          out.push(`/zones/${i}/primaries/${j}: "${p}" is not "address" or "address:port"`);
      });
      return;
    }
    if (z.key !== undefined)
      out.push(`/zones/${i}/key: only a secondary zone (primaries) uses a transfer key`);
    if (z.file === undefined) {
      out.push(`/zones/${i}: give file (a primary zone) or primaries (a secondary zone)`);
      return;
    }
    const file = resolve(configDir, z.file);
    if (!existsSync(file))
      out.push(`/zones/${i}/file: ${file} does not exist; fix the path (relative to ${configDir})`);
  });
  const seen = new Map<string, number>();
  cfg.zones.forEach((z, i) => {
    const k = z.origin.toLowerCase().replace(/\.?$/, '.');
    const first = seen.get(k);
    if (first !== undefined)
      out.push(`/zones/${i}/origin: ${z.origin} is already zone ${first}; remove one`);
    else seen.set(k, i);
  });
  const keyNames = new Set(cfg.keys.map((k) => keyNameOf(k.name)));
  cfg.keys.forEach((k, i) => {
    if (!TSIG_ALGORITHMS.includes(k.algorithm.toLowerCase()))
      out.push(
        `/keys/${i}/algorithm: "${k.algorithm}" is not one of ${TSIG_ALGORITHMS.join(', ')}`,
      );
    if ((k.secretFile === undefined) === (k.secretEnv === undefined))
      out.push(`/keys/${i}: give exactly one of secretFile, secretEnv`);
  });
  cfg.zones.forEach((z, i) => {
    let origin: Uint8Array | undefined;
    try {
      origin = nameFromText(z.origin.endsWith('.') ? z.origin : z.origin + '.');
    } catch {
      return; // reported above
    }
    if (z.key !== undefined && !keyNames.has(keyNameOf(z.key)))
      out.push(`/zones/${i}/key: "${z.key}" is not in keys; add it there`);
    (z.update?.allow ?? []).forEach((r, j) => {
      if (!keyNames.has(keyNameOf(r.key)))
        out.push(`/zones/${i}/update/allow/${j}/key: "${r.key}" is not in keys; add it there`);
    });
    try {
      new UpdatePolicy(origin, z.update?.allow ?? []);
    } catch (e) {
      out.push(`/zones/${i}/update/allow: ${(e as Error).message}`);
    }
    z.notify.forEach((n, j) => {
      if (parseHostPort(n, 53) === undefined)
        out.push(`/zones/${i}/notify/${j}: "${n}" is not "address" or "address:port"`);
    });
  });
  checkCidrs(cfg.transfer.allow).forEach((m) => out.push(`/transfer/allow: ${m}`));
  cfg.transfer.keys.forEach((k, j) => {
    if (!keyNames.has(keyNameOf(k)))
      out.push(`/transfer/keys/${j}: "${k}" is not in keys; add it there`);
  });
  checkCidrs(cfg.forward.networks).forEach((m) => out.push(`/forward/networks: ${m}`));
  if (cfg.forward.networks.length > 0 && cfg.forward.upstreams.length === 0) {
    out.push(
      '/forward/upstreams: forwarding networks are set but no upstream resolver; add one or clear forward.networks',
    );
  }
  return out;
}
