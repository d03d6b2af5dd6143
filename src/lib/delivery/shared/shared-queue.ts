import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { ConnectionOptions, Job, Queue, Worker } from 'bullmq';
import type Mail from 'nodemailer/lib/mailer';
import { ECONNECTION } from 'nodemailer/lib/errors';
import { ErrorCodes, mailError, setHint, textError, type MailError } from '../../errors/errors';
import { text, type Text } from '../../errors/texts';
import { isTooManyConnections, type RetryableError } from '../../errors/transient';
import { composeBuffer, fixMessageId } from '../../message/compose';
import type { MessageSigning } from '../../message/dkim-signing';
import type { Transport } from '../../transports/transport';
import type { MailQueue } from '../mail-queue';
import {
  entryOf,
  type HandedOver,
  type Origin,
  type Outcome,
  type OutboxEntry,
  type SendError,
  type SentInfo,
  type Watch,
} from '../outcome';
import { shownRecipients, visibleAddresses } from '../privacy';
import { Recipients } from '../recipients';
import { backoffDelay, type RetryTiming } from '../retry';
import { storableMsg } from '../spool';
import type { MailRecord } from '../store';
import { deletedError, describeError, ending, failure, outOfTime, owing, seconds, waitingWarning, type Policy } from '../verdicts';
import { PREFIX, sharedKeys, unreachable, type RedisLink } from './redis';

export interface SharedQueueOptions extends Policy {
  /** The queue's name: the connection's node id, the same in every copy of the flows. */
  name: string;
  /** Bytes of built messages the queue may hold in Redis, across every instance. */
  maxBytes: number;
  /**
   * Attempts under way at once across every instance (BullMQ's global concurrency): the pool size,
   * as many as there are SMTP sessions (SessionLeases) or Graph requests at once.
   */
  sessions: number;
  /** One mail every windowMs / limit, across every instance. */
  rate?: { limit: number; windowMs: number };
  timing: RetryTiming;
  /** How long a job stays locked to an instance that stopped renewing it (BullMQ's lockDuration); tests shorten it. */
  lockMs?: number;
  report?(record: MailRecord, outcome: Outcome): void;
  warn?(record: MailRecord, warning: Text): void;
  onChange?(): void;
  onError?(err: Error): void;
  /** How each message is DKIM-signed as it is built (once: every attempt, on any instance, sends the same bytes). */
  signing?(): Promise<MessageSigning>;
}

/** A job: the record (never a credential) and the instance whose msg waits for it. */
interface JobData {
  record: MailRecord;
  /** The token of the instance whose msg waits; that instance may be gone. */
  waiter?: string;
}

interface Waiter extends Watch {
  record: MailRecord;
  resolve(value: SentInfo | HandedOver): void;
  reject(err: Error): void;
  retrying?: boolean;
}

/** What one instance tells another over Redis about a mail whose msg waits there. */
type Note = { id: string; outcome: WireOutcome } | { id: string; retry: { attempts: number; code?: string } };
/** An outcome as JSON carries it: an error's message is not one of its enumerable properties. */
type WireOutcome = { info: SentInfo } | { error: Record<string, unknown> & { message: string } };

const toWire = (o: Outcome): WireOutcome => ('info' in o ? o : { error: { ...o.error, message: o.error.message } });
const fromWire = (w: WireOutcome): Outcome =>
  'info' in w ? w : { error: Object.assign(new Error(w.error.message), w.error) as unknown as SendError };

/** BullMQ's job ids may not hold a colon; a Message-ID may. */
const jobIdOf = (messageId: string) => messageId.replace(/^<|>$/g, '').replace(/%/g, '%25').replace(/:/g, '%3A');

/**
 * BullMQ's own retries, for an attempt that threw because Redis went away mid-way (the mail's
 * attempts and backoff are ours, through delayed jobs): without them a failed job would be removed.
 */
