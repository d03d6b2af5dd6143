import { PassThrough, type Readable } from 'node:stream';
import type Mail from 'nodemailer/lib/mailer';
import { parseDataURI } from 'nodemailer/lib/shared';
import { detectExtension } from 'nodemailer/lib/mime-funcs';
import { ErrorCodes, mailError } from './errors';
import { describeType } from './addresses';
import { httpClient } from './http-client';

export type AttachmentType = 'none' | 'url' | 'text' | 'base64' | 'custom' | 'mime';

export interface AttachmentSpec {
  type: AttachmentType | string;
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

export const DEFAULT_LIMITS: DownloadLimits = { timeout: 30000, maxBytes: 25 * 1024 * 1024, maxRedirects: 5 };

/** The download limits of a connection: its time-out and its size cap (in MB) or the default. */
export function downloadLimits(timeoutMs: number, maxMB: unknown): DownloadLimits {
  const mb = Number(maxMB);
  return { ...DEFAULT_LIMITS, timeout: timeoutMs, maxBytes: mb > 0 ? Math.round(mb * 1024 * 1024) : DEFAULT_LIMITS.maxBytes };
}

/** Keys of a msg.attachments entry we pass to nodemailer: none of them reads a local file. */
const ALLOWED_KEYS = new Set(['filename', 'content', 'encoding', 'contentType', 'href', 'raw', 'cid', 'contentDisposition', 'headers']);

const fail = (message: string, hint: string) => mailError(ErrorCodes.EATTACHMENT, message, hint);

/** Strict base64 (RFC 4648 §4), white space allowed between lines as in MIME bodies. */
export function decodeBase64(value: string, what: string): Buffer {
  const clean = value.replace(/\s+/g, '');
  if (clean.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    throw fail(`${what} is not valid base64`, 'Check the base64 string: only A-Z, a-z, 0-9, +, / and = padding are allowed (no data: prefix here; use From URL for data: URLs).');
  }
  return Buffer.from(clean, 'base64');
}

function asText(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw mailError(ErrorCodes.EINPUT, `${what} must be text, not ${describeType(value)}`, `Set ${what} to a string.`);
}

function fromDataUrl(url: string, filename?: string, mimeType?: string): Mail.Attachment {
  const parsed = parseDataURI(url);
  if (!parsed) throw fail('The data: URL is malformed', 'Write it as data:<type>;base64,<data>.');
  const comma = url.indexOf(',');
  const content = parsed.encoding === 'base64' ? decodeBase64(url.slice(comma + 1), 'The data: URL') : parsed.data;
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
        if (!/^https?:$/.test(options.protocol || '')) throw new Error(`redirect to ${options.protocol} refused`);
      },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason = /redirect|ERR_FR_TOO_MANY_REDIRECTS/i.test(`${err.code} ${err.message}`) ? err.message : err.code || err.message;
    throw fail(`The attachment could not be downloaded from ${host}: ${reason}`, 'Check that the URL is reachable from this machine and answers within the time-out without too many redirects.');
  }
  const declared = Number(res.headers['content-length']);
  if (res.status >= 400 || declared > limits.maxBytes) {
    res.data.destroy();
    throw res.status >= 400 ? fail(`The attachment URL answered HTTP ${res.status}`, 'Check the attachment URL: the server did not return the file.') : tooLarge(limits);
  }
  // Re-emit stream errors (size cap, time-out, reset) as our own error: axios' carries its config.
  const out = new PassThrough();
  res.data.on('error', (e: Error) => out.destroy(/maxContentLength/.test(e.message) ? tooLarge(limits) : fail(`The attachment download from ${host} broke off (${e.message})`, `Check the server that serves it: it stopped sending for ${limits.timeout / 1000} s or closed the connection.`)));
  res.data.pipe(out);
  // And the other way: when the attachment is dropped (a failed send), end the download too.
  out.once('close', () => res.data.destroy());
  return { stream: out, contentType: String(res.headers['content-type'] || '').split(';')[0] || undefined };
}

