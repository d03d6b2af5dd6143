import type { Readable } from 'node:stream';
import type { AxiosResponse } from 'axios';
import type { Token, TokenCache } from '../auth/token-cache';
import { rolesOf } from '../auth/token-roles';
import { retryAfterMs } from '../auth/token-cache';
import type { ConnectionConfig, ConnectionCredentials } from '../config/connection-config';
import { timeoutMs } from '../config/transport-options';
import { ErrorCodes, mailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { isNetworkFault, type RetryableError } from '../errors/transient';
import { hostOf, httpClient, timedOut } from '../net/http-client';
import { graphRoot } from '../../shared/connection-fields';
import { DraftTooLargeError, headerRecipients, splitForDraft, withBcc, type DraftAttachment } from './graph-mime';
import { Slots } from './slots';
import type { Delivery, Outgoing, Transport } from './transport';

/** Graph refuses requests over 4 MB (https://learn.microsoft.com/graph/api/user-sendmail). */
export const MAX_REQUEST = 4 * 1024 * 1024;
/**
 * Concurrent requests per app and mailbox Exchange serves; a fifth gets 429 (Microsoft Graph
 * service-specific throttling limits, Outlook service).
 */
export const GRAPH_CONCURRENCY = 4;
/** Upload-session chunks: a multiple of 320 KiB, as Graph requires, and under the 4 MB request cap. */
export const UPLOAD_CHUNK = 12 * 320 * 1024;
/** Attachments smaller than this are posted whole (base64 in JSON stays under 4 MB); larger ones go through an upload session. */
const POST_WHOLE_BELOW = 3 * 1000 * 1000;
/** Largest answer read from Graph: its answers to these requests are a few hundred bytes of JSON. */
const MAX_ANSWER = 64 * 1024;
/** Exchange's answers worth another attempt: throttled, unavailable, gateway time-out. */
const TRANSIENT_STATUS = new Set([429, 503, 504]);

/** The request of a send an error came from: the hints differ for the draft and upload path (Mail.ReadWrite). */
export type GraphStep = 'sendMail' | 'draft' | 'attachment' | 'upload' | 'send';

export interface GraphTransportOptions {
  /** The connection's token cache: Graph takes client credentials only. */
  tokens: TokenCache;
}

/**
 * Microsoft Graph's sendMail, posting the MIME message the node built (base64, text/plain), so
 * the Message-ID, headers and parts are the bytes SMTP would carry. A message whose request would
 * pass 4 MB goes the documented way: a draft from the message without its largest attachments,
 * each of them posted or uploaded in chunks, then send. One token for every request until it
 * nears expiry; at most GRAPH_CONCURRENCY sends (or the pool size set) at once.
 */
export class GraphTransport implements Transport {
  private readonly root: string;
  /** Graph's scheme, host and port: an upload URL in clear text is followed only to the same server (http: is for this machine only). */
  private readonly origin: string;
  private readonly size: number;
  private readonly slots = new Slots(() => this.size);

  constructor(
    private readonly config: ConnectionConfig,
    creds: ConnectionCredentials,
    private readonly options: GraphTransportOptions,
  ) {
    this.origin = new URL(graphRoot(config.graphUrl)).origin;
    this.root = `${this.origin}/v1.0/users/${encodeURIComponent(creds.user || '')}`;
    // More would only earn 429s: Graph serves four at once per app and mailbox, whatever the pool size says.
    this.size = Math.min(config.maxConnections || GRAPH_CONCURRENCY, GRAPH_CONCURRENCY);
  }

  /** Sends under way at once. */
  get poolSize(): number {
    return this.size;
  }

  get crowded(): boolean {
    return this.slots.waiting >= this.size;
  }

  /**
   * One attempt. Graph takes the recipients from the message's headers: the envelope's recipients
   * that To and Cc do not name go as a Bcc header, which Exchange delivers to and leaves out of
   * what recipients get. It accepts for every recipient or for none (202: queued by Exchange).
   */
  async send(mail: Outgoing, signal: AbortSignal): Promise<Delivery> {
    await this.slots.acquire();
    try {
      if (signal.aborted) throw new Error('aborted');
      const built = await bytesOf(mail.open());
      const named = new Set(headerRecipients(built));
      const message = withBcc(
        built,
        mail.envelope.to.filter((r) => !named.has(r.toLowerCase())),
      );
      if (base64Length(message.length) <= MAX_REQUEST) await this.call('sendMail', 'POST', '/sendMail', mime(message), signal);
      else await this.sendLarge(message, signal);
      const to = [...mail.envelope.to];
      return {
        messageId: mail.messageId,
        envelope: { from: mail.envelope.from, to },
        accepted: to,
        rejected: [],
        response: '202 Accepted',
      };
    } finally {
      this.slots.release();
    }
  }

  /** Draft, attachments, send; a failure part-way deletes the draft, so no half-built mail stays in Drafts. */
  private async sendLarge(message: Buffer, signal: AbortSignal): Promise<void> {
    let split;
    try {
      split = splitForDraft(message, MAX_REQUEST);
    } catch (e) {
      if (!(e instanceof DraftTooLargeError)) throw e;
      // Graph would refuse it the same way: its text alone is over one request.
      const err: RetryableError = mailError(
        ErrorCodes.EGRAPH,
        text('errors.graph.textTooLarge', { mb: (MAX_REQUEST / 1048576).toFixed(0) }),
      );
      err.responseCode = 413;
      throw err;
    }
    const { draft, attachments } = split;
    const created = await this.call('draft', 'POST', '/messages', mime(draft), signal);
    const id = (created.data as { id?: unknown }).id;
    if (typeof id !== 'string' || !id) throw graphError('draft', created);
    const path = `/messages/${encodeURIComponent(id)}`;
    try {
      for (const a of attachments) await this.attach(path, a, signal);
      await this.call('send', 'POST', `${path}/send`, undefined, signal);
    } catch (e) {
      await this.call('draft', 'DELETE', path, undefined, new AbortController().signal).catch(() => {
        /* the failure that made us delete says what to fix */
      });
      throw e;
    }
  }

  private async attach(path: string, a: DraftAttachment, signal: AbortSignal): Promise<void> {
    const item = { name: a.name, contentType: a.contentType, isInline: a.isInline, ...(a.contentId && { contentId: a.contentId }) };
    if (a.content.length < POST_WHOLE_BELOW) {
      const body = { '@odata.type': '#microsoft.graph.fileAttachment', ...item, contentBytes: a.content.toString('base64') };
      await this.call('attachment', 'POST', `${path}/attachments`, json(body), signal);
      return;
    }
    const session = await this.call(
      'upload',
      'POST',
      `${path}/attachments/createUploadSession`,
      json({ AttachmentItem: { attachmentType: 'file', size: a.content.length, ...item } }),
      signal,
    );
    const uploadUrl = (session.data as { uploadUrl?: unknown }).uploadUrl;
    // The chunks go where Graph says, but never in clear text to another host.
    if (typeof uploadUrl !== 'string' || !(/^https:\/\//i.test(uploadUrl) || uploadUrl.startsWith(`${this.origin}/`)))
      throw graphError('upload', session);
    const total = a.content.length;
    for (let start = 0; start < total; start += UPLOAD_CHUNK) {
      const chunk = a.content.subarray(start, Math.min(start + UPLOAD_CHUNK, total));
      // The upload URL carries its own authorization: Graph refuses one sent with an Authorization header.
      const res = await this.request(
        'PUT',
        uploadUrl,
        chunk,
        {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${start}-${start + chunk.length - 1}/${total}`,
        },
        signal,
      );
      if (res.status !== 200 && res.status !== 201) throw graphError('upload', res);
    }
  }

  /**
   * One request to the mailbox's Graph API with the cached token. A 401 for a token the cache
   * held (revoked, or the tenant's keys rolled) drops it and tries once more with a new one.
   */
  private async call(step: GraphStep, method: string, path: string, body: Body | undefined, signal: AbortSignal): Promise<AxiosResponse> {
    const tokens = this.options.tokens;
    for (let tries = 0; ; tries++) {
      const token: Token = await tokens.get();
      const res = await this.request(
        method,
        this.root + path,
        body?.data,
        { ...body?.headers, Authorization: `Bearer ${token.accessToken}` },
        signal,
      );
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status === 401 && tries === 0) {
        tokens.invalidate(token.accessToken);
        continue;
      }
      throw graphError(step, res);
    }
  }

  /** A request whose answer is read as JSON; network failures become EGRAPH errors. Never rethrows axios' error: its config holds the token. */
  private async request(
    method: string,
    url: string,
    data: unknown,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<AxiosResponse> {
    try {
      return await httpClient().request({
        method,
        url,
        data,
        headers,
        signal,
        timeout: timeoutMs(this.config),
        maxRedirects: 0,
        maxContentLength: MAX_ANSWER,
        maxBodyLength: MAX_REQUEST + 1024,
        validateStatus: () => true,
      });
    } catch (e) {
      throw unreachable(url, e as NodeJS.ErrnoException, signal);
    }
  }

  /**
   * Test connection: fetches a token and reads its `roles` claim, where Entra ID lists the
   * application permissions granted in Entra. Sends nothing. Mail.Send there reaches every
   * mailbox; without it the app may still hold it through RBAC for Applications, which no token
   * shows, so the answer says what to check instead of failing.
   */
  async verify(): Promise<Text> {
    const token = await this.options.tokens.get();
    return rolesOf(token.accessToken)?.includes('Mail.Send')
      ? text('notes.graph.mailSendTenantWide')
      : text('notes.graph.mailSendNotListed');
  }

  /** Nothing stays open between requests (axios' agent keeps idle sockets only briefly). */
  close(): void {}
}

interface Body {
  data: unknown;
  headers: Record<string, string>;
}
const mime = (message: Buffer): Body => ({ data: message.toString('base64'), headers: { 'Content-Type': 'text/plain' } });
const json = (value: unknown): Body => ({ data: JSON.stringify(value), headers: { 'Content-Type': 'application/json' } });
const base64Length = (bytes: number) => Math.ceil(bytes / 3) * 4;

/** The built message as one buffer: Graph takes it base64-encoded in one request (or a draft). */
async function bytesOf(source: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(source)) return source;
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Graph's error answer as an EGRAPH error: its status in `responseCode`, its own code and words in
 * `response` (which diagnose.ts reads), the step in `command`, and whether another attempt may
 * get through (429, 503, 504, after Retry-After when given).
 */
export function graphError(step: GraphStep, res: AxiosResponse): RetryableError {
  const { code, message } = errorOf(res.data);
  const why = [code, message].filter(Boolean).join(': ');
  const err: RetryableError = mailError(
    ErrorCodes.EGRAPH,
    why ? text('errors.graph.refusedWhy', { status: res.status, why }) : text('errors.graph.refused', { status: res.status }),
  );
  err.responseCode = res.status;
  err.response = `${res.status} ${why}`.trim();
  err.command = step;
  if (TRANSIENT_STATUS.has(res.status)) {
    err.transient = true;
    const wait = retryAfterMs((res.headers as Record<string, unknown>)['retry-after']);
    if (wait !== undefined) err.retryAfterMs = wait;
  }
  return err;
}

/** Graph's `{"error":{"code","message"}}`, or nothing when the answer is something else (a proxy's page). */
function errorOf(data: unknown): { code?: string; message?: string } {
  let body = data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return {};
    }
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return {
    code: typeof error?.code === 'string' ? error.code : undefined,
    message: typeof error?.message === 'string' ? error.message.slice(0, 300) : undefined,
  };
}

/** A request that got no answer: a time-out or a connection that failed may pass; an unknown host or a refused certificate will not. */
function unreachable(url: string, e: NodeJS.ErrnoException, signal: AbortSignal): RetryableError {
  if (signal.aborted) return Object.assign(new Error('aborted'), { code: 'EABORTED' });
  const host = hostOf(url);
  const late = timedOut(e);
  const err: RetryableError = late
    ? mailError(ErrorCodes.EGRAPH, text('errors.graph.timedOut', { host }), text('hints.graph.timedOut'))
    : mailError(
        ErrorCodes.EGRAPH,
        text('errors.graph.unreachable', { host, reason: e.code || e.message }),
        text('hints.graph.unreachable'),
      );
  err.originalCode = e.code;
  // Time-outs (ETIMEDOUT, axios' ECONNABORTED) are among the network faults.
  if (isNetworkFault(e.code)) err.transient = true;
  return err;
}
