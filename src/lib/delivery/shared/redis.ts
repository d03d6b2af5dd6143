// The Redis side of the shared outbox: connections made from the connection's Redis URL, with BullMQ
// and ioredis loaded only when a connection uses them.
import type { Redis, RedisOptions } from 'ioredis';
import { ErrorCodes, mailError, type MailError } from '../../errors/errors';
import { text } from '../../errors/texts';

type Bull = typeof import('bullmq');
type IORedis = typeof import('ioredis').default;

// Loaded by the first connection that uses Redis: every other connection never pays for them.
/* eslint-disable @typescript-eslint/no-require-imports -- lazy requires, for the reason above */
const bullmq = () => require('bullmq') as Bull;
const ioredis = () => (require('ioredis') as { default: IORedis }).default;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Every key and queue of the shared outbox starts with it (BullMQ's own prefix is `bull`). */
export const PREFIX = 'smtp-outbox';
/** The keys of one connection's shared outbox beside its BullMQ queue (`smtp-outbox:{node id}:…`). */
export function sharedKeys(name: string) {
  const base = `${PREFIX}:${name}`;
  return {
    /** + job id: the built message. */
    message: `${base}:message:`,
    /** Bytes of the messages held, against the cap. */
    bytes: `${base}:bytes`,
    /** The shared limit a server forced (fewer sessions than the pool size), for a while. */
    limit: `${base}:limit`,
    /** + index: one SMTP session's lease. */
    lease: `${base}:lease:`,
    /** + job id: Delete came while an attempt was under way. */
    removed: `${base}:removed:`,
    /** + instance token: the channel an instance hears its msgs' outcomes on. */
    notes: `${base}:notes:`,
  };
}

/** How long a command, or the first connection, may take before a mail is refused: Redis answers in a millisecond when it is there. */
const ANSWER_MS = 5000;

/** ioredis's options for a Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS); checked by checkRedisUrl before. */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port: Number(u.port || 6379),
    username: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
    db: Number(u.pathname.slice(1) || 0),
    tls: u.protocol === 'rediss:' ? { servername: host } : undefined,
  };
}

/** The host and port of a Redis URL, for what the user is told: never its user name or password. */
export function redisHost(url: string): string {
  try {
    return new URL(url).host || '?';
  } catch {
    return '?';
  }
}

/** A mail the shared outbox could not take, as Redis did not answer: nothing was accepted. */
export function unreachable(host: string, cause: unknown): MailError {
  const error = (cause as Error)?.message?.split('\n')[0] || String(cause);
  return mailError(
    ErrorCodes.EOUTBOX,
    text('errors.outbox.redisUnreachable', { host, error }),
    text('hints.outbox.redisUnreachable', { host }),
  );
}

/**
 * The connections of one shared outbox: `commands` for the queue and the outbox's own keys, which
 * fails at once while Redis is away (a mail is refused rather than acknowledged and kept nowhere),
 * and `subscriber` for the outcomes other instances publish. Workers make their own (BullMQ's
 * blocking reads need one that waits for Redis instead).
 */
export class RedisLink {
  readonly host: string;
  readonly bull: Bull;
  readonly commands: Redis;
  private readonly options: RedisOptions;
  private subscribed?: Redis;
  private connecting?: Promise<void>;

  constructor(url: string, onError: (err: Error) => void) {
    this.host = redisHost(url);
    this.bull = bullmq();
    const Client = ioredis();
    this.options = { ...redisOptions(url), connectTimeout: ANSWER_MS, commandTimeout: ANSWER_MS };
    this.commands = new Client({ ...this.options, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    // ioredis reconnects by itself; a refused connection is said once, not every reconnect.
    let said = false;
    this.commands.on('error', (err: Error) => {
      if (said) return;
      said = true;
      onError(unreachable(this.host, err));
    });
    this.commands.on('ready', () => (said = false));
  }

  /** The options a BullMQ worker connects with: it waits for Redis as long as it takes. */
  get workerOptions(): RedisOptions {
    const { commandTimeout: _none, ...options } = this.options;
    return { ...options, maxRetriesPerRequest: null };
  }

  /** Resolves once the command connection is up (at most ANSWER_MS), else rejects with EOUTBOX. */
  async ready(): Promise<Redis> {
    const client = this.commands;
    if (client.status === 'ready') return client;
    // One wait for every mail that arrives meanwhile (each with its own listeners passed Node's limit of 10).
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no answer within ${ANSWER_MS / 1000} s`)), ANSWER_MS);
      const onReady = () => done();
      // A refused connection fails the mail at once; ioredis goes on reconnecting for the next one.
      const onError = (err: Error) => done(err);
      const onEnd = () => done(new Error('connection closed'));
      const done = (err?: Error) => {
        clearTimeout(timer);
        client.removeListener('ready', onReady);
        client.removeListener('error', onError);
        client.removeListener('end', onEnd);
        this.connecting = undefined;
        if (err) reject(unreachable(this.host, err));
        else resolve();
      };
      client.once('ready', onReady);
      client.once('error', onError);
      client.once('end', onEnd);
    });
    await this.connecting;
    return client;
  }

  /** Runs a command (or several) on the command connection; a Redis that is away is EOUTBOX. */
  async run<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = await this.ready();
    try {
      return await fn(client);
    } catch (e) {
      throw (e as MailError).code === ErrorCodes.EOUTBOX ? e : unreachable(this.host, e);
    }
  }

  /** The connection that listens on `channel`; reconnects (and subscribes again) by itself. */
  async subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    const Client = ioredis();
    const sub = (this.subscribed ??= new Client({ ...this.workerOptions }));
    sub.on('error', () => {
      /* the command connection says it */
    });
    sub.on('message', (ch: string, message: string) => ch === channel && onMessage(message));
    await sub.subscribe(channel);
  }

  async close(): Promise<void> {
    const quit = (c?: Redis) => c?.quit().catch(() => c.disconnect());
    await Promise.all([quit(this.subscribed), quit(this.commands)]);
  }
}
