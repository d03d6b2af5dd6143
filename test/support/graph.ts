// A Microsoft Graph-shaped mail API on loopback (node:http): sendMail with a base64 MIME body, and
// the draft route of large mails (draft, attachments, upload sessions, send, delete), with Graph's
// documented limits and error bodies: 4 MB per request, chunks of at most 4 MB in multiples of
// 320 KiB, an upload URL that refuses an Authorization header, 4 concurrent requests per mailbox,
// 429 with Retry-After. Sources: learn.microsoft.com user-sendmail, outlook-large-attachments,
// attachment-createuploadsession, throttling-limits; see FIELD-NOTES "Microsoft 365 beyond SMTP AUTH".
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import addressparser from 'nodemailer/lib/addressparser';
import { buildHeaderParam, isPlainText } from 'nodemailer/lib/mime-funcs';

/** Graph's cap on one request's body, and on one chunk of an upload session. */
export const MAX_REQUEST = 4 * 1024 * 1024;
/** Chunks of an upload session but the last are multiples of this (320 KiB). */
export const CHUNK_UNIT = 320 * 1024;

export interface GraphOptions {
  /** The access tokens that are good (the token endpoint's `state.issued`); any other bearer gets 401. */
  tokens: () => string[];
  /** Known mailboxes (UPN or object id, any case); default: any. Others get 404 ErrorInvalidUser. */
  mailboxes?: string[];
  /** Mailboxes that answer 404 MailboxNotEnabledForRESTAPI (on-premises, inactive or soft-deleted). */
  notEnabled?: string[];
  /** Concurrent requests per mailbox Graph serves (4); the next one gets 429 MailboxConcurrency. */
  concurrency?: number;
}

/** One request as it arrived. */
export interface GraphRequest {
  method: string;
  /** The path without the query: /v1.0/users/a@b/sendMail, /upload/… */
  path: string;
  contentType?: string;
  authorization: boolean;
  bodyLength: number;
  /** The mailbox of the path (or of the upload session), as the client wrote it, decoded. */
  mailbox?: string;
}

/** A mail Exchange sent. */
export interface SentMail {
  mailbox: string;
  /** What the recipients get: the MIME without its Bcc header; for a draft, its attachments added back as parts. */
  mime: Buffer;
  /** The addresses of the Bcc header that was taken out, lower case. */
  bcc: string[];
  /** To, Cc and Bcc addresses, lower case: whom Exchange delivers to. */
  recipients: string[];
}

export interface DraftAttachmentRecord {
  name: string;
  contentType: string;
  isInline: boolean;
  contentId?: string;
  content: Buffer;
  /** Added by POST …/attachments or by an upload session. */
  via: 'post' | 'upload';
}

export interface Draft {
  mailbox: string;
  id: string;
  mime: Buffer;
  attachments: DraftAttachmentRecord[];
}

export interface UploadSession {
  id: string;
  token: string;
  mailbox: string;
  messageId: string;
  name: string;
  contentType: string;
  isInline: boolean;
  contentId?: string;
  size: number;
  /** Bytes received so far, in order. */
  chunks: Buffer[];
  received: number;
  /** Length of every accepted PUT, in order. */
  puts: number[];
}

/** An answer given instead of the next one, as Graph would send it. */
export interface CannedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface GraphState {
  /** Application permissions granted (admin consent), both on: switch off to get 403 ErrorAccessDenied. */
  mailSend: boolean;
  mailReadWrite: boolean;
  requests: GraphRequest[];
  sent: SentMail[];
  /** Drafts not yet sent nor deleted, by id. */
  drafts: Map<string, Draft>;
  /** Drafts deleted (DELETE …/messages/{id}), in order: a failed large send cleans up after itself. */
  deleted: Draft[];
  sessions: Map<string, UploadSession>;
  /** Answers given instead of the next requests' (answerNext, throttleNext). */
  next: CannedAnswer[];
  /** Requests in flight now, per mailbox (lower case). */
  inFlight: Map<string, number>;
  /** The most requests in flight at once for one mailbox, the refused ones included: what the client attempted. */
  peakConcurrent: number;
  /** 429 MailboxConcurrency answers given. */
  concurrencyRefusals: number;
  /** Makes the next answer this one (status, body, extra headers): 503, 504, a 429 … */
  answerNext(status: number, body: unknown, headers?: Record<string, string>): void;
  /** The next `n` requests get 429 with Retry-After `retryAfter` seconds (omitted when null) and Graph's throttling body. */
  throttleNext(n: number, retryAfter?: number | null, code?: 'ApplicationThrottled' | 'TooManyRequests'): void;
  /** Holds every request after it is counted in flight, before it is answered, until release(). */
  hold(): void;
  /** Answers the held requests and stops holding. */
  release(): void;
  /** Resolves once `n` requests are held (in flight, waiting for release()). */
  waitForHeld(n: number): Promise<void>;
  /** Resolves once `n` mails were sent in all. */
  waitForSent(n: number): Promise<SentMail[]>;
}

