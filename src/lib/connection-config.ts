import wellKnown from 'nodemailer/lib/well-known';
import { ErrorCodes, mailError } from './errors';
import { AUTH_TYPES, CONNECTION_DEFAULTS as DEFAULTS, CREDENTIAL_NAMES, OUTBOX_MODES, SECURITY } from '../shared/constants';
import type { ConnectionConfig, ConnectionCredentials } from './transport-options';

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

const invalid = (field: string, problem: string, hint: string) => mailError(ErrorCodes.ECONFIG, `The connection's ${field} ${problem}`, hint);

function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(field, `must be text, not ${Array.isArray(value) ? 'a list' : typeof value}`, `Set ${field} in the connection to text.`);
  return value;
}

/** A number that may be left unset (undefined), so that a later default applies (a service's pool limit). */
function optionalNumber(value: unknown, field: string, min: number, max: number): number | undefined {
  return value === undefined || value === null || value === '' ? undefined : number(value, field, 0, min, max);
}

/** A number the dialog may have saved as a string; empty means the default. */
function number(value: unknown, field: string, fallback: number, min: number, max: number, integer = true): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw invalid(field, `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(value)}`, `Set ${field} in the connection (Advanced) to a number from ${min} to ${max}.`);
  }
  return n;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(field, `is ${JSON.stringify(value)}, which is not one of ${allowed.join(', ')}`, `Choose ${field} in the connection: one of ${allowed.join(', ')}.`);
}

function flag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw invalid(field, `must be true or false, not ${JSON.stringify(value)}`, `Set ${field} in the connection.`);
}

/**
 * Checks every field of a connection (a deployed config node, or the body of Test connection)
 * before any socket opens, and returns it with types and defaults settled. A flow file or a
 * request can hold anything: an array as host crashed Node's DNS lookup, and an unknown security
 * value used to mean opportunistic TLS, sending the password in clear text to a server without
 * STARTTLS. Anything unknown is refused here (fail closed) with an ECONFIG error.
 */
export function checkConnectionConfig(raw: unknown): ConnectionConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('settings', 'are missing', 'Open the connection and save it again.');
  const c = raw as Record<string, unknown>;
  const service = text(c.service, 'service');
  if (service && !(wellKnown(service) || undefined)?.host) throw invalid('service', `"${service}" is not a known email service`, 'Choose a service from the list, or Other SMTP Service.');
  const host = text(c.host, 'host').trim();
  if (!service && !host) throw mailError(ErrorCodes.ECONFIG, 'The connection has no SMTP host', 'Enter the SMTP host, or choose an email service.');
  if (host && !HOST.test(host)) throw invalid('host', `"${host.slice(0, 80)}" is not a host name or IP address`, 'Enter only the host name, e.g. smtp.example.com, without scheme, port or path.');
  return {
    service,
    host,
    port: number(c.port, 'port', 0, 1, 65535) || undefined,
    security: oneOf(c.security, 'security', SECURITY, DEFAULTS.security),
    rejectUnauthorized: flag(c.rejectUnauthorized, 'certificate check', DEFAULTS.rejectUnauthorized),
    authType: oneOf(c.authType, 'authentication', AUTH_TYPES, DEFAULTS.authType),
    tokenUrl: text(c.tokenUrl, 'token URL').trim(),
    scope: text(c.scope, 'scope').trim(),
    // 0 or empty: the service's documented limit, else the default (pool-limits.ts).
    maxConnections: optionalNumber(c.maxConnections, 'pool size', 0, 1000) || undefined,
    rateLimitPerMinute: number(c.rateLimitPerMinute, 'rate limit', DEFAULTS.rateLimitPerMinute, 0, 1000000),
    timeout: number(c.timeout, 'time-out', DEFAULTS.timeout, 0, 86400) || DEFAULTS.timeout,
    maxAttachmentMB: c.maxAttachmentMB === undefined || c.maxAttachmentMB === '' ? undefined : number(c.maxAttachmentMB, 'max attachment size', DEFAULTS.maxAttachmentMB, 0, 100000, false),
    retryForSeconds: optionalNumber(c.retryForSeconds, 'retry time', 0, 7 * 86400),
    outbox: oneOf(c.outbox, 'outbox', OUTBOX_MODES, 'disk'),
    outboxMaxMB: number(c.outboxMaxMB, 'outbox cap', DEFAULT_OUTBOX_MB, 0.01, 1000000, false),
  };
}

/** Checks that every credential is text of a sane length. */
export function checkCredentials(raw: unknown): ConnectionCredentials {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('credentials', 'must be an object', 'Enter the credentials in the connection.');
  const out: ConnectionCredentials = {};
  for (const name of CREDENTIAL_NAMES) {
    const value = (raw as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value.length > MAX_CREDENTIAL) throw invalid(name, 'must be text of at most 64 KB', `Enter ${name} again.`);
    out[name] = value;
  }
  return out;
}
