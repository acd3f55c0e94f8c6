/**
 * Client-side message builders (RFC 2131 §4.4, Table 5): DISCOVER, REQUEST in each client
 * state, DECLINE, RELEASE, INFORM. Used by the in-process fake client in tests, the
 * interop test's foreign REQUEST and the benchmark; not by the server.
 *
 * Leaves out: retransmission timing (RFC 2131 §4.1 backoff), which the callers own.
 */
import { BOOTREQUEST, FLAG_BROADCAST, type EncodeInput } from './codec.js';
import { MSG, OPT, ipOption, textOption, u8Option, u16Option } from './options.js';

export interface ClientIdentity {
  /** 6-byte MAC. */
  readonly mac: Uint8Array;
  readonly clientId?: Uint8Array;
  readonly hostname?: string;
  /** Option 55, in the client's order. */
  readonly prl?: readonly number[];
  readonly vendorClass?: string;
  readonly broadcast?: boolean;
}

export interface ClientFields {
  readonly xid: number;
  readonly ciaddr?: number;
  readonly giaddr?: number;
  readonly requested?: number;
  readonly serverId?: number;
  readonly leaseTime?: number;
  readonly extra?: readonly (readonly [number, Uint8Array])[];
}

export function macFromText(text: string): Uint8Array {
  return Uint8Array.from(text.split(/[:-]/).map((h) => parseInt(h, 16)));
}

export function clientMessage(type: number, id: ClientIdentity, f: ClientFields): EncodeInput {
  const chaddr = new Uint8Array(16);
  chaddr.set(id.mac);
  const options: [number, Uint8Array][] = [[OPT.MESSAGE_TYPE, u8Option(type)]];
  if (id.clientId) options.push([OPT.CLIENT_ID, id.clientId]);
  if (f.requested !== undefined) options.push([OPT.REQUESTED_IP, ipOption(f.requested)]);
  if (f.serverId !== undefined) options.push([OPT.SERVER_ID, ipOption(f.serverId)]);
  if (f.leaseTime !== undefined) options.push([OPT.LEASE_TIME, ipOption(f.leaseTime)]);
  if (type === MSG.DISCOVER || type === MSG.REQUEST || type === MSG.INFORM) {
    options.push([OPT.MAX_MESSAGE_SIZE, u16Option(1500)]);
    if (id.hostname) options.push([OPT.HOSTNAME, textOption(id.hostname)]);
    if (id.vendorClass) options.push([OPT.VENDOR_CLASS_ID, textOption(id.vendorClass)]);
    options.push([
      OPT.PARAMETER_REQUEST_LIST,
      Uint8Array.from(id.prl ?? [1, 3, 6, 15, 28, 51, 58, 59]),
    ]);
  }
  for (const e of f.extra ?? []) options.push([e[0], e[1]]);
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: f.giaddr ? 1 : 0,
    xid: f.xid,
    secs: 0,
    flags: id.broadcast ? FLAG_BROADCAST : 0,
    ciaddr: f.ciaddr ?? 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: f.giaddr ?? 0,
    chaddr,
    sname: new Uint8Array(64),
    file: new Uint8Array(128),
    options,
  };
}
