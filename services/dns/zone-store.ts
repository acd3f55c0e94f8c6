/**
 * Zone loading from disk (the only DNS file that reads files): master file → parse →
 * named-checkzone-style checks → Zone. Problems come back as `file:line: message`, the
 * first MAX_REPORTED_ISSUES of each kind and then one line counting the rest.
 * A zone with errors is not built; on reload the caller keeps the previous one serving.
 *
 * ZoneLoadThread does the same work on a worker thread (this module is its entry too) and
 * hands the packed zone back without a copy (a transferred ArrayBuffer): parsing a big zone
 * takes seconds, and on the answering thread it stopped answers for as long (2 of 60
 * queries timed out during a reload of 100,000 records; BIND also loads zones off its
 * query threads). The thread's heap, where the parse's garbage lives, is released when the
 * thread exits after the load, so reloads do not grow the process.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { nameFromText, nameToText } from './name.js';
import { parseZoneFile, type ZoneIssue } from './zone-file.js';
import { ZoneChecker } from './zone-check.js';
import { Zone } from './zone.js';
import { packedBuffers, type PackedZone } from './zone-pack.js';

export interface ZoneLoad {
  readonly origin: string;
  readonly file: string;
  readonly zone: Zone | undefined;
  readonly errors: string[];
  readonly warnings: string[];
}

/**
 * Issues reported per zone load: the first 20, then one line counting the rest. A zone
 * with 25,000 bad lines once came back as one 1.5 MB log line. named stops at the first
 * error and named-checkzone lists every one; 20 is clang's default `-ferror-limit`, a
 * screenful that shows the pattern of a broken file without flooding the log.
 */
export const MAX_REPORTED_ISSUES = 20;

/**
 * Longest issue line, in characters: a message quotes tokens from the file, and one token
 * can be a whole (very long) line. 1024 is the syslog message limit of RFC 3164 §4.1.
 */
export const MAX_ISSUE_LENGTH = 1024;

function fmt(i: ZoneIssue): string {
  const s = i.line > 0 ? `${i.file}:${i.line}: ${i.message}` : `${i.file}: ${i.message}`;
  return s.length > MAX_ISSUE_LENGTH ? s.slice(0, MAX_ISSUE_LENGTH - 1) + '…' : s;
}

/** The first MAX_REPORTED_ISSUES issues formatted, then `… and N more <noun>`. */
export function reportIssues(issues: readonly ZoneIssue[], noun: string): string[] {
  const out = issues.slice(0, MAX_REPORTED_ISSUES).map(fmt);
  const more = issues.length - out.length;
  if (more > 0) out.push(`… and ${more} more ${noun}`);
  return out;
}

/** Read buffers at least this big are rounded up to READ_BLOCK (see readText). */
const BIG_READ = 1 << 20;
/** Past glibc's largest dynamic mmap threshold (32 MiB on 64-bit). */
const READ_BLOCK = (32 << 20) + 4096;

/**
 * A file's text (UTF-8). A big file is read into a buffer of at least READ_BLOCK bytes:
 * a freed buffer between 128 KiB and 32 MiB raises glibc's mmap threshold to its size,
 * and the next zone's arrays then land in heap arenas that do not shrink (the same reason
 * as ZoneBuilder's block); bytes past the file are never touched, so cost no memory.
 */
