import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import { EAUTH, ECONNECTION, ETIMEDOUT } from 'nodemailer/lib/errors';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { diagnose, hintTextFor } from './errors/diagnose';
import { ErrorCodes, hintOf, messageOf, setHint, setMessage, textError, type MailError } from './errors/errors';
import { isText, text, type Text } from './errors/texts';
import { RateLimiter, type Timers } from './delivery/rate-limiter';
import {
  Backoff,
  backoffDelay,
  isTooManyConnections,
  isTransient,
  MAX_ATTEMPTS,
  type RetryableError,
  type RetryTiming,
} from './delivery/retry';
import { TokenCache } from './auth/token-cache';
import { timeoutMs, transportOptions, type ConnectionConfig, type ConnectionCredentials } from './config/transport-options';
import { downloadLimits, type DownloadLimits } from './message/attachments';
import { poolSize } from './config/pool-limits';
import { Slots } from './transports/slots';
import { CONNECTION_DEFAULTS } from '../shared/constants';
import { fixMessageId } from './message/compose';
import {
  deferred,
  isDeferred,
  Outbox,
  type AttemptPlan,
  type Courier,
  type LastError,
  type Origin,
  type OutboxOptions,
} from './delivery/outbox';
import { Recipients } from './delivery/recipients';

export interface ConnectionOptions {
  /** Where problems that belong to no send go (a failed callback); never given a secret. */
  onError?: (err: Error) => void;
  /** Time-out of token requests in ms. */
  tokenTimeout?: number;
  /** The clock of the token cache, the rate limiter and the backoff. */
  now?: () => number;
  /** The timers of the rate limiter and the backoff (tests). */
  timers?: Timers;
  /** The rate limiter's window in ms (one minute); shorter only in tests and the benchmark. */
  rateWindowMs?: number;
  /** Size cap of URL attachments, in MB, when the connection sets none (settings.js). */
  maxAttachmentMB?: unknown;
  /** The backoff between attempts: its clock, timers and delays (tests and the benchmark shorten them). */
  retry?: RetryTiming;
  /** A disk outbox for the connection's mails; without one, mails wait in memory. */
  outbox?: OutboxOptions;
}

type Transporter = Mail<SMTPPool.SentMessageInfo, SMTPPool.Options>;

/**
 * What a send resolves with: nodemailer's info and how many attempts it took. After attempts the
 * server accepted for some recipients and deferred others, accepted and rejected sum up all of
 * them, and `warnings` names the recipients that were given up while still deferred.
 */
export type SentInfo = SMTPPool.SentMessageInfo & { attempts: number; warnings?: Text[] };

/** What a failed send rejects with: the diagnosed error and how many attempts were made. */
export type SendError = MailError & { attempts: number };

/** Seconds a send is retried when the connection sets nothing. */
export const DEFAULT_RETRY_SECONDS = CONNECTION_DEFAULTS.retryForSeconds;

/**
 * One SMTP connection as a config node owns it: a pooled transport created on first use, an
 * OAuth2 token cache shared by all pooled connections, and the sends in flight so that closing
 * waits for them instead of cutting them off.
 */
export class Connection implements Courier {
  readonly tokens?: TokenCache;
  /** Where accepted mails wait, when on disk. */
  readonly outbox?: Outbox;
  private readonly limiter?: RateLimiter;
  private transporter?: Transporter;
  private readonly inFlight = new Set<Promise<unknown>>();
  readonly backoff: Backoff;
  /** How long a send is retried, in ms; 0: never. */
  private readonly retryMs: number;
  private closing = false;
  /** When the server last made the pool smaller (backoff clock); undefined while it is at its own size. */
  private reducedAt?: number;
  /** The smallest pool size the log was told about. */
  private warnedPoolSize?: number;
  /** Sends handed to the pool at once: no more than it may open connections. */
  private readonly slots = new Slots(() => this.poolSize);

