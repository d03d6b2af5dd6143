import type { Readable } from 'node:stream';
import type { Text } from '../errors/texts';
import type { RetryableError } from '../errors/transient';

/** The envelope of one attempt: the sender and the recipients it goes to (RFC 5321 MAIL FROM and RCPT TO). */
export interface Envelope {
  from: string;
  to: string[];
}

/** One attempt's message: built once by the queue, the same bytes and Message-ID on every attempt. */
export interface Outgoing {
  envelope: Envelope;
  /**
   * The built MIME message, opened afresh for each pass over the connection (a file is read again;
   * a message that streams from a download can be read once, see MemoryStore).
   */
  open(): Buffer | Readable;
  messageId: string;
}

/** One recipient's refusal: the server's answer to it, and the recipient. */
export type RecipientError = RetryableError & { recipient?: string };

/**
 * What an attempt the server accepted reports, in nodemailer's shape, whatever the transport: the
 * recipients it accepted, those it refused (each refusal with its answer in `rejectedErrors`,
 * where a 4xx is a deferral), and the server's final answer.
 */
export interface Delivery {
  messageId: string;
  envelope: { from: string | false; to: string[] };
  accepted: string[];
  rejected: string[];
  rejectedErrors?: RecipientError[];
  response: string;
}

/**
 * A way to send: it makes ONE attempt and reports what the server decided; it never decides when
 * to try again (the delivery queue does). A failed attempt rejects with the diagnosed-to-be error,
 * which keeps the server's `code`, `responseCode`, `response` and `command`; a refusal of every
 * recipient at RCPT TO carries each refusal (`rejected`, `rejectedErrors`).
 */
export interface Transport {
  /** One attempt; `signal` aborts it (a closing connection that cannot wait any longer). */
  send(mail: Outgoing, signal: AbortSignal): Promise<Delivery>;
  /** Connects, authenticates and quits: Test connection. Resolves with what the user should know beyond "it works", if anything. */
  verify(): Promise<Text | undefined>;
  /** Whether as many attempts wait for the transport as it can make at once: a new mail had better queue. */
  readonly crowded: boolean;
  /** Ends every connection; attempts under way fail. Resolves once what it holds elsewhere is given back (SessionLeases). */
  close(): void | Promise<void>;
}
