/**
 * Schema of `ftp.yaml`: every default lives here, with a description per field and, for
 * each limit, the vsftpd option it mirrors. Semantic checks (seed folders exist, a
 * password source per user, dev passwords refused outside the dev profile, TLS files,
 * port ranges) are in `checkFtpConfig`.
 *
 * Paths: `home` and the log files resolve against the data dir (they are written to);
 * `seed`, `passwordFile` and TLS files against the config dir.
 */
import { Type, type Static } from '@sinclair/typebox';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isPasswordHash, verifyPasswordSync } from '../../src/password-hash.js';

/** The passwords shipped in config/dev/ftp.yaml; every other profile refuses them. */
export const DEV_PASSWORDS: readonly string[] = ['dev-admin', 'dev-user1'];

const Permission = Type.Union(
  [
    Type.Literal('read'),
    Type.Literal('write'),
    Type.Literal('delete'),
    Type.Literal('mkdir'),
    Type.Literal('rename'),
  ],
  {
    description:
      'read: RETR/LIST; write: STOR/APPE/STOU/SITE CHMOD; delete: DELE/RMD; mkdir: MKD; rename: RNFR/RNTO',
  },
);

const User = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[^\\s:/]+$', description: 'Login name (USER)' }),
    passwordHash: Type.Optional(
      Type.String({
        description: 'scrypt$N$r$p$salt$hash from hashPassword() (services/ftp/password.ts)',
      }),
    ),
    passwordFile: Type.Optional(
      Type.String({
        description:
          'File holding the password or its scrypt hash (a Docker secret, e.g. /run/secrets/ftp_admin); relative to the config dir',
      }),
    ),
    password: Type.Optional(
      Type.String({
        description:
          'Plain password, for NETSVC_FTP__USERS__<i>__PASSWORD only; never write one in a file. Precedence: password, passwordHash, passwordFile',
      }),
    ),
    home: Type.String({
      description: 'Folder shown as "/" (chroot semantics on real paths); relative to the data dir',
    }),
    seed: Type.Optional(
      Type.String({
        description:
          'Folder copied into home when home does not exist yet; relative to the config dir',
      }),
    ),
    permissions: Type.Array(Permission, {
      default: ['read'],
      uniqueItems: true,
      description: 'What the user may do; default read-only (vsftpd write_enable=NO)',
    }),
    quotaBytes: Type.Integer({
      default: 0,
      minimum: 0,
      description:
        'Bytes the home may hold; 0 = no quota (vsftpd has none; the study describes ~70 KB per user). Over it: 552',
    }),
    maxRateBytesPerSec: Type.Integer({
      default: 0,
      minimum: 0,
      description: 'Per-transfer rate limit; 0 = unlimited (vsftpd local_max_rate=0)',
    }),
  },
  { additionalProperties: false },
);

const Listen = Type.Object(
  {
    address: Type.String({
      default: '127.0.0.1',
      description: 'IPv4 or IPv6 address for the control connection',
    }),
    port: Type.Integer({
      default: 21,
      minimum: 0,
      maximum: 65535,
      description: 'Control port; 0 picks a free one (tests)',
    }),
  },
  { additionalProperties: false },
);

