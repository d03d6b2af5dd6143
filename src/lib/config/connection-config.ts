import wellKnown from 'nodemailer/lib/well-known';
import { typeOf } from '../message/addresses';
import { ErrorCodes, mailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { CREDENTIAL_NAMES } from '../../shared/constants';
import {
  CONNECTION_FIELDS as FIELDS,
  isChoice,
  isFlag,
  isText,
  isUnset,
  readNumber,
  GRAPH_URL,
  graphRoot,
  type AuthType,
  type ChoiceField,
  type ClientAuth,
  type FlagField,
  type NumberField,
  type OutboxMode,
  type Security,
  type TextField,
  type TransportKind,
} from '../../shared/connection-fields';

/**
 * A connection as a flow file holds it: the dialog saves numbers as text, and a file edited by
 * hand may hold anything. checkConnectionConfig turns it into a ConnectionConfig or refuses it.
 */
export type StoredConnection = { [K in keyof ConnectionConfig]?: unknown };

/** The outbox cap when the connection sets none, in MB. */
export const DEFAULT_OUTBOX_MB = FIELDS.outboxMaxMB.default;

/** Longest credential accepted: an access token is a few KB; anything far larger is not a credential. */
const MAX_CREDENTIAL = 64 * 1024;

const invalid = (message: Text, hint: Text) => mailError(ErrorCodes.ECONFIG, message, hint);
/** A field's name in errors: a text of the catalog (fields.config). */
const named = (field: { name: string }): Text => text(field.name);
const shown = (value: unknown) => String(JSON.stringify(value));

/** Text, or '' when unset. A pattern is the caller's to check: it knows what to say. */
function textField(value: unknown, field: TextField): string {
  if (isUnset(value)) return '';
  if (typeof value !== 'string')
    throw invalid(
      text('errors.config.notText', { field: named(field), type: typeOf(value) }),
      text('hints.config.notText', { field: named(field) }),
    );
  return value;
}

/** The dialog's section of a numeric field, for the hint to send the user there: Port is under Server, the rest under Advanced. */
const sectionOf = (field: { name: string }): Text =>
  text(field.name === 'fields.config.port' ? 'fields.section.server' : 'fields.section.advanced');

/** A number of the field's range (the dialog may have saved it as a string), or undefined when unset. */
function number(value: unknown, field: NumberField): number | undefined {
  const n = readNumber(field, value);
  if (Number.isNaN(n)) {
    const { min, max } = field;
    const params = { field: named(field), min, max, value: shown(value) };
    throw invalid(
      field.integer ? text('errors.config.wholeNumber', params) : text('errors.config.number', params),
      text('hints.config.range', { field: named(field), min, max, section: sectionOf(field) }),
    );
  }
  return n;
}

function oneOf<T extends string>(value: unknown, field: ChoiceField<T>): T {
  if (isUnset(value)) return field.default;
  if (isChoice(field, value)) return value as T;
  const list = field.values.join(', ');
  throw invalid(
    text('errors.config.oneOf', { field: named(field), value: shown(value), allowed: list }),
    text('hints.config.oneOf', { field: named(field), allowed: list }),
  );
}

function flag(value: unknown, field: FlagField): boolean {
  if (isUnset(value)) return field.default;
  if (!isFlag(value))
    throw invalid(
      text('errors.config.flag', { field: named(field), value: shown(value) }),
      text('hints.config.flag', { field: named(field) }),
    );
  return value === true || value === 'true';
}

/**
 * Checks every field of a connection (a deployed config node, or the body of Test connection)
 * before any socket opens, and returns it with types and defaults settled. A flow file or a
 * request can hold anything: an array as host crashes Node's DNS lookup, and guessing what an
 * unknown security value means (opportunistic TLS, say) would send the password in clear text to a
 * server without STARTTLS. Anything unknown is refused here (fail closed) with an ECONFIG error.
 * What each field may hold is its description in shared/connection-fields.ts, which the dialog's
 * validators follow too.
 */
export function checkConnectionConfig(raw: unknown): ConnectionConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw invalid(text('errors.config.settingsMissing'), text('hints.config.settingsMissing'));
  const c = raw as Record<string, unknown>;
  const service = textField(c.service, FIELDS.service);
  if (service && !(wellKnown(service) || undefined)?.host)
    throw invalid(text('errors.config.unknownService', { service }), text('hints.config.unknownService'));
  const authType = oneOf(c.authType, FIELDS.authType);
  const transport = oneOf(c.transport, FIELDS.transport);
  if (transport === 'graph' && authType !== 'oauth2-client-credentials')
    throw invalid(text('errors.config.graphNeedsClientCredentials'), text('hints.config.graphNeedsClientCredentials'));
  const host = textField(c.host, FIELDS.host).trim();
  // Graph needs no SMTP server.
  if (!service && !host && transport !== 'graph') throw invalid(text('errors.config.noHost'), text('hints.config.noHost'));
  if (!isText(FIELDS.host, host)) throw invalid(text('errors.config.badHost', { host: host.slice(0, 80) }), text('hints.config.badHost'));
  return {
    service,
    host,
    // Unset: nodemailer's port for the security.
    port: number(c.port, FIELDS.port),
    security: oneOf(c.security, FIELDS.security),
    rejectUnauthorized: flag(c.rejectUnauthorized, FIELDS.rejectUnauthorized),
    authType,
    tokenUrl: textField(c.tokenUrl, FIELDS.tokenUrl).trim(),
    scope: textField(c.scope, FIELDS.scope).trim(),
    clientAuth: oneOf(c.clientAuth, FIELDS.clientAuth),
    transport,
    graphUrl: graphUrl(c.graphUrl),
    // 0 or unset: the service's documented limit, else the default (pool-limits.ts).
    maxConnections: number(c.maxConnections, FIELDS.maxConnections) || undefined,
    rateLimitPerMinute: number(c.rateLimitPerMinute, FIELDS.rateLimitPerMinute) ?? FIELDS.rateLimitPerMinute.default,
    timeout: number(c.timeout, FIELDS.timeout) || FIELDS.timeout.default,
    // Unset: settings.js smtpOauthConfigMaxAttachmentMB, else the default (connection.ts).
    maxAttachmentMB: number(c.maxAttachmentMB, FIELDS.maxAttachmentMB),
    // Unset: the default (connection.ts).
    retryForSeconds: number(c.retryForSeconds, FIELDS.retryForSeconds),
    outbox: oneOf(c.outbox, FIELDS.outbox),
    outboxMaxMB: number(c.outboxMaxMB, FIELDS.outboxMaxMB) ?? DEFAULT_OUTBOX_MB,
    dkimDomain: textField(c.dkimDomain, FIELDS.dkimDomain).trim(),
    dkimSelector: textField(c.dkimSelector, FIELDS.dkimSelector).trim(),
  };
}

