import { hostOf, httpClient, timedOut } from '../net/http-client';
import { diagnose, type DiagnoseContext } from '../errors/diagnose';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { TOKEN_URL_EXAMPLE } from '../../shared/constants';

/**
 * One way of asking a token endpoint for an access token: client credentials (RFC 6749 §4.4, with
 * a secret or a signed client assertion), or a JWT bearer grant (RFC 7523 §2.1, a Google service
 * account). The cache does the rest the same way for all of them.
 */
export interface TokenGrant {
  readonly tokenUrl: string;
  /**
   * Why the connection's credentials cannot be used (a key that does not match its certificate, a
   * key file that is no key file), found when the connection was built: thrown at every token
   * request, so that every send and Test connection report it as they report any token failure.
   */
  readonly invalid?: MailError;
  /**
   * What a refusal of the token endpoint is diagnosed with at once, when the grant knows more than
   * the method (the client ID and scope an admin must delegate); never a secret.
   */
  readonly about?: DiagnoseContext;
  /**
   * The form fields of one token request made at `now` (epoch ms): grant_type and how the client
   * proves itself (a secret, or an assertion signed for this request). Credentials: never logged.
   * Throws a MailError when the request must not be made (an expired certificate).
   */
  fields(now: number): Record<string, string>;
}

export interface Token {
  accessToken: string;
  /** Epoch ms at which the token should no longer be handed out (expiry less a margin). */
  renewAt: number;
}

export interface TokenCacheOptions {
  /** Request time-out in ms. */
  timeout?: number;
  /** The clock, injectable so tests can move time without sleeping. */
  now?: () => number;
}

/** Renew five minutes before expiry, or earlier for short-lived tokens (a tenth of their life). */
const MAX_MARGIN_MS = 5 * 60 * 1000;
/** RFC 6749 makes expires_in optional; Entra ID always sends it (3599 s). */
const DEFAULT_LIFETIME_S = 3600;
/**
 * Largest token answer read, after decompression: Entra ID's is under 4 KB. Without a cap a 398 KB
 * gzip answer grew the process by 1.1 GB, and an http: token URL lets anyone on the path send one.
 */
export const MAX_TOKEN_RESPONSE = 64 * 1024;

/**
 * One OAuth2 access token shared by every pooled connection of a config node, whatever grant
 * obtains it: fetched by at most one request at a time, renewed before it expires, dropped when
 * the server rejects it.
 */
export class TokenCache {
  private token?: Token;
  private pending?: Promise<Token>;
  private readonly now: () => number;
  /** Number of requests sent to the token endpoint (reported by tests and the benchmark). */
  requests = 0;

