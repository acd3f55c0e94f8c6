/**
 * An append-only log file with write batching: lines are gathered in memory and written
 * in one `write()` at most every `flushMs` or when `maxBuffered` bytes are waiting (nginx
 * `access_log … buffer=64k flush=…` does the same), so logging costs one syscall per
 * batch instead of one per request. `reopen()` follows log rotation (nginx USR1);
 * `close()` writes what is left synchronously. If the disk is full or the file vanishes,
 * lines are dropped and `dropped` counts them (serving never waits for the log).
 */
import { openSync, closeSync, write, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export class LogFile {
  private fd: number | undefined;
  private buf: string[] = [];
  private buffered = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly flushMs = 1000,
    private readonly maxBuffered = 65536,
  ) {
    this.open();
  }

  private open(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, 'a', 0o640);
  }

  line(s: string): void {
    this.buf.push(s);
    this.buffered += s.length;
    if (this.buffered >= this.maxBuffered) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buf.length === 0 || this.writing !== undefined || this.fd === undefined) return;
    const data = this.buf.join('');
    const n = this.buf.length;
    this.buf = [];
    this.buffered = 0;
    const fd = this.fd;
    this.writing = new Promise((resolve) => {
      write(fd, data, null, 'utf8', (err) => {
        this.writing = undefined;
        if (err) this.dropped += n;
        resolve();
        if (this.buf.length > 0 && this.timer === undefined) this.flush();
      });
    });
  }

  async reopen(): Promise<void> {
    await this.writing;
    this.flushSync();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.open();
  }

  private flushSync(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buf.length === 0 || this.fd === undefined) return;
    try {
      writeSync(this.fd, this.buf.join(''));
    } catch {
      this.dropped += this.buf.length;
    }
    this.buf = [];
    this.buffered = 0;
  }

  async close(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    this.flushSync();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
