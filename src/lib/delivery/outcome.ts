// What the delivery queue gives its callers: how a send ends (sent, failed, or handed over to a
// later start), what a send node hears while its msg waits, and what the Outbox tab may see and do.
import type { Localizable, MailError } from '../errors/errors';
import type { Text } from '../errors/texts';
import type { Delivery } from '../transports/transport';
import type { ShownError, WaitingMail } from '../../shared/outbox-list';
import type { MailRecord } from './store';

/**
 * What a send resolves with once the server accepted it: the server's answer and how many attempts
 * it took. After attempts the server accepted for some recipients and deferred others, accepted and
 * rejected sum up all of them, and `warnings` names the recipients given up while still deferred.
 */
export type SentInfo = Delivery & { attempts: number; warnings?: Text[] };

/** What a failed send rejects with: the diagnosed error and how many attempts were made. */
export type SendError = MailError & { attempts: number };

/**
 * The msg's side of a mail ended without an outcome: the mail stays in the outbox (its send node or
 * connection closed, a redeploy or stop) and its outcome is reported when it comes (Outcome).
 */
export interface HandedOver {
  handedOver: true;
}

export const isHandedOver = (value: unknown): value is HandedOver => !!value && (value as HandedOver).handedOver === true;

/** How a mail ended, for a mail whose msg no longer waits for it. */
export type Outcome = { info: SentInfo } | { error: SendError };

/** The send node and msg a mail came from: its outcome is reported with them after a restart. */
export interface Origin {
  node: string;
  msg: Record<string, unknown>;
}

/** One attempt's error as a record keeps it. */
export type LastError = NonNullable<MailRecord['lastError']>;

/** What a send node hears of its mail while its msg waits. */
export interface Watch {
  /** The mail waits for its turn under the rate limit (true), or no longer (false). */
  onQueue?(waiting: boolean): void;
  /** The mail waits for its next attempt (true, with the attempts so far and the code of the last error), or no longer. */
  onRetry?(waiting: boolean, why?: { attempts: number; code?: string }): void;
}

/** One waiting mail as the Outbox tab shows it, its last error still in the catalog's keys (outbox-admin translates it). */
export interface OutboxEntry extends Omit<WaitingMail, 'lastError'> {
  lastError?: Localizable & Omit<ShownError, 'message' | 'hint'>;
}

/** What a config node with a disk outbox offers the editor's Outbox tab. */
export interface OutboxControl {
  /** The mails in the outbox, oldest first. */
  list(): OutboxEntry[] | Promise<OutboxEntry[]>;
  /** Ends the backoff wait of one waiting mail (or of all): they try at once. Resolves with how many did. */
  retryNow(id?: string): Promise<number>;
  /**
   * Deletes one waiting mail (or all); each one's msg ends as a failure. A mail whose attempt is
   * under way is sent if the server accepts it, else deleted instead of waiting again.
   */
  remove(id?: string): Promise<number>;
}

/** One record as the Outbox tab lists it: counts of recipients, never their addresses (Bcc ones may be among those owed). */
export function entryOf(r: MailRecord): OutboxEntry {
  const entry: OutboxEntry = {
    id: r.id,
    created: r.created,
    to: r.summary.to,
    subject: r.summary.subject,
    size: r.size,
    attempts: r.attempts,
  };
  if (r.nextAttemptAt !== undefined) entry.nextAttemptAt = r.nextAttemptAt;
  if (r.progress) entry.delivered = { count: r.progress.accepted.length, of: r.progress.to.length };
  if (r.lastError) {
    const { message, code, responseCode, hint, messageKey, params, hintKey, hintParams } = r.lastError;
    entry.lastError = { message, code, responseCode, hint, messageKey, params, hintKey, hintParams };
  }
  return entry;
}