const INFRASTRUCTURE_RETRIES = { attempts: 1000, backoff: { type: 'fixed', delay: 5000 } };
/** How often an instance whose flows started while Redis was away asks again. */
const START_RETRY_MS = 5000;
/** A Delete of a mail under way is noted for its attempt to see when it ends; the note outlives any attempt. */
const REMOVED_MS = 60 * 60 * 1000;
/** How long a limit the server forced holds before the pool size is tried again (as SmtpTransport's POOL_REGROW_MS). */
const LIMIT_MS = 10 * 60 * 1000;

// KEYS: message, bytes; ARGV: message, size, cap. The message is kept and counted against the cap in one step.
const ADD = `
if redis.call('exists', KEYS[1]) == 1 then return -1 end
local total = redis.call('incrby', KEYS[2], ARGV[2])
if total > tonumber(ARGV[3]) then redis.call('decrby', KEYS[2], ARGV[2]) return -2 - (total - ARGV[2]) end
redis.call('set', KEYS[1], ARGV[1])
return total`;
// KEYS: message, bytes; ARGV: size. The message goes, once.
const DONE = `if redis.call('del', KEYS[1]) == 1 then redis.call('decrby', KEYS[2], ARGV[1]) return 1 end return 0`;

/**
 * A connection's queue on Redis, shared by every Node-RED instance that runs the connection (the
 * same node id): one BullMQ queue, whose job is the mail's record and whose id is its Message-ID;
 * the built message beside it under its own key. Every instance runs a worker, so any instance
 * makes any attempt; the pool size bounds the sessions (leases, for SMTP) and the rate limit is its global
 * limiter, so all instances together keep a mailbox's limits. A failed attempt that may be retried
 * makes the job a delayed one until its next attempt (the same backoff as DeliveryQueue's).
 *
 * A msg waits in the instance that received it. The instance that ends the mail tells it the
 * outcome over Redis pub/sub; PUBLISH counts its listeners, so when that instance is gone the one
 * that ended the mail reports the outcome itself (as DeliveryQueue reports a resumed mail). A mail
 * is delivered at least once: an instance that dies mid-attempt leaves its job locked until the
 * lock expires, and another instance sends it again, with the same Message-ID.
 */
export class SharedQueue implements MailQueue {
  private readonly token = randomUUID();
  private readonly keys: ReturnType<typeof sharedKeys>;
  private readonly waiters = new Map<string, Waiter>();
  /** Mails whose msg was handed over while the outcome may still come here. */
  private readonly handedOver = new Map<string, MailRecord>();
  private queue?: Queue;
  private worker?: Worker;
  private started?: Promise<Queue>;
  private closing = false;
  /** Aborts attempts under way once a closing instance cannot wait for them any longer. */
  private readonly abandoning = new AbortController();
  private regrow?: NodeJS.Timeout;
  private retryStart?: NodeJS.Timeout;
  /** The shared limit this instance last said it lowered to. */
  private saidLimit?: number;

  constructor(
    private readonly link: RedisLink,
    private readonly transport: Transport,
    private readonly options: SharedQueueOptions,
  ) {
    this.keys = sharedKeys(options.name);
    setMaxListeners(0, this.abandoning.signal);
  }

  /** Connects, listens for the outcomes other instances send here, and sets the shared limits; EOUTBOX if Redis does not answer. */
  open(): Promise<Queue> {
    this.started ??= this.start().catch((e: MailError) => {
      this.started = undefined;
      throw e;
    });
    return this.started;
  }

  private async start(): Promise<Queue> {
    const { bull } = this.link;
    const client = await this.link.ready();
    await this.link.run(() => this.link.subscribe(this.keys.notes + this.token, (m) => this.heard(m)));
    const queue = new bull.Queue(this.options.name, { connection: client, prefix: PREFIX });
    queue.on('error', () => {
      /* each refused command is reported where it was made */
    });
    const forced = Number(await this.link.run((r) => r.get(this.keys.limit)));
    await this.link.run(() => queue.setGlobalConcurrency(Math.min(this.options.sessions, forced || Infinity)));
    this.queue = queue;
    return queue;
  }

