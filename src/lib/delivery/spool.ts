import { randomUUID } from 'node:crypto';
import { constants as fsc, createReadStream, promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { isProgress } from './recipients';
import { MAX_ATTEMPTS } from './retry';
import type { AddOptions as StoreAddOptions, Found, MailRecord, NewMail, Store } from './store';

/** One waiting mail as the spool keeps it: the built message is in `<id>.eml`, this in `<id>.json`. */
export type SpoolRecord = MailRecord;

/** A store's add options; outside a queue (tools, tests) the id may be left to the spool. */
export type AddOptions = Partial<StoreAddOptions>;

export interface SpoolLimits {
  maxBytes: number;
  maxCount: number;
}

const FILE_MODE = 0o600;
/** Bytes of a message gathered before they are written (see Spool.add). */
const WRITE_SLICE = 64 * 1024;
/**
 * Mails whose files are created and made durable at the same time: two files each, written side by
 * side, keep libuv's four threads busy, so that fdatasyncs still overlap (a journal commit then
 * serves several of them).
 */
const WRITERS = 2;
const DIR_MODE = 0o700;
/** The subfolder where records that cannot be trusted are set aside. */
const DAMAGED = 'damaged';
/** The subfolder where the connection's DKIM signer keeps the bodies of large mails while it signs them (dkim-signing.ts). */
export const SIGNING_CACHE = 'dkim-cache';
/**
 * Record ids sort in the order mails were accepted: time, then a counter within the same ms. A
 * clock set back (NTP) does not reorder them: the time never goes below the last one used.
 */
let lastStamp = 0;
let counter = 0;
export function nextId(now = Date.now()): string {
  const stamp = Math.max(now, lastStamp);
  counter = stamp === lastStamp ? counter + 1 : 0;
  lastStamp = stamp;
  return `${String(stamp).padStart(15, '0')}-${String(counter).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
}

const outboxError = (message: Text, hint: Text, cause?: NodeJS.ErrnoException): MailError =>
  mailError(ErrorCodes.EOUTBOX, cause?.code ? text('errors.withCode', { error: message, code: cause.code }) : message, hint);

/** An error of the outbox's disk (full, read-only, not ours) as EOUTBOX, with what to do about it. */
export function writeFailed(e: unknown): MailError {
  const cause = e as NodeJS.ErrnoException;
  if ((e as MailError).code === ErrorCodes.EOUTBOX) return e as MailError;
  const full = cause.code === 'ENOSPC' || cause.code === 'EDQUOT';
  return full
    ? outboxError(text('errors.outbox.diskFull'), text('hints.outbox.diskFull'), cause)
    : outboxError(text('errors.outbox.writeFailed'), text('hints.outbox.writeFailed'), cause);
}

/** fsync of a directory, so that a rename in it survives a power loss (POSIX leaves it to the caller). */
async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, fsc.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Group commit of a folder's fsync: one fsync makes every rename and unlink done before it started
 * durable, so callers that arrive while one runs share the next one instead of queueing one each
 * (ten mails in flight cost one or two folder fsyncs, not ten).
 */
class FolderSync {
  private current?: Promise<void>;
  private next?: Promise<void>;

  constructor(private readonly dir: string) {}

  /** Resolves once an fsync of the folder that started after this call has finished. */
  sync(): Promise<void> {
    if (!this.current) return this.start();
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const p: Promise<void> = syncDir(this.dir).finally(() => {
      if (this.current === p) this.current = undefined;
    });
    this.current = p;
    return p;
  }
}

/**
 * Writes that are durable when they return, where the platform has O_DSYNC (Linux, macOS): the
 * write and its fdatasync in one call, one trip through libuv's four threads instead of two. In a
 * burst every trip counts: each one queues behind the other mails' writes. Elsewhere (Windows) an
 * explicit datasync follows the write.
 */
const DSYNC: number = fsc.O_DSYNC ?? 0;
const CREATE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC;
const CREATE_NEW = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL;

/** Writes every byte (a write may write less than it was given, as write(2) may). */
async function writeAll(handle: fsp.FileHandle, buffers: Buffer[]): Promise<void> {
  let left = buffers;
  while (left.length) {
    const total = left.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await handle.writev(left);
    if (bytesWritten >= total) return;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of left) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    left = rest;
  }
}

/** Creates `file` with `buffers` as its content, its data on disk (fdatasync's guarantee) before it resolves. */
async function writeDurably(file: string, buffers: Buffer[], flags: number): Promise<void> {
  const handle = await fsp.open(file, flags | DSYNC, FILE_MODE);
  try {
    await writeAll(handle, buffers);
    if (!DSYNC) await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * At most `size` tasks at a time, the others waiting in order of arrival. A burst of mails all
 * written at once queued thousands of file operations in libuv's four threads, where nothing else
 * of the process (a DNS lookup for a new SMTP connection, another node's file) got through, and
 * where creating files (each one a scan of the inode table on ext4 without a journal) took both
 * cores away from the event loop that sends the mails already written.
 */
class Limit {
  private running = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** Writes a file as Postfix writes a queue file: to a temporary name, fsync, rename, fsync the folder. */
async function writeAtomically(file: string, content: string, folder: FolderSync): Promise<void> {
  const temp = `${file}.tmp`;
  try {
    await writeDurably(temp, [Buffer.from(content)], CREATE);
  } catch (e) {
    await fsp.rm(temp, { force: true });
    throw e;
  }
  await fsp.rename(temp, file);
  await folder.sync();
}

/** Deletes a file that may not exist (unlink alone: rm would stat it first). */
async function unlink(file: string): Promise<void> {
  await fsp.unlink(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/** Epoch ms that a record's times may take: Date's range, so that `new Date(t)` and timers stay sane. */
const MAX_TIME = 8.64e15;
const isTime = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_TIME;
const isCount = (v: unknown, max: number) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
const isString = (v: unknown) => typeof v === 'string';
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
const isStrings = (v: unknown) => Array.isArray(v) && v.every(isString);

/**
 * Whether a value read from disk is a record this version wrote: every field of the right type and
 * range. A record is a file anyone with access to the user directory can edit or plant; one that
 * fails here is set aside, never sent, and never breaks the Outbox list.
 */
function isRecord(value: unknown, id: string): value is SpoolRecord {
  const r = value as SpoolRecord;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return false;
  const e = r.lastError as Record<string, unknown> | undefined;
  return (
    r.id === id &&
    isTime(r.created) &&
    isString(r.messageId) &&
    !!r.envelope &&
    isString(r.envelope.from) &&
    isStrings(r.envelope.to) &&
    !!r.summary &&
    isString(r.summary.to) &&
    isString(r.summary.subject) &&
    optional(r.shown, isStrings) &&
    isCount(r.size, Number.MAX_SAFE_INTEGER) &&
    isCount(r.attempts, MAX_ATTEMPTS) &&
    optional(r.firstAttemptAt, isTime) &&
    optional(r.nextAttemptAt, isTime) &&
    optional(
      e,
      (v) => !!v && typeof v === 'object' && isString(e!.message) && optional(e!.code, isString) && optional(e!.hint, isString),
    ) &&
    optional(r.progress, isProgress) &&
    optional(r.customFrom, (v) => typeof v === 'boolean') &&
    optional(r.node, isString) &&
    optional(r.msg, (v) => v !== null && typeof v === 'object')
  );
}

/** The queue that holds each folder, in this process: the next one opens it only after it was released. */
const holders = new Map<string, Promise<void>>();

/** Opens a file for reading without following a link: a link planted in the outbox is never read through. */
const NO_FOLLOW = fsc.O_RDONLY | fsc.O_NOFOLLOW;

/**
 * A connection's outbox on disk, one folder per connection. A mail counts as accepted once its
 * record is renamed into place: the built message is written first, so a crash before that leaves
 * only a temporary or orphaned file, which the next start deletes (it was never accepted); a record
 * that cannot be trusted, or whose message is missing or cut short, is set aside in damaged/
 * instead of sending half a mail. Files are 0600 in a 0700 folder, and hold no credentials.
 */
export class Spool implements Store {
  readonly durable = true;
  private readonly records = new Map<string, SpoolRecord>();
  private bytes = 0;
  /** Mails being written, and their bytes so far: they count against the cap before they are in it. */
  private writing = 0;
  private writingBytes = 0;
  private readonly folder: FolderSync;
  /** Creating and syncing files, a few mails at a time (see Limit). */
  private readonly disk = new Limit(WRITERS);
  private opening?: Promise<Found>;
  private unlock?: () => void;
  private released = false;

  constructor(
    readonly dir: string,
    private readonly limits: SpoolLimits,
  ) {
    this.folder = new FolderSync(dir);
  }

  /**
   * Opens the spool in `dir` at once, as a restart after a crash would (no holder is waited for):
   * for tools and tests that look at a folder. Queues use open().
   */
  static async open(dir: string, limits: SpoolLimits): Promise<{ spool: Spool } & Found> {
    const spool = new Spool(dir, limits);
    return { spool, ...(await spool.scan()) };
  }

  /**
   * Takes the folder over once the queue that held it before in this process released it (a
   * redeploy: the old connection writes every mail it still holds first), then reads what is there.
   * A failure (a read-only user directory) is not kept: the next call tries again.
   */
  open(): Promise<Found> {
    if (!this.unlock) {
      const before = holders.get(this.dir) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const chain = before.then(() => mine);
      holders.set(this.dir, chain);
      this.unlock = () => {
        release();
        if (holders.get(this.dir) === chain) holders.delete(this.dir);
      };
      // A spool released before its turn came (closed while it waited) never reads the folder: the
      // next holder may already be writing there.
      this.opening = before.then(() => (this.released ? { pending: [], damaged: [], removedTemps: 0, skipped: [] } : this.scan()));
    }
    this.opening ??= this.scan();
    return this.opening.catch((e) => {
      this.opening = undefined;
      throw writeFailed(e);
    });
  }

  release(): void {
    this.released = true;
    this.unlock?.();
  }

  private async scan(): Promise<Found> {
    await fsp.mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    // The folder itself must be a folder: through a link, deleting and moving files would act elsewhere.
    if ((await fsp.lstat(this.dir)).isSymbolicLink())
      throw outboxError(text('errors.outbox.linked', { dir: this.dir }), text('hints.outbox.linked'));
    const entries = await fsp.readdir(this.dir, { withFileTypes: true });
    // A link is handled by its name like a file (deleted or set aside, never followed); anything else is not ours.
    const ours = (e: Dirent) => e.isFile() || e.isSymbolicLink();
    const skipped = entries.filter((e) => !ours(e) && e.name !== DAMAGED && e.name !== SIGNING_CACHE).map((e) => e.name);
    const names = entries.filter(ours).map((e) => e.name);
    let removedTemps = 0;
    for (const name of names.filter((n) => n.endsWith('.tmp'))) {
      await unlink(path.join(this.dir, name));
      removedTemps++;
    }
    const damaged: string[] = [];
    const records = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
    for (const name of names.filter((n) => n.endsWith('.eml') && !records.has(n.slice(0, -'.eml'.length)))) {
      await unlink(path.join(this.dir, name));
      removedTemps++;
    }
    for (const id of [...records].sort()) {
      if (this.records.has(id)) continue;
      const record = await this.read(id);
      if (record) {
        this.records.set(id, record);
        this.bytes += record.size;
      } else {
        await this.setAside(id);
        damaged.push(id);
      }
    }
    return { pending: this.list(), damaged, removedTemps, skipped };
  }

  private async read(id: string): Promise<SpoolRecord | undefined> {
    try {
      const handle = await fsp.open(this.file(id, 'json'), NO_FOLLOW);
      let record: unknown;
      try {
        record = parseRecord(await handle.readFile('utf8'));
      } finally {
        await handle.close();
      }
      const stat = await fsp.lstat(this.file(id, 'eml'));
      return isRecord(record, id) && stat.isFile() && stat.size === record.size ? record : undefined;
    } catch {
      return undefined;
    }
  }

  private async setAside(id: string): Promise<void> {
    const damaged = path.join(this.dir, DAMAGED);
    await fsp.mkdir(damaged, { recursive: true, mode: DIR_MODE });
    // rename moves a link itself, never what it points to.
    for (const ext of ['json', 'eml'] as const) {
      await fsp.rename(this.file(id, ext), path.join(damaged, `${id}.${ext}`)).catch(() => undefined);
    }
  }

  /** Path of a mail's built message or record. */
  file(id: string, ext: 'json' | 'eml'): string {
    return path.join(this.dir, `${id}.${ext}`);
  }

  /** The waiting mails, oldest first. */
  list(): SpoolRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  get(id: string): SpoolRecord | undefined {
    return this.records.get(id);
  }

  get count(): number {
    return this.records.size;
  }

  /** A fresh read of the message for every pass: nothing of an earlier attempt is reused. */
  body(id: string): Readable {
    // Node opens the file with these flags as given; its types only know the string forms.
    return createReadStream(this.file(id, 'eml'), { flags: NO_FOLLOW as unknown as string });
  }

  reusable(): boolean {
    return true;
  }

  /**
   * Stores a built message and its record; resolves once both are on disk. Refuses with EOUTBOX
   * when the outbox is full or the disk cannot take it, leaving nothing half-written. Mails being
   * written count against the cap with the bytes they wrote so far, so that concurrent writes
   * together never pass it.
   */
  async add(fields: NewMail, message: Readable | Buffer, options: AddOptions = {}): Promise<SpoolRecord> {
    const now = options.now ?? Date.now();
    const { maxBytes, maxCount } = this.limits;
    const full = () =>
      outboxError(
        // Counting the mails being written: they hold their place under the cap.
        text('errors.outbox.full', {
          mails: this.records.size + this.writing,
          mb: Math.round((this.bytes + this.writingBytes) / 1024 / 1024),
          maxMails: maxCount,
          maxMb: Math.round(maxBytes / 1024 / 1024),
        }),
        text('hints.outbox.full'),
      );
    // An error of the message before it is read (a download that failed at once) must not go
    // unhandled: reading it below reports it.
    if (!Buffer.isBuffer(message)) message.on('error', () => undefined);
    if (this.records.size + this.writing >= maxCount || this.bytes + this.writingBytes >= maxBytes) {
      if (!Buffer.isBuffer(message)) message.destroy();
      throw full();
    }
    this.writing++;
    // The caller may have taken the id earlier, when the mail arrived, to keep the order of arrival.
    const id = options.id ?? nextId(now);
    let size = 0;
    /** An error of the message itself (a download that broke off), not of the disk: reported as it is. */
    let sourceError: unknown;
    const emlFile = this.file(id, 'eml');
    const jsonFile = this.file(id, 'json');
    /** The message's file, opened once more of it came than one write takes; a small message is written whole at the end. */
    let eml: fsp.FileHandle | undefined;
    let placed = false;
    try {
      // Chunks are gathered and written WRITE_SLICE at a time: a small message (nodemailer gives
      // one in about six chunks) in one write, a large one without holding more than a slice.
      let gathered: Buffer[] = [];
      let gatheredBytes = 0;
      const flush = async () => {
        // The message goes straight to its name: without its record it is never sent (open() deletes it).
        eml ??= await this.disk.run(() => fsp.open(emlFile, CREATE_NEW, FILE_MODE));
        const slice = gathered;
        gathered = [];
        gatheredBytes = 0;
        await writeAll(eml, slice);
      };
      const iterator: Iterator<Buffer> | AsyncIterator<Buffer> = Buffer.isBuffer(message)
        ? [message][Symbol.iterator]()
        : (message as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (e) {
          sourceError = e;
          throw e;
        }
        if (next.done) break;
        const chunk = next.value;
        if (this.bytes + this.writingBytes + chunk.length > maxBytes) {
          if (!Buffer.isBuffer(message)) message.destroy();
          throw full();
        }
        size += chunk.length;
        this.writingBytes += chunk.length;
        options.onChunk?.(chunk);
        gathered.push(chunk);
        gatheredBytes += chunk.length;
        if (gatheredBytes >= WRITE_SLICE) await flush();
      }
      const record: SpoolRecord = { id, created: now, size, ...fields };
      // Both files on disk (written side by side, each fdatasynced) before the record takes its
      // name: that rename is what accepts the mail, and one folder fsync, shared with concurrent
      // mails, keeps it.
      const emlDone = async () => {
        if (!eml) return writeDurably(emlFile, gathered, CREATE_NEW);
        if (gathered.length) await flush();
        await eml.datasync();
        const handle = eml;
        eml = undefined;
        await handle.close();
      };
      const json = Buffer.from(JSON.stringify(record));
      await this.disk.run(async () => {
        // Both settle before anything is cleaned up: a write still under way would bring a deleted file back.
        const written = await Promise.allSettled([emlDone(), writeDurably(`${jsonFile}.tmp`, [json], CREATE)]);
        for (const w of written) if (w.status === 'rejected') throw w.reason;
        await fsp.rename(`${jsonFile}.tmp`, jsonFile);
        placed = true;
      });
      await this.folder.sync();
      this.records.set(id, record);
      this.bytes += size;
      return record;
    } catch (e) {
      // A disk error leaves the message half read: end it, and the downloads it reads from.
      if (!Buffer.isBuffer(message)) message.destroy();
      await (eml as fsp.FileHandle | undefined)?.close().catch(() => undefined);
      for (const file of [placed ? jsonFile : `${jsonFile}.tmp`, emlFile]) await unlink(file).catch(() => undefined);
      throw e === sourceError ? e : writeFailed(e);
    } finally {
      this.writing--;
      this.writingBytes -= size;
    }
  }

  /** Rewrites a record (attempts, next attempt, last error). */
  async update(record: SpoolRecord): Promise<void> {
    if (!this.records.has(record.id)) return;
    this.records.set(record.id, record);
    await writeAtomically(this.file(record.id, 'json'), JSON.stringify(record), this.folder).catch(() => undefined);
    // Removed while it was being written: the rename brought the record back without its message.
    if (!this.records.has(record.id)) await unlink(this.file(record.id, 'json'));
  }

  /** Deletes a mail: record first, so that a crash in between leaves an orphaned message that the next start deletes, never resends. */
  async remove(id: string): Promise<void> {
    const record = this.records.get(id);
    if (!record) return;
    this.records.delete(id);
    this.bytes -= record.size;
    await unlink(this.file(id, 'json'));
    await unlink(this.file(id, 'eml'));
    await this.folder.sync().catch(() => undefined);
  }
}

/** Keys of a msg that hold live objects (an HTTP request and response, a socket) and are never stored. */
const LIVE_KEYS = new Set(['req', 'res', 'socket', '_session']);

/**
 * The msg as the outbox stores it, to report the outcome of a mail after a restart: JSON only,
 * Buffers kept, functions, live sockets and cycles dropped, and at most about `maxBytes` of JSON
 * and 100 levels; a larger or deeper msg keeps only its id and topic. Copied by a walk
 * that stops as soon as the msg is too large: a msg with a 50 MB payload must not be turned into
 * JSON to find that out.
 */
export function storableMsg(msg: Record<string, unknown>, maxBytes = 256 * 1024): Record<string, unknown> {
  // The copy recurses once a level, and 27 KB of JSON from an http in node can nest 4,500 levels:
  // more than the stack holds. Real msgs nest a few dozen levels at most.
  const MAX_MSG_DEPTH = 100;
  let budget = maxBytes;
  const tooLarge = new Error('too large');
  const tooDeep = new Error('too deep');
  const seen = new WeakSet<object>();
  const copy = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value === 'boolean') return value;
    if (typeof value === 'number') return Number.isFinite(value) ? value : null;
    if (typeof value === 'string') {
      if ((budget -= value.length + 2) < 0) throw tooLarge;
      return value;
    }
    if (typeof value !== 'object') return undefined; // functions, symbols, bigints, undefined
    if (Buffer.isBuffer(value)) {
      // Stored as Node-RED writes a Buffer in JSON: {type: 'Buffer', data: [bytes]}, up to 4 characters a byte.
      if ((budget -= value.length * 4 + 30) < 0) throw tooLarge;
      return Buffer.from(value);
    }
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (seen.has(value)) return undefined;
    seen.add(value);
    if (depth >= MAX_MSG_DEPTH) throw tooDeep;
    if (Array.isArray(value)) return value.map((v) => copy(v, depth + 1) ?? null);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (value === msg && LIVE_KEYS.has(key)) continue;
      const c = copy(v, depth + 1);
      if (c === undefined) continue;
      if ((budget -= key.length + 4) < 0) throw tooLarge;
      out[key] = c;
    }
    return out;
  };
  try {
    return copy(msg, 0) as Record<string, unknown>;
  } catch (e) {
    if (e !== tooLarge && e !== tooDeep) throw e;
    return {
      _msgid: msg._msgid,
      topic: msg.topic,
      truncated:
        e === tooLarge
          ? `the msg was larger than ${Math.round(maxBytes / 1024)} KB and was not kept`
          : `the msg was nested deeper than ${MAX_MSG_DEPTH} levels and was not kept`,
    };
  }
}

/** JSON.parse that gives Buffers back, from the form JSON.stringify gives them ({type: 'Buffer', data}). */
function parseRecord(text: string): unknown {
  return JSON.parse(text, (_key, value) =>
    value && value.type === 'Buffer' && Array.isArray(value.data) && Object.keys(value).length === 2 ? Buffer.from(value.data) : value,
  );
}