function tooLarge(limits: DownloadLimits) {
  const mb = Math.round((limits.maxBytes / 1024 / 1024) * 100) / 100;
  return fail(`The attachment is larger than ${mb} MB`, 'Send a smaller file or a link, or raise Max attachment size in the connection.');
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
export async function fromUrl(value: unknown, filename: string | undefined, mimeType: string | undefined, limits: DownloadLimits): Promise<Mail.Attachment> {
  const url = asText(value, 'The attachment URL').trim();
  if (/^data:/i.test(url)) return fromDataUrl(url, filename, mimeType);
  let protocol;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw fail(`The attachment URL is not a valid URL`, 'Give an http(s) URL or a data: URL.');
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw fail(`Attachment URLs with ${protocol} are refused`, 'Only http:, https: and data: URLs can be attached; local files never are.');
  }
  const { stream, contentType } = await download(url, limits);
  return { filename: filename || nameFromUrl(url) || 'attachment', content: stream, contentType: mimeType || contentType };
}

/** A pregenerated MIME part: headers, an empty line, a body. */
function fromMime(value: unknown): Mail.Attachment {
  const raw = asText(value, 'The MIME part');
  if (!/^[A-Za-z0-9-]+:[^\r\n]*\r?\n(?:[^\r\n]*\r?\n)*?\r?\n/.test(raw)) {
    throw fail('The pregenerated MIME part has no headers followed by an empty line', 'Give a MIME part such as "Content-Type: text/plain\\r\\n\\r\\nHello".');
  }
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
      return { filename: filename || 'attachment.txt', content: asText(spec.value, 'The attachment text'), contentType: mimeType || 'text/plain; charset=utf-8' };
    case 'base64': {
      const content = decodeBase64(asText(spec.value, 'The base64 attachment'), 'The base64 attachment');
      return { filename: filename || `attachment.${mimeType ? detectExtension(mimeType) : 'bin'}`, content, contentType: mimeType || 'application/octet-stream' };
    }
    case 'custom': {
      const contentType = mimeType || 'application/octet-stream';
      // An object from msg (a JSON document, say) is attached as its JSON text.
      const value = spec.value;
      const content = Buffer.isBuffer(value) ? value : value !== null && typeof value === 'object' ? JSON.stringify(value) : asText(value, 'The attachment content');
      return { filename: filename || `attachment.${detectExtension(contentType)}`, content, contentType };
    }
    case 'mime':
      return fromMime(spec.value);
    default:
      throw mailError(ErrorCodes.EINPUT, `Unknown attachment type "${spec.type}"`, 'Choose an attachment type in the node.');
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
  if (!entry || typeof entry !== 'object' || Buffer.isBuffer(entry)) {
    throw mailError(ErrorCodes.EINPUT, `${what} must be an object, not ${describeType(entry)}`, 'Give each attachment as {filename, content} or {filename, href}.');
  }
  const unknown = Object.keys(entry).filter((k) => !ALLOWED_KEYS.has(k));
  if (unknown.length) {
    throw fail(`${what} has ${unknown.map((k) => `"${k}"`).join(', ')}, which is not allowed`, `Use only ${[...ALLOWED_KEYS].join(', ')}; local files (path) are never read.`);
  }
  const a = entry as Mail.Attachment & { href?: unknown; raw?: unknown };
  if (a.href !== undefined) {
    const fetched = await fromUrl(a.href, a.filename || undefined, a.contentType, limits);
    const { href: _href, ...rest } = a;
    return { ...rest, ...fetched, filename: fetched.filename, contentType: fetched.contentType };
  }
  if (a.raw !== undefined) return fromMime(a.raw);
  if (a.encoding === 'base64' && typeof a.content === 'string') return { ...a, content: decodeBase64(a.content, what), encoding: undefined };
  if (typeof a.content === 'string' || Buffer.isBuffer(a.content)) return { ...a };
  throw fail(`${what} has no content, href or raw`, 'Give the attachment content (string or Buffer), an http(s)/data href, or a raw MIME part.');
}

/** Ends downloads that nodemailer did not read to the end (a failed send or a later bad input). */
export function closeStreams(attachments: { content?: unknown }[]): void {
  for (const a of attachments) {
    const c = a.content as { destroy?: () => void } | undefined;
    if (c && typeof c.destroy === 'function') c.destroy();
  }
}
