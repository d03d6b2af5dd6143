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
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error as the nodes report it: nodemailer's fields kept, a hint added. */
export interface MailError extends Error {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  hint?: string;
}

/** Creates one of the package's own errors. */
export function mailError(code: ErrorCode, message: string, hint?: string): MailError {
  const err: MailError = new Error(message);
  err.code = code;
  if (hint) err.hint = hint;
  return err;
}
