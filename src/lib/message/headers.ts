import MimeNode from 'nodemailer/lib/mime-node';
import { typeOf } from './addresses';
import { ErrorCodes, mailError } from '../errors/errors';
import { text, type Param, type Text } from '../errors/texts';
import { CONTENT_ID } from '../../shared/constants';

/** RFC 5322 §3.6.8: a field name is printable US-ASCII but the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/**
 * Header fields the node sets itself, or that would change who receives the mail or how it is
 * built: a custom value there could redirect the mail or break its MIME structure.
 */
const OWN_FIELDS = /^(from|to|cc|bcc|subject|date|message-id|mime-version|content-.*|reply-to|sender|return-path|in-reply-to|references)$/i;

/**
 * Threading fields a flow may also set in msg.headers: a function node that builds a reply sets
 * them there. They change neither the envelope nor the MIME structure; the node's own fields win.
 */
const THREAD_FIELDS = { 'in-reply-to': 'In-Reply-To', references: 'References' } as const;

const refuse = (message: Text, hint: Text) => mailError(ErrorCodes.EINPUT, message, hint);

/** RFC 5322 §2.1.1: a line of a message holds at most 998 characters, CRLF not counted. */
export const MAX_LINE = 998;

/**
 * The longest line of a header as nodemailer writes it. It folds at white space and writes
 * non-ASCII text as short encoded words, but a run of ASCII without white space (a 1 MB token, a
 * giant message id) stays one line, which servers truncate or refuse. So the header is built by
 * nodemailer itself and measured, unless it fits on one line anyway.
 */
export function longestHeaderLine(name: string, value: string): number {
  const oneLine = name.length + 2 + value.length;
  if (oneLine <= MAX_LINE) return oneLine;
  const node = new MimeNode('text/plain');
  node.setHeader(name, value);
  let longest = 0;
  for (const line of node.buildHeaders().split('\r\n')) longest = Math.max(longest, line.length);
  return longest;
}

/** Refuses (EINPUT) a header that nodemailer would write as a line longer than RFC 5322 allows; `field` names it in the error. */
export function checkLineLength(name: string, value: string, field: Param = name.slice(0, 60)): void {
  if (longestHeaderLine(name, value) > MAX_LINE)
    throw refuse(text('errors.header.lineTooLong', { field, max: MAX_LINE }), text('hints.header.lineTooLong', { field }));
}

function headerValue(name: string, value: unknown): string | string[] {
  if (Array.isArray(value)) return value.map((v) => headerValue(name, v) as string);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string')
    throw refuse(text('errors.header.valueType', { name, type: typeOf(value) }), text('hints.header.valueType'));
  if (/[\r\n]/.test(value)) throw refuse(text('errors.header.valueLineBreak', { name }), text('hints.header.valueLineBreak'));
  checkLineLength(name, value);
  return value;
}

/**
 * Custom headers of the node (its Headers property) and of msg.headers, checked: names must be
 * RFC 5322 field names and none that the node sets itself, values text without line breaks that
 * fold into lines of at most 998 characters. msg.headers wins for a name both give. In-Reply-To
 * and References in msg.headers are left to threading().
 */