  /** Starts this instance's worker (once the flows run): from then on it makes attempts for every instance's mails. */
  resume(): void {
    if (this.worker || this.closing) return;
    const { bull } = this.link;
    const { rate, lockMs } = this.options;
    const worker = new bull.Worker<JobData>(this.options.name, (job, token) => this.attempt(job, token), {
      connection: this.link.workerOptions as ConnectionOptions,
      prefix: PREFIX,
      concurrency: this.options.sessions,
      autorun: false,
      // An even pace, as the single-instance RateLimiter: one mail every window / limit.
      limiter: rate ? { max: 1, duration: Math.ceil(rate.windowMs / rate.limit) } : undefined,
      ...(lockMs ? { lockDuration: lockMs, stalledInterval: lockMs } : {}),
      // A job whose instance died (or lost Redis) mid-attempt waits again, however often that happens: never failed for it.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    worker.on('error', () => {
      /* a Redis that is away: the command connection says it once */
    });
    this.worker = worker;
    this.startWorker(worker);
  }

  /** Runs the worker once Redis answers: a Redis away when the flows start (the link says so once) is asked again every START_RETRY_MS. */
  private startWorker(worker: Worker) {
    this.open().then(
      () => {
        if (!this.closing) worker.run().catch(() => {});
      },
      () => {
        if (!this.closing) this.retryStart = setTimeout(() => this.startWorker(worker), START_RETRY_MS);
      },
    );
  }

  async accept(message: Mail.Options, customFrom: boolean, watch: Watch = {}, origin?: Origin): Promise<SentInfo | HandedOver> {
    const queue = await this.open().catch((e: MailError) => Promise.reject(Object.assign(e, { attempts: 0 })));
    fixMessageId(message);
    let record: MailRecord;
    let body: Buffer;
    try {
      const built = await composeBuffer(message, await this.options.signing?.());
      body = built.message;
      record = {
        id: jobIdOf(built.messageId),
        created: Date.now(),
        messageId: built.messageId,
        envelope: built.envelope,
        summary: { to: shownRecipients(message), subject: String(message.subject ?? '') },
        shown: visibleAddresses(message),
        size: body.length,
        attempts: 0,
        customFrom,
        node: origin?.node,
        msg: origin ? storableMsg(origin.msg) : undefined,
      };
    } catch (e) {
      throw failure(e as RetryableError, 0, customFrom, this.options);
    }
    const added = Number(
      await this.link
        .run((r) => r.eval(ADD, 2, this.keys.message + record.id, this.keys.bytes, body, body.length, this.options.maxBytes))
        .catch((e: MailError) => Promise.reject(Object.assign(e, { attempts: 0 }))),
    );
    // The same Message-ID waits already (a msg sent twice): one mail, reported with the first msg.
    if (added === -1) return { handedOver: true };
    if (added < 0) throw this.full(-added - 2);
    return new Promise<SentInfo | HandedOver>((resolve, reject) => {
      this.waiters.set(record.id, { ...watch, record, resolve, reject });
      const data: JobData = { record, waiter: this.token };
      this.link
        .run(() => queue.add('mail', data, { jobId: record.id, removeOnComplete: true, removeOnFail: true, ...INFRASTRUCTURE_RETRIES }))
        .then(() => this.changed())
        .catch(async (e: MailError) => {
          // Not in Redis: not accepted. Its message goes too, if Redis took that.
          this.waiters.delete(record.id);
          await this.dropMessage(record).catch(() => {});
          reject(Object.assign(e, { attempts: 0 }));
        });
    });
  }

  private full(bytes: number): SendError {
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    const err = mailError(
      ErrorCodes.EOUTBOX,
      text('errors.outbox.redisFull', { mb: mb(bytes), maxMb: mb(this.options.maxBytes) }),
      text('hints.outbox.full'),
    );
    return Object.assign(err, { attempts: 0 });
  }

