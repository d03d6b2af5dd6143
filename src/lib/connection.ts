import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { diagnose } from './diagnose';
import { ErrorCodes, type MailError } from './errors';
import { RateLimiter, type Timers } from './rate-limiter';
import { TokenCache } from './token-cache';
import { timeoutMs, toNumber, transportOptions, type ConnectionConfig, type ConnectionCredentials } from './transport-options';
import { downloadLimits, type DownloadLimits } from './attachments';

export interface ConnectionOptions {
  /** Where problems that belong to no send go (a failed callback); never given a secret. */
  onError?: (err: Error) => void;
  /** Time-out of token requests in ms. */
  tokenTimeout?: number;
  /** The clock of the token cache and the rate limiter. */
  now?: () => number;
  /** The rate limiter's timers (tests). */
  timers?: Timers;
  /** The rate limiter's window in ms (one minute); shorter only in tests and the benchmark. */
  rateWindowMs?: number;
  /** Size cap of URL attachments, in MB, when the connection sets none (settings.js). */
  maxAttachmentMB?: unknown;
}

type Transporter = Mail<SMTPPool.SentMessageInfo, SMTPPool.Options>;

/**
 * One SMTP connection as a config node owns it: a pooled transport created on first use, an
 * OAuth2 token cache shared by all pooled connections, and the sends in flight so that closing
 * waits for them instead of cutting them off.
 */
export class Connection {
  readonly tokens?: TokenCache;
  private readonly limiter?: RateLimiter;
  private transporter?: Transporter;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly config: ConnectionConfig,
    private readonly creds: ConnectionCredentials,
    private readonly options: ConnectionOptions = {},
  ) {
    if (config.authType === 'oauth2-client-credentials') {
      this.tokens = new TokenCache(
        { tokenUrl: config.tokenUrl || '', clientId: creds.clientId || '', clientSecret: creds.clientSecret || '', scope: config.scope || '' },
        { timeout: options.tokenTimeout ?? timeoutMs(config), now: options.now },
      );
    }
    const rate = toNumber(config.rateLimitPerMinute, 0);
    if (rate > 0) this.limiter = new RateLimiter(rate, { windowMs: options.rateWindowMs, now: options.now, timers: options.timers });
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
    return this.limiter?.waiting ?? 0;
  }

  private transport(): Transporter {
    if (this.transporter) return this.transporter;
    const transporter = nodemailer.createTransport(transportOptions(this.config, this.creds) as SMTPPool.Options & { pool: true });
    transporter.on('error', (err: Error) => this.options.onError?.(err));
    const tokens = this.tokens;
    if (tokens) {
      // nodemailer asks per pooled connection; `this` is that connection's XOAuth2 object, whose
      // accessToken is the one the server just refused when renew is true.
      transporter.set('oauth2_provision_cb', function (this: { accessToken?: unknown } | undefined, _user: string, renew: boolean, cb: (err: Error | null, token?: string, expires?: number) => void) {
        if (renew) tokens.invalidate(typeof this?.accessToken === 'string' ? this.accessToken : undefined);
        tokens.get().then(
          (t) => callSafely(() => cb(null, t.accessToken, t.renewAt)),
          // A copy per waiter: nodemailer rewrites the code of the error it is given.
          (err: Error) => callSafely(() => cb(Object.assign(new Error(err.message), err))),
        );
      });
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
   * Sends one message. A bare 535 to XOAUTH2 means the cached token was refused without the 334
   * challenge that makes nodemailer renew it: drop the token and retry once with a new one.
   */
  send(message: Mail.Options, customFrom = false, onQueue?: (waiting: boolean) => void): Promise<SMTPPool.SentMessageInfo> {
    const attempt = async () => {
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
      const tokens = this.tokens;
      const rejectionsBefore = tokens?.rejections;
      try {
        return await this.transport().sendMail(message);
      } catch (e) {
        // Unless nodemailer already renewed the token after a 334 during this send.
        if (!tokens || !isTokenRefusal(e as MailError) || tokens.rejections !== rejectionsBefore) throw e;
        tokens.invalidate();
        return await this.transport().sendMail(message);
      }
    };
    const p = attempt().catch((e: MailError) => {
      throw diagnose(ownCode(e), { authType: this.config.authType, customFrom });
    });
    this.track(p);
    return p;
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
      throw diagnose(ownCode(e as MailError), { authType: this.config.authType });
    }
  }

  private track(p: Promise<unknown>) {
    this.inFlight.add(p);
    const forget = () => this.inFlight.delete(p);
    p.then(forget, forget);
  }

  /** Waits (at most `graceMs`) for the sends in flight, then closes the pool. */
  async close(graceMs = 10000): Promise<void> {
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
      clearTimeout(timer);
    }
    this.limiter?.close(Object.assign(new Error('The connection was closed (redeploy or stop) before this message got its turn under the rate limit'), { code: 'ECONNECTION', hint: 'Send the message again; lower the number of messages per burst or raise the rate limit so that none waits this long.' }));
    this.transporter?.close();
    this.transporter = undefined;
  }
}

const OWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** nodemailer files our errors (a token request, a download) under EAUTH or ESTREAM: restore our code. */
function ownCode(err: MailError & { originalCode?: string }): MailError {
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
  if (err.code !== 'EAUTH' || err.originalCode === ErrorCodes.EOAUTH2) return false;
  const text = `${err.response ?? ''}`;
  return (err.responseCode === 535 && !/5\.7\.139/.test(text)) || /^334\b/.test(text);
}
