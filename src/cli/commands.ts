/**
 * The names of the operator commands and their usage lines, apart from their code so that
 * main.ts can dispatch without loading it (a service start never pays for the CLI).
 */
export const OPERATOR_COMMANDS = [
  'status',
  'leases',
  'registrations',
  'calls',
  'passwd',
  'tsig-keygen',
] as const;
export type OperatorCommand = (typeof OPERATOR_COMMANDS)[number];

export function isOperatorCommand(s: string | undefined): s is OperatorCommand {
  return (OPERATOR_COMMANDS as readonly string[]).includes(s ?? '');
}

export const OPERATOR_USAGE = `       netsvc status|leases|registrations|calls [--json] [--config DIR] [--url ADMIN_URL…]
       netsvc passwd [--stdin]
       netsvc tsig-keygen [-a hmac-sha256|hmac-sha512|…] NAME`;
