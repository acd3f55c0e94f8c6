/**
 * Schema of `sip.yaml`: every default lives here, with a description per field, plus the
 * semantic checks (`checkSipConfig`) and secret resolution (`resolveSecrets`, which reads
 * secret files and the environment; config.ts is allowed that I/O).
 *
 * Secrets: an extension takes its secret inline (`secret`, only with `allowDevSecrets:
 * true`, the dev profile), from a file (`secretFile`, e.g. a compose secret under
 * /run/secrets) or from an environment variable (`secretEnv`). Without allowDevSecrets
 * an inline secret, or any secret of the form `dev-…`, is refused: no secret lives in the
 * repo (DESIGN.md rule 3).
 */
import { Type, type Static } from '@sinclair/typebox';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MediaConfig, checkMediaConfig } from './media-config.js';

const Fallback = Type.Union([Type.Literal('greeting'), Type.Literal('hangup')], {
  description:
    'What an unanswered call does after its ring timeout: greeting = answer, play media.greeting, hang up (the reference dialplan); hangup = 480 to the caller',
});

/** Password-guessing throttle (auth-guard.ts); option names after fail2ban's jail.conf. */
const AuthGuardConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Delay and ban wrong-password guessing (answered 403 without checking)',
    }),
    maxFailures: Type.Integer({
      default: 5,
      minimum: 1,
      description:
        'Wrong passwords for one extension from one source address within findTimeS that ban the pair (fail2ban maxretry)',
    }),
    sourceMaxFailures: Type.Integer({
      default: 20,
      minimum: 1,
      description:
        'Wrong passwords from one source address, any extension, within findTimeS that ban the address (the fail2ban asterisk jail keys on it)',
    }),
    extensionMaxFailures: Type.Integer({
      default: 100,
      minimum: 1,
      description:
        'Wrong passwords for one extension from any source within findTimeS that ban it for every source that has not authenticated it within trustTimeS (guessing spread over many addresses)',
    }),
    findTimeS: Type.Integer({
      default: 600,
      minimum: 1,
      description: 'Window in which failures are counted, s (fail2ban findtime)',
    }),
    banTimeS: Type.Integer({
      default: 600,
      minimum: 1,
      description: 'How long a ban lasts, s (fail2ban bantime)',
    }),
    delayMs: Type.Integer({
      default: 0,
      minimum: 0,
      description:
        'After a wrong password the pair is refused this long (even with the right one), doubled after each further one, ms (OpenSSH/vsftpd delay_failed_login); 0: ban only, as fail2ban',
    }),
    maxDelayMs: Type.Integer({
      default: 30000,
      minimum: 0,
      description: 'Longest delay between two checked guesses of a pair, ms',
    }),
    trustTimeS: Type.Integer({
      default: 7200,
      minimum: 0,
      description:
        'A source that authenticated an extension is exempt from its extension-wide ban this long, s (longer than registrar.maxExpires, so a registered phone always is)',
    }),
    maxKeys: Type.Integer({
      default: 10000,
      minimum: 100,
      description:
        'Keys tracked per table (pair, source, extension), so a flood of sources cannot grow memory',
    }),
  },
  { default: {}, additionalProperties: false },
);

const Dialplan = Type.Object(
  {
    ringTimeoutS: Type.Integer({
      default: 20,
      minimum: 1,
      maximum: 600,
      description:
        'Seconds an extension rings before the fallback (reference dialplan: Dial(SIP/…,20))',
    }),
    fallback: Type.Union([Type.Literal('greeting'), Type.Literal('hangup')], {
      default: 'greeting',
      description: 'Fallback for every extension (see overrides)',
    }),
    echoExtensions: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._~+-]{1,64}$' }), {
      default: ['600'],
      description:
        "Extensions that answer and echo the caller's audio through the relay (Asterisk's 600 Echo() test)",
    }),
    overrides: Type.Array(
      Type.Object(
        {
          extension: Type.String({
            pattern: '^[A-Za-z0-9._~+-]{1,64}$',
            description: 'The extension this entry applies to',
          }),
          ringTimeoutS: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 600,
              description: 'Ring timeout of this extension, s',
            }),
          ),
          fallback: Type.Optional(Fallback),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Per-extension ring timeout / fallback' },
    ),
  },
  { default: {}, additionalProperties: false },
);

const Listen = Type.Object(
  {
    address: Type.String({
      default: '127.0.0.1',
      description: 'IPv4 address to bind, UDP and TCP',
    }),
    port: Type.Integer({
      default: 5060,
      minimum: 0,
      maximum: 65535,
      description: 'Port; 0 picks a free one (tests)',
    }),
  },
  { additionalProperties: false },
);

