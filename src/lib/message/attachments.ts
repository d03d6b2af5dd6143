import { PassThrough, type Readable } from 'node:stream';
import type Mail from 'nodemailer/lib/mailer';
import { parseDataURI } from 'nodemailer/lib/shared';
import { detectExtension } from 'nodemailer/lib/mime-funcs';
import { ErrorCodes, mailError, messageOf, textError, type MailError } from '../errors/errors';
import { typeOf } from './addresses';
import { longestHeaderLine, MAX_LINE } from './headers';
import { notText } from './message';
import { text, type Param, type Text } from '../errors/texts';
import { CONNECTION_DEFAULTS } from '../../shared/constants';
import { httpClient } from '../net/http-client';

export interface AttachmentSpec {
  /** One of ATTACHMENT_TYPES, as the flow file holds it: anything else is refused with EINPUT. */
  type: string;
  value: unknown;
  filename?: string;
  mimeType?: string;
}

export interface DownloadLimits {
  /** ms without data before a download is abandoned */
  timeout: number;
  maxBytes: number;
  maxRedirects: number;
}

export const DEFAULT_LIMITS: DownloadLimits = {
  timeout: CONNECTION_DEFAULTS.timeout * 1000,
  maxBytes: CONNECTION_DEFAULTS.maxAttachmentMB * 1024 * 1024,
  maxRedirects: 5,
};

/** The download limits of a connection: its time-out and its size cap (in MB) or the default. */
export function downloadLimits(timeoutMs: number, maxMB: unknown): DownloadLimits {
  const mb = Number(maxMB);
  return { ...DEFAULT_LIMITS, timeout: timeoutMs, maxBytes: mb > 0 ? Math.round(mb * 1024 * 1024) : DEFAULT_LIMITS.maxBytes };
}

/**
 * Fields a msg.attachments entry may have. Each is checked and copied into a new object: nodemailer
 * gives more meaning to an attachment than we check (`path`, `raw: {path}`, header objects with
 * `prepared` written unfolded), so the entry itself never reaches it.
 */
const ALLOWED_KEYS = new Set(['filename', 'content', 'encoding', 'contentType', 'href', 'raw', 'cid', 'contentDisposition', 'headers']);

/** A field name as RFC 5322 §3.6.8 defines it: printable US-ASCII except the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** CR, LF and other controls; a tab may fold inside a header (RFC 5322 §2.2.3). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/**
 * Headers the attachment's own fields set. nodemailer adds a custom Content-Type beside its own, and
 * readers disagree on which of two wins, so these come only from contentType, contentDisposition and cid.
 */
const PART_HEADERS = new Set(['content-type', 'content-transfer-encoding', 'content-disposition', 'content-id', 'mime-version']);

const fail = (message: Text, hint: Text) => mailError(ErrorCodes.EATTACHMENT, message, hint);

/**
 * Strict base64 (RFC 4648 §4), white space allowed between lines as in MIME bodies. Above
 * `maxBytes` decoded it is refused before anything is decoded.
 */
export function decodeBase64(value: string, what: Param, maxBytes = Infinity): Buffer {
  const clean = value.replace(/\s+/g, '');
  if (clean.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean))
    throw fail(text('errors.attachment.base64', { what }), text('hints.attachment.base64'));
  const padding = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  if (Math.floor((clean.length * 3) / 4) - padding > maxBytes) throw tooLarge(maxBytes);
  return Buffer.from(clean, 'base64');
}

function asText(value: unknown, what: Param): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw notText(what, value);
}

/**
 * A data: URL's content, within the connection's Max attachment size as a download is: the URL
 * travels in the msg, so without a cap a flow could build a mail of any size.
 */
function fromDataUrl(url: string, filename: string | undefined, mimeType: string | undefined, limits: DownloadLimits): Mail.Attachment {
  const comma = url.indexOf(',');
  // The type and encoding come from the part before the comma: parsed whole, base64 would be decoded twice.
  const parsed = comma < 0 ? null : parseDataURI(url.slice(0, comma + 1));
  if (!parsed) throw fail(text('errors.attachment.dataUrl'), text('hints.attachment.dataUrl'));
  let content: Buffer;
  if (parsed.encoding === 'base64') content = decodeBase64(url.slice(comma + 1), text('fields.dataUrl'), limits.maxBytes);
  else {
    content = parseDataURI(url)!.data;
    if (content.length > limits.maxBytes) throw tooLarge(limits.maxBytes);
  }
  const contentType = mimeType || parsed.contentType;
  return { filename: filename || `attachment.${detectExtension(contentType)}`, content, contentType };
}

