/**
 * The operator commands, dispatched from main.ts:
 *
 *   netsvc status        [--json] [--config DIR] [--url URL…]  every service: state, uptime, RSS, counters
 *   netsvc leases        [--json] …                            active DHCP leases
 *   netsvc registrations [--json] …                            SIP registrations
 *   netsvc calls         [--json] …                            SIP calls with packets, loss, jitter
 *   netsvc passwd        [--stdin]                             scrypt hash for FTP/SIP/monitor secrets
 *   netsvc tsig-keygen   [-a ALG] NAME                         a TSIG key file (DDNS, BIND's format)
 *
 * They read the admin listeners (targets.ts) and never change anything. Exit codes:
 * 0 done, 1 a process could not be reached (what could be read is still printed), 2 usage.
 */
import { resolve } from 'node:path';
import { passwd } from './passwd.js';
import { tsigKeyText } from './tsig-keygen.js';
import { collectRows, renderRows, type StateTable } from './state-tables.js';
import { collectStatus, renderStatus } from './status.js';
import { adminTargets } from './targets.js';
import { OPERATOR_USAGE, type OperatorCommand } from './commands.js';

const TIMEOUT_MS = 3000;

function tsigKeygen(argv: readonly string[]): number {
  let algorithm = 'hmac-sha256';
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-a' && argv[i + 1] !== undefined) algorithm = argv[++i]!;
    else names.push(argv[i]!);
  }
  if (names.length !== 1) {
    process.stderr.write(`netsvc tsig-keygen: give one key name\nusage:\n${OPERATOR_USAGE}\n`);
    return 2;
  }
  try {
    process.stdout.write(tsigKeyText(names[0]!, algorithm));
    return 0;
  } catch (e) {
    process.stderr.write(`netsvc tsig-keygen: ${(e as Error).message}\n`);
    return 2;
  }
}

export async function runOperatorCommand(
  cmd: OperatorCommand,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  if (cmd === 'tsig-keygen') return tsigKeygen(argv);
  let json = false;
  let stdin = false;
  let configDir = env.NETSVC_CONFIG_DIR ?? 'config/dev';
  const urls: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--stdin' && cmd === 'passwd') stdin = true;
    else if ((a === '--config' || a === '-c' || a === '--url') && argv[i + 1] !== undefined) {
      if (a === '--url') urls.push(argv[++i]!);
      else configDir = argv[++i]!;
    } else if (a.startsWith('--config=')) configDir = a.slice('--config='.length);
    else if (a.startsWith('--url=')) urls.push(a.slice('--url='.length));
    else {
      process.stderr.write(`netsvc ${cmd}: unexpected argument ${a}\nusage:\n${OPERATOR_USAGE}\n`);
      return 2;
    }
  }
  if (cmd === 'passwd') return passwd({ stdin });

  const targets = adminTargets(resolve(configDir), urls);
  if (cmd === 'status') {
    const st = await collectStatus(targets, TIMEOUT_MS);
    process.stdout.write(json ? JSON.stringify(st, null, 2) + '\n' : renderStatus(st));
    return st.targets.every((t) => t.up) ? 0 : 1;
  }
  const r = await collectRows(cmd as StateTable, targets, TIMEOUT_MS);
  for (const d of r.down) process.stderr.write(`netsvc ${cmd}: cannot reach ${d}\n`);
  if (json) process.stdout.write(JSON.stringify(r.rows ?? [], null, 2) + '\n');
  else if (r.rows === undefined) {
    const svc = cmd === 'leases' ? 'dhcp' : 'sip';
    process.stdout.write(
      `no ${svc} state: no reachable process runs ${svc} with GET /state/${svc}\n`,
    );
  } else process.stdout.write(renderRows(cmd as StateTable, r.rows, Date.now()));
  return r.down.length > 0 ? 1 : 0;
}
