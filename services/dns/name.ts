/**
 * Domain names (RFC 1035 §3.1, §5.1; RFC 4343 case rules).
 *
 * A name is held as its uncompressed wire form: length-prefixed labels ending in the zero
 * root label. That form is what the zone stores, what rdata embeds and what the encoder
 * writes, so no conversion sits on the query path. `nameKey()` gives the case-folded form
 * used as a map key (RFC 4343 §3: only ASCII A-Z fold; other bytes compare exactly).
 *
 * Presentation form follows RFC 1035 §5.1: `\.` and `\\` escapes, `\DDD` decimal escapes,
 * and a trailing dot for absolute names. Limits: 63 bytes a label, 255 bytes a name
 * (RFC 1035 §2.3.4).
 */

export const MAX_LABEL = 63;
export const MAX_NAME = 255;

/** The root name, `.`. */
export const ROOT: Uint8Array = Uint8Array.of(0);

export class NameError extends Error {
  readonly code = 'ERR_DNS_NAME';
}

/** Case-folded key of a wire name (latin1 string, A-Z folded to a-z). */
export function nameKey(wire: Uint8Array): string {
  let s = '';
  for (let i = 0; i < wire.length; i++) {
    let c = wire[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Exact (case-preserving) key of a wire name. */
export function nameExactKey(wire: Uint8Array): string {
  let s = '';
  for (let i = 0; i < wire.length; i++) s += String.fromCharCode(wire[i]!);
  return s;
}

/** True when both names are equal ignoring ASCII case. */
export function nameEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** Number of labels, not counting the root label. */
export function labelCount(wire: Uint8Array): number {
  let n = 0;
  let i = 0;
  while (i < wire.length && wire[i] !== 0) {
    i += wire[i]! + 1;
    n++;
  }
  return n;
}

/** Offsets of each label's length byte, from the leftmost label. */
export function labelOffsets(wire: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < wire.length && wire[i] !== 0) {
    out.push(i);
    i += wire[i]! + 1;
  }
  return out;
}

/** The name with its leftmost label removed; the root stays the root. */
export function parentName(wire: Uint8Array): Uint8Array {
  if (wire.length <= 1) return ROOT;
  return wire.subarray(wire[0]! + 1);
}

/** The name's last `n` labels (its ancestor with n labels). */
export function ancestorWithLabels(wire: Uint8Array, n: number): Uint8Array {
  const offs = labelOffsets(wire);
  if (n >= offs.length) return wire;
  return wire.subarray(offs[offs.length - n]!);
}

/** True when `child` equals `parent` or lies below it (case-insensitive). */
export function isSubdomain(child: Uint8Array, parent: Uint8Array): boolean {
  if (parent.length > child.length) return false;
  const tail = child.subarray(child.length - parent.length);
  if (!nameEquals(tail, parent)) return false;
  // The tail must start on a label boundary of child.
  let i = 0;
  const start = child.length - parent.length;
  while (i < start) i += child[i]! + 1;
  return i === start;
}

/** Prefix `label` (raw bytes) onto `name`. */
export function prependLabel(label: Uint8Array, name: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + label.length + name.length);
  out[0] = label.length;
  out.set(label, 1);
  out.set(name, 1 + label.length);
  return out;
}

/** `*.` + name: the wildcard owner whose closest encloser is `name` (RFC 4592 §2.1.1). */
export function wildcardOf(name: Uint8Array): Uint8Array {
  return prependLabel(Uint8Array.of(0x2a), name);
}

/** True when the leftmost label is exactly `*` (RFC 4592 §2.1.1). */
export function isWildcard(wire: Uint8Array): boolean {
  return wire.length >= 2 && wire[0] === 1 && wire[1] === 0x2a;
}

/** Concatenate a relative name (labels without root) with an origin. */
export function concatNames(relative: Uint8Array, origin: Uint8Array): Uint8Array {
  // relative ends with the root byte: drop it.
  const rel = relative.subarray(0, relative.length - 1);
  const out = new Uint8Array(rel.length + origin.length);
  out.set(rel, 0);
  out.set(origin, rel.length);
  if (out.length > MAX_NAME) throw new NameError(`name longer than ${MAX_NAME} bytes`);
  return out;
}

/**
 * Parse a presentation-form name. Absolute when it ends with an unescaped dot; otherwise
 * `origin` is appended (RFC 1035 §5.1). `@` alone is the origin.
 */
export function nameFromText(text: string, origin: Uint8Array = ROOT): Uint8Array {
  if (text === '@') return origin;
  if (text === '.') return ROOT;
  if (text.length === 0) throw new NameError('empty name');
  const labels: number[][] = [];
  let cur: number[] = [];
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x2e /* . */) {
      if (cur.length === 0) throw new NameError(`empty label in "${text}"`);
      labels.push(cur);
      cur = [];
      if (i === text.length - 1) absolute = true;
      continue;
    }
    if (ch === 0x5c /* \ */) {
      const d = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new NameError(`escape \\${d} out of range in "${text}"`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(i + 1) & 0xff);
        i += 1;
      } else {
        throw new NameError(`dangling backslash in "${text}"`);
      }
      continue;
    }
    if (ch > 0xff) throw new NameError(`non-ASCII character in "${text}" (use punycode)`);
    cur.push(ch);
  }
  if (cur.length > 0) labels.push(cur);
  let size = 1;
  for (const l of labels) {
    if (l.length > MAX_LABEL)
      throw new NameError(`label longer than ${MAX_LABEL} bytes in "${text}"`);
    size += l.length + 1;
  }
  const tail = absolute ? ROOT : origin;
  const out = new Uint8Array(size - 1 + tail.length);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    for (const b of l) out[o++] = b;
  }
  out.set(tail, o);
  if (out.length > MAX_NAME) throw new NameError(`name longer than ${MAX_NAME} bytes: "${text}"`);
  return out;
}

