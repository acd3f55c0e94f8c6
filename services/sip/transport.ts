/**
 * Transport vocabulary shared by the cores and the adapter (RFC 3261 §18): where a message
 * came from and where one goes. UDP is unreliable, TCP reliable (§17: timers that only
 * exist for retransmission are zero on a reliable transport). A TCP destination names the
 * connection the request arrived on (§18.2.2: "If the "sent-protocol" is a reliable
 * transport protocol such as TCP ..., the response MUST be sent using the existing
 * connection to the source of the original request").
 *
 * Leaves out: TLS, SCTP, WebSocket (RFC 7118).
 */
export type TransportName = 'udp' | 'tcp';

export interface Endpoint {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
  /** Adapter's id of the TCP connection; undefined for UDP. */
  readonly connection?: number | undefined;
  /**
   * The listener (`address:port` as bound) a message arrived on, and so the socket its
   * answers and later requests to that peer leave from: a phone behind NAT or a firewall
   * only accepts datagrams from the address it sent to (RFC 3581 §4 symmetric response).
   * Undefined: the adapter's first listener.
   */
  readonly local?: string | undefined;
}

export interface SendOutput {
  readonly type: 'send';
  readonly dest: Endpoint;
  readonly data: Uint8Array;
}

export function isReliable(t: TransportName): boolean {
  return t === 'tcp';
}

export function send(dest: Endpoint, data: Uint8Array): SendOutput {
  return { type: 'send', dest, data };
}
