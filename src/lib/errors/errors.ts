import { englishOf, text, type Params, type Text } from './texts';

/**
 * The package's own error codes, beside nodemailer's (EAUTH, ECONNECTION, ETLS, EENVELOPE, …).
 * Every error the nodes report carries a `code` and a `hint` that says what to fix.
 */
export const ErrorCodes = {
  /** The OAuth2 token endpoint refused or could not be reached. */
  EOAUTH2: 'EOAUTH2',
  /** An attachment could not be read, decoded or downloaded. */
  EATTACHMENT: 'EATTACHMENT',
  /** A property of the node or the msg has a value that cannot be sent. */
  EINPUT: 'EINPUT',
  /** The connection is missing or misconfigured. */
  ECONFIG: 'ECONFIG',
  /** The outbox is full, or the disk cannot hold the mail. */
  EOUTBOX: 'EOUTBOX',
  /** Microsoft Graph refused the mail or could not be reached. */
  EGRAPH: 'EGRAPH',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * Message and hint as texts of the catalog (texts.ts), beside their English in `message` and
 * `hint`: the node layer says them in the user's language (translate.ts). A nodemailer error has
 * no messageKey: its message is nodemailer's and the server's own words, shown as they are.
 */
export interface Localizable {
  message: string;
  hint?: string;
  messageKey?: string;
  params?: Params;
  hintKey?: string;
  hintParams?: Params;
}

/** An error as the nodes report it: nodemailer's fields kept, a hint added. */
export interface MailError extends Error, Localizable {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
}

/** Sets the error's message to a text of the catalog, in English and as key and parameters. */
export function setMessage<E extends Localizable>(err: E, message: Text, english = englishOf(message)): E {
  err.message = english;
  err.messageKey = message.key;
  if (message.params) err.params = message.params;
  else delete err.params;
  return err;
}

/** Sets the error's hint to a text of the catalog, in English and as key and parameters. */
export function setHint<E extends Localizable>(err: E, hint: Text): E {
  err.hint = englishOf(hint);
  err.hintKey = hint.key;
  if (hint.params) err.hintParams = hint.params;
  else delete err.hintParams;
  return err;
}

/** The message as a parameter of another text: its catalog text, or its own words as they are. */
export const messageOf = (err: Localizable): string | Text => (err.messageKey ? text(err.messageKey, err.params) : err.message);

/** The hint as a text, or its own words (a hint set by hand), or undefined. */
export const hintOf = (err: Localizable): string | Text | undefined => (err.hintKey ? text(err.hintKey, err.hintParams) : err.hint);

/** Creates one of the package's own errors. */
export function mailError(code: ErrorCode, message: Text, hint?: Text): MailError {
  const err = newError(message);
  err.code = code;
  if (hint) setHint(err, hint);
  return err;
}

/** An error of the package without a code of its own (a warning, an error nodemailer files under its code). */
export const textError = (message: Text): MailError => newError(message);

/** An Error whose stack trace starts with its English message, as any other error's does. */
function newError(message: Text): MailError {
  const english = englishOf(message);
  return setMessage(new Error(english) as MailError, message, english);
}
