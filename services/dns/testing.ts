/**
 * Test support for the DNS service (imported only by *.test.ts): build zones from zone
 * text, build queries, and print replies as presentation lines so table tests can say
 * what they expect the way an operator would read it in dig's output.
 */
import { nameFromText } from './name.js';
import { parseZoneFile } from './zone-file.js';
import { checkZone } from './zone-check.js';
import { Zone } from './zone.js';
import { ZoneSet } from './zone-set.js';
import { MessageWriter, decodeMessage, rcodeToText, FLAG, type Message } from './message.js';
import { typeFromText, CLASS } from './rr.js';
import { rrToText } from './rdata-text.js';
import { CidrList } from '../../src/net/cidr.js';
import type { DnsPolicy } from './handler.js';

export function zoneFromText(origin: string, text: string): Zone {
  const o = nameFromText(origin);
  const parsed = parseZoneFile(text, { origin: o, file: `<${origin}>` });
  if (parsed.errors.length)
    throw new Error(parsed.errors.map((e) => `${e.line}: ${e.message}`).join('\n'));
  const checked = checkZone(parsed.records, o, { sources: parsed.sources });
  if (checked.errors.length)
    throw new Error(checked.errors.map((e) => `${e.line}: ${e.message}`).join('\n'));
  return new Zone(o, checked.records);
}

export function zoneSet(...zones: Zone[]): ZoneSet {
  return new ZoneSet(zones);
}

export const defaultPolicy: DnsPolicy = {
  udpSize: 1232,
  version: null,
  hostname: null,
  minimalResponses: 'no-auth-recursive',
  transferAllow: new CidrList([]),
  forwardNetworks: undefined,
};

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  qclass?: number;
  /** EDNS payload size; undefined: no OPT. */
  edns?: number;
  ednsVersion?: number;
  dnssecOk?: boolean;
  opcode?: number;
}

/** A query for `name type` (type as a mnemonic). */
export function query(name: string, type: string, o: QueryOptions = {}): Uint8Array {
  const qtype = typeFromText(type);
  if (qtype === undefined) throw new Error(`unknown type ${type}`);
  const w = new MessageWriter(65535);
  w.addQuestion({
    qname: nameFromText(name.endsWith('.') ? name : name + '.'),
    qtype,
    qclass: o.qclass ?? CLASS.IN,
  });
  if (o.edns !== undefined) w.addOpt(o.edns, 0, o.dnssecOk ? 0x8000 : 0, []);
  const bytes = w.finish(o.id ?? 0x1234, (o.rd ? FLAG.RD : 0) | ((o.opcode ?? 0) << 11));
  if (o.ednsVersion !== undefined) {
    // Version is the second byte of the OPT TTL: 11-byte OPT at the end, TTL at offset 5.
    bytes[bytes.length - 11 + 6] = o.ednsVersion;
  }
  return bytes;
}

export interface ReplyView {
  msg: Message;
  rcode: string;
  flags: string[];
  answer: string[];
  authority: string[];
  additional: string[];
}

/** Presentation lines with single spaces: `www.example. 3600 IN A 192.0.2.1`. */
export function view(bytes: Uint8Array): ReplyView {
  const msg = decodeMessage(bytes);
  const line = (rr: Parameters<typeof rrToText>[0]): string => rrToText(rr).replace(/\s+/g, ' ');
  const flags: string[] = [];
  for (const [n, f] of [
    ['qr', FLAG.QR],
    ['aa', FLAG.AA],
    ['tc', FLAG.TC],
    ['rd', FLAG.RD],
    ['ra', FLAG.RA],
  ] as const) {
    if (msg.flags & f) flags.push(n);
  }
  return {
    msg,
    rcode: rcodeToText(msg.rcode),
    flags,
    answer: msg.answers.map(line),
    authority: msg.authorities.map(line),
    additional: msg.additionals.map(line),
  };
}
