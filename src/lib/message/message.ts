import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { parseAddresses, parseSingleAddress, typeOf } from './addresses';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { checkLineLength } from './headers';
import { htmlToText } from './plain-text';
import { text, type Param } from '../errors/texts';
import { MAX_RECIPIENTS, PRIORITIES, SEND_DEFAULTS, type Priority } from '../../shared/constants';

export type { Priority };

/** The values of a send, after the node has evaluated its properties against the msg. */
export interface MailInput {
  to: unknown;
  cc?: unknown;
  bcc?: unknown;
  from?: unknown;
  replyTo?: unknown;
  subject?: unknown;
  html?: unknown;
  text?: unknown;
  priority?: string;
  attachments?: Mail.Attachment[];
  /** Custom headers, checked (headers.ts). */
  headers?: Record<string, string | string[]>;
  /** Threading: message ids as header values, checked (headers.ts). */
  inReplyTo?: string;
  references?: string;
}

/** A value that must be text, or an EINPUT error naming the field (a text of the catalog or a name as it is). */
export function notText(field: Param, value: unknown) {
  return mailError(ErrorCodes.EINPUT, text('errors.notText', { field, type: typeOf(value) }), text('hints.notText', { field }));
}

function optionalText(value: unknown, field: Param): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw notText(field, value);
}

/**
 * Builds nodemailer's message from evaluated values: every address checked, at most
 * `maxRecipients` of them, the sender defaulting to the connection's user, a plain-text version
 * derived from the HTML unless one is given.
 */
export function buildMessage(input: MailInput, defaultFrom: string, maxRecipients = MAX_RECIPIENTS): Mail.Options {
  // Each list parses only as far as there is room left, so a list far too long costs no more than the cap.
  const to = parseAddresses(input.to, text('fields.to'), maxRecipients);
  const cc = parseAddresses(input.cc, text('fields.cc'), maxRecipients - to.length);
  const bcc = parseAddresses(input.bcc, text('fields.bcc'), maxRecipients - to.length - cc.length);
  if (to.length + cc.length + bcc.length > maxRecipients) {
    throw mailError(
      ErrorCodes.EINPUT,
      text('errors.message.tooManyRecipients', { max: maxRecipients }),
      text('hints.message.tooManyRecipients'),
    );
  }
  if (!to.length && !cc.length && !bcc.length) {
    throw mailError(ErrorCodes.EINPUT, text('errors.message.noRecipient'), text('hints.message.noRecipient'));
  }
  const customFrom = parseSingleAddress(input.from, text('fields.from'));
  const from = customFrom ?? (defaultFrom ? parseSingleAddress(defaultFrom, text('fields.connectionUser')) : undefined);
  if (!from) throw mailError(ErrorCodes.EINPUT, text('errors.message.noSender'), text('hints.message.noSender'));
  const html = optionalText(input.html, text('fields.html'));
  const plain = optionalText(input.text, text('fields.text')) ?? (html !== undefined ? htmlToText(html) : undefined);
  const subject = optionalText(input.subject, text('fields.subject')) ?? '';
  checkLineLength('Subject', subject, text('fields.subject'));
  const priority = ((PRIORITIES as readonly string[]).includes(input.priority || '') ? input.priority : SEND_DEFAULTS.priority) as Priority;
  return {
    from,
    to,
    cc: cc.length ? cc : undefined,
    bcc: bcc.length ? bcc : undefined,
    replyTo: parseSingleAddress(input.replyTo, text('fields.replyTo')),
    subject,
    html,
    text: plain,
    priority,
    attachments: input.attachments?.length ? input.attachments : undefined,
    headers: input.headers,
    inReplyTo: input.inReplyTo,
    references: input.references,
  };
}

export interface SuccessResult {
  success: true;
  messageId: string;
  /** Every recipient accepted, by any attempt. */
  accepted: string[];
  /** Recipients refused for good, and those still deferred (4xx) when the retries ended (each named in `warnings`). */
  rejected: string[];
  response: string;
  /** The sender and every recipient of the mail. */
  envelope: { from: string; to: string[] };
  /** How many times the message was handed to the server (more than 1 after transient failures). */
  attempts: number;
}

/** A message built but not sent: the exact .eml that would have gone out. */
export interface PreviewResult {
  success: true;
  preview: true;
  messageId: string;
  envelope: { from: string; to: string[] };
  /** The message as text, or a Buffer above 1 MB (a string that large is costly to copy around a flow). */
  eml: string | Buffer;
}

/** Above this size the preview's .eml stays a Buffer. */
export const PREVIEW_TEXT_LIMIT = 1024 * 1024;

export function previewResult(built: { messageId: string; envelope: { from: string; to: string[] }; message: Buffer }): PreviewResult {
  const eml = built.message.length > PREVIEW_TEXT_LIMIT ? built.message : built.message.toString('utf8');
  return { success: true, preview: true, messageId: built.messageId, envelope: built.envelope, eml };
}

/** Adds the warnings of a send (a cid: without its image) to its result, when there are any. */
export function withWarnings<R extends object>(result: R, warnings: string[]): R {
  return warnings.length ? { ...result, warnings } : result;
}

export interface FailureResult {
  success: false;
  error: { message: string; code?: string; responseCode?: number; hint?: string };
  /** How many times the message was handed to the server: 0 when it failed before that (bad input). */
  attempts: number;
}

const addressOf = (a: string | Mail.Address | undefined) => (typeof a === 'string' ? a : (a?.address ?? ''));

export function successResult(
  info: Pick<SMTPPool.SentMessageInfo, 'messageId' | 'accepted' | 'rejected' | 'response'> & {
    envelope?: { from: string | false; to: string[] };
    attempts?: number;
  },
): SuccessResult {
  return {
    success: true,
    messageId: info.messageId,
    accepted: (info.accepted || []).map(addressOf),
    rejected: (info.rejected || []).map(addressOf),
    response: info.response,
    envelope: { from: String(info.envelope?.from || ''), to: (info.envelope?.to || []).map(String) },
    attempts: info.attempts ?? 1,
  };
}

export function failureResult(err: MailError & { attempts?: number }): FailureResult {
  const error: FailureResult['error'] = { message: err.message };
  if (err.code) error.code = err.code;
  if (err.responseCode) error.responseCode = err.responseCode;
  if (err.hint) error.hint = err.hint;
  return { success: false, error, attempts: err.attempts ?? 0 };
}