  constructor(
    readonly config: ConnectionConfig,
    private readonly creds: ConnectionCredentials,
    private readonly options: ConnectionOptions = {},
  ) {
    if (config.authType === 'oauth2-client-credentials') {
      this.tokens = new TokenCache(
        {
          tokenUrl: config.tokenUrl || '',
          clientId: creds.clientId || '',
          clientSecret: creds.clientSecret || '',
          scope: config.scope || '',
        },
        { timeout: options.tokenTimeout ?? timeoutMs(config), now: options.now },
      );
    }
    const rate = config.rateLimitPerMinute ?? 0;
    if (rate > 0) this.limiter = new RateLimiter(rate, { windowMs: options.rateWindowMs, now: options.now, timers: options.timers });
    this.backoff = new Backoff({ now: options.now, timers: options.timers, ...options.retry });
    this.retryMs = (config.retryForSeconds ?? DEFAULT_RETRY_SECONDS) * 1000;
    if (options.outbox) this.outbox = new Outbox(options.outbox, this);
  }

  /** The connection's user: the default sender and, for OAuth2, the mailbox. */
  get user(): string {
    return this.creds.user || '';
  }

  /** Time-out, size and redirect caps for attachments downloaded for this connection's mails. */
  get downloadLimits(): DownloadLimits {
    return downloadLimits(timeoutMs(this.config), this.config.maxAttachmentMB || this.options.maxAttachmentMB);
  }

  /** Number of sends waiting for their turn under the rate limit. */
  get waiting(): number {
    return this.outbox ? this.outbox.waiting : (this.limiter?.waiting ?? 0);
  }

  /** Number of sends waiting for their next attempt after a transient failure. */
  get retrying(): number {
    return this.backoff.waiting;
  }

  /** How many connections the pool may open now: the pool size, or fewer once the server said too many. */
  get poolSize(): number {
    return this.pool()?.options.maxConnections ?? poolSize(this.config);
  }

  private pool(): SMTPPool | undefined {
    return this.transporter?.transporter as SMTPPool | undefined;
  }

  private transport(): Transporter {
    if (this.transporter) return this.transporter;
    const transporter = nodemailer.createTransport(transportOptions(this.config, this.creds) as SMTPPool.Options & { pool: true });
    transporter.on('error', (err: Error) => this.options.onError?.(err));
    const tokens = this.tokens;
    if (tokens) {
      // nodemailer asks per pooled connection; `this` is that connection's XOAuth2 object, whose
      // accessToken is the one the server just refused when renew is true.
      transporter.set(
        'oauth2_provision_cb',
        function (
          this: { accessToken?: unknown } | undefined,
          _user: string,
          renew: boolean,
          cb: (err: Error | null, token?: string, expires?: number) => void,
        ) {
          if (renew) tokens.invalidate(typeof this?.accessToken === 'string' ? this.accessToken : undefined);
          tokens.get().then(
            (t) => callSafely(() => cb(null, t.accessToken, t.renewAt)),
            // A copy per waiter: nodemailer rewrites the code of the error it is given.
            (err: Error) => callSafely(() => cb(Object.assign(new Error(err.message), err))),
          );
        },
      );
    }
    this.transporter = transporter;
    return transporter;

    // A throw inside nodemailer's callback would surface as an unhandled rejection here.
    function callSafely(fn: () => void) {
      try {
        fn();
      } catch {
        /* nodemailer reports the failure through the send itself */
      }
    }
  }

  /**
   * Sends one message, retrying transient failures (4xx answers, a connection that broke before the
   * server accepted the message, a busy token endpoint) with backoff until retryForSeconds have
   * passed. Every attempt carries the same Message-ID, so a mail whose acceptance was lost with the
   * connection can be recognised as a duplicate by the receiving side. With a disk outbox the mail
   * goes through it (outbox.ts); `origin` is what its outcome is reported with after a restart.
   */
  send(
    message: Mail.Options,
    customFrom = false,
    onQueue?: (waiting: boolean) => void,
    onRetry?: (waiting: boolean) => void,
    origin?: Origin,
  ): Promise<SentInfo> {
    const p = this.outbox
      ? this.outbox.accept(message, customFrom, { onQueue, onRetry }, origin)
      : this.deliver(message, customFrom, onQueue, onRetry);
    this.track(p);
    return p;
  }

  /** Without a disk outbox: the message waits in memory for its turn, its attachment streams lent to each attempt. */
  private async deliver(
    message: Mail.Options,
    customFrom: boolean,
    onQueue?: (waiting: boolean) => void,
    onRetry?: (waiting: boolean) => void,
  ): Promise<SentInfo> {
    if (this.limiter) {
      let waited = false;
      try {
        await this.limiter.acquire(() => {
          waited = true;
          onQueue?.(true);
        });
      } finally {
        if (waited) onQueue?.(false);
      }
    }
    fixMessageId(message);
    const streams = new LentStreams(message);
    return this.attempts({ lend: () => streams.lend(), reusable: () => streams.reusable() }, customFrom, onRetry);
  }

