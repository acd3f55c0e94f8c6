/**
 * `netsvc passwd [--stdin]`: print the scrypt hash of a password for ftp.yaml users,
 * SIP extensions and the monitor's basic auth (hashPassword() of services/ftp/password.ts).
 * On a terminal the password is asked twice without echo; otherwise (or with --stdin) the
 * first line of standard input is read, so scripts can pipe it in.
 */
import { hashPassword } from '../password-hash.js';

function readHidden(prompt: string): Promise<string> {
  return new Promise((ok, fail) => {
    const input = process.stdin;
    process.stderr.write(prompt);
    let text = '';
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const done = (err?: Error): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) fail(err);
      else ok(text);
    };
    const onData = (chunk: string): void => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n') return done();
        if (c === '\u0003' || c === '\u0004') return done(new Error('cancelled'));
        if (c === '\u007f' || c === '\b') text = text.slice(0, -1);
        else text += c;
      }
    };
    input.on('data', onData);
  });
}

async function readFirstLine(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0] ?? '';
}

export async function passwd(args: { stdin: boolean }): Promise<number> {
  let password: string;
  if (process.stdin.isTTY && !args.stdin) {
    password = await readHidden('Password: ');
    const again = await readHidden('Again: ');
    if (password !== again) {
      process.stderr.write('netsvc passwd: the two passwords differ\n');
      return 1;
    }
  } else password = await readFirstLine();
  if (password.length === 0) {
    process.stderr.write('netsvc passwd: empty password\n');
    return 1;
  }
  process.stdout.write((await hashPassword(password)) + '\n');
  return 0;
}
