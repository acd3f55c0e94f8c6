/**
 * Accounts: the configured users with their password hashes, permissions, homes, quotas
 * and rates, prepared at start, and the password check run for PASS.
 *
 * Password sources, first present wins: `password` (meant for an environment override),
 * `passwordHash`, `passwordFile` (a Docker secret holding the password or its scrypt
 * hash). Plain passwords are hashed in memory at start, so every check costs one scrypt
 * (the same for unknown users, checked against a dummy hash: no timing oracle for user
 * names). Unless `allowDevPasswords`, a dev-profile password refuses the start.
 *
 * Homes resolve against the data dir. A missing home is created, from `seed` when one is
 * given (copied once; later starts keep what users uploaded), so `npm start` writes into
 * data/ and never into the repository's config/dev/ftp/ seeds.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { FtpConfig } from './config.js';
import { DEV_PASSWORDS } from './config.js';
import {
  hashPasswordSync,
  isPasswordHash,
  verifyPassword,
  verifyPasswordSync,
} from '../../src/password-hash.js';
import type { Account, Permission } from './session.js';

export interface AccountRecord extends Account {
  readonly homeReal: string;
  readonly quotaBytes: number;
  readonly maxRateBytesPerSec: number;
}

interface Entry {
  readonly hash: string;
  readonly record: AccountRecord;
}

export class AccountStoreError extends Error {
  readonly code = 'ERR_FTP_ACCOUNTS';
}

function prepareHome(home: string, seed: string | undefined, log: Logger): string {
  if (!existsSync(home)) {
    if (seed !== undefined) {
      cpSync(seed, home, { recursive: true, errorOnExist: false, force: false });
      log.info({ home, seed }, 'home created from its seed');
    } else {
      mkdirSync(home, { recursive: true });
      log.info({ home }, 'home created (empty)');
    }
  }
  return realpathSync(home);
}

export class AccountStore {
  private readonly users = new Map<string, Entry>();
  private readonly anonymous: AccountRecord | undefined;
  private readonly dummyHash = hashPasswordSync('not a password');

  constructor(cfg: FtpConfig, configDir: string, dataDir: string, log: Logger) {
    const problems: string[] = [];
    cfg.users.forEach((u, i) => {
      let secret: string | undefined = u.password ?? u.passwordHash;
      if (secret === undefined && u.passwordFile !== undefined) {
        const f = resolve(configDir, u.passwordFile);
        try {
          secret = readFileSync(f, 'utf8').replace(/\r?\n$/, '');
        } catch (e) {
          problems.push(
            `users/${i} (${u.name}): cannot read passwordFile ${f}: ${(e as Error).message}`,
          );
          return;
        }
      }
      if (secret === undefined || secret === '') {
        problems.push(
          `users/${i} (${u.name}): no password (set passwordFile, passwordHash or NETSVC_FTP__USERS__${i}__PASSWORD)`,
        );
        return;
      }
      const isHash = isPasswordHash(secret);
      if (!cfg.allowDevPasswords) {
        const dev = isHash
          ? DEV_PASSWORDS.some((d) => verifyPasswordSync(d, secret!))
          : DEV_PASSWORDS.includes(secret);
        if (dev) {
          problems.push(
            `users/${i} (${u.name}): uses a dev-profile password; refusing to start with it`,
          );
          return;
        }
      }
      const hash = isHash ? secret : hashPasswordSync(secret);
      const home = resolve(dataDir, u.home);
      const homeReal = prepareHome(
        home,
        u.seed === undefined ? undefined : resolve(configDir, u.seed),
        log,
      );
      this.users.set(u.name, {
        hash,
        record: {
          name: u.name,
          anonymous: false,
          permissions: new Set<Permission>(u.permissions),
          homeReal,
          quotaBytes: u.quotaBytes,
          maxRateBytesPerSec: u.maxRateBytesPerSec,
        },
      });
    });
    if (problems.length > 0)
      throw new AccountStoreError(`ftp accounts:\n  ${problems.join('\n  ')}`);
    if (cfg.anonymous.enabled) {
      const a = cfg.anonymous;
      this.anonymous = {
        name: 'anonymous',
        anonymous: true,
        // vsftpd: anonymous is read-only unless anon_upload_enable; we never allow writes.
        permissions: new Set<Permission>(['read']),
        homeReal: prepareHome(
          resolve(dataDir, a.home),
          a.seed === undefined ? undefined : resolve(configDir, a.seed),
          log,
        ),
        quotaBytes: 0,
        maxRateBytesPerSec: a.maxRateBytesPerSec,
      };
    }
  }

  /** The account for USER/PASS, or undefined (always after one scrypt run). */
  async check(user: string, password: string): Promise<AccountRecord | undefined> {
    if (/^(anonymous|ftp)$/i.test(user)) return this.anonymous;
    const e = this.users.get(user);
    const ok = await verifyPassword(password, e?.hash ?? this.dummyHash);
    return ok && e ? e.record : undefined;
  }

  names(): string[] {
    return [...this.users.keys()];
  }
}
