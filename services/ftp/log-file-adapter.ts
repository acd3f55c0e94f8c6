/**
 * Append-only log files for the protocol log and the xferlog. A WriteStream in append
 * mode buffers lines and writes them asynchronously; serving never waits for the log. An
 * error (disk full, folder gone) is reported once to the service log and later lines are
 * dropped and counted. `close()` flushes what is buffered.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

export class LogFile {
  private stream: WriteStream | undefined;
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.stream = createWriteStream(path, { flags: 'a', mode: 0o640 });
    this.stream.on('error', (e) => {
      this.log.error({ err: e, file: path }, 'log file write failed; further lines dropped');
      this.stream = undefined;
    });
  }

  line(s: string): void {
    if (this.stream) this.stream.write(s + '\n');
    else this.dropped++;
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (!s) return Promise.resolve();
    return new Promise((ok) => s.end(() => ok()));
  }
}