  constructor(
    readonly grant: TokenGrant,
    private readonly options: TokenCacheOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The cached token while it is fresh, else a new one (one request, however many callers wait). */
  get(): Promise<Token> {
    if (this.token && this.token.renewAt > this.now()) return Promise.resolve(this.token);
    if (!this.pending) {
      this.pending = this.fetch().then(
        (token) => {
          this.pending = undefined;
          this.token = token;
          return token;
        },
        (err) => {
          this.pending = undefined;
          throw err;
        },
      );
    }
    return this.pending;
  }

  /** Number of tokens reported as rejected by a server. */
  rejections = 0;

  /** Drops the cached token if it is the one a server rejected (or any, when none is named). */
  invalidate(rejected?: string): void {
    this.rejections++;
    if (this.token && (rejected === undefined || this.token.accessToken === rejected)) this.token = undefined;
  }

  private async fetch(): Promise<Token> {
    const { tokenUrl, invalid } = this.grant;
    // A copy each time: whoever receives it may add to it (attempts, a localized message).
    if (invalid) throw Object.assign(new Error(invalid.message), invalid);
    if (!/^https?:\/\//i.test(tokenUrl || '')) {
      throw mailError(ErrorCodes.EOAUTH2, text('errors.token.noUrl'), text('hints.token.noUrl', { tokenUrl: TOKEN_URL_EXAMPLE }));
    }
    const started = this.now();
    const body = new URLSearchParams(this.grant.fields(started));
    this.requests++;
    let res;
    try {
      res = await httpClient().post<string>(tokenUrl, body.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        timeout: this.options.timeout ?? 30000,
        maxRedirects: 0,
        maxContentLength: MAX_TOKEN_RESPONSE,
        maxBodyLength: MAX_TOKEN_RESPONSE,
        responseType: 'text',
        transformResponse: (data) => data,
        validateStatus: () => true,
      });
    } catch (e) {
      // Never rethrow axios' error: its config holds the request body with the client secret.
      throw requestFailed(tokenUrl, e as NodeJS.ErrnoException);
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(res.data);
    } catch {
      if (busy(res.status)) throw temporary(res.status, res.headers, text('errors.token.http', { status: res.status }));
      throw mailError(ErrorCodes.EOAUTH2, text('errors.token.notJson', { status: res.status }), text('hints.token.notJson'));
    }
    if (res.status !== 200 || typeof json.access_token !== 'string') {
      // The endpoint's own words (AADSTS codes and all) stay as they are: diagnose.ts reads them.
      const why = [json.error, json.error_description].filter((x) => typeof x === 'string').join(': ');
      const message = why
        ? text('errors.token.refusedWhy', { status: res.status, why })
        : text('errors.token.refused', { status: res.status });
      if (busy(res.status)) throw temporary(res.status, res.headers, message);
      const err: MailError = mailError(ErrorCodes.EOAUTH2, message);
      err.responseCode = res.status;
      throw this.grant.about ? diagnose(err, this.grant.about) : err;
    }
    const lifetimeMs = (Number(json.expires_in) > 0 ? Number(json.expires_in) : DEFAULT_LIFETIME_S) * 1000;
    return { accessToken: json.access_token, renewAt: started + lifetimeMs - Math.min(MAX_MARGIN_MS, lifetimeMs / 10) };
  }
}

/** Too many requests, or a failure on the endpoint's side (RFC 6749 §5.2 defines no 4xx retry; HTTP does). */
const busy = (status: number) => status === 429 || status >= 500;

/** A token endpoint error that a later request may not meet; Retry-After (RFC 9110 §10.2.3) kept in ms. */
function temporary(
  status: number,
  headers: Record<string, unknown>,
  message: Text,
): MailError & { transient: true; retryAfterMs?: number } {
  const err = Object.assign(mailError(ErrorCodes.EOAUTH2, message), { responseCode: status, transient: true as const }) as MailError & {
    transient: true;
    retryAfterMs?: number;
  };
  const wait = retryAfterMs(headers['retry-after']);
  if (wait !== undefined) err.retryAfterMs = wait;
  return err;
}

/** Retry-After as seconds or as an HTTP date. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function requestFailed(tokenUrl: string, e: NodeJS.ErrnoException): MailError {
  const host = hostOf(tokenUrl);
  if (/maxContentLength/.test(e.message)) {
    return mailError(ErrorCodes.EOAUTH2, text('errors.token.tooLarge', { kb: MAX_TOKEN_RESPONSE / 1024 }), text('hints.token.tooLarge'));
  }
  const late = timedOut(e);
  const err: MailError & { transient?: boolean } = late
    ? mailError(ErrorCodes.EOAUTH2, text('errors.token.timedOut', { host }), text('hints.token.timedOut'))
    : mailError(
        ErrorCodes.EOAUTH2,
        text('errors.token.unreachable', { host, reason: e.code || e.message }),
        text('hints.token.unreachable'),
      );
  // A time-out or a connection cut mid-request may pass; a refused connection or an unknown host
  // is a wrong token URL far more often than an outage.
  if (late || e.code === 'ECONNRESET') err.transient = true;
  return err;
}
