// A real OAuth2 token endpoint on loopback (oauth2-mock-server), refusing wrong client secrets
// the way Entra ID does.
import crypto from 'node:crypto';
import { OAuth2Server, type MutableResponse, type MutableToken } from 'oauth2-mock-server';

export interface TokenEndpointOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of the tokens it issues, in seconds (3600). */
  expiresIn?: number;
}

/** An answer given instead of the next token, as a provider would send it. */
export interface CannedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface TokenEndpointState {
  /** The form fields of every token request, in order (grant_type, client_id, client_secret, scope …). */
  requests: Record<string, string>[];
  /** Every access token issued, in order. */
  issued: string[];
  expiresIn: number;
  next: CannedAnswer[];
}

export interface TokenEndpoint {
  url: string;
  clientId: string;
  clientSecret: string;
  state: TokenEndpointState;
  /** Makes the next answer this one (status, body, extra headers such as Retry-After), as a provider would send it. */
  answerNext(status: number, body: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

/** The token request as oauth2-mock-server hands it to its events: an express request. */
interface TokenRequest {
  body: Record<string, string>;
  res: { set(headers: Record<string, string>): void };
}

export async function startTokenEndpoint(options: TokenEndpointOptions = {}): Promise<TokenEndpoint> {
  const clientId = options.clientId || 'client-id-1';
  const clientSecret = options.clientSecret || 'client-secret-1';
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const state: TokenEndpointState = { requests: [], issued: [], expiresIn: options.expiresIn || 3600, next: [] };
  server.service.on('beforeTokenSigning', (token: MutableToken) => {
    token.payload.exp = Math.floor(Date.now() / 1000) + state.expiresIn;
    // Tokens signed in the same second would otherwise be identical.
    token.payload.jti = crypto.randomUUID();
  });
  server.service.on('beforeResponse', (response: MutableResponse, req: TokenRequest) => {
    state.requests.push({ ...req.body });
    const override = state.next.shift();
    if (override) {
      response.statusCode = override.status;
      // Any JSON the provider might send, a bare string included (the library types only objects).
      response.body = override.body as MutableResponse['body'];
      if (override.headers) req.res.set(override.headers);
      return;
    }
    if (req.body.client_id !== clientId || req.body.client_secret !== clientSecret) {
      response.statusCode = 401;
      response.body = {
        error: 'invalid_client',
        error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        error_codes: [7000215],
      };
      return;
    }
    const body = response.body as Record<string, unknown>;
    body.expires_in = state.expiresIn;
    state.issued.push(body.access_token as string);
  });
  return {
    url: `${server.issuer.url!.replace('localhost', '127.0.0.1')}/token`,
    clientId,
    clientSecret,
    state,
    answerNext(status, body, headers) {
      state.next.push({ status, body, headers });
    },
    close: () => server.stop(),
  };
}
