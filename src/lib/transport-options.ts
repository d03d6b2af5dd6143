import wellKnown, { type WellKnownService } from 'nodemailer/lib/well-known';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { CONNECTION_DEFAULTS, type AuthType, type OutboxMode, type Security } from '../shared/constants';
import { checkConnectionConfig } from './connection-config';
import { poolSize } from './pool-limits';

export type { AuthType, Security };

/** A connection's settings as the config node stores them (numbers may arrive as strings). */
export interface ConnectionConfig {
  service?: string;
  host?: string;
  port?: number | string;
  security?: Security | string;
  rejectUnauthorized?: boolean | string;
  authType?: AuthType | string;
  tokenUrl?: string;
  scope?: string;
  maxConnections?: number | string;
  rateLimitPerMinute?: number | string;
  /** Seconds to wait for the server to connect, greet and answer (default 30). */
  timeout?: number | string;
  /** Largest URL attachment to download, in MB (default 25). */
  maxAttachmentMB?: number | string;
  /** Seconds a send with a transient failure is retried (default 600; 0 = never). */
  retryForSeconds?: number | string;
  /** Where accepted mails wait until the server accepted them: "disk" (default, survives restarts) or "memory". */
  outbox?: OutboxMode | string;
  /** The disk outbox's cap in MB (default 200). */
  outboxMaxMB?: number | string;
}


export interface ConnectionCredentials {
  user?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  accessToken?: string;
}

/** Parses a number that the editor may have saved as a string. */
export function toNumber(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : parseInt(String(value ?? ''), 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** How long to wait for the server (and for attachment downloads), in ms. */
export function timeoutMs(config: ConnectionConfig): number {
  return (toNumber(config.timeout, 0) || CONNECTION_DEFAULTS.timeout) * 1000;
}

/** Where to connect: a well-known service's host and port, or the ones typed by hand. Checks the whole config first. */
export function resolveServer(raw: ConnectionConfig): { host: string; port: number; secure: boolean; security: Security } {
  const config = checkConnectionConfig(raw);
  let security = config.security as Security;
  if (config.service) {
    const known = wellKnown(config.service) as WellKnownService;
    // A service on an implicit-TLS port dictates TLS; on a submission port keep the chosen upgrade policy.
    if (known.secure) security = 'tls';
    else if (security === 'tls') security = 'starttls';
    return { host: known.host!, port: toNumber(known.port, 587), secure: security === 'tls', security };
  }
  const port = toNumber(config.port, security === 'tls' ? 465 : 587);
  return { host: config.host!, port, secure: security === 'tls', security };
}

/**
 * The nodemailer pool options for a connection. Auth for client credentials is XOAUTH2 whose
 * token comes from the config node's provision callback; file and URL access are always off so
 * a msg can never make the transport read a local file or fetch a URL by itself.
 */
export function transportOptions(config: ConnectionConfig, creds: ConnectionCredentials): SMTPPool.Options {
  const { host, port, secure, security } = resolveServer(config);
  const authType = (config.authType || CONNECTION_DEFAULTS.authType) as AuthType;
  const options: SMTPPool.Options = {
    pool: true,
    host,
    port,
    secure,
    requireTLS: security === 'starttls',
    ignoreTLS: security === 'none',
    tls: { rejectUnauthorized: config.rejectUnauthorized !== false && config.rejectUnauthorized !== 'false' },
    maxConnections: poolSize(config),
    disableFileAccess: true,
    disableUrlAccess: true,
    connectionTimeout: timeoutMs(config),
    greetingTimeout: timeoutMs(config),
    socketTimeout: 2 * timeoutMs(config),
  };
  // rateLimitPerMinute is enforced by Connection (rate-limiter.ts), not by nodemailer's rateDelta.
  if (authType === 'basic') {
    options.auth = { user: creds.user || '', pass: creds.password || '' };
  } else if (authType === 'oauth2-client-credentials') {
    // The token itself is supplied per connection by the provision callback (see smtp-oauth-config).
    options.auth = { type: 'OAuth2', user: creds.user || '' };
  } else if (authType === 'oauth2') {
    options.auth = {
      type: 'OAuth2',
      user: creds.user || '',
      clientId: creds.clientId,
      clientSecret: creds.clientSecret,
      refreshToken: creds.refreshToken,
      accessToken: creds.accessToken || undefined,
      accessUrl: config.tokenUrl || undefined,
    };
  }
  return options;
}