/** Starts an http(s) download and returns its body as a stream, refusing what it should not fetch. */
async function download(url: string, limits: DownloadLimits): Promise<{ stream: Readable; contentType?: string }> {
  const host = new URL(url).host;
  let res;
  try {
    res = await httpClient().get<Readable>(url, {
      responseType: 'stream',
      timeout: limits.timeout,
      maxContentLength: limits.maxBytes,
      maxRedirects: limits.maxRedirects,
      validateStatus: () => true,
      beforeRedirect: (options: { protocol?: string }) => {
        if (!/^https?:$/.test(options.protocol || ''))
          throw textError(text('errors.attachment.redirect', { protocol: String(options.protocol) }));
      },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Our own refusal of a redirect is said in the user's language; of any other failure the code says most.
    const own = ownCause(err);
    const reason = own
      ? messageOf(own)
      : /redirect|ERR_FR_TOO_MANY_REDIRECTS/i.test(`${err.code} ${err.message}`)
        ? err.message
        : err.code || err.message;
    throw fail(text('errors.attachment.download', { host, reason }), text('hints.attachment.download'));
  }
  const declared = Number(res.headers['content-length']);
  if (res.status >= 400 || declared > limits.maxBytes) {
    res.data.destroy();
    throw res.status >= 400
      ? fail(text('errors.attachment.httpStatus', { status: res.status }), text('hints.attachment.httpStatus'))
      : tooLarge(limits.maxBytes);
  }
  // Re-emit stream errors (size cap, time-out, reset) as our own error: axios' carries its config.
  const out = new PassThrough();
  res.data.on('error', (e: Error) =>
    out.destroy(
      /maxContentLength/.test(e.message)
        ? tooLarge(limits.maxBytes)
        : fail(
            text('errors.attachment.brokeOff', { host, reason: e.message }),
            text('hints.attachment.brokeOff', { seconds: limits.timeout / 1000 }),
          ),
    ),
  );
  res.data.pipe(out);
  // And the other way: when the attachment is dropped (a failed send), end the download too.
  out.once('close', () => res.data.destroy());
  return { stream: out, contentType: String(res.headers['content-type'] || '').split(';')[0] || undefined };
}

/** Our own error among an error's causes: axios wraps what beforeRedirect throws, twice. */
function ownCause(e: unknown): MailError | undefined {
  let cause = e as (MailError & { cause?: unknown }) | undefined;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++, cause = cause.cause as typeof cause) if (cause.messageKey) return cause;
  return undefined;
}

function tooLarge(maxBytes: number) {
  const mb = Math.round((maxBytes / 1024 / 1024) * 100) / 100;
  return fail(text('errors.attachment.tooLarge', { mb }), text('hints.attachment.tooLarge'));
}

function nameFromUrl(url: string): string | undefined {
  const last = new URL(url).pathname.split('/').pop();
  try {
    return last ? decodeURIComponent(last) : undefined;
  } catch {
    return last;
  }
}

/** An attachment from a URL: http(s) streamed, data: decoded, every other scheme refused. */
export async function fromUrl(
  value: unknown,
  filename: string | undefined,
  mimeType: string | undefined,
  limits: DownloadLimits,
): Promise<Mail.Attachment> {
  const url = asText(value, text('fields.attachmentUrl')).trim();
  if (/^data:/i.test(url)) return fromDataUrl(url, filename, mimeType, limits);
  let protocol;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw fail(text('errors.attachment.badUrl'), text('hints.attachment.badUrl'));
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw fail(text('errors.attachment.scheme', { protocol }), text('hints.attachment.scheme'));
  }
  const { stream, contentType } = await download(url, limits);
  return { filename: filename || nameFromUrl(url) || 'attachment', content: stream, contentType: mimeType || contentType };
}

/** A pregenerated MIME part: headers, an empty line, a body. */
function fromMime(value: unknown, what: Param = text('fields.mimePart')): Mail.Attachment {
  const raw = asText(value, what);
  if (!/^[A-Za-z0-9-]+:[^\r\n]*\r?\n(?:[^\r\n]*\r?\n)*?\r?\n/.test(raw))
    throw fail(text('errors.attachment.mimeNoHeaders'), text('hints.attachment.mimeNoHeaders'));
  return { raw };
}

