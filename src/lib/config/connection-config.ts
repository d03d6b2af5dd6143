import wellKnown from 'nodemailer/lib/well-known';
import { typeOf } from '../message/addresses';
import { ErrorCodes, mailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import {
  AUTH_TYPES,
  type AuthType,
  type OutboxMode,
  type Security,
  CONNECTION_DEFAULTS as DEFAULTS,
  CREDENTIAL_NAMES,
  OUTBOX_MODES,
  SECURITY,
} from '../../shared/constants';

/**
 * A connection as a flow file holds it: the dialog saves numbers as text, and a file edited by
 * hand may hold anything. checkConnectionConfig turns it into a ConnectionConfig or refuses it.
 */
export type StoredConnection = { [K in keyof ConnectionConfig]?: unknown };

/** The outbox cap when the connection sets none, in MB. */
export const DEFAULT_OUTBOX_MB = DEFAULTS.outboxMaxMB;

/** Longest credential accepted: an access token is a few KB; anything far larger is not a credential. */
const MAX_CREDENTIAL = 64 * 1024;
/** A host name (RFC 1123), an IPv4 address or an IPv6 address, with nothing else around it. */
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]{2,45}\]?)$/;

const invalid = (message: Text, hint: Text) => mailError(ErrorCodes.ECONFIG, message, hint);
/** A field's name in errors: a text of the catalog (fields.config). */
const named = (field: string): Text => text(`fields.config.${field}`);

function textField(value: unknown, field: Text): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string')
    throw invalid(text('errors.config.notText', { field, type: typeOf(value) }), text('hints.config.notText', { field }));
  return value;
}

/** A number that may be left unset (undefined), so that a later default applies (a service's pool limit). */
function optionalNumber(value: unknown, field: Text, min: number, max: number): number | undefined {
  return value === undefined || value === null || value === '' ? undefined : number(value, field, 0, min, max);
}

/** The dialog's section of a numeric field, for the hint to send the user there: Port is under Server, the rest under Advanced. */
const sectionOf = (field: Text): Text => text(field.key === 'fields.config.port' ? 'fields.section.server' : 'fields.section.advanced');

/** A number the dialog may have saved as a string; empty means the default. */
function number(value: unknown, field: Text, fallback: number, min: number, max: number, integer = true): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const params = { field, min, max, value: String(JSON.stringify(value)) };
    throw invalid(
      integer ? text('errors.config.wholeNumber', params) : text('errors.config.number', params),
      text('hints.config.range', { field, min, max, section: sectionOf(field) }),
    );
  }
  return n;
}

function oneOf<T extends string>(value: unknown, field: Text, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  const list = allowed.join(', ');
  throw invalid(
    text('errors.config.oneOf', { field, value: String(JSON.stringify(value)), allowed: list }),
    text('hints.config.oneOf', { field, allowed: list }),
  );
}

function flag(value: unknown, field: Text, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw invalid(text('errors.config.flag', { field, value: String(JSON.stringify(value)) }), text('hints.config.flag', { field }));
}

/**
 * Checks every field of a connection (a deployed config node, or the body of Test connection)
 * before any socket opens, and returns it with types and defaults settled. A flow file or a
 * request can hold anything: an array as host crashed Node's DNS lookup, and an unknown security
 * value used to mean opportunistic TLS, sending the password in clear text to a server without
 * STARTTLS. Anything unknown is refused here (fail closed) with an ECONFIG error.
 */
export function checkConnectionConfig(raw: unknown): ConnectionConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw invalid(text('errors.config.settingsMissing'), text('hints.config.settingsMissing'));
  const c = raw as Record<string, unknown>;
  const service = textField(c.service, named('service'));
  if (service && !(wellKnown(service) || undefined)?.host)
    throw invalid(text('errors.config.unknownService', { service }), text('hints.config.unknownService'));
  const host = textField(c.host, named('host')).trim();
  if (!service && !host) throw invalid(text('errors.config.noHost'), text('hints.config.noHost'));
  if (host && !HOST.test(host)) throw invalid(text('errors.config.badHost', { host: host.slice(0, 80) }), text('hints.config.badHost'));
  return {
    service,
    host,
    port: number(c.port, named('port'), 0, 1, 65535) || undefined,
    security: oneOf(c.security, named('security'), SECURITY, DEFAULTS.security),
    rejectUnauthorized: flag(c.rejectUnauthorized, named('certificateCheck'), DEFAULTS.rejectUnauthorized),
    authType: oneOf(c.authType, named('authentication'), AUTH_TYPES, DEFAULTS.authType),
    tokenUrl: textField(c.tokenUrl, named('tokenUrl')).trim(),
    scope: textField(c.scope, named('scope')).trim(),
    // 0 or empty: the service's documented limit, else the default (pool-limits.ts).
    maxConnections: optionalNumber(c.maxConnections, named('poolSize'), 0, 1000) || undefined,
    rateLimitPerMinute: number(c.rateLimitPerMinute, named('rateLimit'), DEFAULTS.rateLimitPerMinute, 0, 1000000),
    timeout: number(c.timeout, named('timeout'), DEFAULTS.timeout, 0, 86400) || DEFAULTS.timeout,
    maxAttachmentMB:
      c.maxAttachmentMB === undefined || c.maxAttachmentMB === ''
        ? undefined
        : number(c.maxAttachmentMB, named('maxAttachment'), DEFAULTS.maxAttachmentMB, 0, 100000, false),
    retryForSeconds: optionalNumber(c.retryForSeconds, named('retryTime'), 0, 7 * 86400),
    outbox: oneOf(c.outbox, named('outbox'), OUTBOX_MODES, 'disk'),
    outboxMaxMB: number(c.outboxMaxMB, named('outboxCap'), DEFAULT_OUTBOX_MB, 0.01, 1000000, false),
  };
}

/** Checks that every credential is text of a sane length. */
export function checkCredentials(raw: unknown): ConnectionCredentials {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid(text('errors.config.credentials'), text('hints.config.credentials'));
  const out: ConnectionCredentials = {};
  for (const name of CREDENTIAL_NAMES) {
    const value = (raw as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    // Never the value itself in the error: it is a credential.
    if (typeof value !== 'string' || value.length > MAX_CREDENTIAL)
      throw invalid(text('errors.config.credentialTooLong', { field: name }), text('hints.config.credentialTooLong', { field: name }));
    out[name] = value;
  }
  return out;
}

/** A connection's settings as the config node stores them (numbers may arrive as strings). */
export interface ConnectionConfig {
  service?: string;
  host?: string;
  port?: number;
  security?: Security;
  rejectUnauthorized?: boolean;
  authType?: AuthType;
  tokenUrl?: string;
  scope?: string;
  maxConnections?: number;
  rateLimitPerMinute?: number;
  /** Seconds to wait for the server to connect, greet and answer (default 30). */
  timeout?: number;
  /** Largest URL attachment to download, in MB (default 25). */
  maxAttachmentMB?: number;
  /** Seconds a send with a transient failure is retried (default 600; 0 = never). */
  retryForSeconds?: number;
  /** Where accepted mails wait until the server accepted them: "disk" (default, survives restarts) or "memory". */
  outbox?: OutboxMode;
  /** The disk outbox's cap in MB (default 200). */
  outboxMaxMB?: number;
}

export interface ConnectionCredentials {
  user?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  accessToken?: string;
}