export interface GraphServer {
  /** The root, http://127.0.0.1:PORT: the connection's graphUrl. */
  url: string;
  port: number;
  state: GraphState;
  close(): Promise<void>;
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...headers });
  res.end(text);
};

/** Graph's error body. */
const errorBody = (req: http.IncomingMessage, requestId: string, code: string, message: string) => ({
  error: {
    code,
    message,
    innerError: {
      date: new Date().toISOString().replace(/\.\d+Z$/, ''),
      'request-id': requestId,
      'client-request-id': String(req.headers['client-request-id'] || requestId),
    },
  },
});

/** The header block and the body of a MIME message, split at the first blank line. */
function splitMessage(mime: Buffer): { header: string; body: Buffer } {
  const text = mime.toString('latin1');
  const blank = /\r?\n\r?\n/.exec(text);
  if (!blank) return { header: text, body: Buffer.alloc(0) };
  return { header: text.slice(0, blank.index), body: mime.subarray(blank.index + blank[0].length) };
}

/** The header lines grouped into fields (a field and its folded lines). */
const fieldsOf = (header: string): string[] =>
  header.split(/\r?\n/).reduce<string[]>((fields, line) => {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += `\r\n${line}`;
    else if (line) fields.push(line);
    return fields;
  }, []);

const nameOf = (field: string) => field.slice(0, field.indexOf(':')).trim().toLowerCase();
const valueOf = (field: string) =>
  Buffer.from(field.slice(field.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' '), 'latin1')
    .toString('utf8')
    .trim();
const addressesIn = (fields: string[], name: string) =>
  fields
    .filter((f) => nameOf(f) === name)
    .flatMap((f) => addressparser(valueOf(f), { flatten: true }).map((a) => a.address.toLowerCase()))
    .filter(Boolean);