/** The attachment the node's Attachment fields describe, or undefined for none. */
export async function buildAttachment(spec: AttachmentSpec, limits: DownloadLimits = DEFAULT_LIMITS): Promise<Mail.Attachment | undefined> {
  const filename = spec.filename || undefined;
  const mimeType = spec.mimeType || undefined;
  switch (spec.type || 'none') {
    case 'none':
      return undefined;
    case 'url':
      return fromUrl(spec.value, filename, mimeType, limits);
    case 'text':
      return {
        filename: filename || 'attachment.txt',
        content: asText(spec.value, text('fields.attachmentText')),
        contentType: mimeType || 'text/plain; charset=utf-8',
      };
    case 'base64': {
      const content = decodeBase64(asText(spec.value, text('fields.base64Attachment')), text('fields.base64Attachment'));
      return {
        filename: filename || `attachment.${mimeType ? detectExtension(mimeType) : 'bin'}`,
        content,
        contentType: mimeType || 'application/octet-stream',
      };
    }
    case 'custom': {
      const contentType = mimeType || 'application/octet-stream';
      // An object from msg (a JSON document, say) is attached as its JSON text.
      const value = spec.value;
      const content = Buffer.isBuffer(value)
        ? value
        : value !== null && typeof value === 'object'
          ? JSON.stringify(value)
          : asText(value, text('fields.attachmentContent'));
      return { filename: filename || `attachment.${detectExtension(contentType)}`, content, contentType };
    }
    case 'mime':
      return fromMime(spec.value);
    default:
      throw mailError(
        ErrorCodes.EINPUT,
        text('errors.attachment.unknownType', { type: String(spec.type) }),
        text('hints.attachment.unknownType'),
      );
  }
}

/** The attachments of msg.attachments: plain objects with content, an http(s)/data href, or raw. */
export async function fromMsgAttachments(list: unknown, limits: DownloadLimits = DEFAULT_LIMITS): Promise<Mail.Attachment[]> {
  if (list === undefined || list === null) return [];
  const entries = Array.isArray(list) ? list : [list];
  const out: Mail.Attachment[] = [];
  try {
    for (const [i, entry] of entries.entries()) out.push(await fromMsgAttachment(entry, `msg.attachments[${i}]`, limits));
  } catch (err) {
    closeStreams(out); // downloads already started for earlier entries
    throw err;
  }
  return out;
}

