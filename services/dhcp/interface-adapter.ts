/**
 * Sockets per served interface, and the addresses of those interfaces.
 *
 * Node's dgram can neither bind a socket to a device nor tell which interface a datagram
 * arrived on, and a DHCP server needs both: a client without an address broadcasts to
 * 255.255.255.255, which only a socket bound to 0.0.0.0 receives, and the answer must come
 * from that interface's subnet and leave through that interface. The native addon
 * (native/dhcp_socket.c, built by node-gyp at `npm install`) opens a UDP socket with
 * SO_REUSEADDR, SO_BROADCAST and SO_BINDTODEVICE, binds it to 0.0.0.0:67 and returns the
 * fd; dgram wraps it (`socket.bind({ fd })`). One such socket per interface: the kernel
 * delivers to each only what came in on its device, so "arrived on eth1" is "read from
 * eth1's socket", and a broadcast sent on it leaves through eth1. Needs CAP_NET_BIND_SERVICE
 * (port 67) and CAP_NET_RAW (SO_BINDTODEVICE on kernels before 5.7), nothing more.
 *
 * Without an interface a listen entry is a plain dgram socket (relayed and unicast
 * requests only; the dev profile uses this on 127.0.0.1:10067 without the addon).
 *
 * Leaves out: raw packet sockets (no unicast to a client without an address; replies are
 * broadcast, see process-packet.ts), IP_PKTINFO, netlink address notifications (interface
 * addresses are polled).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { networkInterfaces } from 'node:os';
import { ipFromText } from './ipv4.js';

export interface NativeDhcpSocket {
  openDeviceSocket(ifname: string, port: number, address?: string): number;
}

export class DhcpSocketError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let native: NativeDhcpSocket | null | undefined;

/** Where the addon may be: next to the sources (tap, tsx) or next to dist/ (built). */
function nativeCandidates(): string[] {
  return [
    new URL('./native/build/Release/dhcp_socket.node', import.meta.url),
    new URL('../../../services/dhcp/native/build/Release/dhcp_socket.node', import.meta.url),
  ].map((u) => fileURLToPath(u));
}

export function loadNative(): NativeDhcpSocket | undefined {
  if (native !== undefined) return native ?? undefined;
  const require = createRequire(import.meta.url);
  native = null;
  for (const file of nativeCandidates()) {
    if (existsSync(file)) {
      native = require(file) as NativeDhcpSocket;
      break;
    }
  }
  return native ?? undefined;
}

/** IPv4 addresses of an interface; undefined when there is no such interface. */
export function interfaceAddresses(name: string): number[] | undefined {
  const list = networkInterfaces()[name];
  if (!list) return undefined;
  return list.filter((a) => a.family === 'IPv4').map((a) => ipFromText(a.address));
}

function wrap(fd: number | undefined, port: number, address: string): Promise<Socket> {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  return new Promise<Socket>((ok, fail) => {
    s.once('error', (e) => {
      s.close();
      fail(e);
    });
    const done = (): void => {
      s.removeAllListeners('error');
      try {
        s.setBroadcast(true);
      } catch {
        /* loopback sockets cannot broadcast; only relayed replies go out there */
      }
      try {
        // A burst of DISCOVERs (a power cut: every client restarts) must not overflow the
        // kernel's default receive buffer while a commit's fsync runs.
        s.setRecvBufferSize(4 * 1024 * 1024);
      } catch {
        /* capped by net.core.rmem_max */
      }
      ok(s);
    };
    if (fd !== undefined) s.bind({ fd }, done);
    else s.bind({ port, address, exclusive: true }, done);
  });
}

/** A socket bound to `ifname` (SO_BINDTODEVICE) on 0.0.0.0:port. */
export function openDeviceSocket(
  ifname: string,
  port: number,
  address = '0.0.0.0',
): Promise<Socket> {
  const n = loadNative();
  if (!n) {
    throw new DhcpSocketError(
      'ERR_DHCP_NATIVE_MISSING',
      `serving interface ${ifname} needs the native addon services/dhcp/native (build it with ` +
        '`npx node-gyp rebuild -C services/dhcp/native`; needs python3, make and a C compiler)',
    );
  }
  let fd: number;
  try {
    fd = n.openDeviceSocket(ifname, port, address);
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new DhcpSocketError(err.code ?? 'ERR_DHCP_SOCKET', `${ifname}: ${err.message}`);
  }
  return wrap(fd, port, address);
}

/** A plain UDP socket (relayed and unicast requests). */
export function openPlainSocket(port: number, address: string): Promise<Socket> {
  return wrap(undefined, port, address);
}
