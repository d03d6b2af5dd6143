import { graphScope } from '../../shared/connection-fields';
import type { ConnectionConfig, ConnectionCredentials } from '../config/connection-config';
import type { MailError } from '../errors/errors';
import { assertionSigner } from './client-assertion';
import { TokenCache, type ClientCredentials, type TokenCacheOptions } from './token-cache';

/**
 * The token cache of a connection with OAuth2 client credentials, shared by every attempt of every
 * transport (SMTP's pooled connections, Graph's requests); undefined for any other method. With a
 * certificate, its key signs the assertions on the same clock as the cache's.
 */
export function clientCredentialTokens(
  config: ConnectionConfig,
  creds: ConnectionCredentials,
  options: TokenCacheOptions,
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
  return new TokenCache(credentials, options);
}