  /**
   * One job's attempts in this instance: the attempt, and either the mail's end or its next
   * attempt as a delayed job (any instance makes it). Several attempts here only when the server
   * made room at once.
   */
  private async attempt(job: Job<JobData>, token?: string): Promise<void> {
    const { record } = job.data;
    const client = this.link.commands;
    const body = await client.getBuffer(this.keys.message + record.id);
    // Ended already: the instance that ended it died before the job did, or it was deleted.
    if (!body) return;
    const started = record.firstAttemptAt ?? Date.now();
    const recipients = new Recipients(record.progress);
    let attempts = record.attempts;
    try {
      for (;;) {
        attempts++;
        let err: RetryableError;
        try {
          const outgoing = { envelope: recipients.narrow(record.envelope), messageId: record.messageId, open: () => body };
          const info = await this.transport.send(outgoing, this.abandoning.signal);
          const deferred = recipients.sent(info);
          if (!deferred) return await this.end(job, { info: { ...recipients.result(attempts), messageId: record.messageId } });
          err = deferred;
        } catch (e) {
          if (this.abandoning.signal.aborted) return await this.later(job, token, this.abandoned(), attempts, started, recipients, 0);
          err = e as RetryableError;
          if (recipients.failed(err) && recipients.delivered)
            return await this.end(job, { info: { ...recipients.result(attempts), messageId: record.messageId } });
        }
        if (isTooManyConnections(err)) await this.lowerLimit(err);
        const removed = await client.exists(this.keys.removed + record.id);
        let why = outOfTime(err, attempts, Date.now() - started, this.options);
        if (why === undefined && removed) {
          if (!recipients.delivered) return await this.end(job, { error: deletedError(attempts) });
          why = text('errors.retry.deleted');
        }
        if (why !== undefined) return await this.end(job, this.ended(recipients, err, attempts, record, why ?? undefined));
        if (err.retryAtOnce) continue;
        const left = started + this.options.retryMs - Date.now();
        if ((err.retryAfterMs ?? 0) > left) {
          why = text('errors.retry.gaveUpAsked', { count: attempts, seconds: seconds(Date.now() - started) });
          return await this.end(job, this.ended(recipients, err, attempts, record, why));
        }
        const wait = Math.min(backoffDelay(attempts, this.options.timing, err.retryAfterMs), left);
        return await this.later(job, token, err, attempts, started, recipients, wait);
      }
    } catch (e) {
      if (e instanceof this.link.bull.DelayedError) throw e;
      // A Redis that went away mid-way: the job stays locked, then waits again (at least once).
      if ((e as MailError).code === ErrorCodes.EOUTBOX || !this.link.commands.status.startsWith('ready')) throw e;
      // Anything else would be a bug: the mail fails with it rather than waiting for ever.
      await this.end(job, { error: failure(e as RetryableError, attempts, record.customFrom, this.options) });
    }
  }

  private ended(recipients: Recipients, err: RetryableError, attempts: number, record: MailRecord, why?: Text): Outcome {
    const outcome = ending(recipients, err, attempts, record.customFrom, this.options, why);
    if ('info' in outcome) outcome.info.messageId = record.messageId;
    return outcome;
  }

  /** An attempt a closing instance could not wait for: the server's answer unknown, the mail waits for another attempt, at once. */
  private abandoned(): RetryableError {
    const err: RetryableError = setHint(textError(text('errors.queue.abandoned')), text('hints.queue.abandoned'));
    err.code = ECONNECTION;
    return err;
  }

