/**
 * Control-connection line framer (RFC 959 §4.1: "commands … are terminated by <CRLF>";
 * the control connection follows the Telnet protocol, RFC 854).
 *
 * Bytes in, command lines out, fed in any chunking (one byte at a time works). A line ends
 * at LF; a CR before it is dropped (many clients, and vsftpd, accept a bare LF). Telnet
 * commands are removed: `IAC IAC` is a data byte 0xFF, `IAC x` (IP, DM, AYT…) and
 * `IAC WILL/WONT/DO/DONT opt` vanish, so an ABOR sent as RFC 959 §4.1.3 asks ("Telnet
 * IP and Synch") reaches the session as plain "ABOR". Lines are decoded as UTF-8
 * (RFC 2640 §3.1, which vsftpd also assumes with `utf8_filesystem`).
 *
 * Limit: a line longer than `maxLineBytes` (precedent: vsftpd's VSFTP_MAX_COMMAND_LINE,
 * 4096) is reported once as `too-long` and skipped up to its LF; memory stays bounded.
 * Left out: Telnet option negotiation (we never answer WILL/DO), NUL-in-path rules beyond
 * refusing the line in the session.
 */

const CR = 0x0d;
const LF = 0x0a;
const IAC = 0xff;
const WILL = 0xfb;
const DONT = 0xfe;

export type FramedLine =
  { readonly kind: 'line'; readonly line: string } | { readonly kind: 'too-long' };

export class CommandLineFramer {
  private buf: Buffer;
  private len = 0;
  private discarding = false;
  /** 0: data; 1: after IAC; 2: after IAC WILL/WONT/DO/DONT (one option byte to skip). */
  private telnet = 0;

  constructor(readonly maxLineBytes = 4096) {
    this.buf = Buffer.allocUnsafe(Math.min(maxLineBytes + 1, 512));
  }

  /** Feed bytes; returns every line completed by them, in order. */
  push(chunk: Uint8Array): FramedLine[] {
    const out: FramedLine[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.telnet === 1) {
        this.telnet = b >= WILL && b <= DONT ? 2 : 0;
        if (b === IAC) this.byte(IAC, out);
        continue;
      }
      if (this.telnet === 2) {
        this.telnet = 0;
        continue;
      }
      if (b === IAC) {
        this.telnet = 1;
        continue;
      }
      if (b === LF) {
        if (this.discarding) this.discarding = false;
        else {
          let end = this.len;
          if (end > 0 && this.buf[end - 1] === CR) end--;
          out.push({ kind: 'line', line: this.buf.toString('utf8', 0, end) });
        }
        this.len = 0;
        continue;
      }
      this.byte(b, out);
    }
    return out;
  }

  private byte(b: number, out: FramedLine[]): void {
    if (this.discarding) return;
    // +1: a CR just before the LF does not count against the limit.
    if (this.len >= this.maxLineBytes + 1) {
      this.discarding = true;
      this.len = 0;
      out.push({ kind: 'too-long' });
      return;
    }
    if (this.len === this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.maxLineBytes + 1));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    this.buf[this.len++] = b;
  }

  /** Bytes of an unfinished line held (for tests and for the AUTH TLS reset). */
  pending(): number {
    return this.len;
  }

  /**
   * Forget any buffered partial line. Used after AUTH TLS: plaintext pipelined behind the
   * AUTH line must not be executed as if it came inside the TLS session (the STARTTLS
   * command-injection class, CVE-2011-0411).
   */
  reset(): void {
    this.len = 0;
    this.discarding = false;
    this.telnet = 0;
  }
}