  /** The next turn under the rate limit, for the outbox; undefined when there is no limit. */
  turn(onWait: () => void): Promise<void> | undefined {
    return this.limiter?.acquire(onWait);
  }

  /**
   * Takes the next turn under the rate limit if it is free now (always, without a limit), unless
   * a whole pool's worth of sends already waits for a pooled connection.
   */
  tryTurn(): boolean {
    if (this.slots.waiting >= this.poolSize) return false;
    return this.limiter ? this.limiter.tryAcquire() : true;
  }

  /**
   * The attempts of one message, until it is accepted, fails for good, or (durable) stays in the
   * outbox. An attempt the server accepted for some recipients while it deferred others (a 4xx to
   * RCPT TO: greylisting, a full mailbox) is a transient failure for the deferred ones: the next
   * attempts send the same message to them only, as a mail server keeps deferred recipients queued.
   */
  async attempts(plan: AttemptPlan, customFrom: boolean, onRetry?: (waiting: boolean) => void): Promise<SentInfo> {
    const started = plan.started ?? this.backoff.now();
    const recipients = new Recipients(plan.progress);
    for (let attempts = (plan.attempts ?? 0) + 1; ; attempts++) {
      let err: RetryableError | undefined;
      try {
        const info = await this.attempt(() => recipients.narrow(plan.lend()));
        this.regrowPool();
        err = recipients.sent(info);
        if (!err) return recipients.result(attempts);
      } catch (e) {
        err = ownCode(e as RetryableError);
        // The last recipients owed were refused for good, and others have the mail: it is done.
        if (recipients.failed(err) && recipients.delivered) return recipients.result(attempts);
      } finally {
        plan.settled?.();
      }
      if (plan.durable && this.closing && this.retryMs && isTransient(err)) {
        // Redeploy or stop: a mail in the outbox is not failed for that, the next start sends it.
        await plan.onWait?.(this.describe(err, customFrom), attempts, started, undefined, recipients.state);
        throw deferred();
      }
      const why = this.whyNotRetry(err, attempts, started, plan.reusable);
      if (why !== undefined) return this.end(recipients, err, attempts, customFrom, why ?? undefined);
      // After "too many connections" the pool opens fewer; when this send can go over one of the
      // connections the server accepted, it goes at once, with no backoff.
      if (isTooManyConnections(err) && this.followServerLimit(err)) continue;
      const delay = backoffDelay(attempts, this.backoff.timing, err.retryAfterMs);
      const left = started + this.retryMs - this.backoff.now();
      if ((err.retryAfterMs ?? 0) > left)
        return this.end(
          recipients,
          err,
          attempts,
          customFrom,
          text('errors.retry.gaveUpAsked', { count: attempts, seconds: seconds(this.backoff.now() - started) }),
        );
      // The last attempt comes at the deadline, not after it.
      const wait = Math.min(delay, left);
      // Recorded first (the outbox writes it to disk, with the recipients still owed), so that a
      // crash during the wait keeps it.
      if (plan.onWait) await plan.onWait(this.describe(err, customFrom), attempts, started, this.backoff.now() + wait, recipients.state);
      onRetry?.(true);
      let stopped: Text | undefined;
      try {
        // The outbox's wait ends with its own errors (deferred on close, or deleted).
        if (plan.wait) await plan.wait(wait);
        else await this.backoff.wait(wait);
      } catch (e) {
        // Deleted in the Outbox tab while some recipients have the mail: it ends, delivered to those.
        if (plan.wait && (isDeferred(e) || !recipients.delivered)) throw e;
        stopped = plan.wait ? text('errors.retry.deleted') : text('errors.retry.closed', { count: attempts });
      } finally {
        onRetry?.(false);
      }
      if (stopped) return this.end(recipients, err, attempts, customFrom, stopped);
    }
  }