export const FtpConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Run this service when no service is named',
    }),
    listen: Type.Array(Listen, {
      default: [{ address: '127.0.0.1', port: 21 }],
      minItems: 1,
      description: 'Control-connection listeners (vsftpd listen_address, listen_port=21)',
    }),
    banner: Type.String({
      default: 'netsvc FTP ready.',
      description:
        'Text of the 220 greeting (vsftpd ftpd_banner); no version, like vsftpd with a banner set',
    }),
    users: Type.Array(User, {
      default: [],
      description: 'Local users (vsftpd local_enable=YES with chroot_local_user=YES)',
    }),
    allowDevPasswords: Type.Boolean({
      default: false,
      description: 'Accept the dev passwords (dev-admin, dev-user1); only config/dev sets this',
    }),
    anonymous: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            'Accept USER anonymous/ftp with any password (vsftpd anonymous_enable, Debian: NO)',
        }),
        home: Type.String({
          default: 'ftp/anonymous',
          description:
            'Folder shown as "/" to anonymous users; relative to the data dir (vsftpd anon_root)',
        }),
        seed: Type.Optional(
          Type.String({
            description: 'Folder copied into home when missing; relative to the config dir',
          }),
        ),
        maxRateBytesPerSec: Type.Integer({
          default: 0,
          minimum: 0,
          description: 'vsftpd anon_max_rate=0',
        }),
      },
      {
        default: {},
        additionalProperties: false,
        description: 'Anonymous users are always read-only',
      },
    ),
    active: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Allow PORT/EPRT (vsftpd port_enable=YES)',
        }),
        sourcePort: Type.Integer({
          default: 20,
          minimum: 0,
          maximum: 65535,
          description:
            'Local port of active data connections; 0 = any (vsftpd connect_from_port_20, ftp_data_port=20)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    passive: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Allow PASV/EPSV (vsftpd pasv_enable=YES)',
        }),
        portMin: Type.Integer({
          default: 0,
          minimum: 0,
          maximum: 65535,
          description: 'Lowest passive port; 0 with portMax 0 = any (vsftpd pasv_min_port=0)',
        }),
        portMax: Type.Integer({
          default: 0,
          minimum: 0,
          maximum: 65535,
          description: 'Highest passive port (vsftpd pasv_max_port=0)',
        }),
        address: Type.Union([Type.String(), Type.Null()], {
          default: null,
          description:
            "IPv4 address advertised in 227 replies; null = the control connection's local address (vsftpd pasv_address)",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        maxClients: Type.Integer({
          default: 50,
          minimum: 1,
          description:
            'Concurrent sessions; more get 421 (vsftpd max_clients; 50 as pure-ftpd MaxClientsNumber)',
        }),
        maxPerIp: Type.Integer({
          default: 8,
          minimum: 1,
          description:
            'Concurrent sessions per client address (vsftpd max_per_ip; 8 as pure-ftpd MaxClientsPerIP)',
        }),
        maxLoginFails: Type.Integer({
          default: 3,
          minimum: 1,
          description: 'Failed logins before disconnect (vsftpd max_login_fails=3)',
        }),
        failedLoginDelayMs: Type.Integer({
          default: 1000,
          minimum: 0,
          description: 'Delay before a 530 (vsftpd delay_failed_login=1 s)',
        }),
        loginTimeoutMs: Type.Integer({
          default: 30000,
          minimum: 100,
          description:
            'Time from connect to a completed USER/PASS; then 421 and close, so connections that never log in cannot hold every slot (OpenSSH LoginGraceTime, Postfix smtpd_timeout; vsftpd has only idle_session_timeout=300 s)',
        }),
        idleTimeoutMs: Type.Integer({
          default: 300000,
          minimum: 100,
          description:
            'Idle control connection closed with 421 (vsftpd idle_session_timeout=300 s)',
        }),
        dataTimeoutMs: Type.Integer({
          default: 300000,
          minimum: 100,
          description: 'Stalled transfer aborted with 421 (vsftpd data_connection_timeout=300 s)',
        }),
        dataOpenTimeoutMs: Type.Integer({
          default: 60000,
          minimum: 100,
          description:
            'Wait for a data connection (vsftpd accept_timeout=60 s, connect_timeout=60 s)',
        }),
        maxLineBytes: Type.Integer({
          default: 4096,
          minimum: 64,
          description: 'Longest command line (vsftpd VSFTP_MAX_COMMAND_LINE=4096)',
        }),
        maxQueuedLines: Type.Integer({
          default: 64,
          minimum: 1,
          description: 'Pipelined commands held while one runs; more get 421',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    loginBackoff: Type.Object(
      {
        findTimeMs: Type.Integer({
          default: 600000,
          minimum: 1000,
          description: 'Window in which failures are counted (fail2ban findtime=10 min)',
        }),
        banTimeMs: Type.Integer({
          default: 600000,
          minimum: 1000,
          description:
            'How long a banned key is refused without checking the password (fail2ban bantime=10 min)',
        }),
        delayMs: Type.Integer({
          default: 1000,
          minimum: 0,
          description:
            'Delay after the first failure of a source (or account and source), doubled per further failure (vsftpd delay_failed_login=1 s, but per source, not per connection)',
        }),
        maxDelayMs: Type.Integer({
          default: 10000,
          minimum: 0,
          description:
            'Cap on the growing delay; keep it below limits.loginTimeoutMs (OpenSSH caps its per-failure delay the same way)',
        }),
        maxFailuresPerSource: Type.Integer({
          default: 10,
          minimum: 1,
          description:
            'Failures of one source address (any account) within findTimeMs that ban it; its new connections then get 421 (fail2ban vsftpd jail, maxretry per IP)',
        }),
        maxFailuresPerAccountSource: Type.Integer({
          default: 5,
          minimum: 1,
          description:
            'Failures for one account from one source that ban that pair (fail2ban maxretry=5); other sources may still log in to the account',
        }),
        maxFailuresPerAccount: Type.Integer({
          default: 30,
          minimum: 1,
          description:
            'Checked failures for one account from all sources that ban the account itself (pam_faillock deny, higher so one attacker cannot lock the real user out)',
        }),
      },
      {
        default: {},
        additionalProperties: false,
        description: 'Shared failed-login back-off and bans (RFC 2577 §4), see README',
      },
    ),
    siteChmod: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Allow SITE CHMOD to users with write permission (vsftpd chmod_enable=YES)',
        }),
        fileModeMask: Type.String({
          default: '0644',
          pattern: '^[0-7]{3,4}$',
          description:
            'Bits SITE CHMOD may set on a file; a mode with others is refused 550 (vsftpd file_open_mode=0666 with local_umask=022 gives 0644)',
        }),
        dirModeMask: Type.String({
          default: '0755',
          pattern: '^[0-7]{3,4}$',
          description:
            'Bits SITE CHMOD may set on a folder below the home; the home itself is never changed',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    umask: Type.String({
      default: '022',
      pattern: '^[0-7]{3,4}$',
      description:
        'Octal umask for created files and folders (vsftpd local_umask; Debian ships 022)',
    }),
    tls: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'Offer AUTH TLS (RFC 4217) (vsftpd ssl_enable=NO)',
        }),
        cert: Type.String({
          default: '',
          description: 'PEM certificate chain; relative to the config dir (vsftpd rsa_cert_file)',
        }),
        key: Type.String({
          default: '',
          description:
            'PEM private key; relative to the config dir; never commit it (vsftpd rsa_private_key_file)',
        }),
        requireForLogin: Type.Boolean({
          default: true,
          description:
            'Refuse USER before AUTH TLS, except anonymous (vsftpd force_local_logins_ssl=YES)',
        }),
        requireForData: Type.Boolean({
          default: true,
          description:
            'Refuse transfers without PROT P, except anonymous (vsftpd force_local_data_ssl=YES)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    protocolLog: Type.Union([Type.String(), Type.Null()], {
      default: 'logs/ftp-protocol.log',
      description:
        'Every command and reply, PASS masked; relative to the data dir; null = off (vsftpd log_ftp_protocol)',
    }),
    xferlog: Type.Union([Type.String(), Type.Null()], {
      default: 'logs/xferlog',
      description:
        'Standard xferlog, one line per transfer; relative to the data dir; null = off (vsftpd xferlog_std_format=YES)',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type FtpConfig = Static<typeof FtpConfig>;
export type FtpUser = FtpConfig['users'][number];

/** Semantic checks, `/path: message` each (DESIGN.md rule 3). */
export function checkFtpConfig(cfg: FtpConfig, configDir: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  cfg.users.forEach((u, i) => {
    const at = `/users/${i}`;
    if (seen.has(u.name)) out.push(`${at}/name: duplicate user ${u.name}`);
    seen.add(u.name);
    if (/^(anonymous|ftp)$/i.test(u.name))
      out.push(`${at}/name: ${u.name} is the anonymous login; use anonymous.enabled`);
    if (u.password === undefined && u.passwordHash === undefined && u.passwordFile === undefined) {
      out.push(
        `${at}: no password source; set passwordFile (a secret), passwordHash, or NETSVC_FTP__USERS__${i}__PASSWORD`,
      );
    }
    if (u.passwordHash !== undefined && !isPasswordHash(u.passwordHash)) {
      out.push(
        `${at}/passwordHash: not a scrypt$N$r$p$salt$hash string (make one with hashPassword())`,
      );
    }
    if (!cfg.allowDevPasswords) {
      if (u.password !== undefined && DEV_PASSWORDS.includes(u.password)) {
        out.push(
          `${at}/password: a dev-profile password; set a real one from a secret file or the environment`,
        );
      }
      if (
        u.passwordHash !== undefined &&
        isPasswordHash(u.passwordHash) &&
        DEV_PASSWORDS.some((d) => verifyPasswordSync(d, u.passwordHash!))
      ) {
        out.push(`${at}/passwordHash: hash of a dev-profile password; set a real one`);
      }
    }
    if (u.seed !== undefined) {
      const s = resolve(configDir, u.seed);
      if (!existsSync(s) || !statSync(s).isDirectory())
        out.push(`${at}/seed: ${s} is not a folder; fix the path (relative to ${configDir})`);
    }
  });
  if (cfg.anonymous.seed !== undefined) {
    const s = resolve(configDir, cfg.anonymous.seed);
    if (!existsSync(s)) out.push(`/anonymous/seed: ${s} does not exist`);
  }
  const p = cfg.passive;
  if (p.portMin > p.portMax)
    out.push(`/passive/portMin: ${p.portMin} is above portMax ${p.portMax}`);
  if ((p.portMin === 0) !== (p.portMax === 0))
    out.push('/passive: set both portMin and portMax, or neither (0 = any port)');
  if (p.address !== null && !/^\d{1,3}(\.\d{1,3}){3}$/.test(p.address))
    out.push('/passive/address: must be an IPv4 address (a 227 reply carries only IPv4)');
  if (!cfg.active.enabled && !p.enabled)
    out.push(
      '/active/enabled: active and passive mode are both disabled: no transfer could ever run',
    );
  if (cfg.tls.enabled) {
    for (const k of ['cert', 'key'] as const) {
      const v = cfg.tls[k];
      if (v === '') out.push(`/tls/${k}: required when tls.enabled is true`);
      // A key from a secret mount may not exist at check time on another host; only a
      // relative path (a file meant to sit next to the config) must exist.
      else if (!v.startsWith('/') && !existsSync(resolve(configDir, v)))
        out.push(`/tls/${k}: ${resolve(configDir, v)} does not exist`);
    }
  }
  return out;
}