export function customHeaders(fromNode: unknown, fromMsg: unknown): Record<string, string | string[]> | undefined {
  const out: Record<string, string | string[]> = {};
  for (const [source, headers, fromMsgHeaders] of [
    [text('fields.headers'), fromNode, false],
    ['msg.headers', fromMsg, true],
  ] as const) {
    if (headers === undefined || headers === null || headers === '') continue;
    if (typeof headers !== 'object' || Array.isArray(headers) || Buffer.isBuffer(headers)) {
      throw refuse(text('errors.header.notObject', { source, type: typeOf(headers) }), text('hints.header.notObject'));
    }
    for (const [name, value] of Object.entries(headers)) {
      if (!FIELD_NAME.test(name)) throw refuse(text('errors.header.name', { source, name: name.slice(0, 60) }), text('hints.header.name'));
      if (fromMsgHeaders && Object.hasOwn(THREAD_FIELDS, name.toLowerCase())) continue;
      if (OWN_FIELDS.test(name)) {
        throw refuse(
          text('errors.header.own', { source, name }),
          fromMsgHeaders ? text('hints.header.ownMsg', { name }) : text('hints.header.ownNode', { name }),
        );
      }
      // defineProperty: a "__proto__" name (JSON.parse makes it an own key) stays a plain key
      // instead of replacing the object's prototype, which would drop the header silently.
      Object.defineProperty(out, name, { value: headerValue(name, value), enumerable: true, writable: true, configurable: true });
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** A message id as RFC 5322 §3.6.4 writes it: <left@right>, without spaces or brackets inside. */
const MSG_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

/**
 * The ids of In-Reply-To or References: a string (ids separated by spaces or commas) or a list.
 * A bare left@right gets its angle brackets; anything else is refused. Returns the header value.
 * `source` names where the value came from in errors (the field itself, or msg.headers).
 */
export function messageIds(value: unknown, field: 'In-Reply-To' | 'References', source: string = field): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parts = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : undefined;
  if (!parts) throw refuse(text('errors.header.idsType', { field: source, type: typeOf(value) }), text('hints.header.idsType'));
  const ids = parts
    .filter((p) => p !== '')
    .map((p) => {
      const id = typeof p === 'string' ? (p.startsWith('<') ? p : `<${p}>`) : '';
      if (!MSG_ID.test(id))
        throw refuse(text('errors.header.idInvalid', { field: source, value: String(p).slice(0, 80) }), text('hints.header.idInvalid'));
      return id;
    });
  if (field === 'In-Reply-To' && ids.length > 1) throw refuse(text('errors.header.inReplyToMany'), text('hints.header.inReplyToMany'));
  if (!ids.length) return undefined;
  const header = ids.join(' ');
  checkLineLength(field, header, source);
  return header;
}

export interface Threading {
  inReplyTo?: string;
  references?: string;
  /** A threading header msg.headers sets beside the node's own field, which wins: said to the user. */
  warnings: Text[];
}

/**
 * In-Reply-To and References: the node's own fields, else those of msg.headers, each checked as
 * message ids. msg.headers giving a different value than a field that is set is a warning, not an
 * error: the flow still sends what the node says.
 */
export function threading(fromNode: { inReplyTo?: unknown; references?: unknown }, fromMsg: unknown): Threading {
  const inMsg: Partial<Record<'In-Reply-To' | 'References', unknown>> = {};
  // Anything that is not a header object is refused by customHeaders().
  if (fromMsg && typeof fromMsg === 'object' && !Array.isArray(fromMsg) && !Buffer.isBuffer(fromMsg)) {
    for (const [name, value] of Object.entries(fromMsg)) {
      const key = name.toLowerCase();
      if (!Object.hasOwn(THREAD_FIELDS, key)) continue;
      const field = THREAD_FIELDS[key as keyof typeof THREAD_FIELDS];
      inMsg[field] ??= value; // "In-Reply-To" and "in-reply-to" both given: the first counts
    }
  }
  const warnings: Text[] = [];
  const pick = (field: 'In-Reply-To' | 'References', own: unknown): string | undefined => {
    const ownIds = messageIds(own, field);
    const given = inMsg[field];
    if (given === undefined || given === null || given === '') return ownIds;
    const source = `msg.headers["${field}"]`;
    if (ownIds === undefined) return messageIds(given, field, source);
    let theirs: string | undefined;
    try {
      theirs = messageIds(given, field, source);
    } catch {
      theirs = undefined; // not ids at all: ignored like any other differing value
    }
    if (theirs !== ownIds) {
      const ignored = theirs ?? (Array.isArray(given) ? given.join(' ') : String(given));
      warnings.push(text('warnings.threadingConflict', { field, used: ownIds, ignored: ignored.slice(0, 200) }));
    }
    return ownIds;
  };
  return { inReplyTo: pick('In-Reply-To', fromNode.inReplyTo), references: pick('References', fromNode.references), warnings };
}

/** The Content-ID of the node's own attachment: text without brackets, spaces or line breaks. */
export function contentId(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !CONTENT_ID.test(value)) {
    throw refuse(text('errors.header.contentId', { value: String(value).slice(0, 60) }), text('hints.header.contentId'));
  }
  return value;
}

/** Content-IDs the HTML refers to (`cid:…`) that no attachment carries: each would show as a broken image. */
export function missingCids(html: string | undefined, attachments: { cid?: string }[] = []): string[] {
  if (!html) return [];
  const have = new Set(attachments.map((a) => a.cid).filter(Boolean));
  const wanted = new Set<string>();
  for (const m of html.matchAll(/\bcid:([^"'\s)>]+)/gi)) wanted.add(decodeCid(m[1]));
  return [...wanted].filter((cid) => !have.has(cid));
}

function decodeCid(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
