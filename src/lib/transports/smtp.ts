import nodemailer from 'nodemailer';
import { EAUTH, ETIMEDOUT } from 'nodemailer/lib/errors';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { TokenCache } from '../auth/token-cache';
import { rolesOf } from '../auth/token-roles';
import { poolSize } from '../config/pool-limits';
import { timeoutMs, transportOptions, type ConnectionConfig, type ConnectionCredentials } from '../config/transport-options';
import { diagnose, hintTextFor } from '../errors/diagnose';
import { ErrorCodes, setHint, textError, type MailError } from '../errors/errors';
import { text } from '../errors/texts';
import { isTooManyConnections, isTransient, type RetryableError } from '../errors/transient';
import { Slots } from './slots';
import type { Delivery, Outgoing, Transport } from './transport';

export interface SmtpTransportOptions {
  /** Where problems that belong to no send go (a failed callback, a smaller pool); never given a secret. */
  onError?: (err: Error) => void;
  /** The connection's OAuth2 token cache, for client credentials and a Google service account (XOAUTH2). */
  tokens?: TokenCache;
  /** The clock of the pool's regrowth. */
  now?: () => number;
}

type Transporter = Mail<SMTPPool.SentMessageInfo, SMTPPool.Options>;

/** How long the pool keeps a size the server forced before it tries one connection more. */
export const POOL_REGROW_MS = 10 * 60 * 1000;

/**
 * SMTP through a nodemailer pool, created on first use, with an OAuth2 token cache shared by every
 * pooled connection. It makes one attempt per send and follows the server's limit on concurrent
 * connections; when to try again is the queue's business.
 */
export class SmtpTransport implements Transport {
  readonly tokens?: TokenCache;
  private transporter?: Transporter;
  private readonly now: () => number;
  /** The pool's size now: the connection's own, or fewer once the server said too many. */
  private size: number;
  /** When the server last made the pool smaller; undefined while it is at its own size. */
  private reducedAt?: number;
  /** The smallest pool size the log was told about. */
  private warnedSize?: number;
  /** Attempts handed to the pool at once: no more than it may open connections. */
  private readonly slots = new Slots(() => this.size);

  constructor(
    private readonly config: ConnectionConfig,
    private readonly creds: ConnectionCredentials,
    private readonly options: SmtpTransportOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.size = poolSize(config);
    this.tokens = options.tokens;
  }

  /** How many connections the pool may open now. */
  get poolSize(): number {
    return this.size;
  }

