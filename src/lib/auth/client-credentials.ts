import { GRAPH_URL } from '../../shared/constants';
import type { ConnectionConfig, ConnectionCredentials } from '../config/connection-config';
import { TokenCache, type TokenCacheOptions } from './token-cache';

/** The scope Graph's tokens are asked for when the connection sets none: the resource with /.default. */
export const graphScope = (config: ConnectionConfig): string => `${config.graphUrl || GRAPH_URL}/.default`;

/**
 * The token cache of a connection with OAuth2 client credentials, shared by every attempt of every
 * transport (SMTP's pooled connections, Graph's requests); undefined for any other method.
 */
export function clientCredentialTokens(
  config: ConnectionConfig,
  creds: ConnectionCredentials,
  options: TokenCacheOptions,
): TokenCache | undefined {
  if (config.authType !== 'oauth2-client-credentials') return undefined;
  const scope = config.scope || (config.transport === 'graph' ? graphScope(config) : '');
  return new TokenCache(
    { tokenUrl: config.tokenUrl || '', clientId: creds.clientId || '', clientSecret: creds.clientSecret || '', scope },
    options,
  );
}
