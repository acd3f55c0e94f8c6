/**
 * `netsvc tsig-keygen [-a ALGORITHM] NAME`: a TSIG key (RFC 8945) in the file format of
 * BIND's tsig-keygen, for dhcp.yaml `ddns.key.secretFile` and the DNS server that grants
 * it (BIND reads the same text with `include`). The secret is as long as the hash (RFC
 * 8945 §6: "the key SHOULD be at least as long as the hash output").
 */
import { randomBytes } from 'node:crypto';

const SIZES: Readonly<Record<string, number>> = {
  'hmac-sha1': 20,
  'hmac-sha224': 28,
  'hmac-sha256': 32,
  'hmac-sha384': 48,
  'hmac-sha512': 64,
};

export function tsigKeyText(name: string, algorithm = 'hmac-sha256'): string {
  const size = SIZES[algorithm];
  if (size === undefined)
    throw new Error(`unknown algorithm ${algorithm}; one of ${Object.keys(SIZES).join(', ')}`);
  if (!/^[A-Za-z0-9._-]{1,253}$/.test(name)) throw new Error(`"${name}" is not a key name`);
  const secret = randomBytes(size).toString('base64');
  return `key "${name}" {\n\talgorithm ${algorithm};\n\tsecret "${secret}";\n};\n`;
}
