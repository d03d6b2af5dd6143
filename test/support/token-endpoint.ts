// A real OAuth2 token endpoint on loopback (oauth2-mock-server), refusing wrong client secrets and
// client assertions the way Entra ID does.
import crypto from 'node:crypto';
import { OAuth2Server, type MutableResponse, type MutableToken } from 'oauth2-mock-server';

export interface TokenEndpointOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of the tokens it issues, in seconds (3600). */
  expiresIn?: number;
  /** The certificate registered with the app (PEM): client assertions must be signed with its key. */
  certificate?: string;
  /** The application permissions granted, put as the `roles` claim into every access token (Entra ID's app-only tokens). */
  roles?: string[];
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
  /** The `roles` claim of the tokens issued from now on. */
  roles: string[];
  /** The jti of every client assertion accepted: Entra ID refuses one it has seen. */
  jtis: Set<string>;
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
  const state: TokenEndpointState = {
    requests: [],
    issued: [],
    expiresIn: options.expiresIn || 3600,
    next: [],
    roles: options.roles ?? ['SMTP.SendAsApp', 'Mail.Send'],
    jtis: new Set(),
  };
  const url = `${server.issuer.url!.replace('localhost', '127.0.0.1')}/token`;
  server.service.on('beforeTokenSigning', (token: MutableToken) => {
    token.payload.exp = Math.floor(Date.now() / 1000) + state.expiresIn;
    token.payload.roles = [...state.roles];
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
    const refusal =
      req.body.client_assertion !== undefined || req.body.client_assertion_type !== undefined
        ? assertionRefusal(req.body, { url, clientId, certificate: options.certificate, jtis: state.jtis })
        : !req.body.client_secret
          ? missingClientAuthentication
          : undefined;
    if (refusal) {
      response.statusCode = refusal.status;
      response.body = refusal.body as MutableResponse['body'];
      return;
    }
    if (req.body.client_assertion === undefined && (req.body.client_id !== clientId || req.body.client_secret !== clientSecret)) {
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
    url,
    clientId,
    clientSecret,
    state,
    answerNext(status, body, headers) {
      state.next.push({ status, body, headers });
    },
    close: () => server.stop(),
  };
}

/** Entra ID's answer to a client-credentials request that carries neither a secret nor an assertion. */
const missingClientAuthentication: CannedAnswer = {
  status: 400,
  body: {
    error: 'invalid_request',
    error_description:
      "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    error_codes: [7000216],
  },
};

const invalidClient = (code: number, description: string): CannedAnswer => ({
  status: 401,
  body: { error: 'invalid_client', error_description: `AADSTS${code}: ${description}`, error_codes: [code] },
});

/**
 * Checks a client assertion (RFC 7523 §3) as Entra ID does, and says why it is refused (Entra ID's
 * codes and wording), or nothing when it is good: the type; the signature (PS256, or the older
 * RS256) with the registered certificate's key; the thumbprint (`x5t#S256`, or SHA-1 `x5t`); aud
 * the token URL; iss and sub the client ID; a jti not seen before; nbf ≤ now < exp, at most 10
 * minutes apart.
 */
function assertionRefusal(
  body: Record<string, string>,
  expected: { url: string; clientId: string; certificate?: string; jtis: Set<string> },
): CannedAnswer | undefined {
  if (body.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !body.client_assertion)
    return missingClientAuthentication;
  const parts = body.client_assertion.split('.');
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    if (parts.length !== 3) throw new Error('not a JWS');
    [header, claims] = parts.slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
  } catch {
    return invalidClient(50027, 'JWT token is invalid or malformed.');
  }
  const notRegistered = invalidClient(
    700027,
    `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${expected.clientId}'.]`,
  );
  if (!expected.certificate) return notRegistered;
  const cert = new crypto.X509Certificate(expected.certificate);
  const thumbprint = (algorithm: string) => crypto.createHash(algorithm).update(cert.raw).digest('base64url');
  const known = header['x5t#S256'] !== undefined ? header['x5t#S256'] === thumbprint('sha256') : header.x5t === thumbprint('sha1');
  if (!known) return notRegistered;
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  const signed =
    header.alg === 'PS256'
      ? crypto.verify('sha256', data, { key: cert.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
      : header.alg === 'RS256' && crypto.verify('sha256', data, cert.publicKey, signature);
  if (!signed) return invalidClient(700027, 'Client assertion failed signature validation.');
  if (claims.aud !== expected.url) return invalidClient(700023, 'Client assertion audience claim does not match Realm issuer.');
  if (claims.iss !== body.client_id || claims.sub !== body.client_id || body.client_id !== expected.clientId)
    return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  const now = Math.floor(Date.now() / 1000);
  const [nbf, exp] = [Number(claims.nbf), Number(claims.exp)];
  if (!(nbf <= now && now < exp && exp - nbf <= 600)) {
    const at = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString() : String(s));
    return invalidClient(
      700024,
      `Client assertion is not within its valid time range. Current time: ${at(now)}, assertion valid from ${at(nbf)}, expiry time of assertion ${at(exp)}.`,
    );
  }
  // Entra ID's code and words for a replay are not in the fixtures: none is made up here.
  if (typeof claims.jti !== 'string' || expected.jtis.has(claims.jti))
    return { status: 401, body: { error: 'invalid_client', error_description: 'Client assertion replayed: its jti was seen before.' } };
  expected.jtis.add(claims.jti);
  return undefined;
}