  /**
   * The end of a send that is not retried (any more): a failure when the server accepted it for
   * nobody; else a success for the recipients that have it, with a warning for each answer that
   * kept others from it, saying why they were given up.
   */
  private end(recipients: Recipients, err: RetryableError, attempts: number, customFrom: boolean, why?: Text): SentInfo {
    if (!recipients.delivered) throw this.failed(err, attempts, customFrom, why);
    // Without a reason of its own, the answer spoke for itself: retries are off, or it is permanent.
    const reason = why ?? text(this.retryMs ? 'errors.retry.permanent' : 'errors.retry.off');
    const warnings = recipients.undelivered(err).map((u) => this.notDelivered(u.recipients, u.error, customFrom, reason));
    return recipients.result(attempts, warnings);
  }

  /** The warning for recipients given up: who, the server's answer, why no further attempt, and the hint for that answer. */
  private notDelivered(to: string[], err: RetryableError, customFrom: boolean, reason: Text): Text {
    const answer = err.response ? firstLine(err.response) : messageOf(err);
    const hint =
      hintTextFor(err, { authType: this.config.authType, customFrom, noRetry: !this.retryMs }) ??
      hintOf(err) ??
      text('hints.send.notDelivered');
    return text('warnings.notDelivered', { recipients: to.join(', '), answer, reason, hint });
  }

  /**
   * Why a failed attempt is the last one: a reason to add to its message, null when the error
   * speaks for itself (not retryable, or retries off), undefined when the send goes on.
   */
  private whyNotRetry(err: RetryableError, attempts: number, started: number, reusable: () => boolean): Text | null | undefined {
    if (!this.retryMs || !isTransient(err)) return null;
    if (this.closing) return text('errors.retry.closed', { count: attempts });
    if (!reusable()) return text('errors.retry.streamed');
    const elapsed = this.backoff.now() - started;
    if (elapsed >= this.retryMs || attempts >= MAX_ATTEMPTS)
      return text('errors.retry.gaveUp', { count: attempts, seconds: seconds(elapsed) });
    return undefined;
  }

  /** A transient failure as the outbox records it, with the hint the user would get (as text and as keys, for the Outbox tab). */
  private describe(err: RetryableError, customFrom: boolean): LastError {
    const out: LastError = { message: err.message };
    if (err.messageKey) setMessage(out, text(err.messageKey, err.params), err.message);
    if (err.code) out.code = err.code;
    if (err.responseCode) out.responseCode = err.responseCode;
    const hint = hintTextFor(err, { authType: this.config.authType, customFrom }) ?? hintOf(err);
    if (isText(hint)) setHint(out, hint);
    else if (hint) out.hint = hint;
    return out;
  }

  /** The error of a send that failed before its first attempt (the message could not be built). */
  rejected(err: MailError, customFrom: boolean): SendError {
    return this.failed(ownCode(err as RetryableError), 0, customFrom);
  }

  /** The error a send ends with: diagnosed, with the attempts, and why it ended when retries were possible. */
  private failed(err: RetryableError, attempts: number, customFrom: boolean, why?: Text): SendError {
    if (why) setMessage(err, text('errors.withReason', { error: messageOf(err), reason: why }));
    const out = diagnose(err, { authType: this.config.authType, customFrom, noRetry: !this.retryMs }) as SendError;
    out.attempts = attempts;
    delete (out as RetryableError).transient;
    delete (out as RetryableError).retryAfterMs;
    return out;
  }

  /**
   * After a "too many connections" answer: let the pool open no more connections than it has open
   * now that the refused one is gone (what the server accepted, or is still deciding on), and at
   * least one fewer than before, as each refusal is one connection beyond the server's limit.
   * nodemailer reads maxConnections whenever it looks for a connection, so the change applies to
   * the messages already queued. Returns whether the send can go at once: the server blamed our
   * other connections (Exchange's concurrent-connection limit) and one of them is open to carry it.
   */
  private followServerLimit(err: RetryableError): boolean {
    const pool = this.pool();
    if (!pool || pool.options.maxConnections <= 1) return false;
    // nodemailer 10 keeps its open connections there; without it, one fewer per refusal still converges.
    const connections = (pool as unknown as { _connections?: unknown[] })._connections;
    const open = Array.isArray(connections) ? connections.length : Infinity;
    const max = Math.max(1, Math.min(pool.options.maxConnections - 1, open));
    pool.options.maxConnections = max;
    this.reducedAt = this.backoff.now();
    // Said once per size: a pool grown back (regrowPool) and refused again at the same size is routine.
    if (this.warnedPoolSize === undefined || max < this.warnedPoolSize) {
      this.warnedPoolSize = max;
      this.options.onError?.(textError(text('errors.connection.poolReduced', { answer: firstLine(err.response || err.message), max })));
    }
    return open > 0 && OTHERS_BUSY.test(`${err.response ?? ''}`);
  }

