import type Mail from 'nodemailer/lib/mailer';
import type { TokenCache } from './auth/token-cache';
import type { Text } from './errors/texts';
import { clientCredentialTokens } from './auth/client-credentials';
import { serviceAccountTokens } from './auth/jwt-bearer';
import { timeoutMs, type ConnectionConfig, type ConnectionCredentials } from './config/transport-options';
import { CONNECTION_DEFAULTS } from '../shared/constants';
import { textError } from './errors/errors';
import { downloadLimits, type DownloadLimits } from './message/attachments';
import { MemoryStore } from './delivery/memory-store';
import { DeliveryQueue, DEFAULT_OUTBOX_COUNT, type QueueOptions } from './delivery/queue';
import type { HandedOver, Origin, SentInfo, Watch } from './delivery/outcome';
import { RateLimiter, type Timers } from './delivery/rate-limiter';
import { Backoff, type RetryTiming } from './delivery/retry';
import { SIGNING_CACHE, Spool } from './delivery/spool';
import type { MailQueue } from './delivery/mail-queue';
import { RedisLink, sharedKeys } from './delivery/shared/redis';
import { LINGER_MS, SessionLeases } from './delivery/shared/session-leases';
import { SharedQueue } from './delivery/shared/shared-queue';
import { GraphTransport } from './transports/graph';
import { SmtpTransport } from './transports/smtp';
import type { Transport } from './transports/transport';
import { poolSize } from './config/pool-limits';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { DkimSettings } from './message/dkim-key';
import { DkimSigner, type MessageSigning } from './message/dkim-signing';

export type { HandedOver, Origin, SendError, SentInfo, Outcome } from './delivery/outcome';
export { isHandedOver } from './delivery/outcome';

export interface OutboxOptions {
  /** The connection's own folder. */
  dir: string;
  maxBytes: number;
  /** Most mails it holds (default 10,000). */
  maxCount?: number;
}

/** An outbox on Redis, shared by every Node-RED instance that runs the connection. */
export interface SharedOutboxOptions {
  /** The connection's node id: the same in every copy of the flows. */
  name: string;
  /** The connection's Redis URL (a credential). */
  url: string;
  maxBytes: number;
  /** BullMQ's lock of a job under way (30 s); tests shorten it. */
  lockMs?: number;
}

export interface ConnectionOptions extends Pick<QueueOptions, 'report' | 'warn' | 'onChange'> {
  /** Where problems that belong to no send go (a failed callback, a smaller pool, a certificate about to expire); never given a secret. */
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
  /** An outbox on Redis instead (outbox: redis). */
  shared?: SharedOutboxOptions;
  /** DKIM: every message the connection builds is signed with this key (checked by dkimSettings). */
  dkim?: DkimSettings;
}

/** Seconds a send is retried when the connection sets nothing. */
export const DEFAULT_RETRY_SECONDS = CONNECTION_DEFAULTS.retryForSeconds;

/**
 * One connection as a config node owns it: its delivery queue, the store its mails wait in (memory,
 * or a folder on disk) and the transport that makes the attempts (an SMTP pool, or Microsoft Graph).
 */
export class Connection {
  /** The OAuth2 token cache shared by every attempt, for client credentials and a Google service account. */
  readonly tokens?: TokenCache;
  private readonly transport: Transport & { poolSize: number };
  private readonly queue: MailQueue;
  /** The disk outbox, when mails wait on disk. */
  readonly outbox?: DeliveryQueue & { dir: string };
  /** The outbox on Redis, when every instance shares one. */
  readonly shared?: SharedQueue;
  /** Signs every message the connection builds, previews included. */
  private readonly signer?: DkimSigner;
  /** Its connections to Redis. */
  private readonly link?: RedisLink;

