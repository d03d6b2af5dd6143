import { ECONNECTION, EDNS, ESOCKET, ETIMEDOUT, ETLS } from 'nodemailer/lib/errors';
import { ErrorCodes, type MailError } from '../errors/errors';
import type { Timers } from './rate-limiter';

/** An error as the retry sees it: the token cache marks the token endpoint's temporary answers. */
export interface RetryableError extends MailError {
  originalCode?: string;
  /** Set by the token cache on HTTP 429, 5xx and time-outs of the token endpoint. */
  transient?: boolean;
  /** How long the token endpoint asked us to wait (Retry-After), in ms. */
  retryAfterMs?: number;
}

export interface RetryTiming {
  /** First delay in ms (1 s); doubled after every further failure. Shorter only in tests and the benchmark. */
  baseMs?: number;
  /** Longest delay in ms (5 min). */
  maxMs?: number;
  now?: () => number;
  timers?: Timers;
  /** Source of the jitter, in [0, 1). */
  random?: () => number;
}

export const RETRY_BASE_MS = 1000;
export const RETRY_MAX_MS = 5 * 60 * 1000;
/** A bound on the loop whatever the deadline: days of retrying at the longest delay. */
export const MAX_ATTEMPTS = 1000;

/**
 * Errors of the operating system for a connection that could not be made or broke off: another
 * attempt a little later may well get through. A refused certificate or a TLS/port mismatch is not
 * among them: it fails the same way every time.
 */
const NETWORK_FAULTS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);
/** Configuration errors nodemailer reports as a broken connection. */
const MISMATCH = /wrong version number|ssl3_get_record|packet length too long|certificate|self[- ]signed|unable to verify|STARTTLS/i;

/**
 * Whether a later attempt may succeed where this one failed. RFC 5321 §4.2.1: a 4yz answer is a
 * transient negative completion, at whatever step it comes (greeting, EHLO, AUTH, MAIL, RCPT,
 * DATA); a 5yz answer is permanent. A connection that could not be made or broke before the server
 * accepted the message is transient too, and so are the token endpoint's 429, 5xx and time-outs.
 */
export function isTransient(err: RetryableError): boolean {
  if (err.code === ErrorCodes.EOAUTH2) return err.transient === true;
  const text = `${err.response ?? ''} ${err.message ?? ''}`;
  if (typeof err.responseCode === 'number' && err.responseCode > 0) return err.responseCode >= 400 && err.responseCode < 500;
  if (MISMATCH.test(text)) return false;
  switch (err.code) {
    case ECONNECTION:
    case ETIMEDOUT:
      return true;
    case ESOCKET:
    case ETLS:
    case EDNS:
      return NETWORK_FAULTS.has(err.originalCode || '') || /socket disconnected|closed unexpectedly|socket hang up/i.test(text);
    default:
      return false;
  }
}

/**
 * The server refused a connection because this client has too many open: Exchange Online's
 * `432 4.3.2 Concurrent connections limit exceeded` at AUTH, Gmail's `421 4.7.0 Try again later`,
 * and any 421 that says "too many".
 */
export function isTooManyConnections(err: RetryableError): boolean {
  const text = `${err.response ?? ''} ${err.message ?? ''}`;
  if (err.responseCode === 432) return /4\.3\.2|concurrent|too many/i.test(text);
  if (err.responseCode === 421) return /4\.7\.0|too many|concurrent/i.test(text);
  return false;
}

/**
 * The wait before the next attempt after `failures` failed ones: 1 s, 2 s, 4 s … up to 5 min, each
 * spread by ±25 % so that sends that failed together do not come back together, and never shorter
 * than what the token endpoint asked for (Retry-After).
 */
export function backoffDelay(failures: number, timing: RetryTiming = {}, retryAfterMs = 0): number {
  const baseMs = timing.baseMs ?? RETRY_BASE_MS;
  const maxMs = timing.maxMs ?? RETRY_MAX_MS;
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  const spread = plain * (0.75 + 0.5 * (timing.random ?? Math.random)());
  return Math.max(Math.round(Math.min(maxMs, spread)), retryAfterMs);
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The waits of sends between attempts, on a clock and timers tests can replace. Closing ends every
 * wait at once, so that a redeploy never waits minutes for a backoff.
 */
export class Backoff {
  readonly now: () => number;
  private readonly timers: Timers;
  private readonly pending = new Set<{ handle: unknown; reject: (err: Error) => void }>();

  constructor(readonly timing: RetryTiming = {}) {
    this.now = timing.now ?? Date.now;
    this.timers = timing.timers ?? realTimers;
  }

  /** Number of sends waiting for their next attempt. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Resolves after `ms`; rejects with the error given to close() if that comes first. `bind` gets a
   * function that ends this wait at once (the outbox's Retry now).
   */
  wait(ms: number, bind?: (wake: () => void) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        handle: undefined as unknown,
        reject,
      };
      const end = () => {
        if (!this.pending.delete(entry)) return;
        this.timers.clear(entry.handle);
        resolve();
      };
      entry.handle = this.timers.set(() => {
        this.pending.delete(entry);
        resolve();
      }, ms);
      this.pending.add(entry);
      bind?.(end);
    });
  }

  /** Ends every wait with `err`. */
  close(err: Error): void {
    for (const entry of [...this.pending]) {
      this.pending.delete(entry);
      this.timers.clear(entry.handle);
      entry.reject(err);
    }
  }
}
