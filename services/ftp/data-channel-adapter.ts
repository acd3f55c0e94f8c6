/**
 * Data connections (RFC 959 §3.2-3.3): a passive listener per PASV/EPSV on a port of the
 * configured range, or an active connection to the PORT/EPRT target from the configured
 * source port (20: RFC 959 §3.2 "the server … L-1" where L is 21).
 *
 * Connection theft: a passive listener accepts only connections whose source address is
 * the control peer's (vsftpd pasv_promiscuous=NO); others are closed at once and
 * reported, and the listener keeps waiting for the right client until the session's
 * data-open timeout. Data connections are wrapped in TLS when PROT P is in effect
 * (RFC 4217 §9); the TLS handshake runs as the client starts it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { sameHost } from './data-address.js';

export class PassivePorts {
  private next: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    // Start at a random point of the range so restarts do not collide with TIME_WAITs.
    this.next = min + Math.floor(Math.random() * (max - min + 1));
  }

  /** Listen on a free port of the range (or any port when the range is 0-0). */
  async listen(address: string, onConnection: (s: Socket) => void): Promise<Server> {
    const tryPort = (port: number): Promise<Server> =>
      new Promise((ok, fail) => {
        const srv = createServer({ noDelay: true, pauseOnConnect: true }, onConnection);
        srv.once('error', fail);
        srv.listen({ port, host: address, exclusive: true }, () => {
          srv.off('error', fail);
          ok(srv);
        });
      });
    if (this.min === 0) return tryPort(0);
    const size = this.max - this.min + 1;
    let last: unknown;
    for (let i = 0; i < size; i++) {
      const port = this.next;
      this.next = port >= this.max ? this.min : port + 1;
      try {
        return await tryPort(port);
      } catch (e) {
        last = e;
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw last ?? new Error('no passive port free');
  }
}

export class PassiveListener {
  private server: Server | undefined;
  private accepted: Socket | undefined;
  private waiter: ((s: Socket) => void) | undefined;
  port = 0;

  constructor(
    private readonly peerAddress: string,
    private readonly onTheft: (from: string) => void,
  ) {}

  async open(ports: PassivePorts, address: string): Promise<number> {
    this.server = await ports.listen(address, (s) => this.onConnection(s));
    this.server.on('error', () => this.close());
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this.port;
  }

  private onConnection(s: Socket): void {
    s.on('error', () => s.destroy());
    if (!sameHost(s.remoteAddress ?? '', this.peerAddress)) {
      this.onTheft(s.remoteAddress ?? '?');
      s.destroy();
      return;
    }
    if (this.accepted) {
      s.destroy(); // one data connection per PASV
      return;
    }
    this.accepted = s;
    // One connection per PASV: stop listening so the port returns to the range.
    this.server?.close();
    this.server = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(s);
  }

  /** The accepted data socket (waits for it; the session's timer bounds the wait). */
  accept(): Promise<Socket> {
    if (this.accepted) return Promise.resolve(this.accepted);
    if (!this.server) return Promise.reject(new Error('passive listener closed'));
    return new Promise((ok) => (this.waiter = ok));
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
    if (this.accepted && this.waiter === undefined) {
      /* handed over or unused */
    }
    this.waiter = undefined;
  }

  /** Close the listener and an accepted-but-unused socket. */
  discard(): void {
    this.close();
    this.accepted?.destroy();
    this.accepted = undefined;
  }
}

/** Connect to the client for PORT/EPRT, from `localAddress:sourcePort` (0 = any). */
export function connectActive(
  host: string,
  port: number,
  localAddress: string,
  sourcePort: number,
): Promise<Socket> {
  const attempt = (lport: number): Promise<Socket> =>
    new Promise((ok, fail) => {
      const s = connect({
        host,
        port,
        localAddress,
        ...(lport > 0 ? { localPort: lport } : {}),
        noDelay: true,
      });
      s.once('connect', () => {
        s.off('error', fail);
        ok(s);
      });
      s.once('error', fail);
    });
  // Reusing source port 20 for the same client port can hit a TIME_WAIT (EADDRINUSE /
  // EADDRNOTAVAIL); vsftpd retries too. A second try after a pause, then give up.
  return attempt(sourcePort).catch(async (e: NodeJS.ErrnoException) => {
    if (sourcePort === 0 || (e.code !== 'EADDRINUSE' && e.code !== 'EADDRNOTAVAIL')) throw e;
    await new Promise((r) => setTimeout(r, 200));
    return attempt(sourcePort);
  });
}

/** Server-side TLS over an accepted/connected data socket (PROT P). */
export function wrapTls(s: Socket, secureContext: SecureContext): TLSSocket {
  const t = new TLSSocket(s, { isServer: true, secureContext });
  t.on('error', () => t.destroy());
  return t;
}