  /** The mail waits `wait` ms for its next attempt, by whichever instance: its record first, with the recipients still owed. */
  private async later(
    job: Job<JobData>,
    token: string | undefined,
    err: RetryableError,
    attempts: number,
    started: number,
    recipients: Recipients,
    wait: number,
  ): Promise<never> {
    const { record, waiter } = job.data;
    const next: MailRecord = {
      ...owing(record, recipients.state),
      attempts,
      firstAttemptAt: started,
      nextAttemptAt: Date.now() + wait,
      lastError: describeError(err, record, this.options),
    };
    await job.updateData({ record: next, waiter });
    await job.moveToDelayed(next.nextAttemptAt!, token);
    if (wait === 0) this.options.warn?.(next, text('warnings.abandoned', { subject: record.summary.subject, messageId: record.messageId }));
    else if (!record.lastError) this.options.warn?.(next, waitingWarning(next, started + this.options.retryMs));
    await this.tell(waiter, { id: record.id, retry: { attempts, code: err.code } });
    this.changed();
    throw new this.link.bull.DelayedError();
  }

  /** The mail has ended: its message goes first (a copy of the job left by a dead instance finds nothing to send), then its msg hears. */
  private async end(job: Job<JobData>, outcome: Outcome): Promise<void> {
    const dropped = await this.dropMessage(job.data.record).then(
      () => undefined,
      (e: Error) => e,
    );
    await this.deliver(job.data, outcome);
    this.changed();
    // Redis went away as the mail ended, perhaps before it recorded that: the msg has its answer,
    // and the job runs again once Redis is back (sent once more with the same Message-ID, and
    // reported, if the end was not recorded).
    if (dropped) throw unreachable(this.link.host, dropped);
  }

  private async dropMessage(record: MailRecord) {
    await this.link.commands.eval(DONE, 2, this.keys.message + record.id, this.keys.bytes, record.size);
  }

  /** The outcome to its msg: here, in the instance where it waits, or reported here when no instance listens for it any more. */
  private async deliver({ record, waiter }: JobData, outcome: Outcome) {
    // Redis gone between the attempt and now: reported here rather than lost.
    const told = waiter !== this.token && (await this.tell(waiter, { id: record.id, outcome: toWire(outcome) }).catch(() => false));
    if (!told) this.settle(record.id, outcome, record);
  }

  /** Tells the instance whose msg waits; false when it no longer listens. */
  private async tell(waiter: string | undefined, note: Note): Promise<boolean> {
    if (!waiter) return false;
    if (waiter === this.token) {
      this.heardNote(note);
      return true;
    }
    return (await this.link.commands.publish(this.keys.notes + waiter, JSON.stringify(note))) > 0;
  }

  private heard(message: string) {
    try {
      this.heardNote(JSON.parse(message) as Note);
    } catch {
      /* not ours */
    }
  }

  private heardNote(note: Note) {
    if ('outcome' in note) return this.settle(note.id, fromWire(note.outcome));
    const w = this.waiters.get(note.id);
    if (!w) return;
    w.retrying = true;
    w.onRetry?.(true, note.retry);
  }

  /** Answers the msg that waits for the mail, or reports the outcome of one handed over. */
  private settle(id: string, outcome: Outcome, record?: MailRecord) {
    const w = this.waiters.get(id);
    if (!w) {
      const kept = this.handedOver.get(id) ?? record;
      this.handedOver.delete(id);
      if (kept) this.options.report?.(kept, outcome);
      return;
    }
    this.waiters.delete(id);
    if (w.retrying) w.onRetry?.(false);
    if ('info' in outcome) w.resolve(outcome.info);
    else w.reject(outcome.error);
  }

  /** A server's "too many connections": every instance opens fewer sessions from now on, for LIMIT_MS. */
  private async lowerLimit(err: RetryableError) {
    const queue = this.queue!;
    const now = Number(await this.link.commands.get(this.keys.limit)) || this.options.sessions;
    const limit = Math.max(1, now - 1);
    await this.link.commands.set(this.keys.limit, limit, 'PX', LIMIT_MS);
    await queue.setGlobalConcurrency(limit);
    if (this.saidLimit === undefined || limit < this.saidLimit) {
      this.saidLimit = limit;
      const answer = (err.response || err.message).split('\n')[0].trim();
      this.options.onError?.(textError(text('errors.connection.poolReduced', { answer, max: limit })));
    }
    clearTimeout(this.regrow);
    this.regrow = setTimeout(() => void this.regrowLimit(), LIMIT_MS + 1000);
    this.regrow.unref();
  }

