import { ECONNECTION, EDNS, ESOCKET, ETIMEDOUT, ETLS } from 'nodemailer/lib/errors';
import { ErrorCodes, type MailError } from './errors';

/** An error as the retry sees it: the token cache marks the token endpoint's temporary answers. */
export interface RetryableError extends MailError {
  originalCode?: string;
  /** Set by the token cache on HTTP 429, 5xx and time-outs of the token endpoint. */
  transient?: boolean;
  /** How long the token endpoint asked us to wait (Retry-After), in ms. */
  retryAfterMs?: number;
  /** Set by a transport that made room for the mail at once (a smaller pool after "too many connections"): no backoff. */
  retryAtOnce?: boolean;
}

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
/** Whether an operating-system error code is a connection that could not be made or broke off. */
export const isNetworkFault = (code: string | undefined): boolean => NETWORK_FAULTS.has(code || '');

/** Configuration errors nodemailer reports as a broken connection. */
const MISMATCH = /wrong version number|ssl3_get_record|packet length too long|certificate|self[- ]signed|unable to verify|STARTTLS/i;

/**
 * Whether a later attempt may succeed where this one failed. RFC 5321 §4.2.1: a 4yz answer is a
 * transient negative completion, at whatever step it comes (greeting, EHLO, AUTH, MAIL, RCPT,
 * DATA); a 5yz answer is permanent. A connection that could not be made or broke before the server
 * accepted the message is transient too, and so are the token endpoint's 429, 5xx and time-outs.
 */
export function isTransient(err: RetryableError): boolean {
  // The token endpoint and Graph are HTTP: their errors say themselves whether they may pass.
  if (err.code === ErrorCodes.EOAUTH2 || err.code === ErrorCodes.EGRAPH) return err.transient === true;
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
