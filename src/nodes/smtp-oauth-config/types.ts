// The config node's shape as the send node sees it. Kept apart from smtp-oauth-config.ts because a
// module with `export =` may export nothing else, not even a type (TypeScript 6 error TS2309).
import type { Node } from 'node-red';
import type { Connection, Outcome } from '../../lib/connection';
import type { OutboxControl } from '../../lib/delivery/outcome';
import type { MailRecord } from '../../lib/delivery/store';
import type { MailError } from '../../lib/errors/errors';
import type { ConnectionConfig, ConnectionCredentials } from '../../lib/config/transport-options';

export interface SmtpOauthConfigNode extends Node<ConnectionCredentials> {
  /** The deployed settings, checked; undefined when they are invalid. */
  settings?: ConnectionConfig;
  /** The connection, created on first use so that deploying opens no socket; throws ECONFIG for invalid settings. */
  connection(): Connection;
  /** The disk outbox, for the editor's Outbox tab; undefined when mails wait in memory. */
  outbox?: OutboxControl;
  /**
   * Follows how many mails of a send node wait in the outbox without their msg (resumed after a
   * restart or redeploy): `fn` gets the count now and on every change. Returns the unsubscribe.
   */
  watchOutbox?(node: string, fn: (count: number) => void): () => void;
  /** Why the DKIM settings were refused at deploy: a preview, which needs no connection otherwise, fails with it too. */
  dkimError?: MailError;
  /** A send node closes: its msgs whose mails wait in the outbox end now (accepted). */
  releaseOutbox?(node: string): void;
}

/** What the send node offers for the outcome of a mail whose msg no longer waits for it. */
export interface OutcomeReceiver {
  reportOutcome(msg: Record<string, unknown> | undefined, outcome: Outcome, record: MailRecord): void;
}