  constructor(
    readonly config: ConnectionConfig,
    private readonly creds: ConnectionCredentials,
    private readonly options: ConnectionOptions = {},
  ) {
    const backoff = new Backoff({ now: options.now, timers: options.timers, ...options.retry });
    // Large mails wait in the connection's outbox folder while they are signed; without a disk
    // outbox (memory, Redis) in the system's temporary folder. Either way in a folder of its own.
    if (options.dkim)
      this.signer = new DkimSigner(options.dkim, { parent: options.outbox ? path.join(options.outbox.dir, SIGNING_CACHE) : os.tmpdir() });
    const signing = this.signer && (() => this.signer!.signing());
    const tokenOptions = { timeout: options.tokenTimeout ?? timeoutMs(config), now: options.now };
    this.tokens =
      clientCredentialTokens(config, creds, {
        ...tokenOptions,
        // A certificate about to expire belongs to no send: it goes where the connection's own problems go.
        warn: options.onError && ((warning) => options.onError!(textError(warning))),
      }) ?? serviceAccountTokens(config, creds, tokenOptions);
    const graph = config.transport === 'graph' && this.tokens ? new GraphTransport(config, creds, { tokens: this.tokens }) : undefined;
    // The pool's regrowth counts on the backoff's clock, as the waits it follows do.
    const smtp = (c: ConnectionConfig) => new SmtpTransport(c, creds, { onError: options.onError, tokens: this.tokens, now: backoff.now });
    const rate = config.rateLimitPerMinute ?? 0;
    // What either queue takes: the retry policy, where outcomes and warnings go, and the signing.
    const common = {
      retryMs: (config.retryForSeconds ?? DEFAULT_RETRY_SECONDS) * 1000,
      authType: config.authType,
      report: options.report,
      warn: options.warn,
      onChange: options.onChange,
      signing,
    };
    const shared = options.shared;
    if (shared) {
      const link = (this.link = new RedisLink(shared.url, (e) => options.onError?.(e)));
      const paced = rate > 0 ? { limit: rate, windowMs: options.rateWindowMs ?? 60000 } : undefined;
      // Under a rate limit, an idle session is kept for this instance's next paced mail, which may come
      // only after every other instance had one (one login for them all); at most 10 s, well within
      // the 30 s an attempt of another instance waits for a lease (the pool's other leases stay free).
      const linger = paced ? Math.min(10000, LINGER_MS + (paced.windowMs / paced.limit) * poolSize(config)) : LINGER_MS;
      // SMTP sessions are held under leases shared by every instance; Graph has no sessions, only requests at once.
      this.transport =
        graph ??
        new SessionLeases(
          () => link.ready(),
          sharedKeys(shared.name),
          poolSize(config),
          () => smtp({ ...config, maxConnections: 1 }),
          randomUUID(),
          linger,
        );
      this.queue = this.shared = new SharedQueue(link, this.transport, {
        ...common,
        name: shared.name,
        maxBytes: shared.maxBytes,
        sessions: this.transport.poolSize,
        rate: paced,
        timing: backoff.timing,
        lockMs: shared.lockMs,
        onError: options.onError,
      });
      return;
    }
    this.transport = graph ?? smtp(config);
    const o = options.outbox;
    const store = o ? new Spool(o.dir, { maxBytes: o.maxBytes, maxCount: o.maxCount ?? DEFAULT_OUTBOX_COUNT }) : new MemoryStore();
    this.queue = new DeliveryQueue(store, this.transport, {
      ...common,
      backoff,
      limiter: rate > 0 ? new RateLimiter(rate, { windowMs: options.rateWindowMs, now: options.now, timers: options.timers }) : undefined,
    });
    if (o) this.outbox = Object.assign(this.queue as DeliveryQueue, { dir: o.dir });
  }

  /** The connection's user: the default sender and, for OAuth2, the mailbox. */
  get user(): string {
    return this.creds.user || '';
  }

  /** Time-out, size and redirect caps for attachments downloaded for this connection's mails. */
  get downloadLimits(): DownloadLimits {
    return downloadLimits(timeoutMs(this.config), this.config.maxAttachmentMB || this.options.maxAttachmentMB);
  }

  /** Mails waiting for their turn under the rate limit. */
  get waiting(): number {
    return this.queue.waiting;
  }

  /** Mails waiting for their next attempt after a transient failure. */
  get retrying(): number {
    return this.queue.retrying;
  }

  /** How many attempts may be under way at once: the pool size (fewer once an SMTP server said too many), or Graph's concurrent requests. */
  get poolSize(): number {
    return this.transport.poolSize;
  }

  /**
   * Sends one message through the queue, which retries transient failures (4xx answers, a
   * connection that broke before the server accepted the message, a busy token endpoint) with
   * backoff until Retry for has passed, every attempt with the same Message-ID. Resolves with the
   * server's answer, or with HandedOver when the msg ends first and the mail stays in the outbox.
   */
  send(
    message: Mail.Options,
    customFrom = false,
    onQueue?: Watch['onQueue'],
    onRetry?: Watch['onRetry'],
    origin?: Origin,
  ): Promise<SentInfo | HandedOver> {
    return this.queue.accept(message, customFrom, { onQueue, onRetry }, origin);
  }

  /** How a preview is signed: as the connection's mails are (undefined without DKIM). */
  signing(): Promise<MessageSigning | undefined> {
    return this.signer ? this.signer.signing() : Promise.resolve(undefined);
  }

  /** Connects, authenticates (fetching a token where needed) and quits: the Test connection button. Resolves with a note for the user, if any. */
  verify(): Promise<Text | undefined> {
    return this.transport.verify();
  }

  /**
   * Hands the connection's mails over and closes the pool: see DeliveryQueue.close. Mails in a disk
   * outbox stay there for the next start; in memory they fail.
   */
  async close(graceMs = 10000): Promise<void> {
    await this.queue.close(graceMs);
    await this.transport.close();
    await this.link?.close();
    await this.signer?.close();
  }
}
