/**
 * One UPDATE message from bytes to a verdict (RFC 2136 §3, RFC 8945 §5.2): TSIG first,
 * then the zone, the policy and the decision. Pure: the caller commits `change` to the
 * journal and swaps the zone, then sends `reply(rcode)` (SERVFAIL when the commit failed,
 * so nothing unapplied is ever answered NOERROR).
 *
 * Errors as BIND gives them: FORMERR for a misplaced TSIG; NOTAUTH with TSIG error BADKEY
 * or BADSIG (unsigned) or BADTIME (signed, our time in Other Data, §5.2.3); NOTAUTH for a
 * zone we are not primary for (§3.1.1); REFUSED when no key or rule grants the change.
 */
import { FLAG, HEADER_SIZE, MessageWriter, OPCODE, RCODE, type Message } from './message.js';
import { sign, TSIG_ERROR, type TsigKey } from './tsig.js';
import { checkRequestTsig, refusalReply, tsigErrorText } from './tsig-request.js';
import { decideUpdate, type UpdateDecision, type ZoneView } from './update.js';
import type { UpdatePolicy } from './update-policy.js';
import { updateRequestOf } from './update-message.js';

export interface UpdateContext {
  keys(name: string): TsigKey | undefined;
  /** The zone we are primary for with that exact origin, and its update policy if any. */
  zone(
    origin: Uint8Array,
  ): { readonly view: ZoneView; readonly policy: UpdatePolicy | undefined } | undefined;
  /** Seconds since 1970. */
  readonly now: number;
}

export interface UpdateVerdict {
  readonly rcode: number;
  /** For the log line. */
  readonly reason: string;
  readonly keyName: string | undefined;
  /** What to commit before replying (NOERROR with changes only). */
  readonly change?: { readonly origin: Uint8Array; readonly decision: UpdateDecision };
  /** The reply; pass SERVFAIL when committing `change` failed. */
  reply(rcode: number): Uint8Array;
}

function header(m: Message, rcode: number): { id: number; flags: number } {
  // RFC 2136 §3.8: the reply keeps the ID and opcode; QR set, rcode as decided.
  return { id: m.id, flags: FLAG.QR | (OPCODE.UPDATE << 11) | (rcode & 0xf) };
}

/** Zone section echoed, nothing else (BIND's UPDATE replies). */
function body(m: Message, rcode: number): Uint8Array {
  const w = new MessageWriter(65535);
  for (const z of m.questions) w.addQuestion(z);
  const h = header(m, rcode);
  return w.finish(h.id, h.flags);
}

function bare(bytes: Uint8Array, rcode: number): Uint8Array {
  const out = Uint8Array.from(bytes.subarray(0, HEADER_SIZE));
  const flags = FLAG.QR | (OPCODE.UPDATE << 11) | (rcode & 0xf);
  out[2] = flags >>> 8;
  out[3] = flags & 0xff;
  out.fill(0, 4, HEADER_SIZE);
  return out;
}

export function handleUpdate(bytes: Uint8Array, m: Message, ctx: UpdateContext): UpdateVerdict {
  const t = checkRequestTsig(bytes, ctx.keys, ctx.now);
  const fixed = (
    rcode: number,
    reason: string,
    keyName?: string,
    out?: Uint8Array,
  ): UpdateVerdict => ({
    rcode,
    reason,
    keyName,
    reply: () => out ?? body(m, rcode),
  });
  if (t.kind === 'formerr')
    return fixed(RCODE.FORMERR, 'TSIG not last', undefined, bare(bytes, RCODE.FORMERR));
  if (t.kind === 'refused') {
    // BADTRUNC is logged as BADSIG, as before: both are a MAC we reject.
    const reason = `TSIG ${tsigErrorText(t.error === TSIG_ERROR.BADTRUNC ? TSIG_ERROR.BADSIG : t.error)}`;
    return fixed(
      RCODE.NOTAUTH,
      reason,
      t.error === TSIG_ERROR.BADTIME ? t.key?.name : undefined,
      refusalReply(body(m, RCODE.NOTAUTH), t, ctx.now),
    );
  }
  const key: TsigKey | undefined = t.kind === 'verified' ? t.key : undefined;
  const requestMac = t.kind === 'verified' ? t.mac : undefined;
  const signedReply = (rcode: number): Uint8Array => {
    const b = body(m, rcode);
    return key ? sign(b, key, { now: ctx.now, requestMac }).message : b;
  };
  const verdict = (
    rcode: number,
    reason: string,
    change?: UpdateVerdict['change'],
  ): UpdateVerdict => ({
    rcode,
    reason,
    keyName: key?.name,
    ...(change ? { change } : {}),
    reply: signedReply,
  });
  const zoneEntry = m.questions.length === 1 ? ctx.zone(m.questions[0]!.qname) : undefined;
  if (m.questions.length !== 1) return verdict(RCODE.FORMERR, 'zone section must have one entry');
  if (!zoneEntry) return verdict(RCODE.NOTAUTH, 'not primary for that zone');
  if (!zoneEntry.policy) return verdict(RCODE.REFUSED, 'zone takes no updates');
  const req = updateRequestOf(m);
  const allowed = zoneEntry.policy.allows(key?.name, req.updates);
  if (!allowed.ok)
    return verdict(RCODE.REFUSED, key ? 'not granted to this key' : 'unsigned update');
  const d = decideUpdate(req, zoneEntry.view);
  const changed = d.adds.length > 0 || d.deletes.length > 0;
  return verdict(
    d.rcode,
    d.reason,
    d.rcode === RCODE.NOERROR && changed
      ? { origin: zoneEntry.view.origin, decision: d }
      : undefined,
  );
}
