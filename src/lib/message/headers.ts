import { typeOf } from './addresses';
import { ErrorCodes, mailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { CONTENT_ID } from '../../shared/constants';

/** RFC 5322 §3.6.8: a field name is printable US-ASCII but the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/**
 * Header fields the node sets itself, or that would change who receives the mail or how it is
 * built: a custom value there could redirect the mail or break its MIME structure.
 */
const OWN_FIELDS = /^(from|to|cc|bcc|subject|date|message-id|mime-version|content-.*|reply-to|sender|return-path|in-reply-to|references)$/i;

const refuse = (message: Text, hint: Text) => mailError(ErrorCodes.EINPUT, message, hint);

function headerValue(name: string, value: unknown): string | string[] {
  if (Array.isArray(value)) return value.map((v) => headerValue(name, v) as string);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string')
    throw refuse(text('errors.header.valueType', { name, type: typeOf(value) }), text('hints.header.valueType'));
  if (/[\r\n]/.test(value)) throw refuse(text('errors.header.valueLineBreak', { name }), text('hints.header.valueLineBreak'));
  return value;
}

/**
 * Custom headers of the node (its Headers property) and of msg.headers, checked: names must be
 * RFC 5322 field names and none that the node sets itself, values text without line breaks.
 * msg.headers wins for a name both give.
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
      if (OWN_FIELDS.test(name)) {
        throw refuse(
          text('errors.header.own', { source, name }),
          fromMsgHeaders ? text('hints.header.ownMsg', { name }) : text('hints.header.ownNode', { name }),
        );
      }
      out[name] = headerValue(name, value);
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** A message id as RFC 5322 §3.6.4 writes it: <left@right>, without spaces or brackets inside. */
const MSG_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

/**
 * The ids of In-Reply-To or References: a string (ids separated by spaces or commas) or a list.
 * A bare left@right gets its angle brackets; anything else is refused. Returns the header value.
 */
export function messageIds(value: unknown, field: 'In-Reply-To' | 'References'): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parts = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : undefined;
  if (!parts) throw refuse(text('errors.header.idsType', { field, type: typeOf(value) }), text('hints.header.idsType'));
  const ids = parts
    .filter((p) => p !== '')
    .map((p) => {
      const id = typeof p === 'string' ? (p.startsWith('<') ? p : `<${p}>`) : '';
      if (!MSG_ID.test(id))
        throw refuse(text('errors.header.idInvalid', { field, value: String(p).slice(0, 80) }), text('hints.header.idInvalid'));
      return id;
    });
  if (field === 'In-Reply-To' && ids.length > 1) throw refuse(text('errors.header.inReplyToMany'), text('hints.header.inReplyToMany'));
  return ids.length ? ids.join(' ') : undefined;
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
