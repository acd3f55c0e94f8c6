/**
 * UPDATE messages (RFC 2136 §2) to and from the sections update.ts decides on: the zone
 * section is the question, prerequisites the answer section, updates the authority
 * section, and the additional section holds only TSIG (and OPT). Shared by the DNS
 * service (decoding what nsupdate or a DHCP server sends) and the DHCP service's DDNS
 * client (encoding its own).
 */
import { MessageWriter, OPCODE, type Message } from './message.js';
import type { UpdateRequest } from './update.js';

/** The sections of a decoded message as an UPDATE request. */
export function updateRequestOf(m: Message): UpdateRequest {
  return {
    zone: m.questions,
    prerequisites: m.answers,
    updates: m.authorities,
  };
}

/** An UPDATE message (opcode 5, §2.2), unsigned: sign it with tsig.ts before sending. */
export function encodeUpdate(id: number, req: UpdateRequest, limit = 65535): Uint8Array {
  const w = new MessageWriter(limit);
  for (const z of req.zone) w.addQuestion(z);
  for (const p of req.prerequisites) w.addRR(1, p);
  for (const u of req.updates) w.addRR(2, u);
  return w.finish(id, OPCODE.UPDATE << 11);
}
