import { graphScope } from '../../shared/connection-fields';
import type { ConnectionConfig, ConnectionCredentials } from '../config/connection-config';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text, type Text } from '../errors/texts';
import { ASSERTION_TYPE, assertionSigner, type AssertionSigner } from './client-assertion';
import { TokenCache, type TokenCacheOptions, type TokenGrant } from './token-cache';

/** How the client proves itself: a client secret (RFC 6749 §2.3.1), or a signed assertion (RFC 7523 §2.2). */
export interface ClientCredentials {
  tokenUrl: string;
  clientId: string;
  scope: string;
  clientSecret?: string;
  /** Certificate credentials: signs a fresh assertion for every token request, sent instead of the secret. */
  signer?: AssertionSigner;
  /** Why the connection's credentials cannot be used (a key that does not match its certificate): see TokenGrant. */
  invalid?: MailError;
}

export interface ClientCredentialsOptions {
  /** Where a warning goes that belongs to no send (a certificate about to expire); never given a secret. */
  warn?: (warning: Text) => void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * From this long before a certificate expires the runtime warns, once a day: Entra ID refuses an
 * expired one, and a new one has to be created, uploaded to the app registration and pasted here.
 */
export const EXPIRY_WARNING_MS = 30 * DAY_MS;

/**
 * The client-credentials grant (RFC 6749 §4.4): the client ID and scope, with the secret or a fresh
 * assertion signed with the certificate's key. An expired certificate fails before any request:
 * Entra ID would refuse it, and no retry can help.
 */
export function clientCredentialsGrant(credentials: ClientCredentials, options: ClientCredentialsOptions = {}): TokenGrant {
  const { tokenUrl, clientId, scope, signer, clientSecret, invalid } = credentials;
  /** When the certificate's expiry was last warned about (epoch ms). */
  let warnedAt: number | undefined;
  const authentication = (now: number): Record<string, string> => {
    if (!signer) return { client_secret: clientSecret ?? '' };
    const { notAfter, sha1 } = signer.certificate;
    const about = { thumbprint: sha1, date: notAfter.toISOString() };
    if (now >= notAfter.getTime())
      throw mailError(ErrorCodes.EOAUTH2, text('errors.token.certificateExpired', about), text('hints.token.certificateExpired'));
    if (notAfter.getTime() - now <= EXPIRY_WARNING_MS && (warnedAt === undefined || now - warnedAt >= DAY_MS)) {
      warnedAt = now;
      options.warn?.(text('warnings.certificateExpiring', about));
    }
    return { client_assertion_type: ASSERTION_TYPE, client_assertion: signer.assertion() };
  };
  return {
    tokenUrl,
    invalid,
    fields: (now) => ({ grant_type: 'client_credentials', client_id: clientId, ...authentication(now), scope }),
  };
}

/**
 * The token cache of a connection with OAuth2 client credentials, shared by every attempt of every
 * transport (SMTP's pooled connections, Graph's requests); undefined for any other method. With a
 * certificate, its key signs the assertions on the same clock as the cache's.
 */
export function clientCredentialTokens(
  config: ConnectionConfig,
  creds: ConnectionCredentials,
  options: TokenCacheOptions & ClientCredentialsOptions,
): TokenCache | undefined {
  if (config.authType !== 'oauth2-client-credentials') return undefined;
  const scope = config.scope || (config.transport === 'graph' ? graphScope(config.graphUrl) : '');
  const tokenUrl = config.tokenUrl || '';
  const clientId = creds.clientId || '';
  const credentials: ClientCredentials = { tokenUrl, clientId, scope };
  if (config.clientAuth !== 'certificate') credentials.clientSecret = creds.clientSecret || '';
  else {
    // Read and checked once; a pair that cannot sign fails every token request with the same ECONFIG.
    try {
      credentials.signer = assertionSigner(
        {
          tokenUrl,
          clientId,
          certificate: creds.clientCertificate || '',
          privateKey: creds.clientPrivateKey || '',
          passphrase: creds.clientKeyPassphrase || undefined,
        },
        { now: options.now },
      );
    } catch (e) {
      credentials.invalid = e as MailError;
    }
  }
  return new TokenCache(clientCredentialsGrant(credentials, options), options);
}
