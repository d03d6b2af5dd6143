import crypto from 'node:crypto';
import { GOOGLE_SCOPE } from '../../shared/constants';
import type { ConnectionConfig, ConnectionCredentials } from '../config/connection-config';
import type { MailError } from '../errors/errors';
import { serviceAccountKey, type ServiceAccountKey } from './service-account-key';
import { TokenCache, type TokenCacheOptions, type TokenGrant } from './token-cache';

/** RFC 7523 §2.1: the grant type of a token request that presents a JWT as the authorization grant. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * Seconds between the JWT's iat and exp. Google refuses more than an hour ("Token must be a
 * short-lived token (60 minutes)"); each token request signs a new JWT, so the most it allows is
 * as good as any.
 */
export const JWT_LIFETIME_S = 3600;

/** Who the token is for: the mailbox the service account acts as (`sub`), and the scope asked for. */
export interface Impersonation {
  user: string;
  scope: string;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A JWT for the JWT bearer grant, as Google's service accounts with domain-wide delegation use it:
 * RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3), `kid` the key's id, `iss` the service
 * account, `sub` the mailbox, `scope`, `aud` the token URI, `iat` now and `exp` an hour later. A
 * credential for an hour: never logged.
 */
export function signedJwt(key: ServiceAccountKey, who: Impersonation, now: number): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) };
  const iat = Math.floor(now / 1000);
  const claims = { iss: key.clientEmail, sub: who.user, scope: who.scope, aud: key.tokenUri, iat, exp: iat + JWT_LIFETIME_S };
  const signingInput = `${base64url(header)}.${base64url(claims)}`;
  const signature = crypto.sign('sha256', Buffer.from(signingInput), key.key);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * The JWT bearer grant of a service account (RFC 7523 §2.1): POST to the key's token URI with a
 * JWT signed for each request. A refusal is diagnosed with the client ID, scope and user, which the
 * hints name: Google's answers do not.
 */
export function jwtBearerGrant(key: ServiceAccountKey, who: Impersonation): TokenGrant {
  return {
    tokenUrl: key.tokenUri,
    about: { authType: 'google-service-account', clientId: key.clientId, scope: who.scope, user: who.user },
    fields: (now) => ({ grant_type: JWT_BEARER_GRANT_TYPE, assertion: signedJwt(key, who, now) }),
  };
}

/**
 * The token cache of a connection with a Google service account, shared by every pooled SMTP
 * connection; undefined for any other method. The key file is read once: one that cannot sign
 * fails every token request (every send, Test connection) with the same ECONFIG.
 */
export function serviceAccountTokens(
  config: ConnectionConfig,
  creds: ConnectionCredentials,
  options: TokenCacheOptions,
): TokenCache | undefined {
  if (config.authType !== 'google-service-account') return undefined;
  const who = { user: creds.user || '', scope: config.scope || GOOGLE_SCOPE };
  try {
    return new TokenCache(jwtBearerGrant(serviceAccountKey(creds.serviceAccountKey), who), options);
  } catch (e) {
    const invalid = e as MailError;
    return new TokenCache({ tokenUrl: '', invalid, fields: () => ({}) }, options);
  }
}
