import wellKnown, { type WellKnownService } from 'nodemailer/lib/well-known';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { CONNECTION_DEFAULTS, type AuthType, type Security } from '../../shared/constants';
import { checkConnectionConfig, type ConnectionConfig, type ConnectionCredentials } from './connection-config';
import { poolSize } from './pool-limits';

export type { AuthType, Security, ConnectionConfig, ConnectionCredentials };

/** How long to wait for the server (and for attachment downloads), in ms. */
export function timeoutMs(config: ConnectionConfig): number {
  return (config.timeout || CONNECTION_DEFAULTS.timeout) * 1000;
}

/**
 * Where to connect: a well-known service's host and port, or the ones typed by hand. Takes the
 * settings as deployed (numbers saved as strings, say) and checks them all first.
 */
export function resolveServer(raw: unknown): { host: string; port: number; secure: boolean; security: Security } {
  const config = checkConnectionConfig(raw);
  let security = config.security ?? CONNECTION_DEFAULTS.security;
  if (config.service) {
    const known = wellKnown(config.service) as WellKnownService;
    // A service on an implicit-TLS port dictates TLS; on a submission port keep the chosen upgrade policy.
    if (known.secure) security = 'tls';
    else if (security === 'tls') security = 'starttls';
    return { host: known.host!, port: Number(known.port ?? 587), secure: security === 'tls', security };
  }
  const port = config.port || (security === 'tls' ? 465 : 587);
  return { host: config.host!, port, secure: security === 'tls', security };
}

/**
 * The nodemailer pool options for a connection. Auth for client credentials and a Google service
 * account is XOAUTH2 whose token comes from the connection's provision callback; file and URL access are always off so
 * a msg can never make the transport read a local file or fetch a URL by itself.
 */
export function transportOptions(raw: unknown, creds: ConnectionCredentials): SMTPPool.Options {
  const config = checkConnectionConfig(raw);
  const { host, port, secure, security } = resolveServer(config);
  const authType = config.authType || CONNECTION_DEFAULTS.authType;
  const options: SMTPPool.Options = {
    pool: true,
    host,
    port,
    secure,
    requireTLS: security === 'starttls',
    ignoreTLS: security === 'none',
    tls: { rejectUnauthorized: config.rejectUnauthorized !== false },
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
  } else if (authType === 'oauth2-client-credentials' || authType === 'google-service-account') {
    // The token itself is supplied per connection by the provision callback (transports/smtp.ts).
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
