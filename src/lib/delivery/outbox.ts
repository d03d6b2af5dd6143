import { createReadStream, promises as fsp, type ReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import type Mail from 'nodemailer/lib/mailer';
import { composeStream, fixMessageId } from '../message/compose';
import type { SendError, SentInfo } from '../connection';
import { ErrorCodes, mailError, messageOf, setMessage, type Localizable, type MailError } from '../errors/errors';
import { text } from '../errors/texts';
import type { Backoff } from './retry';
import type { ShownError, WaitingMail } from '../../shared/outbox-list';
import { nextId, Spool, storableMsg, writeFailed, type SpoolContents, type SpoolRecord } from './spool';
import { owedOf, type RecipientProgress } from './recipients';

/** One waiting mail as the Outbox tab shows it, its last error still in the catalog's keys (outbox-admin translates it). */
export interface OutboxEntry extends Omit<WaitingMail, 'lastError'> {
  lastError?: Localizable & Omit<ShownError, 'message' | 'hint'>;
}

/** What a config node with a disk outbox offers the editor's Outbox tab. */
export interface OutboxControl {
  /** The mails in the outbox, oldest first. */
  list(): OutboxEntry[];
  /** Ends the backoff wait of one waiting mail (or of all): they try at once. Resolves with how many did. */
  retryNow(id?: string): Promise<number>;
  /**
   * Deletes one waiting mail (or all); each one's msg ends as a failure. A mail whose attempt is
   * under way is sent if the server accepts it, else deleted instead of waiting again. Resolves
   * with how many were deleted or marked so.
   */
  remove(id?: string): Promise<number>;
}

/** The send node and msg a mail came from: its outcome is reported with them after a restart. */
export interface Origin {
  node: string;
  msg: Record<string, unknown>;
}

/** How a mail ended, for a mail whose msg no longer waits for it (resumed after a restart or redeploy). */
export type Outcome = { info: SentInfo } | { error: SendError };

export interface OutboxOptions {
  /** The connection's own folder. */
  dir: string;
  maxBytes: number;
  /** Most mails it holds (default 10,000). */
  maxCount?: number;
  /** The outcome of a mail whose msg is no longer waiting for it. */
  report?(record: SpoolRecord, outcome: Outcome): void;
  /** Called when mails are added, sent, start or stop waiting, or removed. */
  onChange?(): void;
}

/** One attempt's error as a record keeps it. */
export type LastError = NonNullable<SpoolRecord['lastError']>;

/** How the connection's retry loop sends one message; see Connection.attempts. */
export interface AttemptPlan {
  /** The message for the next attempt. */
  lend(): Mail.Options;
  /** Whether another attempt can still send the message whole. */
  reusable(): boolean;
  /** Called after every attempt, whatever its outcome. */
  settled?(): void;
  /** Attempts made before (in an earlier run). */
  attempts?: number;
  /** When the first attempt started (the retry time counts from it); now when undefined. */
  started?: number;
  /** The mail stays in the outbox when the connection closes: a transient failure then defers it. */
  durable?: boolean;
  /** What attempts before (in an earlier run) decided about the recipients, when one split them. */
  progress?: RecipientProgress;
  /**
   * After a transient failure: what failed, when the next attempt comes (undefined: not in this
   * run), and, once an attempt split the recipients, how far the mail got with them.
   */
  onWait?(error: LastError, attempts: number, started: number, nextAttemptAt?: number, progress?: RecipientProgress): Promise<void>;
  /** The wait before the next attempt; rejects with the outbox's own errors (deferred, deleted). */
  wait?(ms: number): Promise<void>;
}

/** What the outbox needs of its connection. */
export interface Courier {
  /** Waits for the next turn under the rate limit; undefined without a rate limit. */
  turn(onWait: () => void): Promise<void> | undefined;
  /** Takes the next turn if it is free now (true without a rate limit), unless the pool is crowded. */
  tryTurn(): boolean;
  readonly backoff: Backoff;
  /** Sends with retries; see AttemptPlan. */
  attempts(plan: AttemptPlan, customFrom: boolean, onRetry?: (waiting: boolean) => void): Promise<SentInfo>;
  /** The error a send that failed before its first attempt ends with (diagnosed). */
  rejected(err: MailError, customFrom: boolean): SendError;
  /** Keeps a send in the connection's count of sends in flight, which closing waits for. */
  track(p: Promise<unknown>): void;
}

/** The code of the marker a send ends with when it stays in the outbox (redeploy, stop): never reported. */
export const DEFERRED = 'EDEFERRED';

/** A send that ended without an outcome because its mail stays in the outbox: the next start sends it. */
export function deferred(): MailError {
  const err: MailError = new Error('The mail stays in the outbox and is sent after the restart or redeploy');
  err.code = DEFERRED;
  return err;
}

export function isDeferred(err: unknown): boolean {
  return !!err && (err as MailError).code === DEFERRED;
}

export const DEFAULT_OUTBOX_COUNT = 10000;

/**
 * held: found at start, not yet resumed; due: resumed, waits for the next attempt an earlier run
 * set; ready: waits for its turn; sending: an attempt is under way; waiting: waits for a retry.
 */
type JobState = 'held' | 'due' | 'ready' | 'sending' | 'waiting' | 'ended';

/** The msg's side of a mail: settled once with the outcome, while the send node still waits for it. */
interface Live {
  node?: string;
  resolve(info: SentInfo): void;
  reject(err: Error): void;
  onQueue?(waiting: boolean): void;
  onRetry?(waiting: boolean): void;
}

interface Job {
  record: SpoolRecord;
  customFrom: boolean;
  state: JobState;
  live?: Live;
  /** Told its send node that it waits for its turn. */
  queued?: boolean;
  /** Ends its backoff wait at once. */
  wake?: () => void;
  /** Retry now came while an attempt was under way: its next wait is skipped. */
  retrySoon?: boolean;
  removed?: boolean;
  /** The message file open for the current attempt. */
  stream?: ReadStream;
  /** The built message in memory, for a first attempt that goes at once; dropped when the mail has to wait. */
  copy?: Buffer;
  /** The built message of a mail sent at once, not (yet) in the outbox. */
  unspooled?: Buffer;
  /** The msg of a mail sent at once, stored only if it has to wait: most never do, and copying it costs. */
  unspooledMsg?: Record<string, unknown>;
}

/** Largest message whose copy is kept in memory for its first attempt. */
const COPY_LIMIT = 256 * 1024;

/** Largest content (before encoding) of a mail sent at once from memory; a larger one goes through the disk. */
const EXPRESS_LIMIT = 1024 * 1024;

/** The size of a message's content before encoding: texts and attachments given as Buffers or strings. */
function estimatedSize(message: Mail.Options): number {
  const length = (v: unknown) => (typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 0);
  let n = length(message.html) + length(message.text);
  for (const a of message.attachments || []) n += length(a.content) + length(a.raw);
  return n;
}

/** Collects a small message as it is written to disk, so that a mail sent at once needs no read back. */
class Copy {
  private chunks: Buffer[] = [];
  private size = 0;

  add(chunk: Buffer) {
    this.size += chunk.length;
    if (this.size <= COPY_LIMIT) this.chunks.push(chunk);
    else this.chunks.length = 0;
  }

  take(): Buffer | undefined {
    return this.size <= COPY_LIMIT ? Buffer.concat(this.chunks, this.size) : undefined;
  }
}

const addressList = (value: unknown): string =>
  (Array.isArray(value) ? value : value ? [value] : [])
    .map((a) => (typeof a === 'string' ? a : ((a as Mail.Address)?.address ?? '')))
    .filter(Boolean)
    .join(', ');

const summary = (message: Mail.Options, envelope: { to: string[] }) => ({
  to: addressList(message.to) || envelope.to.join(', '),
  subject: String(message.subject ?? ''),
});

/**
 * The record of a mail whose recipients an attempt split: its envelope holds only the recipients
 * still owed, so that a restart never sends it again to those that have it; the progress keeps
 * what the result reports (every recipient, who accepted, who refused).
 */
export function owing(record: SpoolRecord, progress: RecipientProgress | undefined): SpoolRecord {
  if (!progress) return record;
  return { ...record, envelope: { ...record.envelope, to: owedOf(progress) }, progress };
}

const deletedError = (record: SpoolRecord): SendError => {
  const err = mailError(ErrorCodes.EOUTBOX, text('errors.outbox.deleted'), text('hints.outbox.deleted')) as SendError;
  err.attempts = record.attempts;
  return err;
};

/**
 * A connection's outbox on disk. A mail that has to wait (for its turn under the rate limit, behind
 * older mails, for a retry) is built once and written to the spool before it waits, and mails go
 * oldest first, each attempt reading the built message from disk; a mail that can go at once is
 * sent from memory and written only when it has to wait for a retry (writing every mail cost half to
 * two thirds of the throughput). The server's 250 deletes a mail before its send is reported, so a
 * restart never sends again what the server accepted; a crash in between sends it again with the
 * same Message-ID (at least once). Closing the connection leaves the mails that wait where they
 * are: the next start sends them and reports their outcome.
 */
export class Outbox implements OutboxControl {
  private spool?: Spool;
  private opening?: Promise<Spool>;
  private opened?: SpoolContents;
  private readonly jobs = new Map<string, Job>();
  /** Jobs waiting for their turn, oldest first. */
  private readonly ready: Job[] = [];
  private pumping = false;
  /** The pump waits for the rate limit: every job in `ready` waits. */
  private waitingForTurn = false;
  private resumed = false;
  private closing = false;
  /** After close: the next instance owns the files, this one writes no record any more. */
  private finished = false;
  /** Mails whose msg no longer waits for them, by send node. */
  private readonly unclaimed = new Map<string, number>();
  /** Mails being written, by id: under a rate limit, younger mails wait for them (`holds`). */
  private readonly writing = new Map<string, { holds: boolean; done: Promise<void> }>();

  constructor(
    private readonly options: OutboxOptions,
    private readonly courier: Courier,
  ) {}

  get dir(): string {
    return this.options.dir;
  }

  /**
   * Opens the spool once, and takes what an earlier run left there (sent on resume()). A failure
   * (a read-only user directory) is not kept: the next send tries again.
   */
  open(): Promise<Spool> {
    this.opening ??= Spool.open(this.options.dir, {
      maxBytes: this.options.maxBytes,
      maxCount: this.options.maxCount ?? DEFAULT_OUTBOX_COUNT,
    }).then(
      (contents) => {
        this.spool = contents.spool;
        this.opened = contents;
        for (const record of contents.pending) {
          const job: Job = { record, customFrom: record.customFrom === true, state: 'held' };
          this.jobs.set(record.id, job);
          this.count(job, 1);
        }
        if (this.resumed) this.dispatchHeld();
        this.changed();
        return contents.spool;
      },
      (e) => {
        this.opening = undefined;
        throw writeFailed(e);
      },
    );
    return this.opening;
  }

  /** What opening found: damaged records set aside, temporary files deleted. */
  get found(): SpoolContents | undefined {
    return this.opened;
  }

  /** Sends what an earlier run left in the outbox, oldest first (once the flows have started). */
  resume(): void {
    if (this.resumed) return;
    this.resumed = true;
    if (this.spool) this.dispatchHeld();
  }

  private dispatchHeld() {
    for (const job of [...this.jobs.values()].filter((j) => j.state === 'held').sort(byId)) {
      const wait = (job.record.nextAttemptAt ?? 0) - this.courier.backoff.now();
      if (wait > 0) void this.waitThenEnqueue(job, wait);
      else this.enqueue(job);
    }
  }

  /** A mail resumed before its next attempt is due waits for it first (Retry now ends the wait). */
  private async waitThenEnqueue(job: Job, ms: number) {
    job.state = 'due';
    try {
      await this.courier.backoff.wait(ms, (wake) => (job.wake = wake));
    } catch {
      return; // closed: it stays in the outbox
    } finally {
      job.wake = undefined;
    }
    if (!job.removed && !this.closing) this.enqueue(job);
  }

  /**
   * Accepts a mail: builds it (downloading URL attachments once, into the file), writes it to the
   * outbox, then sends it. Resolves with the server's answer; rejects with the failure, with
   * EOUTBOX when the outbox cannot take it (the mail was not accepted), or with the deferred
   * marker when the connection closed while the mail waited.
   */
  async accept(message: Mail.Options, customFrom: boolean, live: Pick<Live, 'onQueue' | 'onRetry'>, origin?: Origin): Promise<SentInfo> {
    // The place in the queue is the order of arrival, taken before anything asynchronous.
    const id = nextId();
    // A mail whose attachment is still downloading does not hold the mails that arrived after it.
    const holds = !(message.attachments || []).some((a) => a.content instanceof Readable);
    // A mail that can go at once (nothing older waits or is being written, the rate limit has a
    // turn free, at most a pool's worth of sends wait for a pooled connection) goes from memory,
    // and is written to the outbox only when it has to wait for a retry: writing every mail cost
    // half to two thirds of the throughput (the README's Outbox section names the window this leaves).
    if (
      holds &&
      estimatedSize(message) <= EXPRESS_LIMIT &&
      this.spool &&
      !this.closing &&
      !this.ready.length &&
      !this.writingHolds() &&
      this.courier.tryTurn()
    ) {
      return this.sendAtOnce(id, message, customFrom, live, origin);
    }
    let written!: () => void;
    this.writing.set(id, { holds, done: new Promise<void>((resolve) => (written = resolve)) });
    try {
      return await this.write(id, message, customFrom, live, origin, written);
    } finally {
      this.writing.delete(id);
      written();
    }
  }

  /** Whether a mail that arrived earlier is still being written (and holds the later ones). */
  private writingHolds(): boolean {
    for (const w of this.writing.values()) if (w.holds) return true;
    return false;
  }

  /** A mail sent at once: built in memory; the outbox writes it only before it waits for a retry. */
  private async sendAtOnce(
    id: string,
    message: Mail.Options,
    customFrom: boolean,
    live: Pick<Live, 'onQueue' | 'onRetry'>,
    origin: Origin | undefined,
  ): Promise<SentInfo> {
    fixMessageId(message);
    let built: Awaited<ReturnType<typeof composeStream>>;
    const chunks: Buffer[] = [];
    try {
      built = await composeStream(message);
      for await (const chunk of built.message) chunks.push(chunk as Buffer);
    } catch (e) {
      throw this.courier.rejected(e as MailError, customFrom);
    }
    const raw = Buffer.concat(chunks);
    const record: SpoolRecord = {
      id,
      created: Date.now(),
      messageId: built.messageId,
      envelope: built.envelope,
      summary: summary(message, built.envelope),
      size: raw.length,
      attempts: 0,
      customFrom,
      node: origin?.node,
    };
    return new Promise<SentInfo>((resolve, reject) => {
      const job: Job = {
        record,
        customFrom,
        state: 'sending',
        live: { node: origin?.node, resolve, reject, ...live },
        unspooled: raw,
        unspooledMsg: origin?.msg,
      };
      this.courier.track(this.send(job));
    });
  }

  private async write(
    id: string,
    message: Mail.Options,
    customFrom: boolean,
    live: Pick<Live, 'onQueue' | 'onRetry'>,
    origin: Origin | undefined,
    written: () => void,
  ): Promise<SentInfo> {
    const spool = await this.open().catch((e: MailError) => {
      throw Object.assign(e, { attempts: 0 });
    });
    fixMessageId(message);
    let record: SpoolRecord;
    const copy = new Copy();
    try {
      const built = await composeStream(message);
      record = await spool.add(
        {
          messageId: built.messageId,
          envelope: built.envelope,
          summary: summary(message, built.envelope),
          attempts: 0,
          customFrom,
          node: origin?.node,
          msg: origin ? storableMsg(origin.msg) : undefined,
        },
        built.message,
        { id, onChunk: (chunk) => copy.add(chunk) },
      );
    } catch (e) {
      throw (e as MailError).code === ErrorCodes.EOUTBOX
        ? Object.assign(e as MailError, { attempts: 0 })
        : this.courier.rejected(e as MailError, customFrom);
    }
    return new Promise<SentInfo>((resolve, reject) => {
      const job: Job = { record, customFrom, state: 'ready', live: { node: origin?.node, resolve, reject, ...live }, copy: copy.take() };
      this.jobs.set(record.id, job);
      this.writing.delete(id);
      written();
      if (this.closing) {
        job.state = 'held';
        return this.defer(job);
      }
      this.enqueue(job);
    });
  }

  private enqueue(job: Job) {
    job.state = 'ready';
    // Oldest first: a mail written a moment later than a younger one still goes before it.
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1].record.id > job.record.id) i--;
    this.ready.splice(i, 0, job);
    if (this.waitingForTurn) this.markQueued(job);
    this.changed();
    void this.pump();
  }

  private markQueued(job: Job) {
    if (job.queued) return;
    job.queued = true;
    // Waiting mails live on disk only: memory does not grow with the queue.
    job.copy = undefined;
    job.live?.onQueue?.(true);
  }

  private unqueue(job: Job) {
    if (!job.queued) return;
    job.queued = false;
    job.live?.onQueue?.(false);
  }

  /** Hands the oldest waiting mail to the connection whenever the rate limit lets one go. */
  private async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.ready.length && !this.closing) {
        const turn = this.courier.turn(() => {
          this.waitingForTurn = true;
          for (const job of this.ready) this.markQueued(job);
        });
        if (turn) {
          await turn;
          // Oldest first: the turn goes to a mail that arrived earlier but is still being written
          // (concurrent writes finish in any order), unless it waits for an attachment download.
          for (let older = this.olderWrite(); older; older = this.olderWrite()) await older;
        }
        this.waitingForTurn = false;
        const job = this.ready.shift();
        if (job && !this.closing) this.start(job);
        else if (job) this.ready.unshift(job);
      }
    } catch {
      // The rate limiter was closed with the connection; close() deferred the waiting mails.
    } finally {
      this.pumping = false;
      this.waitingForTurn = false;
    }
  }

  /** A write that the oldest waiting mail should wait for, if any. */
  private olderWrite(): Promise<void> | undefined {
    const head = this.ready[0];
    if (!head) return undefined;
    for (const [id, w] of this.writing) if (w.holds && id < head.record.id) return w.done;
    return undefined;
  }

  private start(job: Job) {
    this.unqueue(job);
    job.state = 'sending';
    this.changed();
    const p = this.send(job);
    this.courier.track(p);
  }

  private async send(job: Job): Promise<void> {
    const spool = this.spool!;
    const file = spool.file(job.record.id, 'eml');
    const close = () => {
      job.stream?.destroy();
      job.stream = undefined;
    };
    const plan: AttemptPlan = {
      attempts: job.record.attempts,
      started: job.record.firstAttemptAt,
      durable: true,
      progress: job.record.progress,
      // A fresh read of the file for every attempt: nothing of an earlier attempt is reused.
      lend: () => {
        close();
        if (job.unspooled) return { envelope: job.record.envelope, raw: job.unspooled };
        const copy = job.copy;
        job.copy = undefined;
        if (copy) return { envelope: job.record.envelope, raw: copy };
        job.stream = createReadStream(file);
        return { envelope: job.record.envelope, raw: job.stream };
      },
      reusable: () => true,
      settled: close,
      onWait: async (lastError, attempts, started, nextAttemptAt, progress) => {
        const record = { ...owing(job.record, progress), attempts, firstAttemptAt: started, nextAttemptAt, lastError };
        if (job.unspooled) {
          // It has to wait now: into the outbox with it. A disk that refuses ends the send (EOUTBOX),
          // saying what the server answered.
          const { id, created, size, ...fields } = record;
          if (job.unspooledMsg) fields.msg = storableMsg(job.unspooledMsg);
          job.unspooledMsg = undefined;
          job.record = await spool.add(fields, job.unspooled, { id, now: created }).catch((e: MailError) => {
            throw Object.assign(setMessage(e, text('errors.outbox.cannotWait', { error: messageOf(e), last: messageOf(lastError) })), {
              attempts,
            });
          });
          job.unspooled = undefined;
          this.jobs.set(id, job);
        } else {
          job.record = record;
          if (!this.finished) await spool.update(job.record);
        }
        job.state = 'waiting';
        this.changed();
      },
      wait: (ms) => {
        if (job.removed) return Promise.reject(deletedError(job.record));
        const soon = job.retrySoon;
        job.retrySoon = false;
        return this.courier.backoff
          .wait(soon ? 0 : ms, (wake) => (job.wake = wake))
          .then(
            () => {
              job.wake = undefined;
              if (job.removed) throw deletedError(job.record);
              job.state = 'sending';
              this.changed();
            },
            () => {
              job.wake = undefined;
              throw deferred();
            },
          );
      },
    };
    let outcome: Outcome;
    try {
      const info = await this.courier.attempts(plan, job.customFrom, (waiting) => job.live?.onRetry?.(waiting));
      // Deleted before anything else happens: a restart from here on never sends it again.
      if (!job.unspooled) await this.forget(job);
      info.messageId = job.record.messageId;
      outcome = { info };
    } catch (e) {
      close();
      if (isDeferred(e)) return this.defer(job);
      if (!job.unspooled) await this.forget(job);
      outcome = { error: e as SendError };
    }
    this.end(job, outcome);
  }

  /** Deletes a mail from the disk; a disk that refuses is reported, as the mail may be sent again after a restart. */
  private async forget(job: Job) {
    try {
      await this.spool!.remove(job.record.id);
    } catch (e) {
      this.options.report?.(job.record, { error: Object.assign(writeFailed(e), { attempts: job.record.attempts }) });
    }
  }

  private end(job: Job, outcome: Outcome) {
    job.state = 'ended';
    this.jobs.delete(job.record.id);
    const live = job.live;
    job.live = undefined;
    if (!live) this.count(job, -1);
    this.changed();
    if (live) {
      if ('info' in outcome) live.resolve(outcome.info);
      else live.reject(outcome.error);
    } else {
      this.options.report?.(job.record, outcome);
    }
  }

  /** The msg ends now (accepted); the mail stays in the outbox, its outcome reported later. */
  private defer(job: Job) {
    this.unqueue(job);
    const live = job.live;
    if (!live) return;
    job.live = undefined;
    this.count(job, 1);
    live.reject(deferred());
    this.changed();
  }

  private count(job: Job, delta: number) {
    const node = job.record.node ?? '';
    const n = (this.unclaimed.get(node) ?? 0) + delta;
    if (n > 0) this.unclaimed.set(node, n);
    else this.unclaimed.delete(node);
  }

  /**
   * A send node closes (a redeploy of that node alone): its msgs that wait for their turn or for
   * a retry end now, accepted; the mails stay queued and their outcome goes to the node that
   * has its id by then.
   */
  release(node: string): void {
    for (const job of this.jobs.values()) {
      if (job.live?.node === node && (job.state === 'ready' || job.state === 'waiting')) this.defer(job);
    }
  }

  /** Stops sending: mails that wait stay in the outbox, and their msgs end now (accepted). */
  close(): void {
    this.closing = true;
    for (const job of this.ready.splice(0)) {
      job.state = 'held';
      this.defer(job);
    }
  }

  /** After the connection closed: from now on another instance owns the files. */
  finish(): void {
    this.finished = true;
  }

  /** Mails waiting for their turn under the rate limit. */
  get waiting(): number {
    return this.ready.length;
  }

  /** Mails in the outbox whose msg no longer waits for them, of one send node. */
  countFor(node: string): number {
    return this.unclaimed.get(node) ?? 0;
  }

  list(): OutboxEntry[] {
    return (this.spool?.list() ?? []).map((r) => {
      const entry: OutboxEntry = {
        id: r.id,
        created: r.created,
        to: r.summary.to,
        subject: r.summary.subject,
        size: r.size,
        attempts: r.attempts,
      };
      if (r.nextAttemptAt !== undefined) entry.nextAttemptAt = r.nextAttemptAt;
      // Counts, not addresses: the recipients still owed may include Bcc ones, which the list never shows.
      if (r.progress) entry.delivered = { count: r.progress.accepted.length, of: r.progress.to.length };
      if (r.lastError) {
        const { message, code, responseCode, hint, messageKey, params, hintKey, hintParams } = r.lastError;
        entry.lastError = { message, code, responseCode, hint, messageKey, params, hintKey, hintParams };
      }
      return entry;
    });
  }

  async retryNow(id?: string): Promise<number> {
    let n = 0;
    for (const job of this.select(id)) {
      if ((job.state === 'waiting' || job.state === 'due') && job.wake) {
        job.wake();
        n++;
      } else if (job.state === 'sending') {
        // Between a failed attempt and its wait (the record being written): skip that wait.
        job.retrySoon = true;
        n++;
      }
    }
    return n;
  }

  async remove(id?: string): Promise<number> {
    let n = 0;
    for (const job of this.select(id)) {
      if (job.state === 'ended' || job.removed) continue;
      job.removed = true;
      n++;
      // An attempt under way ends it: sent if the server accepts it, else deleted instead of waiting again.
      if (job.state === 'sending') continue;
      await this.forget(job);
      if (job.state === 'waiting') {
        // It waits for a retry inside its send: waking it ends that send with the deletion.
        job.wake?.();
        continue;
      }
      if (job.state === 'ready') {
        this.ready.splice(this.ready.indexOf(job), 1);
        this.unqueue(job);
      }
      job.wake?.();
      this.end(job, { error: deletedError(job.record) });
    }
    this.changed();
    return n;
  }

  private select(id?: string): Job[] {
    const all = [...this.jobs.values()].sort(byId);
    return id === undefined ? all : all.filter((j) => j.record.id === id);
  }

  private changed() {
    this.options.onChange?.();
  }
}

const byId = (a: Job, b: Job) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0);

/** The folder of the outboxes in Node-RED's user directory. */
export const OUTBOX_ROOT = 'smtp-outbox';

/** A connection's folder: its id where that is a plain name, else a hash of it (a flow file can hold any id). */
export function outboxFolder(id: string): string {
  return /^[A-Za-z0-9_-]{1,100}$/.test(id) ? id : `id-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/** Outbox folders under `root` that hold mails but belong to none of `connections`, with how many mails each holds. */
export async function orphanedOutboxes(root: string, connections: Set<string>): Promise<{ dir: string; count: number }[]> {
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  const known = new Set([...connections].map(outboxFolder));
  const out: { dir: string; count: number }[] = [];
  for (const name of names.sort()) {
    if (known.has(name)) continue;
    const dir = path.join(root, name);
    const files = await fsp.readdir(dir).catch(() => [] as string[]);
    const count = files.filter((f) => f.endsWith('.json')).length;
    if (count) out.push({ dir, count });
  }
  return out;
}