  get crowded(): boolean {
    return this.slots.waiting >= this.size;
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
   * One attempt. A bare 535 to XOAUTH2 means the cached token was refused without the 334 challenge
   * that makes nodemailer renew it: the token is dropped and the message sent once more with a new
   * one, within the same attempt. After "too many connections" the pool opens fewer; the error says
   * `retryAtOnce` when the server blamed our other connections and one of them can carry the mail.
   */
  async send(mail: Outgoing, signal: AbortSignal): Promise<Delivery> {
    const tokens = this.tokens;
    const rejectionsBefore = tokens?.rejections;
    try {
      try {
        return await this.sendWithinDeadline(mail, signal);
      } catch (e) {
        // Unless nodemailer already renewed the token after a 334 during this send.
        if (!tokens || !isTokenRefusal(e as MailError) || tokens.rejections !== rejectionsBefore || signal.aborted) throw e;
        tokens.invalidate();
        return await this.sendWithinDeadline(mail, signal);
      }
    } catch (e) {
      const err = ownCode(e as RetryableError);
      if (isTooManyConnections(err) && this.followServerLimit(err)) err.retryAtOnce = true;
      throw await this.explainRefusal(err);
    }
  }

  /**
   * A refused token whose `roles` claim lacks SMTP.SendAsApp: the hint names the missing
   * application permission instead of listing every possible cause. A token that lists no roles
   * (another provider's) changes nothing.
   */
  private async explainRefusal<E extends MailError>(err: E): Promise<E> {
    if (!this.tokens || !isTokenRefusal(err)) return err;
    // A grant that knows what its admin must check (a Google service account's client ID, scope
    // and mailbox) says it; its tokens are opaque and list no roles.
    const about = this.tokens.grant.about;
    if (about) {
      const hint = hintTextFor(err, about);
      return hint ? setHint(err, hint) : err;
    }
    const roles = await this.tokens.get().then(
      (t) => rolesOf(t.accessToken),
      () => undefined,
    );
    if (roles && !roles.includes('SMTP.SendAsApp')) setHint(err, text('hints.server.noSendAsApp'));
    return err;
  }

  /**
   * One pass over the pool, bounded as a whole by a deadline: the socket time-outs only catch a
   * silent server, and a server that answers `334` to every line kept one send in AUTH until the
   * socket gave up. Aborting makes nodemailer close just that pooled connection. The deadline is
   * twice the time-out (three times with a token to fetch), so that a single slow step (connect,
   * greeting, token request) still ends with its own, more precise error first. It starts once a
   * pooled connection is free for the message (the slots), not while it waits behind others.
   */
  private async sendWithinDeadline(mail: Outgoing, signal: AbortSignal): Promise<Delivery> {
    await this.slots.acquire();
    const ms = timeoutMs(this.config) * (this.tokens ? 3 : 2);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), ms);
    const abort = () => deadline.abort();
    signal.addEventListener('abort', abort);
    try {
      if (signal.aborted) throw new Error('aborted');
      // The message is opened only now that a connection is free: a mail of the disk outbox opens
      // its file here, so that a thousand mails waiting for the pool hold no thousand open files.
      const info = await this.transport().sendMail({ envelope: { ...mail.envelope }, raw: mail.open(), signal: deadline.signal });
      this.regrowPool();
      return { ...(info as unknown as Delivery), messageId: mail.messageId };
    } catch (e) {
      if (!deadline.signal.aborted || signal.aborted) throw e;
      const err = textError(text('errors.connection.exchangeTimeout', { seconds: ms / 1000 }));
      err.code = ETIMEDOUT;
      throw setHint(err, text('hints.connection.exchangeTimeout'));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      this.slots.release();
    }
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
    if (!pool || this.size <= 1) return false;
    // nodemailer 10 keeps its open connections there; without it, one fewer per refusal still converges.
    const connections = (pool as unknown as { _connections?: unknown[] })._connections;
    const open = Array.isArray(connections) ? connections.length : Infinity;
    this.resize(Math.max(1, Math.min(this.size - 1, open)));
    this.reducedAt = this.now();
    // Said once per size: a pool grown back (regrowPool) and refused again at the same size is routine.
    if (this.warnedSize === undefined || this.size < this.warnedSize) {
      this.warnedSize = this.size;
      this.options.onError?.(
        textError(text('errors.connection.poolReduced', { answer: firstLine(err.response || err.message), max: this.size })),
      );
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
    if (this.reducedAt === undefined || this.now() - this.reducedAt < POOL_REGROW_MS) return;
    const own = poolSize(this.config);
    this.resize(Math.min(own, this.size + 1));
    this.reducedAt = this.size < own ? this.now() : undefined;
  }

  private resize(size: number) {
    this.size = size;
    // nodemailer has no setter: its pool reads this option each time it looks for a connection.
    const pool = this.pool();
    if (pool) pool.options.maxConnections = size;
  }

  private pool(): SMTPPool | undefined {
    return this.transporter?.transporter as SMTPPool | undefined;
  }

  /** Connects, authenticates (fetching a token where needed) and quits, diagnosed as Test connection shows it. */
  async verify(): Promise<undefined> {
    try {
      await this.transport().verify();
      return undefined;
    } catch (e) {
      const err = ownCode(e as RetryableError);
      // Test connection does not retry: it says that the answer is temporary.
      if (isTransient(err) && (err.response || err.responseCode)) {
        const specific = hintTextFor(err, { authType: this.config.authType, noRetry: true });
        const answer = firstLine(err.response || err.message);
        setHint(err, specific ? text('hints.connection.busyWith', { answer, hint: specific }) : text('hints.connection.busy', { answer }));
      }
      throw diagnose(await this.explainRefusal(err), { authType: this.config.authType, noRetry: true });
    }
  }

  close(): void {
    this.transporter?.close();
    this.transporter = undefined;
  }
}

const OWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** nodemailer files our errors (a token request, a download) under EAUTH or ESTREAM: restore our code. */
export function ownCode<E extends MailError & { originalCode?: string }>(err: E): E {
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
  const answer = `${err.response ?? ''}`;
  return (err.responseCode === 535 && !/5\.7\.139/.test(answer)) || /^334\b/.test(answer);
}

/** A "too many connections" answer that blames the client's other, accepted connections. */
const OTHERS_BUSY = /concurrent|too many (concurrent |simultaneous )?(connections|sessions)/i;
const firstLine = (answer: string) => answer.split('\n')[0].trim();