const Extension = Type.Object(
  {
    user: Type.String({
      pattern: '^[A-Za-z0-9._~+-]{1,64}$',
      description: 'Extension = AOR user part and digest username, e.g. "2001"',
    }),
    secret: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Inline secret; only accepted with allowDevSecrets (dev profile)',
      }),
    ),
    secretFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'File holding the secret (trailing newline stripped), relative to the config dir',
      }),
    ),
    secretEnv: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        description: 'Environment variable holding the secret',
      }),
    ),
    algorithms: Type.Optional(
      Type.Array(Type.Union([Type.Literal('SHA-256'), Type.Literal('MD5')]), {
        minItems: 1,
        uniqueItems: true,
        description:
          "This extension's digest algorithms, preferred first (default auth.algorithms); [SHA-256] moves a phone that supports RFC 8760 off MD5",
      }),
    ),
  },
  { additionalProperties: false },
);

export const SipConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Run this service when no service is named',
    }),
    listen: Type.Array(Listen, {
      default: [{ address: '127.0.0.1', port: 5060 }],
      minItems: 1,
      description: 'Addresses to serve SIP on, UDP and TCP each (RFC 3261 §18: 5060)',
    }),
    advertise: Type.Union([Type.String(), Type.Null()], {
      default: null,
      description:
        'Host written in the Via of requests we send (OPTIONS qualify); null = the first listen address',
    }),
    realm: Type.String({
      default: 'asterisk',
      minLength: 1,
      description: 'Digest realm (the reference Asterisk used "asterisk")',
    }),
    userAgent: Type.String({
      default: 'netsvc-sip',
      description: 'Server / User-Agent header value',
    }),
    allowDevSecrets: Type.Boolean({
      default: false,
      description: 'Accept inline secrets and secrets starting with "dev-" (dev profile only)',
    }),
    extensions: Type.Array(Extension, { default: [], description: 'Extensions that may register' }),
    registrar: Type.Object(
      {
        defaultExpires: Type.Integer({
          default: 120,
          minimum: 1,
          description: 'Expiry when the REGISTER names none, s (Asterisk defaultexpiry)',
        }),
        minExpires: Type.Integer({
          default: 60,
          minimum: 1,
          description:
            'Shorter non-zero expiries get 423 Interval Too Brief, s (Asterisk minexpiry)',
        }),
        maxExpires: Type.Integer({
          default: 3600,
          minimum: 1,
          description: 'Longer expiries are shortened to this, s (Asterisk maxexpiry)',
        }),
        maxContacts: Type.Integer({
          default: 10,
          minimum: 1,
          description: 'Contacts per extension; more get 503 (Kamailio registrar max_contacts)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        algorithms: Type.Array(Type.Union([Type.Literal('SHA-256'), Type.Literal('MD5')]), {
          default: ['MD5', 'SHA-256'],
          minItems: 1,
          uniqueItems: true,
          description:
            'Digest algorithms accepted, most preferred first (RFC 8760 §2.4); the first is the one challenge sent (MD5: what every phone reads)',
        }),
        challenges: Type.Union([Type.Literal('first'), Type.Literal('all')], {
          default: 'first',
          description:
            "'first': one WWW-Authenticate per 401, the extension's first algorithm (Asterisk and Kamailio default; baresip fails on two); 'all': one per algorithm (RFC 8760)",
        }),
        nonceTtlS: Type.Integer({
          default: 300,
          minimum: 5,
          description: 'Nonce lifetime; older ones get stale=true, s (Kamailio auth nonce_expire)',
        }),
        maxNonces: Type.Integer({
          default: 100000,
          minimum: 100,
          description:
            'Nonces tracked for replay detection (Kamailio nc_array_size plays this part)',
        }),
        guard: AuthGuardConfig,
      },
      { default: {}, additionalProperties: false },
    ),
    qualify: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Send OPTIONS keepalives to registered contacts',
        }),
        intervalS: Type.Integer({
          default: 60,
          minimum: 5,
          description: 'Seconds between OPTIONS to each contact (Asterisk qualifyfreq)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    timers: Type.Object(
      {
        t1Ms: Type.Integer({
          default: 500,
          minimum: 10,
          description: 'RFC 3261 T1, RTT estimate (Kamailio retr_timer1)',
        }),
        t2Ms: Type.Integer({
          default: 4000,
          minimum: 10,
          description: 'RFC 3261 T2, max retransmit interval (Kamailio retr_timer2)',
        }),
        t4Ms: Type.Integer({
          default: 5000,
          minimum: 0,
          description: 'RFC 3261 T4, max time a message stays in the network',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    maxTransactions: Type.Integer({
      default: 200000,
      minimum: 100,
      description:
        'Live server transactions before new requests get 503 Retry-After (a backstop; maxTransactionBytes bites first)',
    }),
    maxTransactionBytes: Type.Integer({
      default: 67108864,
      minimum: 65536,
      description:
        'Estimated bytes all transactions may hold (about 1 KiB each plus the messages kept for retransmission) before new requests get 503 Retry-After (RFC 3261 §21.5.4); 64 MiB = Kamailio default shm pool',
    }),
    tcp: Type.Object(
      {
        idleTimeoutMs: Type.Integer({
          default: 600000,
          minimum: 1000,
          description:
            'Close a TCP connection idle this long (Kamailio tcp_connection_lifetime 120 s; phones keep TCP for their registration, so longer)',
        }),
        maxConnections: Type.Integer({
          default: 2048,
          minimum: 1,
          description: 'Concurrent TCP connections (Kamailio tcp_max_connections)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    maxCalls: Type.Integer({
      default: 100,
      minimum: 1,
      maximum: 10000,
      description:
        'Concurrent calls; more get 503 (Asterisk call-limit plays this part; each call takes two relay port pairs)',
    }),
    dialplan: Dialplan,
    media: MediaConfig,
  },
  { additionalProperties: false, default: {} },
);
export type SipConfig = Static<typeof SipConfig>;

type Ext = SipConfig['extensions'][number];

function readSecret(
  e: Ext,
  configDir: string,
  env: NodeJS.ProcessEnv,
): { secret?: string; error?: string } {
  const sources = [
    e.secret !== undefined,
    e.secretFile !== undefined,
    e.secretEnv !== undefined,
  ].filter(Boolean).length;
  if (sources !== 1) return { error: 'give exactly one of secret, secretFile, secretEnv' };
  if (e.secret !== undefined) return { secret: e.secret };
  if (e.secretFile !== undefined) {
    const file = resolve(configDir, e.secretFile);
    if (!existsSync(file))
      return { error: `${file} does not exist; create it (mode 0400) or mount the secret there` };
    try {
      return { secret: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
    } catch (err) {
      return { error: `${file}: ${(err as Error).message}` };
    }
  }
  const v = env[e.secretEnv!];
  if (v === undefined || v === '')
    return { error: `environment variable ${e.secretEnv} is not set` };
  return { secret: v };
}

/**
 * Semantic checks. Secret files and variables exist only where the service runs (compose
 * secrets), so a missing one is an issue only when `strict` (at create()); one that can be
 * read is always checked against the dev-secret rule.
 */
export function checkSipConfig(
  cfg: SipConfig,
  configDir: string,
  env: NodeJS.ProcessEnv = process.env,
  strict = false,
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  cfg.extensions.forEach((e, i) => {
    if (seen.has(e.user)) out.push(`/extensions/${i}/user: ${e.user} is listed twice`);
    seen.add(e.user);
    if (!cfg.allowDevSecrets && e.secret !== undefined) {
      out.push(
        `/extensions/${i}/secret: inline secrets are for the dev profile only; use secretFile or secretEnv`,
      );
      return;
    }
    const r = readSecret(e, configDir, env);
    if (r.error) {
      const absent = /does not exist|is not set/.test(r.error);
      if (strict || !absent) out.push(`/extensions/${i}: ${r.error}`);
    } else if (!cfg.allowDevSecrets && /^dev-/i.test(r.secret!)) {
      out.push(`/extensions/${i}: secret of ${e.user} is a dev secret; set a real one`);
    } else if (r.secret!.length < 8 && !cfg.allowDevSecrets) {
      out.push(`/extensions/${i}: secret of ${e.user} is shorter than 8 characters`);
    }
  });
  if (cfg.registrar.minExpires > cfg.registrar.maxExpires)
    out.push('/registrar/minExpires: larger than maxExpires');
  if (
    cfg.registrar.defaultExpires < cfg.registrar.minExpires ||
    cfg.registrar.defaultExpires > cfg.registrar.maxExpires
  ) {
    out.push('/registrar/defaultExpires: must lie between minExpires and maxExpires');
  }
  if (cfg.timers.t2Ms < cfg.timers.t1Ms) out.push('/timers/t2Ms: must not be below t1Ms');
  out.push(...checkMediaConfig(cfg.media));
  const users = new Set(cfg.extensions.map((e) => e.user));
  cfg.dialplan.echoExtensions.forEach((x, i) => {
    if (users.has(x))
      out.push(`/dialplan/echoExtensions/${i}: ${x} is also a registered extension`);
  });
  cfg.dialplan.overrides.forEach((o, i) => {
    if (!users.has(o.extension))
      out.push(`/dialplan/overrides/${i}/extension: ${o.extension} is not in extensions`);
  });
  return out;
}

/** Extension → secret; throws a coded error listing what is missing (create() after check()). */
export function resolveSecrets(
  cfg: SipConfig,
  configDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const users = new Map<string, string>();
  const problems = checkSipConfig(cfg, configDir, env, true);
  if (problems.length > 0) {
    const err = new Error(`sip: ${problems.join('; ')}`) as Error & { code: string };
    err.code = 'ERR_SIP_SECRETS';
    throw err;
  }
  for (const e of cfg.extensions) users.set(e.user, readSecret(e, configDir, env).secret!);
  return users;
}