  /** After LIMIT_MS without another refusal, the pool size again (the limit may have been another client's sessions). */
  private async regrowLimit() {
    if (this.closing || (await this.link.commands.exists(this.keys.limit).catch(() => 1))) return;
    await this.queue?.setGlobalConcurrency(this.options.sessions).catch(() => {});
    this.saidLimit = undefined;
  }

  /** A send node closes: its msgs that still wait end now; their outcome is reported when it comes. */
  release(node: string): void {
    for (const [id, w] of this.waiters) if (w.record.node === node) this.handOver(id, w);
  }

  private handOver(id: string, w: Waiter) {
    this.waiters.delete(id);
    this.handedOver.set(id, w.record);
    if (w.retrying) w.onRetry?.(false);
    w.resolve({ handedOver: true });
  }

  /**
   * Stops this instance: its worker takes no more jobs and lets attempts under way end within
   * `graceMs`, then aborts them (their mails wait for another instance at once). Msgs still waiting
   * are handed over: the mails stay in Redis and whichever instance ends them reports the outcome.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearTimeout(this.regrow);
    clearTimeout(this.retryStart);
    const worker = this.worker;
    if (worker) {
      const stopped = worker.close();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([stopped, grace]);
      clearTimeout(timer);
      this.abandoning.abort();
      await stopped.catch(() => {});
    }
    for (const [id, w] of this.waiters) this.handOver(id, w);
    await this.queue?.close().catch(() => {});
  }

  /** Mails of this instance's msgs waiting for their turn: not known here (any instance's turn may come first). */
  get waiting(): number {
    return 0;
  }

  /** Msgs of this instance whose mail waits for its next attempt. */
  get retrying(): number {
    let n = 0;
    for (const w of this.waiters.values()) if (w.retrying) n++;
    return n;
  }

  /** Not counted for a shared queue: its mails belong to every instance. */
  countFor(): number {
    return 0;
  }

  private async jobs(id?: string): Promise<Job<JobData>[]> {
    const queue = await this.open();
    if (id !== undefined) {
      const job = (await queue.getJob(id)) as Job<JobData> | undefined;
      return job ? [job] : [];
    }
    return (await queue.getJobs(['active', 'waiting', 'prioritized', 'delayed'])) as Job<JobData>[];
  }

  /** Every instance's waiting mails, oldest first. */
  async list(): Promise<OutboxEntry[]> {
    const jobs = await this.jobs();
    return jobs
      .filter((j) => j?.data?.record)
      .map((j) => entryOf(j.data.record))
      .sort((a, b) => a.created - b.created);
  }

  async retryNow(id?: string): Promise<number> {
    let n = 0;
    for (const job of await this.jobs(id)) {
      if (!(await job.isDelayed())) continue;
      await job.promote().then(
        () => n++,
        () => {},
      );
    }
    return n;
  }

  async remove(id?: string): Promise<number> {
    let n = 0;
    for (const job of await this.jobs(id)) {
      const { record } = job.data;
      if (await job.isActive()) {
        // Its attempt ends it: sent if the server accepts it, else deleted instead of waiting again.
        await this.link.commands.set(this.keys.removed + record.id, 1, 'PX', REMOVED_MS);
        n++;
        continue;
      }
      // A job that an instance took meanwhile is locked and stays: its attempt is under way.
      const removed = await job.remove().then(
        () => true,
        () => false,
      );
      if (!removed) continue;
      n++;
      const recipients = new Recipients(record.progress);
      const last = Object.assign(new Error(record.lastError?.message ?? ''), record.lastError) as RetryableError;
      const outcome = recipients.delivered
        ? this.ended(recipients, last, record.attempts, record, text('errors.retry.deleted'))
        : { error: deletedError(record.attempts) };
      await this.end(job, outcome);
    }
    return n;
  }

  private changed() {
    this.options.onChange?.();
  }
}
