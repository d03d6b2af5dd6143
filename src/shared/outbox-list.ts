// What GET smtp-oauth-config/outbox answers and the editor's Outbox tab shows: one shape for the
// endpoint that writes it and the tab that reads it. Never a body, an attachment, a msg or a
// credential.

/** A server's or our own error, as the tab shows it: in the editor's language. */
export interface ShownError {
  message: string;
  code?: string;
  responseCode?: number;
  hint?: string;
}

/** One waiting mail. */
export interface WaitingMail {
  id: string;
  /** Epoch ms when the mail was accepted. */
  created: number;
  to: string;
  subject: string;
  /** Bytes of the built message. */
  size: number;
  attempts: number;
  nextAttemptAt?: number;
  lastError?: ShownError;
  /** After the server took the mail for some recipients and deferred others: how many it has of how many. */
  delivered?: { count: number; of: number };
}

/** One connection and its waiting mails. */
export interface ConnectionOutbox {
  id: string;
  name: string;
  outbox: 'disk' | 'memory' | 'redis';
  mails: WaitingMail[];
}
