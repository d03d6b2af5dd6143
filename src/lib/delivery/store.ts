import type { Readable } from 'node:stream';
import type { Localizable } from '../errors/errors';
import type { RecipientProgress } from './recipients';

/** One accepted mail as a store keeps it, beside its built message. Never a credential. */
export interface MailRecord {
  id: string;
  /** Epoch ms when the mail was accepted. */
  created: number;
  messageId: string;
  envelope: { from: string; to: string[] };
  /**
   * What the Outbox list and the log show: To, else Cc, else RFC 5322's `undisclosed-recipients:;`,
   * never a Bcc address and never the body.
   */
  summary: { to: string; subject: string };
  /** The To and Cc addresses: a server's answer may show them; any other address in it is masked. */
  shown?: string[];
  /** Bytes of the built message. */
  size: number;
  attempts: number;
  /** Epoch ms of the first attempt: the retry time counts from it, also across restarts. */
  firstAttemptAt?: number;
  /** Epoch ms of the next attempt, while the mail waits for a retry. */
  nextAttemptAt?: number;
  /** The last error, with message and hint also as keys of the catalog, for the Outbox tab to translate. */
  lastError?: Localizable & { code?: string; responseCode?: number };
  /**
   * How far the mail got with its recipients once an attempt split them (the server accepted it for
   * some and deferred others); `envelope.to` then holds only the recipients still owed.
   */
  progress?: RecipientProgress;
  /** Whether the mail has a From other than the connection's user (for the hints of a failure). */
  customFrom?: boolean;
  /** The send node that accepted the mail, to report the outcome of a mail resumed after a restart. */
  node?: string;
  /** The msg the outcome is reported with (JSON-safe, see storableMsg). */
  msg?: unknown;
}

/** The fields a caller gives a new record; the store adds id, time of acceptance and size. */
export type NewMail = Omit<MailRecord, 'id' | 'size' | 'created'>;

export interface AddOptions {
  /** The id taken when the mail arrived (its place in the order of arrival). */
  id: string;
  /** Epoch ms of acceptance (default: now). */
  now?: number;
  /** Sees each chunk of the message as it is kept (a copy for the first attempt). */
  onChunk?: (chunk: Buffer) => void;
}

/** What opening a store found besides the mails to send. */
export interface Found {
  /** Mails left by an earlier run, oldest first. */
  pending: MailRecord[];
  /** Records that could not be trusted (a crash mid-write, a planted or edited file), set aside. */
  damaged: string[];
  /** Leftovers that were never an accepted mail, deleted. */
  removedTemps: number;
  /** Names in the folder that are not the store's and were left alone (a directory, a link). */
  skipped: string[];
}

/**
 * Where a connection's accepted mails wait: in memory, on disk, or (later) shared by several
 * Node-RED instances. The queue decides what happens to them; a store only keeps them. Exactly one
 * queue holds a store at a time: open() waits until the one before released it.
 */
export interface Store {
  /** Whether mails survive a restart (the queue then hands them over on close instead of failing them). */
  readonly durable: boolean;
  /** Takes the store over once its previous holder released it, and says what it found. */
  open(): Promise<Found>;
  /**
   * Keeps a built message and its record; resolves once it is kept (on disk: fsynced and renamed).
   * Refuses with EOUTBOX when the store is full, counting the mails still being written.
   */
  add(fields: NewMail, message: Readable | Buffer, options: AddOptions): Promise<MailRecord>;
  /** Rewrites a record (attempts, next attempt, last error, progress). */
  update(record: MailRecord): Promise<void>;
  /** Forgets a mail for good (it ended). */
  remove(id: string): Promise<void>;
  /** The mails kept, oldest first. */
  list(): MailRecord[];
  /** A mail's built message for one pass over a connection. */
  body(id: string): Buffer | Readable;
  /** Whether the message can still be sent whole (a message streamed from a download reads once). */
  reusable(id: string): boolean;
  /** Hands the store to the next holder. */
  release(): void;
}
