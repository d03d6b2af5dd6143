import { Readable } from 'node:stream';
import { setMaxListeners } from 'node:events';
import { ECONNECTION } from 'nodemailer/lib/errors';
import type Mail from 'nodemailer/lib/mailer';
import type { AuthType } from '../../shared/constants';
import { ErrorCodes, messageOf, setHint, setMessage, textError, type MailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { isTransient, type RetryableError } from '../errors/transient';
import { composeStream, fixMessageId } from '../message/compose';
import type { MessageSigning } from '../message/dkim-signing';
import type { Outgoing, Transport } from '../transports/transport';
import { shownRecipients, visibleAddresses } from './privacy';
import type { RateLimiter } from './rate-limiter';
import { Recipients } from './recipients';
import { Backoff, backoffDelay } from './retry';
import { nextId, storableMsg } from './spool';
import type { Found, MailRecord, Store } from './store';
import { deletedError, describeError, ending, failure, outOfTime, owing, seconds, waitingWarning } from './verdicts';
import {
  entryOf,
  type HandedOver,
  type Origin,
  type Outcome,
  type OutboxEntry,
  type SendError,
  type SentInfo,
  type Watch,
} from './outcome';
import type { MailQueue } from './mail-queue';

export interface QueueOptions {
  /** How long a mail is retried, in ms, from its first attempt; 0: never. */
  retryMs: number;
  backoff: Backoff;
  limiter?: RateLimiter;
  /** For the hints of a failure. */
  authType?: AuthType;
  /** The outcome of a mail whose msg is no longer waiting for it. */
  report?(record: MailRecord, outcome: Outcome): void;
  /** Says something about a mail that no msg's outcome carries (why it waits, an attempt abandoned at close). */
  warn?(record: MailRecord, warning: Text): void;
  /** Called when mails are added, sent, start or stop waiting, or removed. */
  onChange?(): void;
  /** How each message is DKIM-signed as it is built (once: every attempt sends the same bytes). */
  signing?(): Promise<MessageSigning>;
}

/**
 * held: found at start, not yet resumed; due: resumed, waits for the next attempt an earlier run
 * set; ready: waits for its turn; sending: an attempt is under way; waiting: waits for a retry.
 */
type State = 'held' | 'due' | 'ready' | 'sending' | 'waiting' | 'ended';

interface Live extends Watch {
  node?: string;
  resolve(value: SentInfo | HandedOver): void;
  reject(err: Error): void;
}

interface Job {
  record: MailRecord;
  state: State;
  /** In the store. A mail sent at once is stored only when it has to wait (or the queue closes). */
  stored: boolean;
  /** The built message in memory: a mail not yet stored, or a small one's copy for its first attempt. */
  body?: Buffer;
  /** The msg of a mail not yet stored, made storable only if it has to wait: most never do, and copying costs. */
  msg?: Record<string, unknown>;
  live?: Live;
  /** Told its send node that it waits for its turn. */
  queued?: boolean;
  /** Ends its backoff wait at once. */
  wake?: () => void;
  /** Retry now came while an attempt was under way: its next wait is skipped. */
  retrySoon?: boolean;
  removed?: boolean;
  /** Said why it waits (once per mail). */
  warned?: boolean;
  recipients: Recipients;
}

/** Largest message whose copy is kept in memory for its first attempt. */
const COPY_LIMIT = 256 * 1024;
/** Largest content (before encoding) of a mail sent at once from memory; a larger one goes through the store first. */
const EXPRESS_LIMIT = 1024 * 1024;
export const DEFAULT_OUTBOX_COUNT = 10000;

/** The size of a message's content before encoding: texts and attachments given as Buffers or strings. */
function estimatedSize(message: Mail.Options): number {
  const length = (v: unknown) => (typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 0);
  let n = length(message.html) + length(message.text);
  for (const a of message.attachments || []) n += length(a.content) + length(a.raw);
  return n;
}

async function collect(stream: Readable, onChunk?: (chunk: Buffer) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    onChunk?.(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Collects a small message as it is written to the store, so that its first attempt needs no read back. */
class Copy {
  private chunks: Buffer[] = [];
  private size = 0;

  add = (chunk: Buffer) => {
    this.size += chunk.length;
    if (this.size <= COPY_LIMIT) this.chunks.push(chunk);
    else this.chunks.length = 0;
  };

  take(): Buffer | undefined {
    return this.size <= COPY_LIMIT ? Buffer.concat(this.chunks, this.size) : undefined;
  }
}

const byId = (a: Job, b: Job) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0);

/**
 * A connection's delivery queue: it owns every mail it accepted until the mail ends in exactly one
 * of delivered, failed (reported), or deleted by a user, or until it hands the mail over on close.
 * It holds the one retry loop (order, rate-limit turns, backoff, per-recipient progress, Retry for,
 * Retry now, Delete) and hands attempts to its transport, which makes one at a time per mail and
 * never decides when to try again (Postfix's qmgr and its delivery agents). Mails wait in its store.
 *
 * A mail that can go at once (nothing older waits, the rate limit has a turn free, the transport
 * is not crowded) goes from memory and is stored only when it has to wait: writing every mail cost
 * half to two thirds of the throughput. A closing queue starts no attempt, lets those under way end
 * within its grace period, abandons the rest (the server's answer unknown: the mail is kept for a
 * resend with the same Message-ID), stores every mail it still holds, and only then releases the
 * store to the next queue.
 */
export class DeliveryQueue implements MailQueue {
  private readonly jobs = new Map<string, Job>();
  /** Jobs waiting for their turn, oldest first. */
  private readonly ready: Job[] = [];
  private pumping = false;
  /** The pump waits for the rate limit: every job in `ready` waits. */
  private waitingForTurn = false;
  private opened?: Promise<Found>;
  private foundAtOpen?: Found;
  private resumed = false;
  private closing = false;
  /** Aborts every attempt under way once a closing queue cannot wait for them any longer (one signal for all of them). */
  private readonly abandoning = new AbortController();
  /** Accepts and attempts under way: closing waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Mails whose msg no longer waits for them, by send node. */
  private readonly unclaimed = new Map<string, number>();
  /** Mails being written, by id: under a rate limit, younger mails wait for them (`holds`). */
  private readonly writing = new Map<string, { holds: boolean; done: Promise<void> }>();
  /** Resolves once every holding write accepted so far is done. */
  private holdingWritten: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly transport: Transport,
    private readonly options: QueueOptions,
  ) {
    // Every attempt under way listens to it: as many as the pool has connections, beyond Node's default warning at 10.
    setMaxListeners(0, this.abandoning.signal);
  }

  private get backoff(): Backoff {
    return this.options.backoff;
  }

  /** Takes the store over (once the queue before released it) and holds what an earlier run left there. */
  open(): Promise<Found> {
    this.opened ??= this.store.open().then(
      (found) => {
        this.foundAtOpen = found;
        for (const record of found.pending) {
          if (this.jobs.has(record.id)) continue;
          const job: Job = { record, state: 'held', stored: true, recipients: new Recipients(record.progress) };
          this.jobs.set(record.id, job);
          this.count(job, 1);
        }
        if (this.resumed) this.dispatchHeld();
        this.changed();
        return found;
      },
      (e) => {
        this.opened = undefined;
        throw e;
      },
    );
    return this.opened;
  }

  /** What opening found: damaged records set aside, temporary files deleted, names skipped. */
  get found(): Found | undefined {
    return this.foundAtOpen;
  }

  /** Sends what an earlier run left in the store, oldest first (once the flows have started). */
  resume(): void {
    if (this.resumed) return;
    this.resumed = true;
    if (this.foundAtOpen) this.dispatchHeld();
  }

  private dispatchHeld() {
    for (const job of [...this.jobs.values()].filter((j) => j.state === 'held').sort(byId)) {
      // A record's next attempt lies at most one retry window ahead; a later one was not written by us.
      const wait = Math.min((job.record.nextAttemptAt ?? 0) - this.backoff.now(), this.options.retryMs);
      if (wait > 0) void this.waitThenEnqueue(job, wait);
      else this.enqueue(job);
    }
  }

  /** A mail resumed before its next attempt is due waits for it first (Retry now ends the wait). */
  private async waitThenEnqueue(job: Job, ms: number) {
    job.state = 'due';
    try {
      await this.backoff.wait(ms, (wake) => (job.wake = wake));
    } catch {
      return; // closed: it stays in the store
    } finally {
      job.wake = undefined;
    }
    if (!job.removed && !this.closing) this.enqueue(job);
  }

  /**
   * Accepts a mail: builds it once (downloading URL attachments as it is stored), stores it unless it
   * can go at once, and delivers it. Resolves with the server's answer, or with HandedOver when the
   * msg ends before the mail does; rejects with the failure, with EOUTBOX when the store cannot take
   * it (the mail was not accepted).
   */
  accept(message: Mail.Options, customFrom: boolean, watch: Watch = {}, origin?: Origin): Promise<SentInfo | HandedOver> {
    // The place in the queue is the order of arrival, taken before anything asynchronous.
    const id = nextId();
    // A mail whose attachment is still downloading does not hold the mails that arrived after it.
    const holds = !(message.attachments || []).some((a) => a.content instanceof Readable);
    let written!: () => void;
    const done = new Promise<void>((resolve) => (written = resolve));
    this.writing.set(id, { holds, done });
    const earlier = this.holdingWritten;
    if (holds) this.holdingWritten = earlier.then(() => done);
    const stored = () => {
      this.writing.delete(id);
      written();
    };
    return this.track(this.admit(id, holds, message, customFrom, { node: origin?.node, ...watch }, origin, stored, earlier));
  }

  private async admit(
    id: string,
    holds: boolean,
    message: Mail.Options,
    customFrom: boolean,
    watch: Watch & { node?: string },
    origin: Origin | undefined,
    stored: () => void,
    earlier: Promise<void>,
  ): Promise<SentInfo | HandedOver> {
    const couldGoAtOnce = () =>
      holds &&
      estimatedSize(message) <= EXPRESS_LIMIT &&
      this.foundAtOpen !== undefined &&
      !this.closing &&
      !this.ready.length &&
      !this.transport.crowded;
    // A mail that could go at once but arrived while an older one is being written waits for that
    // write (it keeps its place behind it) instead of being written too: else each mail arriving
    // during a write was written, held the next ones in its turn, and at 10 in flight 98 % of the
    // mails went through the disk once a few had to. Under a rate limit, whose turns decide, it is
    // written as before.
    // One wait for them all: awaiting each older write in turn cost a burst of n mails n² awaits.
    if (!this.options.limiter && couldGoAtOnce() && this.holdingWrite(id)) await earlier;
    const express = couldGoAtOnce() && !this.holdingWrite(id) && (this.options.limiter ? this.options.limiter.tryAcquire() : true);
    try {
      if (!express) await this.open().catch((e: MailError) => Promise.reject(Object.assign(e, { attempts: 0 })));
    } catch (e) {
      stored();
      throw e;
    }
    fixMessageId(message);
    const fields = {
      messageId: '',
      envelope: { from: '', to: [] as string[] },
      summary: { to: shownRecipients(message), subject: String(message.subject ?? '') },
      shown: visibleAddresses(message),
      attempts: 0,
      customFrom,
      node: origin?.node,
    };
    let record: MailRecord;
    let body: Buffer | undefined;
    try {
      const built = await composeStream(message, await this.options.signing?.());
      Object.assign(fields, { messageId: built.messageId, envelope: built.envelope });
      if (express || (!this.store.durable && holds)) {
        body = await collect(built.message);
        if (express) {
          record = { id, created: Date.now(), size: body.length, ...fields };
        } else {
          record = await this.store.add(fields, body, { id });
          body = undefined;
        }
      } else {
        // A stored message streams (from its downloads in memory, from its file on disk); a small one
        // written to disk keeps a copy for its first attempt.
        const copy = this.store.durable ? new Copy() : undefined;
        const msg = this.store.durable && origin ? storableMsg(origin.msg) : undefined;
        record = await this.store.add({ ...fields, msg }, built.message, { id, onChunk: copy?.add });
        body = copy?.take();
      }
    } catch (e) {
      const err = e as MailError;
      throw err.code === ErrorCodes.EOUTBOX ? Object.assign(err, { attempts: 0 }) : this.rejected(err, customFrom);
    } finally {
      // Written (or not): younger mails no longer wait for it (olderWrite).
      stored();
    }
    return new Promise<SentInfo | HandedOver>((resolve, reject) => {
      const job: Job = {
        record,
        state: 'ready',
        stored: !express,
        body,
        msg: express ? origin?.msg : undefined,
        live: { ...watch, resolve, reject },
        recipients: new Recipients(),
      };
      this.jobs.set(id, job);
      if (this.closing) return void this.track(this.notAttempted(job));
      if (express) return this.start(job);
      this.enqueue(job);
    });
  }

  /** The write of a mail that arrived before `id` and holds it, if any. */
  private holdingWrite(id: string): Promise<void> | undefined {
    for (const [other, w] of this.writing) if (w.holds && other < id) return w.done;
    return undefined;
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
    // Waiting mails of a durable store live there only: memory does not grow with the queue.
    if (job.stored && this.store.durable) job.body = undefined;
    job.live?.onQueue?.(true);
  }

  private unqueue(job: Job) {
    if (!job.queued) return;
    job.queued = false;
    job.live?.onQueue?.(false);
  }

  /** Hands the oldest waiting mail to the transport whenever the rate limit lets one go. */
  private async pump() {
    if (this.pumping) return;
    this.pumping = true;
    const limiter = this.options.limiter;
    try {
      while (this.ready.length && !this.closing) {
        if (limiter) {
          await limiter.acquire(() => {
            this.waitingForTurn = true;
            for (const job of this.ready) this.markQueued(job);
          });
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
      // The rate limiter was closed with the queue; close() took the waiting mails.
    } finally {
      this.pumping = false;
      this.waitingForTurn = false;
    }
  }

  /** A write that the oldest waiting mail should wait for, if any. */
  private olderWrite(): Promise<void> | undefined {
    const head = this.ready[0];
    return head && this.holdingWrite(head.record.id);
  }

  private start(job: Job) {
    this.unqueue(job);
    job.state = 'sending';
    this.changed();
    // run() settles every mail itself; a throw there would be a bug, reported as the mail's failure.
    this.track(this.run(job).catch((e: MailError) => this.finish(job, { error: Object.assign(e, { attempts: job.record.attempts }) })));
  }

  /** One attempt's message: the same bytes and Message-ID on every attempt, to the recipients still owed. */
  private outgoing(job: Job): Outgoing {
    const { record } = job;
    return {
      envelope: job.recipients.narrow(record.envelope),
      messageId: record.messageId,
      open: () => {
        const body = job.body;
        // A stored mail's copy serves its first attempt only; later ones read the store afresh.
        if (body && job.stored) job.body = undefined;
        return body ?? this.store.body(record.id);
      },
    };
  }

  /**
   * The attempts of one mail, until it is accepted, fails for good, is deleted, or is handed over.
   * An attempt the server accepted for some recipients while it deferred others (a 4xx to RCPT TO:
   * greylisting, a full mailbox) is a transient failure for the deferred ones: the next attempts
   * send the same message to them only, as a mail server keeps deferred recipients queued.
   */
  private async run(job: Job): Promise<void> {
    const started = job.record.firstAttemptAt ?? this.backoff.now();
    const { recipients } = job;
    for (let attempts = job.record.attempts + 1; ; attempts++) {
      job.state = 'sending';
      let err: RetryableError;
      try {
        const info = await this.transport.send(this.outgoing(job), this.abandoning.signal);
        const deferred = recipients.sent(info);
        if (!deferred) return await this.delivered(job, recipients.result(attempts));
        err = deferred;
      } catch (e) {
        if (this.abandoning.signal.aborted) return await this.abandon(job, attempts, started);
        err = e as RetryableError;
        // The last recipients owed were refused for good, and others have the mail: it is done.
        if (recipients.failed(err) && recipients.delivered) return await this.delivered(job, recipients.result(attempts));
      }
      if (this.closing && this.store.durable && this.options.retryMs && isTransient(err)) {
        // Redeploy or stop: a stored mail is not failed for that; the next queue sends it.
        try {
          await this.keep(job, this.afterAttempt(job, err, attempts, started));
        } catch (e) {
          return this.finish(job, { error: this.cannotWait(e as MailError, err, attempts) });
        }
        return this.handOver(job);
      }
      const why = this.whyNotRetry(err, attempts, started, job);
      if (why !== undefined) return this.end(job, err, attempts, why ?? undefined);
      if (job.removed) return this.deleted(job, err, attempts);
      // The transport made room at once (the pool follows the server's limit): no backoff.
      if (err.retryAtOnce) continue;
      const left = started + this.options.retryMs - this.backoff.now();
      if ((err.retryAfterMs ?? 0) > left)
        return this.end(
          job,
          err,
          attempts,
          text('errors.retry.gaveUpAsked', { count: attempts, seconds: seconds(this.backoff.now() - started) }),
        );
      // The last attempt comes at the deadline, not after it.
      const wait = Math.min(backoffDelay(attempts, this.backoff.timing, err.retryAfterMs), left);
      const until = this.backoff.now() + wait;
      // Recorded first, with the recipients still owed, so that a crash during the wait keeps it.
      try {
        await this.keep(job, this.afterAttempt(job, err, attempts, started, until));
      } catch (e) {
        return this.finish(job, { error: this.cannotWait(e as MailError, err, attempts) });
      }
      this.sayWhy(job, started + this.options.retryMs);
      job.live?.onRetry?.(true, { attempts, code: err.code });
      try {
        await this.wait(job, wait);
      } catch {
        // Closed while it waited: a stored mail stays for the next queue, one in memory ends now.
        if (this.store.durable) return this.handOver(job);
        return this.end(job, err, attempts, text('errors.retry.closed', { count: attempts }));
      } finally {
        job.live?.onRetry?.(false);
      }
      if (job.removed) return this.deleted(job, err, attempts);
      this.changed();
    }
  }

  /** A mail deleted in the Outbox tab: it ends, delivered to those that have it if any, else failed as deleted. */
  private deleted(job: Job, err: RetryableError, attempts: number): Promise<void> {
    if (job.recipients.delivered) return this.end(job, err, attempts, text('errors.retry.deleted'));
    return this.finishStored(job, { error: deletedError(attempts) });
  }

  /** A mail that cannot wait, as the store refused it: saying what the server answered. */
  private cannotWait(refusal: MailError, last: RetryableError, attempts: number): SendError {
    const err = setMessage(refusal, text('errors.outbox.cannotWait', { error: messageOf(refusal), last: messageOf(last) }));
    return Object.assign(err, { attempts });
  }

  /** The wait before the next attempt: ends at once on Retry now, and with an error when the queue closes. */
  private async wait(job: Job, ms: number): Promise<void> {
    job.state = 'waiting';
    this.changed();
    const soon = job.retrySoon || job.removed;
    job.retrySoon = false;
    try {
      await this.backoff.wait(soon ? 0 : ms, (wake) => (job.wake = wake));
    } finally {
      job.wake = undefined;
    }
  }

  /**
   * Why a failed attempt is the last one: a reason to add to its message, null when the error
   * speaks for itself (not retryable, or retries off), undefined when the mail goes on.
   */
  private whyNotRetry(err: RetryableError, attempts: number, started: number, job: Job): Text | null | undefined {
    if (!this.options.retryMs || !isTransient(err)) return null;
    if (this.closing) return text('errors.retry.closed', { count: attempts });
    if (!this.store.reusable(job.record.id) && !job.body) return text('errors.retry.streamed');
    return outOfTime(err, attempts, this.backoff.now() - started, this.options);
  }

  /** What a failed attempt changes in a mail's record: with the recipients still owed, its error and its next attempt. */
  private afterAttempt(job: Job, err: RetryableError, attempts: number, started: number, nextAttemptAt?: number): MailRecord {
    const record: MailRecord = {
      ...owing(job.record, job.recipients.state),
      attempts,
      firstAttemptAt: started,
      lastError: describeError(err, job.record, this.options),
    };
    if (nextAttemptAt === undefined) delete record.nextAttemptAt;
    else record.nextAttemptAt = nextAttemptAt;
    return record;
  }

  /**
   * Keeps a mail that waits (for a retry, or for the next queue) with its record as it is now: a
   * mail sent at once goes into the store only here. A store that refuses rejects (EOUTBOX).
   */
  private async keep(job: Job, record: MailRecord = job.record) {
    if (job.stored) {
      job.record = record;
      return this.store.update(record);
    }
    const { id, created, size: _size, ...fields } = record;
    if (job.msg) fields.msg = storableMsg(job.msg);
    job.record = await this.store.add(fields, job.body!, { id, now: created });
    job.stored = true;
    job.msg = undefined;
    if (this.store.durable) job.body = undefined;
  }

  /** On the first wait of a mail: why it waits, with the hint, and until when it is retried (once per mail). */
  private sayWhy(job: Job, until: number) {
    if (job.warned) return;
    job.warned = true;
    this.options.warn?.(job.record, waitingWarning(job.record, until));
  }

  /** The error of a mail that failed before its first attempt (the message could not be built). */
  rejected(err: MailError, customFrom: boolean): SendError {
    return failure(err as RetryableError, 0, customFrom, this.options);
  }

  /** The end of a mail that is not retried (any more): see ending(). */
  private end(job: Job, err: RetryableError, attempts: number, why?: Text): Promise<void> {
    const outcome = ending(job.recipients, err, attempts, job.record.customFrom, this.options, why);
    return 'info' in outcome ? this.delivered(job, outcome.info) : this.finishStored(job, outcome);
  }

  private delivered(job: Job, info: SentInfo): Promise<void> {
    info.messageId = job.record.messageId;
    return this.finishStored(job, { info });
  }

  /** Deletes a mail from the store before its outcome is reported: a restart from then on never sends it again. */
  private async finishStored(job: Job, outcome: Outcome): Promise<void> {
    if (job.stored) {
      try {
        await this.store.remove(job.record.id);
      } catch (e) {
        // The mail may be sent again after a restart: said, and the outcome reported all the same.
        this.options.report?.(job.record, { error: Object.assign(e as SendError, { attempts: job.record.attempts }) });
      }
    }
    this.finish(job, outcome);
  }

  private finish(job: Job, outcome: Outcome) {
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

  /**
   * An attempt the closing queue could not wait for any longer: whether the server accepted the mail
   * is unknown. A durable store keeps it for a resend with the same Message-ID (a receiving side
   * may recognise the duplicate); in memory it fails, saying so.
   */
  private async abandon(job: Job, attempts: number, started: number) {
    const err: RetryableError = setHint(textError(text('errors.queue.abandoned')), text('hints.queue.abandoned'));
    err.code = ECONNECTION;
    if (!this.store.durable) return this.finishStored(job, { error: failure(err, attempts, job.record.customFrom, this.options) });
    try {
      await this.keep(job, this.afterAttempt(job, err, attempts, started));
    } catch (e) {
      return this.finish(job, { error: Object.assign(e as SendError, { attempts }) });
    }
    this.options.warn?.(job.record, text('warnings.abandoned', { subject: job.record.summary.subject, messageId: job.record.messageId }));
    this.handOver(job);
  }

  /** The msg ends now, its mail kept in the store: the outcome is reported later, with the record. */
  private handOver(job: Job) {
    this.unqueue(job);
    const live = job.live;
    if (!live) return;
    job.live = undefined;
    this.count(job, 1);
    live.resolve({ handedOver: true });
    this.changed();
  }

  /** A mail the closing queue never attempted: kept for the next queue (stored first, if sent at once), or failed in memory. */
  private async notAttempted(job: Job): Promise<void> {
    if (this.store.durable) {
      try {
        await this.keep(job);
      } catch (e) {
        return this.finish(job, { error: Object.assign(e as SendError, { attempts: 0 }) });
      }
      return this.handOver(job);
    }
    const err = setHint(textError(text('errors.connection.closedBeforeTurn')), text('hints.connection.closedBeforeTurn')) as SendError;
    err.code = ECONNECTION;
    err.attempts = 0;
    return this.finishStored(job, { error: err });
  }

  private count(job: Job, delta: number) {
    const node = job.record.node ?? '';
    const n = (this.unclaimed.get(node) ?? 0) + delta;
    if (n > 0) this.unclaimed.set(node, n);
    else this.unclaimed.delete(node);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const forget = () => this.inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /**
   * A send node closes (a redeploy of that node alone): its msgs whose mails wait for their turn or
   * a retry end now, handed over; the mails stay queued and their outcome goes to the node that has
   * its id by then.
   */
  release(node: string): void {
    if (!this.store.durable) return;
    for (const job of this.jobs.values()) {
      if (job.live?.node === node && (job.state === 'ready' || job.state === 'waiting')) this.handOver(job);
    }
  }

  /**
   * Stops: no attempt starts any more; attempts under way get `graceMs` to end, then are abandoned;
   * every mail still held is stored (durable) or failed (memory); then the store goes to the next
   * queue. Resolves once all of that is done.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    // The pump stops waiting for a turn; the mails it waited for are taken below.
    this.options.limiter?.close(new Error('closed'));
    for (const job of this.ready.splice(0)) {
      job.state = 'held';
      this.track(this.notAttempted(job));
    }
    // Mails waiting for their next attempt stop waiting: stored ones stay for the next queue.
    this.backoff.close(new Error('closed'));
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
      clearTimeout(timer);
      this.abandoning.abort();
      // Aborted attempts end at once; what they keep is written before the store is released.
      await Promise.allSettled([...this.inFlight]);
    }
    this.store.release();
  }

  /** Mails waiting for their turn under the rate limit. */
  get waiting(): number {
    return this.ready.length;
  }

  /** Mails waiting for their next attempt after a transient failure. */
  get retrying(): number {
    let n = 0;
    for (const job of this.jobs.values()) if (job.state === 'waiting') n++;
    return n;
  }

  /** Mails in the store whose msg no longer waits for them, of one send node. */
  countFor(node: string): number {
    return this.unclaimed.get(node) ?? 0;
  }

  list(): OutboxEntry[] {
    return this.store.list().map(entryOf);
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
      // An attempt under way, or a wait inside the retry loop: the loop ends it (sent if the server accepts it).
      if (job.state === 'sending') continue;
      if (job.state === 'waiting') {
        job.wake?.();
        continue;
      }
      if (job.state === 'ready') {
        this.ready.splice(this.ready.indexOf(job), 1);
        this.unqueue(job);
      }
      job.wake?.();
      await this.finishStored(job, { error: deletedError(job.record.attempts) });
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
