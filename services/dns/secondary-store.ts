/**
 * The last good copy of each secondary zone, so a restart serves at once (RFC 1034 §4.3.5:
 * until EXPIRE). One file per zone in `<dataDir>/secondary/`, binary records (BIND keeps
 * secondaries in its `raw` format too: exact bytes, no text to parse), written to a temp
 * file, fsynced and renamed: a power cut leaves the old copy or the new one. The time a
 * primary last confirmed the copy is a small file beside it, rewritten per SOA check.
 * Format: "NSZ1", then per record owner length (u8), owner, type, class (u16), TTL (u32),
 * RDATA length (u16), RDATA; big-endian.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { nameToText } from './name.js';
import type { RR } from './rr.js';

const MAGIC = 'NSZ1';

export interface StoredCopy {
  readonly records: RR[];
  /** ms since 1970 when a primary last confirmed this copy; undefined if never recorded. */
  readonly lastContact: number | undefined;
}

/** A file name for a zone: its name in text, lower case, with anything odd escaped. */
function fileBase(origin: Uint8Array): string {
  const t = nameToText(origin).toLowerCase().replace(/\.$/, '');
  if (t === '') return '_root';
  return t.replace(/[^a-z0-9.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function encodeCopy(records: readonly RR[]): Uint8Array {
  let n = MAGIC.length;
  for (const r of records) n += 1 + r.owner.length + 10 + r.rdata.length;
  const out = Buffer.alloc(n);
  let o = out.write(MAGIC, 0, 'latin1');
  for (const r of records) {
    out[o++] = r.owner.length;
    out.set(r.owner, o);
    o += r.owner.length;
    o = out.writeUInt16BE(r.type, o);
    o = out.writeUInt16BE(r.class, o);
    o = out.writeUInt32BE(r.ttl >>> 0, o);
    o = out.writeUInt16BE(r.rdata.length, o);
    out.set(r.rdata, o);
    o += r.rdata.length;
  }
  return out;
}

/** The records of a copy; throws on a damaged file (the caller then transfers afresh). */
export function decodeCopy(bytes: Uint8Array): RR[] {
  // One plain copy of the file; records are views into it (no allocation per record).
  const all = new Uint8Array(bytes);
  const b = Buffer.from(all.buffer, all.byteOffset, all.byteLength);
  if (b.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('not a netsvc zone copy');
  const out: RR[] = [];
  let o = MAGIC.length;
  while (o < b.length) {
    const ol = b[o++]!;
    if (o + ol + 10 > b.length) throw new Error('truncated record');
    const owner = all.subarray(o, o + ol);
    o += ol;
    const type = b.readUInt16BE(o);
    const klass = b.readUInt16BE(o + 2);
    const ttl = b.readUInt32BE(o + 4);
    const rl = b.readUInt16BE(o + 8);
    o += 10;
    if (o + rl > b.length) throw new Error('truncated RDATA');
    out.push({
      owner,
      type,
      class: klass,
      ttl,
      rdata: all.subarray(o, o + rl),
    });
    o += rl;
  }
  return out;
}

/** Write `bytes` to `file` so that a crash leaves the old content or the new (rename). */
function writeDurably(dir: string, file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename is durable once the directory is synced.
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

export class SecondaryStore {
  constructor(private readonly dir: string) {}

  private paths(origin: Uint8Array): { zone: string; contact: string } {
    const base = join(this.dir, fileBase(origin));
    return { zone: `${base}.zone`, contact: `${base}.contact` };
  }

  /** The stored copy, undefined when there is none; throws when it is damaged. */
  read(origin: Uint8Array): StoredCopy | undefined {
    const p = this.paths(origin);
    if (!existsSync(p.zone)) return undefined;
    const records = decodeCopy(readFileSync(p.zone));
    let lastContact: number | undefined;
    try {
      const c = JSON.parse(readFileSync(p.contact, 'utf8')) as { lastContact?: unknown };
      if (typeof c.lastContact === 'number' && Number.isFinite(c.lastContact))
        lastContact = c.lastContact;
    } catch {
      /* no contact recorded: the copy counts as expired until the primary answers */
    }
    return { records, lastContact };
  }

  /** A new copy from a transfer, then the contact time. */
  writeZone(origin: Uint8Array, records: readonly RR[], lastContact: number): void {
    mkdirSync(this.dir, { recursive: true });
    writeDurably(this.dir, this.paths(origin).zone, encodeCopy(records));
    this.writeContact(origin, lastContact);
  }

  /** The primary confirmed the copy (same serial) at `lastContact`. */
  writeContact(origin: Uint8Array, lastContact: number): void {
    mkdirSync(this.dir, { recursive: true });
    writeDurably(
      this.dir,
      this.paths(origin).contact,
      Buffer.from(JSON.stringify({ lastContact }) + '\n'),
    );
  }
}