  /**
   * After a delivery, once the pool has stayed at a size the server forced for POOL_REGROW_MS: one
   * connection more, up to the connection's own size. The limit may have been another client's
   * sessions, gone since; if not, the next "too many" answer takes the pool down again (Postfix's
   * destination concurrency feedback works the same way: down at once, up slowly).
   */
  private regrowPool() {
    const pool = this.pool();
    if (!pool || this.reducedAt === undefined || this.backoff.now() - this.reducedAt < POOL_REGROW_MS) return;
    const size = poolSize(this.config);
    pool.options.maxConnections = Math.min(size, pool.options.maxConnections + 1);
    this.reducedAt = pool.options.maxConnections < size ? this.backoff.now() : undefined;
  }

  /**
   * One attempt. A bare 535 to XOAUTH2 means the cached token was refused without the 334 challenge
   * that makes nodemailer renew it: drop the token and send once more with a new one (and fresh
   * stand-ins for the attachment streams: nodemailer destroyed the first ones).
   */
  private async attempt(message: () => Mail.Options): Promise<SMTPPool.SentMessageInfo> {
    const tokens = this.tokens;
    const rejectionsBefore = tokens?.rejections;
    try {
      return await this.sendWithinDeadline(message);
    } catch (e) {
      // Unless nodemailer already renewed the token after a 334 during this send.
      if (!tokens || !isTokenRefusal(e as MailError) || tokens.rejections !== rejectionsBefore) throw e;
      tokens.invalidate();
      return await this.sendWithinDeadline(message);
    }
  }

  /**
   * One pass over the pool, bounded as a whole by a deadline: the socket time-outs only catch a
   * silent server, and a server that answers `334` to every line kept one send in AUTH until the
   * socket gave up. Aborting makes nodemailer close just that pooled connection. The deadline is
   * twice the time-out (three times with a token to fetch), so that a single slow step (connect,
   * greeting, token request) still ends with its own, more precise error first. It starts once a
   * pooled connection is free for the message (the slots), not while it waits behind others.
   */
  private async sendWithinDeadline(message: () => Mail.Options): Promise<SMTPPool.SentMessageInfo> {
    await this.slots.acquire();
    const ms = timeoutMs(this.config) * (this.tokens ? 3 : 2);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), ms);
    try {
      // The message is taken only now that a connection is free: a mail from the outbox opens its
      // file here, so that a thousand mails waiting for the pool hold no thousand open files.
      return await this.transport().sendMail({ ...message(), signal: deadline.signal });
    } catch (e) {
      if (!deadline.signal.aborted) throw e;
      const err = textError(text('errors.connection.exchangeTimeout', { seconds: ms / 1000 }));
      err.code = ETIMEDOUT;
      throw setHint(err, text('hints.connection.exchangeTimeout'));
    } finally {
      clearTimeout(timer);
      this.slots.release();
    }
  }

  /** Connects, authenticates (fetching a token where needed) and quits: the Test connection button. */
  async verify(): Promise<void> {
    const p = this.transport()
      .verify()
      .then(() => undefined);
    this.track(p);
    try {
      await p;
    } catch (e) {
      const err = ownCode(e as RetryableError);
      // Test connection does not retry: it says that the answer is temporary.
      if (isTransient(err) && (err.response || err.responseCode)) {
        const specific = hintTextFor(err, { authType: this.config.authType, noRetry: true });
        const answer = firstLine(err.response || err.message);
        setHint(err, specific ? text('hints.connection.busyWith', { answer, hint: specific }) : text('hints.connection.busy', { answer }));
      }
      throw diagnose(err, { authType: this.config.authType, noRetry: true });
    }
  }

  track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    const forget = () => this.inFlight.delete(p);
    p.then(forget, forget);
  }

  /**
   * Waits (at most `graceMs`) for the sends in flight, then closes the pool. Mails in a disk outbox
   * that wait (for their turn or a retry) stay there for the next start; in memory they fail.
   */
  async close(graceMs = 10000): Promise<void> {
    this.closing = true;
    this.outbox?.close();
    // Sends waiting for their next attempt end now (in memory with their last error): nothing waits minutes.
    this.backoff.close(new Error('closed'));
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
      clearTimeout(timer);
    }
    const notTurned = setHint(textError(text('errors.connection.closedBeforeTurn')), text('hints.connection.closedBeforeTurn'));
    notTurned.code = ECONNECTION;
    this.limiter?.close(notTurned);
    this.transporter?.close();
    this.transporter = undefined;
    this.outbox?.finish();
  }
}

const OWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** nodemailer files our errors (a token request, a download) under EAUTH or ESTREAM: restore our code. */
function ownCode<E extends MailError & { originalCode?: string }>(err: E): E {
  if (err.originalCode && OWN_CODES.has(err.originalCode)) {
    err.code = err.originalCode;
    delete err.originalCode;
  }
  return err;
}

/**
 * The server refused the token itself (not: the token endpoint refused us, nor a limit or a busy
 * server at AUTH, nor SMTP AUTH switched off for the mailbox, which no new token changes): a 535,
 * or the 334 challenge nodemailer answers when it has no second token to try.
 */
export function isTokenRefusal(err: MailError & { originalCode?: string }): boolean {
  if (err.code !== EAUTH || err.originalCode === ErrorCodes.EOAUTH2) return false;
  const text = `${err.response ?? ''}`;
  return (err.responseCode === 535 && !/5\.7\.139/.test(text)) || /^334\b/.test(text);
}

/**
 * nodemailer destroys the content streams of a message whose send failed, and reads them only once.
 * So each attempt gets stand-ins that start reading the real stream (a URL download) only when
 * nodemailer reads them: an attempt that failed before DATA leaves the download untouched for the
 * next one; an attempt that read it makes the message one that cannot be sent again.
 */
class LentStreams {
  private readonly sources: Readable[] = [];
  private readonly loans: Loan[] = [];

  constructor(private readonly message: Mail.Options) {
    for (const a of message.attachments || []) {
      if (a.content instanceof Readable) {
        this.sources.push(a.content);
        // A download that fails while the message waits would otherwise be an uncaught 'error'.
        a.content.on('error', () => undefined);
      }
    }
  }

  /** The message for the next attempt. */
  lend(): Mail.Options {
    if (!this.sources.length) return this.message;
    return {
      ...this.message,
      attachments: this.message.attachments!.map((a) => {
        if (!(a.content instanceof Readable)) return a;
        const loan = new Loan(a.content);
        this.loans.push(loan);
        return { ...a, content: loan };
      }),
    };
  }

  /** Whether every stream is still unread, so that another attempt can send it whole. */
  reusable(): boolean {
    return this.loans.every((l) => !l.started) && this.sources.every((s) => !s.destroyed && !s.readableEnded);
  }
}

/** A stand-in for a stream that reads it only once read itself, and leaves it alone if never read. */
class Loan extends Readable {
  started = false;
  private readonly onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.source.pause();
  };
  private readonly onEnd = () => this.push(null);
  private readonly onError = (err: Error) => this.destroy(err);

  constructor(private readonly source: Readable) {
    super();
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      if (this.source.destroyed) return void this.destroy(this.source.errored || textError(text('errors.attachment.streamClosed')));
      this.source.on('data', this.onData).once('end', this.onEnd).once('error', this.onError);
    }
    this.source.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.source.off('data', this.onData).off('end', this.onEnd).off('error', this.onError);
    // Half read, the source is of no use to anyone any more.
    if (this.started && !this.source.readableEnded) this.source.destroy();
    cb(err);
  }
}

/** How long the pool keeps a size the server forced before it tries one connection more. */
export const POOL_REGROW_MS = 10 * 60 * 1000;

/** A "too many connections" answer that blames the client's other, accepted connections. */
const OTHERS_BUSY = /concurrent|too many (concurrent |simultaneous )?(connections|sessions)/i;
const seconds = (ms: number) => Math.round(ms / 1000);
const firstLine = (text: string) => text.split('\n')[0].trim();