/**
 * Graph's root without a trailing slash: https, or http for a server on this machine only (a test
 * server, a local proxy): a token sent in clear text across a network is anyone's.
 */
function graphUrl(value: unknown): string {
  const url = graphRoot(textField(value, FIELDS.graphUrl));
  const loopback = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i.test(url);
  if (!isText(FIELDS.graphUrl, url) || (/^http:/i.test(url) && !loopback))
    throw invalid(text('errors.config.badGraphUrl', { url: url.slice(0, 120) }), text('hints.config.badGraphUrl', { url: GRAPH_URL }));
  return url;
}

/** What the hints show of a Redis URL: Redis's password, its default port, database 0. */
export const REDIS_URL_EXAMPLE = 'redis://:password@host:6379/0';

/**
 * The shared outbox's Redis, from the connection's `redisUrl` credential:
 * `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS. Refused (ECONFIG) when
 * missing, unparsable, of another scheme, without a host, or with a path other than a database
 * number. The URL may hold Redis's password, and its user name is an account: neither the error nor
 * its hint quotes any part of it, and the parser's error (which quotes the input) is not kept.
 */
export function checkRedisUrl(url: string | undefined): URL {
  if (!url?.trim()) throw invalid(text('errors.config.noRedisUrl'), text('hints.config.noRedisUrl', { example: REDIS_URL_EXAMPLE }));
  let parsed: URL | undefined;
  try {
    parsed = new URL(url.trim());
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^rediss?:$/.test(parsed.protocol) || !parsed.hostname || !/^(\/\d*)?$/.test(parsed.pathname))
    throw invalid(text('errors.config.badRedisUrl'), text('hints.config.badRedisUrl', { example: REDIS_URL_EXAMPLE }));
  return parsed;
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
  /** Empty: Graph's own (`{graphUrl}/.default`) for the Graph transport; SMTP needs one. */
  scope?: string;
  /** Client credentials: a client secret (default), or a certificate whose key signs a client assertion. */
  clientAuth?: ClientAuth;
  /** "smtp" (default), or "graph": Microsoft Graph's sendMail with client credentials. */
  transport?: TransportKind;
  /** Graph's root, without a trailing slash (default https://graph.microsoft.com). */
  graphUrl?: string;
  maxConnections?: number;
  rateLimitPerMinute?: number;
  /** Seconds to wait for the server to connect, greet and answer (default 30). */
  timeout?: number;
  /** Largest URL attachment to download, in MB (default 25). */
  maxAttachmentMB?: number;
  /** Seconds a send with a transient failure is retried (default 600; 0 = never). */
  retryForSeconds?: number;
  /**
   * Where accepted mails wait until the server accepted them: "disk" (default, survives restarts),
   * "memory", or "redis" (one outbox for every instance running the connection; its URL is the
   * credential redisUrl).
   */
  outbox?: OutboxMode;
  /** The disk or Redis outbox's cap in MB (default 200). */
  outboxMaxMB?: number;
  /** With dkimSelector and the credential dkimPrivateKey: every mail is DKIM-signed for this domain. */
  dkimDomain?: string;
  dkimSelector?: string;
}

export interface ConnectionCredentials {
  user?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  accessToken?: string;
  clientCertificate?: string;
  clientPrivateKey?: string;
  clientKeyPassphrase?: string;
  /** The shared outbox's Redis (outbox "redis"), checked by checkRedisUrl. */
  redisUrl?: string;
  /** A Google service account's JSON key file, whole (google-service-account): client_email, client_id, private_key, token_uri. */
  serviceAccountKey?: string;
  /** The DKIM signing key, PEM (RSA or Ed25519). */
  dkimPrivateKey?: string;
}