/** Presentation form with a trailing dot (RFC 1035 §5.1 escapes). */
export function nameToText(wire: Uint8Array): string {
  if (wire.length <= 1) return '.';
  let s = '';
  let i = 0;
  while (i < wire.length && wire[i] !== 0) {
    const len = wire[i]!;
    for (let j = i + 1; j <= i + len; j++) {
      const c = wire[j]!;
      if (
        c === 0x2e ||
        c === 0x5c ||
        c === 0x22 ||
        c === 0x3b ||
        c === 0x28 ||
        c === 0x29 ||
        c === 0x40 ||
        c === 0x24
      ) {
        s += '\\' + String.fromCharCode(c);
      } else if (c <= 0x20 || c >= 0x7f) {
        s += '\\' + String(c).padStart(3, '0');
      } else {
        s += String.fromCharCode(c);
      }
    }
    s += '.';
    i += len + 1;
  }
  return s;
}

/**
 * Skip a possibly compressed name at `offset` without building it: the offset just past the
 * name's bytes in place, or -1 wherever readName below would throw. The same rules, kept
 * side by side with readName so they stay in step (query-screen.ts uses this to find a
 * malformed query before any allocation; query-screen.test.ts checks the two agree).
 */
export function skipName(msg: Uint8Array, offset: number): number {
  let pos = offset;
  let next = -1;
  let jumps = 0;
  let total = 1;
  for (;;) {
    if (pos >= msg.length) return -1;
    const len = msg[pos]!;
    if (len === 0) return next < 0 ? pos + 1 : next;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= msg.length) return -1;
      const ptr = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (ptr >= pos || ++jumps > 127) return -1;
      pos = ptr;
      continue;
    }
    if (kind !== 0 || pos + 1 + len > msg.length) return -1;
    total += len + 1;
    if (total > MAX_NAME) return -1;
    pos += len + 1;
  }
}

/**
 * Read a possibly compressed name at `offset` of a message (RFC 1035 §4.1.4).
 * Returns the uncompressed wire name and the offset just past the name's bytes in place.
 * Throws NameError on a pointer loop, a forward-free loop, a reserved label type, a name
 * over 255 bytes, or truncation: the caller turns that into FORMERR.
 */
export function readName(msg: Uint8Array, offset: number): { name: Uint8Array; next: number } {
  const parts: number[] = [];
  let pos = offset;
  let next = -1;
  let jumps = 0;
  let total = 1;
  for (;;) {
    if (pos >= msg.length) throw new NameError('name runs past the end of the message');
    const len = msg[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= msg.length) throw new NameError('truncated compression pointer');
      const ptr = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (next < 0) next = pos + 2;
      // A pointer must point backwards to earlier data; that alone rules out loops
      // (the same rule BIND's dns_name_fromwire applies).
      if (ptr >= pos) throw new NameError('compression pointer does not point backwards');
      if (++jumps > 127) throw new NameError('too many compression pointers');
      pos = ptr;
      continue;
    }
    if (kind !== 0) throw new NameError('reserved label type');
    if (pos + 1 + len > msg.length) throw new NameError('label runs past the end of the message');
    total += len + 1;
    if (total > MAX_NAME) throw new NameError('name longer than 255 bytes');
    parts.push(len);
    for (let i = 1; i <= len; i++) parts.push(msg[pos + i]!);
    pos += len + 1;
  }
  const name = new Uint8Array(parts.length + 1);
  name.set(parts, 0);
  return { name, next };
}
