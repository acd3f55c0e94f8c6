import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { keyFromTriple, type TsigKey } from './tsig.js';

/**
 * A TSIG key's secret (DNS `keys`, DHCP `ddns.key`): a secretFile (a compose secret; either the bare base64 or a BIND
 * key file as `tsig-keygen` writes it) or a secretEnv variable. Never inline in a file
 * that lives in the repository.
 */
export function readTsigSecret(
  key: { readonly name: string; readonly secretFile?: string; readonly secretEnv?: string },
  configDir: string,
  env: NodeJS.ProcessEnv,
): { secret?: string; error?: string } {
  if ((key.secretFile === undefined) === (key.secretEnv === undefined))
    return { error: 'give exactly one of secretFile, secretEnv' };
  let text: string;
  if (key.secretFile !== undefined) {
    const file = resolve(configDir, key.secretFile);
    if (!existsSync(file))
      return {
        error: `${file} does not exist; create it (tsig-keygen ${key.name} > file) or mount the secret there`,
      };
    text = readFileSync(file, 'utf8');
  } else {
    const v = env[key.secretEnv!];
    if (v === undefined || v === '')
      return { error: `environment variable ${key.secretEnv} is not set` };
    text = v;
  }
  const bind = /secret\s+"([^"]+)"/.exec(text);
  const secret = (bind ? bind[1]! : text).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret) || Buffer.from(secret, 'base64').length < 16)
    return { error: 'the secret is not base64 of at least 16 bytes (make one with tsig-keygen)' };
  return { secret };
}

/**
 * The `keys` of dns.yaml as TSIG keys by lower-case name with a trailing dot; a key whose
 * secret cannot be read throws, naming the key and the fix.
 */
export function loadTsigKeys(
  keys: readonly {
    readonly name: string;
    readonly algorithm: string;
    readonly secretFile?: string;
    readonly secretEnv?: string;
  }[],
  configDir: string,
  env: NodeJS.ProcessEnv,
): Map<string, TsigKey> {
  const out = new Map<string, TsigKey>();
  for (const k of keys) {
    const s = readTsigSecret(k, configDir, env);
    if (s.error !== undefined) throw new Error(`dns.yaml /keys ${k.name}: ${s.error}`);
    const key = keyFromTriple(`${k.algorithm}:${k.name}:${s.secret!}`);
    out.set(key.name, key);
  }
  return out;
}