async function fromMsgAttachment(entry: unknown, what: string, limits: DownloadLimits): Promise<Mail.Attachment> {
  if (!entry || typeof entry !== 'object' || Buffer.isBuffer(entry) || Array.isArray(entry)) {
    throw mailError(
      ErrorCodes.EINPUT,
      text('errors.attachment.notObject', { what, type: typeOf(entry) }),
      text('hints.attachment.notObject'),
    );
  }
  const unknown = Object.keys(entry).filter((k) => !ALLOWED_KEYS.has(k));
  if (unknown.length) {
    throw fail(
      text('errors.attachment.unknownKeys', { what, keys: unknown.map((k) => `"${k}"`).join(', ') }),
      text('hints.attachment.unknownKeys', { allowed: [...ALLOWED_KEYS].join(', ') }),
    );
  }
  const e = entry as Record<string, unknown>;
  // null counts as absent: flows often clear a field by setting it to null.
  const given = (key: string) => e[key] !== undefined && e[key] !== null;

  if (given('raw')) {
    // nodemailer writes a raw part as it is and ignores every other field, or reads raw: {path}.
    const others = [...ALLOWED_KEYS].filter((k) => k !== 'raw' && given(k));
    if (others.length) {
      throw fail(text('errors.attachment.rawWithOthers', { what, others: others.join(', ') }), text('hints.attachment.rawWithOthers'));
    }
    return fromMime(e.raw, `${what}.raw`);
  }
  if (given('href') && given('content')) {
    throw fail(text('errors.attachment.hrefAndContent', { what }), text('hints.attachment.hrefAndContent'));
  }

  // Every field is checked before a download starts, so a bad field never leaves one open.
  const filename = headerText(e.filename, `${what}.filename`);
  const contentType = headerText(e.contentType, `${what}.contentType`);
  const cid = headerText(e.cid, `${what}.cid`);
  const contentDisposition = disposition(e.contentDisposition, what);
  const headers = partHeaders(e.headers, `${what}.headers`);
  const encoding = optionalText(e.encoding, `${what}.encoding`);

  let source: Mail.Attachment;
  if (given('href')) {
    source = await fromUrl(e.href, filename, contentType, limits);
  } else if (typeof e.content === 'string' || Buffer.isBuffer(e.content)) {
    const content = typeof e.content === 'string' && encoding ? decodeContent(e.content, encoding, what) : e.content;
    source = { filename, content, contentType };
  } else if (given('content')) {
    throw mailError(
      ErrorCodes.EINPUT,
      text('errors.attachment.contentType', { what, type: typeOf(e.content) }),
      text('hints.attachment.contentType'),
    );
  } else {
    throw fail(text('errors.attachment.noContent', { what }), text('hints.attachment.noContent'));
  }
  const out: Mail.Attachment = {};
  for (const [key, value] of Object.entries({ ...source, cid, contentDisposition, headers })) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

function optionalText(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw notText(what, value);
  return value;
}

/** An optional text field that ends up in a header: a string without line breaks or controls. */
function headerText(value: unknown, what: string): string | undefined {
  const found = optionalText(value, what);
  if (found !== undefined && CONTROL.test(found))
    throw fail(text('errors.attachment.control', { what }), text('hints.attachment.control', { what }));
  return found;
}

function disposition(value: unknown, what: string): 'attachment' | 'inline' | undefined {
  const given = headerText(value, `${what}.contentDisposition`)?.toLowerCase();
  if (given === undefined || given === 'attachment' || given === 'inline') return given;
  throw fail(text('errors.attachment.disposition', { what }), text('hints.attachment.disposition'));
}

/** Extra headers of the part: names as RFC 5322 defines them, values plain text. */
function partHeaders(value: unknown, what: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  // A plain object from any realm: a Function node builds msg in its own vm context, whose
  // Object.prototype is not ours.
  const proto = typeof value === 'object' && !Array.isArray(value) ? Object.getPrototypeOf(value) : undefined;
  if (proto === undefined || (proto !== null && Object.getPrototypeOf(proto) !== null)) {
    throw fail(text('errors.attachment.headersNotObject', { what, type: typeOf(value) }), text('hints.attachment.headersNotObject'));
  }
  const out: Record<string, string> = {};
  for (const [name, header] of Object.entries(value as Record<string, unknown>)) {
    if (!FIELD_NAME.test(name))
      throw fail(text('errors.attachment.headerName', { what, name: JSON.stringify(name) }), text('hints.attachment.headerName'));
    if (PART_HEADERS.has(name.toLowerCase()))
      throw fail(text('errors.attachment.headerOwn', { what, name }), text('hints.attachment.headerOwn'));
    // nodemailer takes an object value as options, and {prepared: true} writes its value unfolded.
    if (typeof header !== 'string')
      throw fail(text('errors.attachment.headerValueType', { what, name, type: typeOf(header) }), text('hints.attachment.headerValueType'));
    if (CONTROL.test(header))
      throw fail(text('errors.attachment.headerValueControl', { what, name }), text('hints.attachment.headerValueControl'));
    if (longestHeaderLine(name, header) > MAX_LINE) {
      const field = `${what}["${name.slice(0, 60)}"]`;
      throw fail(text('errors.header.lineTooLong', { field, max: MAX_LINE }), text('hints.header.lineTooLong', { field }));
    }
    // defineProperty: a "__proto__" name stays a plain key instead of changing the object's prototype.
    Object.defineProperty(out, name, { value: header, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** String content in the named encoding, decoded here: nodemailer decodes base64 and hex without complaint. */
function decodeContent(content: string, encoding: string, what: string): string | Buffer {
  const name = encoding.toLowerCase().replace(/[-_\s]/g, '');
  if (name === 'base64') return decodeBase64(content, what);
  if (name === 'hex') {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(content.replace(/\s+/g, '')))
      throw fail(text('errors.attachment.hex', { what }), text('hints.attachment.hex'));
    return Buffer.from(content.replace(/\s+/g, ''), 'hex');
  }
  if (!Buffer.isEncoding(name)) throw fail(text('errors.attachment.encoding', { what, encoding }), text('hints.attachment.encoding'));
  return name === 'utf8' ? content : Buffer.from(content, name);
}

/** Ends downloads that nodemailer did not read to the end (a failed send or a later bad input). */
export function closeStreams(attachments: { content?: unknown }[]): void {
  for (const a of attachments) {
    const c = a.content as { destroy?: () => void } | undefined;
    if (c && typeof c.destroy === 'function') c.destroy();
  }
}