/** What Exchange sends and to whom: the Bcc header taken out of the copy, its addresses kept as recipients. */
function delivery(mailbox: string, mime: Buffer): SentMail {
  const { header, body } = splitMessage(mime);
  const fields = fieldsOf(header);
  const bcc = addressesIn(fields, 'bcc');
  const recipients = [...new Set([...addressesIn(fields, 'to'), ...addressesIn(fields, 'cc'), ...bcc])];
  const kept = fields.filter((f) => nameOf(f) !== 'bcc');
  return { mailbox, mime: Buffer.concat([Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1'), body]), bcc, recipients };
}

/** A header parameter: quoted when plain ASCII, RFC 2231 otherwise. */
const param = (key: string, value: string) =>
  isPlainText(value, true) && value.length < 60
    ? `${key}="${value.replace(/["\\]/g, '\\$&')}"`
    : buildHeaderParam(key, value)
        .map((p) => `${p.key}=${p.value}`)
        .join(';\r\n ');

/** The draft as Exchange sends it: its MIME, wrapped in multipart/mixed with each attachment added as a part. */
function assemble(draft: Draft): Buffer {
  if (!draft.attachments.length) return draft.mime;
  const { header, body } = splitMessage(draft.mime);
  const fields = fieldsOf(header);
  const isContent = (f: string) => /^content-/.test(nameOf(f));
  const boundary = `----graph-loopback-${crypto.randomUUID()}`;
  const top = [...fields.filter((f) => !isContent(f)), `Content-Type: multipart/mixed; boundary="${boundary}"`];
  const original = fields.filter(isContent);
  const pieces: Buffer[] = [Buffer.from(`${top.join('\r\n')}\r\n\r\n--${boundary}\r\n${original.join('\r\n')}\r\n\r\n`, 'latin1'), body];
  for (const a of draft.attachments) {
    const headers = [
      `Content-Type: ${a.contentType}; ${param('name', a.name)}`,
      `Content-Disposition: ${a.isInline ? 'inline' : 'attachment'}; ${param('filename', a.name)}`,
      ...(a.contentId ? [`Content-ID: <${a.contentId}>`] : []),
      'Content-Transfer-Encoding: base64',
    ];
    const base64 = a.content.toString('base64').replace(/.{76}/g, '$&\r\n');
    pieces.push(Buffer.from(`\r\n--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n${base64}`, 'latin1'));
  }
  pieces.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(pieces);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** A header field line: a field name, a colon. */
const FIELD_LINE = /^[\x21-\x39\x3b-\x7e]+:/;

/** Starts the server on 127.0.0.1, on a free port. */
export async function startGraph(options: GraphOptions): Promise<GraphServer> {
  const limit = options.concurrency ?? 4;
  const known = options.mailboxes?.map((m) => m.toLowerCase());
  const notEnabled = (options.notEnabled || []).map((m) => m.toLowerCase());
  /** http://127.0.0.1:PORT, once listening: the origin of the upload URLs. */
  let root = 'http://127.0.0.1';
  let holding = false;
  let held: (() => void)[] = [];
  const watchers = new Set<() => void>();
  const notify = () => watchers.forEach((w) => w());
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      if (done()) return resolve();
      const watcher = () => {
        if (!done()) return;
        watchers.delete(watcher);
        resolve();
      };
      watchers.add(watcher);
    });

  const state: GraphState = {
    mailSend: true,
    mailReadWrite: true,
    requests: [],
    sent: [],
    drafts: new Map(),
    deleted: [],
    sessions: new Map(),
    next: [],
    inFlight: new Map(),
    peakConcurrent: 0,
    concurrencyRefusals: 0,
    answerNext(status, body, headers) {
      state.next.push({ status, body, headers });
    },
    throttleNext(n, retryAfter = 1, code = 'ApplicationThrottled') {
      for (let i = 0; i < n; i++) {
        state.next.push({
          status: 429,
          body: {
            error: { code, message: code === 'TooManyRequests' ? 'Too many requests.' : 'Application is over its request rate limit.' },
          },
          headers: retryAfter === null ? {} : { 'Retry-After': String(retryAfter) },
        });
      }
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      const waiting = held;
      held = [];
      waiting.forEach((go) => go());
    },
    waitForHeld: (n) => until(() => held.length >= n),
    waitForSent: (n) => until(() => state.sent.length >= n).then(() => state.sent),
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const requestId = crypto.randomUUID();
    res.setHeader('request-id', requestId);
    res.setHeader('client-request-id', String(req.headers['client-request-id'] || requestId));
    const url = new URL(req.url || '/', root);
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      json(res, status, errorBody(req, requestId, code, message), headers);

    // The whole body is read before answering, even one over the cap: answering early would reset
    // the connection under a client still writing, which Graph's front end does not do either.
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length <= MAX_REQUEST) chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    const users = /^\/v1\.0\/users\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const upload = /^\/upload\/([^/]+)$/.exec(url.pathname);
    const session = upload ? state.sessions.get(upload[1]) : undefined;
    const mailbox = users ? decodeURIComponent(users[1]) : session?.mailbox;
    state.requests.push({
      method: req.method || '',
      path: url.pathname,
      contentType: req.headers['content-type'],
      authorization: !!req.headers.authorization,
      bodyLength: length,
      ...(mailbox ? { mailbox } : {}),
    });

    const key = mailbox?.toLowerCase();
    if (key) {
      const now = (state.inFlight.get(key) || 0) + 1;
      state.inFlight.set(key, now);
      state.peakConcurrent = Math.max(state.peakConcurrent, now);
    }
    try {
      if (key && state.inFlight.get(key)! > limit) {
        state.concurrencyRefusals++;
        return fail(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': '1' });
      }
      if (holding) {
        await new Promise<void>((go) => {
          held.push(go);
          notify();
        });
      }
      const canned = state.next.shift();
      if (canned) return json(res, canned.status, canned.body, canned.headers);
      if (length > MAX_REQUEST) return fail(413, 'RequestEntityTooLarge', 'The maximum request length supported is 4MB.');
      if (upload) return uploadChunk(req, res, url, body, session, fail);
      return route(req, res, url, users, body, fail);
    } finally {
      if (key) state.inFlight.set(key, state.inFlight.get(key)! - 1);
      notify();
    }
  }

  type Fail = (status: number, code: string, message: string, headers?: Record<string, string>) => void;

  /** The MIME of a text/plain base64 body, or undefined after answering 400. */
  function mimeOf(req: http.IncomingMessage, body: Buffer, fail: Fail): Buffer | undefined {
    if (!/^text\/plain\b/i.test(String(req.headers['content-type'] || ''))) {
      fail(400, 'ErrorInvalidRequest', 'Content-Type text/plain with a base64 MIME body is expected.');
      return undefined;
    }
    const text = body.toString('latin1').replace(/\r?\n/g, '');
    if (!text || text.length % 4 !== 0 || !BASE64.test(text)) {
      fail(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
      return undefined;
    }
    const mime = Buffer.from(text, 'base64');
    const { header } = splitMessage(mime);
    if (!FIELD_LINE.test(header) || !fieldsOf(header).every((f) => FIELD_LINE.test(f))) {
      fail(400, 'ErrorMimeContentInvalid', 'The MIME content is invalid.');
      return undefined;
    }
    return mime;
  }

  function route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    users: RegExpExecArray | null,
    body: Buffer,
    fail: Fail,
  ): void {
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization || ''))?.[1];
    if (!bearer) return fail(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    if (!options.tokens().includes(bearer))
      return fail(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    if (!users) return fail(400, 'BadRequest', `Resource not found for the segment '${url.pathname.split('/')[2] || ''}'.`);
    const mailbox = decodeURIComponent(users[1]);
    const rest = users[2] || '';
    const method = req.method || '';
    const accessDenied = () => fail(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    if (known && !known.includes(mailbox.toLowerCase()))
      return fail(404, 'ErrorInvalidUser', `The requested user '${mailbox}' is invalid.`);
    if (notEnabled.includes(mailbox.toLowerCase())) {
      return fail(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    }

    if (method === 'POST' && rest === '/sendMail') {
      if (!state.mailSend) return accessDenied();
      const mime = mimeOf(req, body, fail);
      if (!mime) return;
      const mail = delivery(mailbox, mime);
      if (!mail.recipients.length) return fail(400, 'ErrorInvalidRecipients', "At least one recipient isn't valid.");
      state.sent.push(mail);
      return json(res, 202, undefined);
    }

    if (method === 'POST' && rest === '/messages') {
      if (!state.mailReadWrite) return accessDenied();
      const mime = mimeOf(req, body, fail);
      if (!mime) return;
      const id = `AAMk${crypto.randomBytes(24).toString('base64url')}`;
      state.drafts.set(id, { mailbox, id, mime, attachments: [] });
      return json(res, 201, { '@odata.context': `${url.origin}/v1.0/$metadata#users('${mailbox}')/messages/$entity`, id, isDraft: true });
    }

    const message = /^\/messages\/([^/]+)(\/.*)?$/.exec(rest);
    if (!message) return fail(400, 'BadRequest', `Resource not found for the segment '${rest.split('/')[1] || ''}'.`);
    const draft = state.drafts.get(decodeURIComponent(message[1]));
    const action = message[2] || '';
    const needed = action === '/send' ? state.mailSend : state.mailReadWrite;
    if (!needed) return accessDenied();
    if (!draft || draft.mailbox.toLowerCase() !== mailbox.toLowerCase()) {
      return fail(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }

    if (method === 'DELETE' && action === '') {
      state.drafts.delete(draft.id);
      state.deleted.push(draft);
      return json(res, 204, undefined);
    }
    if (method === 'POST' && action === '/send') {
      const mail = delivery(mailbox, assemble(draft));
      if (!mail.recipients.length) return fail(400, 'ErrorInvalidRecipients', "At least one recipient isn't valid.");
      state.drafts.delete(draft.id);
      state.sent.push(mail);
      return json(res, 202, undefined);
    }
    const input = parseJson(body);
    if (method === 'POST' && action === '/attachments') {
      if (!input || input['@odata.type'] !== '#microsoft.graph.fileAttachment' || typeof input.name !== 'string') {
        return fail(400, 'ErrorInvalidRequest', 'A fileAttachment with a name and contentBytes is expected.');
      }
      const contentBytes = String(input.contentBytes ?? '');
      if (!BASE64.test(contentBytes) || contentBytes.length % 4 !== 0) {
        return fail(400, 'ErrorInvalidRequest', "Cannot convert the literal to the expected type 'Edm.Binary'.");
      }
      draft.attachments.push({
        name: input.name,
        contentType: typeof input.contentType === 'string' ? input.contentType : 'application/octet-stream',
        isInline: input.isInline === true,
        ...(typeof input.contentId === 'string' ? { contentId: input.contentId } : {}),
        content: Buffer.from(contentBytes, 'base64'),
        via: 'post',
      });
      return json(res, 201, { '@odata.type': '#microsoft.graph.fileAttachment', id: crypto.randomUUID(), name: input.name });
    }
    if (method === 'POST' && action === '/attachments/createUploadSession') {
      const item = input?.AttachmentItem as Record<string, unknown> | undefined;
      if (!item || item.attachmentType !== 'file' || typeof item.name !== 'string' || !(Number(item.size) > 0)) {
        return fail(400, 'ErrorInvalidRequest', 'AttachmentItem with attachmentType file, a name and a size is expected.');
      }
      const id = crypto.randomBytes(12).toString('hex');
      const token = crypto.randomBytes(16).toString('base64url');
      state.sessions.set(id, {
        id,
        token,
        mailbox,
        messageId: draft.id,
        name: item.name,
        contentType: typeof item.contentType === 'string' ? item.contentType : 'application/octet-stream',
        isInline: item.isInline === true,
        ...(typeof item.contentId === 'string' ? { contentId: item.contentId } : {}),
        size: Number(item.size),
        chunks: [],
        received: 0,
        puts: [],
      });
      return json(res, 201, {
        '@odata.context': `${url.origin}/v1.0/$metadata#microsoft.graph.uploadSession`,
        uploadUrl: `${url.origin}/upload/${id}?authtoken=${token}`,
        expirationDateTime: expiry(),
        nextExpectedRanges: ['0-'],
      });
    }
    return fail(400, 'BadRequest', `Unsupported request: ${method} ${url.pathname}`);
  }

  /** A PUT of one chunk to an upload session's URL, pre-authenticated by its authtoken. */
  function uploadChunk(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    body: Buffer,
    session: UploadSession | undefined,
    fail: Fail,
  ): void {
    if (!session || url.searchParams.get('authtoken') !== session.token) {
      return fail(404, 'ErrorItemNotFound', 'The upload session was not found or has expired.');
    }
    // Graph's upload URL is pre-authenticated; a bearer token of the Graph audience is refused there.
    if (req.headers.authorization)
      return fail(401, 'InvalidAudienceForResource', 'The audience claim value is invalid for current resource.');
    if (req.method !== 'PUT') return fail(405, 'MethodNotAllowed', 'The upload URL takes PUT requests.');
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(req.headers['content-range'] || ''));
    if (!range) return fail(400, 'InvalidContentRange', 'The Content-Range header is missing or malformed.');
    const [from, to, total] = range.slice(1).map(Number);
    if (total !== session.size)
      return fail(400, 'InvalidContentRange', `The total size ${total} does not match the session's ${session.size}.`);
    if (from !== session.received || to < from || to >= total) {
      return fail(416, 'InvalidRange', `The range ${from}-${to} is not the next expected one (${session.received}).`);
    }
    if (body.length !== to - from + 1 || Number(req.headers['content-length']) !== body.length) {
      return fail(400, 'InvalidContentRange', 'The Content-Length does not match the Content-Range.');
    }
    const last = to === total - 1;
    if (!last && body.length % CHUNK_UNIT !== 0) {
      return fail(400, 'InvalidContentRange', `A chunk but the last must be a multiple of 320 KiB (${CHUNK_UNIT} bytes).`);
    }
    session.chunks.push(body);
    session.puts.push(body.length);
    session.received = to + 1;
    if (!last) {
      // Outlook attachments: nextExpectedRanges holds only the start of the next range ("{start}").
      return json(res, 200, { expirationDateTime: expiry(), nextExpectedRanges: [String(session.received)] });
    }
    const draft = state.drafts.get(session.messageId);
    state.sessions.delete(session.id);
    if (!draft) return fail(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    draft.attachments.push({
      name: session.name,
      contentType: session.contentType,
      isInline: session.isInline,
      ...(session.contentId ? { contentId: session.contentId } : {}),
      content: Buffer.concat(session.chunks),
      via: 'upload',
    });
    const location = `${url.origin}/v1.0/users('${session.mailbox}')/messages('${draft.id}')/attachments('${crypto.randomUUID()}')`;
    return json(res, 201, undefined, { Location: location });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'InternalServerError', message: err.message } });
      else res.destroy(err);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  root = `http://127.0.0.1:${port}`;
  return {
    url: root,
    port,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        state.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const expiry = () => new Date(Date.now() + 15 * 60 * 1000).toISOString();

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