function readText(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafeSlow(size < BIG_READ ? size : Math.max(size, READ_BLOCK));
    let n = 0;
    while (n < size) {
      const got = readSync(fd, buf, n, size - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

export function loadZoneFile(originText: string, fileRel: string, configDir: string): ZoneLoad {
  const file = resolve(configDir, fileRel);
  const originName = originText.endsWith('.') ? originText : originText + '.';
  let origin: Uint8Array;
  try {
    origin = nameFromText(originName);
  } catch (e) {
    return {
      origin: originName,
      file,
      zone: undefined,
      errors: [`${file}: bad origin ${originText}: ${(e as Error).message}`],
      warnings: [],
    };
  }
  let text: string;
  try {
    text = readText(file);
  } catch (e) {
    return {
      origin: originName,
      file,
      zone: undefined,
      errors: [`${file}: cannot read: ${(e as Error).message}`],
      warnings: [],
    };
  }
  // Records go from the parser straight into the checker, which builds the packed zone:
  // no array of record objects is ever held (issue 17: that cost 4 times BIND's memory).
  // A master-file record is rarely under 16 characters: arrays sized for that many never
  // grow while loading (see ZoneBuilder); the pages they do not use cost no memory.
  const checker = new ZoneChecker(origin, file, text.length / 16);
  // $INCLUDE paths are relative to the including file's directory, as in BIND.
  const parsed = parseZoneFile(text, {
    origin,
    file,
    readInclude: (p) => readText(isAbsolute(p) ? p : resolve(dirname(file), p)),
    onRecord: (owner, type, klass, ttl, rdata, f, line) =>
      checker.add(owner, type, klass, ttl, rdata, f, line),
  });
  // The text is not needed past the parse: let it go before the packed zone is built.
  text = '';
  if (parsed.errors.length > 0) {
    const errors = reportIssues(parsed.errors, 'errors');
    const warnings = reportIssues(parsed.warnings, 'warnings');
    return { origin: nameToText(origin), file, zone: undefined, errors, warnings };
  }
  const checked = checker.finish();
  const errors = reportIssues(checked.errors, 'errors');
  const warnings = reportIssues([...parsed.warnings, ...checked.warnings], 'warnings');
  if (errors.length > 0 || !checked.packed)
    return { origin: nameToText(origin), file, zone: undefined, errors, warnings };
  try {
    return {
      origin: nameToText(origin),
      file,
      zone: new Zone(origin, checked.packed),
      errors,
      warnings,
    };
  } catch (e) {
    return {
      origin: nameToText(origin),
      file,
      zone: undefined,
      errors: [`${file}: ${(e as Error).message}`],
      warnings,
    };
  }
}

/** What the load thread posts back per zone: a ZoneLoad with the zone in packed form. */
interface ThreadResult {
  readonly kind: 'zone';
  readonly id: number;
  readonly index: number;
  readonly origin: string;
  readonly file: string;
  readonly packed: PackedZone | undefined;
  readonly errors: string[];
  readonly warnings: string[];
}

/** The thread's answer once every zone of a request has been posted. */
interface ThreadDone {
  readonly kind: 'done';
  readonly id: number;
}

export interface ZoneFileSpec {
  readonly origin: string;
  readonly file: string;
}

interface ThreadRequest {
  readonly id: number;
  readonly zones: readonly ZoneFileSpec[];
  readonly configDir: string;
}

/** A request in progress: its thread, where its results go, how it ends. */
interface Request {
  readonly id: number;
  worker: Worker | undefined;
  readonly onResult: (m: ThreadResult) => void;
  readonly end: (why?: string) => void;
}

/** workerData marking a thread as the zone load thread. */
const THREAD_MARK = 'netsvc-zone-load';

/**
 * How long a load thread waits for another request after a load before it exits. Zero:
 * at once. A thread kept alive holds the parse's garbage in its heap (a 1,000,000-record
 * zone's thread grew the process to 360 MB, against 165 MB for one thread per load), and
 * a new thread costs only tens of milliseconds next to a parse of seconds.
 */
export const LOAD_THREAD_IDLE_MS = 0;

/**
 * The zone load thread: loadZoneFile for each zone of a request, on a worker thread, while
 * the calling thread keeps running (answering queries); the caller only wraps the
 * transferred arrays in a Zone. Zones are loaded one after the other, each handed over as
 * soon as it is done, so at most one zone's parse is in memory at a time; requests queue
 * (one parse at a time). A thread that cannot start or that dies gives an error for each
 * zone it did not load, so the caller keeps the previous versions serving, as for a bad
 * file; the next request starts a new thread.
 */
export class ZoneLoadThread {
  private worker: Worker | undefined;
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private idle: NodeJS.Timeout | undefined;
  /** The request in progress: where its results go, and how to end it if the thread dies. */
  private current: Request | undefined;

  constructor(private readonly idleMs = LOAD_THREAD_IDLE_MS) {}

  /** Load `zones` (results in `zones` order); waits for any load already running. */
  load(zones: readonly ZoneFileSpec[], configDir: string): Promise<ZoneLoad[]> {
    const run = (): Promise<ZoneLoad[]> => this.run(zones, configDir);
    const next = this.queue.then(run, run);
    this.queue = next;
    return next;
  }

  /** End the thread now (a load in progress comes back as errors). */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private run(zones: readonly ZoneFileSpec[], configDir: string): Promise<ZoneLoad[]> {
    clearTimeout(this.idle);
    const results: (ZoneLoad | undefined)[] = zones.map(() => undefined);
    const failed = (i: number, why: string): ZoneLoad => {
      const file = resolve(configDir, zones[i]!.file);
      return {
        origin: zones[i]!.origin,
        file,
        zone: undefined,
        errors: [`${file}: zone load thread failed: ${why}`],
        warnings: [],
      };
    };
    return new Promise<ZoneLoad[]>((done) => {
      const id = ++this.seq;
      this.current = {
        id,
        worker: undefined,
        onResult: (m) => {
          try {
            const zone = m.packed ? new Zone(m.packed.origin, m.packed) : undefined;
            results[m.index] = {
              origin: m.origin,
              file: m.file,
              zone,
              errors: m.errors,
              warnings: m.warnings,
            };
          } catch (e) {
            results[m.index] = failed(m.index, (e as Error).message);
          }
        },
        end: (why = 'no result') => {
          this.current = undefined;
          if (this.worker && this.idleMs <= 0) void this.close();
          else if (this.worker) {
            this.idle = setTimeout(() => void this.close(), this.idleMs);
            this.idle.unref();
          }
          done(results.map((r, i) => r ?? failed(i, why)));
        },
      };
      let worker: Worker;
      try {
        worker = this.worker ?? this.spawn();
      } catch (e) {
        this.current.end((e as Error).message);
        return;
      }
      this.current.worker = worker;
      const req: ThreadRequest = { id, zones, configDir };
      worker.postMessage(req);
    });
  }

  private spawn(): Worker {
    const w = new Worker(new URL(import.meta.url), { workerData: THREAD_MARK });
    // The thread never keeps the process alive on its own.
    w.unref();
    let why = 'exited';
    w.on('message', (m: ThreadResult | ThreadDone) => {
      const cur = this.current;
      if (!cur || cur.worker !== w || m.id !== cur.id) return;
      if (m.kind === 'zone') cur.onResult(m);
      else cur.end();
    });
    w.on('error', (e) => {
      why = e.message;
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      // Only the request this thread was serving (the next may already have a new one).
      if (this.current?.worker === w)
        this.current.end(code === 0 ? why : `${why} (exit code ${code})`);
    });
    this.worker = w;
    return w;
  }
}

/** One zone on a load thread of its own (see ZoneLoadThread). */
export async function loadZoneFileInThread(
  originText: string,
  fileRel: string,
  configDir: string,
): Promise<ZoneLoad> {
  const thread = new ZoneLoadThread();
  try {
    const [r] = await thread.load([{ origin: originText, file: fileRel }], configDir);
    return r!;
  } finally {
    await thread.close();
  }
}

/** The thread side: load each zone, post it packed (its buffers transferred), drop it. */
function serveThread(req: ThreadRequest): void {
  req.zones.forEach((z, index) => {
    const r = loadZoneFile(z.origin, z.file, req.configDir);
    const packed = r.zone?.packed;
    const out: ThreadResult = {
      kind: 'zone',
      id: req.id,
      index,
      origin: r.origin,
      file: r.file,
      packed,
      errors: r.errors,
      warnings: r.warnings,
    };
    parentPort!.postMessage(out, packed ? packedBuffers(packed) : []);
  });
  parentPort!.postMessage({ kind: 'done', id: req.id } satisfies ThreadDone);
}

if (!isMainThread && workerData === THREAD_MARK) {
  parentPort!.on('message', serveThread);
}
