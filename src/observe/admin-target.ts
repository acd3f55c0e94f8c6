/**
 * An admin listener to read, `{name, url}`: the schema of one entry of `monitor.yaml`'s
 * `targets`, shared with the operator CLI so that it can read that list without loading
 * the monitor's whole config (src/ must not import services/).
 */
import { Type, type Static } from '@sinclair/typebox';

export const AdminTarget = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'Short name of the process (the compose service, e.g. dhcp-eth1)',
    }),
    url: Type.String({
      pattern: '^https?://',
      description: 'Base URL of its admin listener, e.g. http://127.0.0.1:9091',
    }),
  },
  { additionalProperties: false },
);
export type AdminTarget = Static<typeof AdminTarget>;
