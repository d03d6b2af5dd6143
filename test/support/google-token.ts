// Google's OAuth2 token endpoint for service accounts on loopback: it takes the JWT bearer grant
// (RFC 7523 §2.1) and checks the JWT as Google does (RS256 with a key of the registered service
// account, iss, aud = its own URL, iat/exp, the scope delegated to the client ID, sub a user of the
// domain), answering with Google's bodies (test/fixtures/provider-responses.json).
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import providers from '../fixtures/provider-responses.json';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** A service account of the endpoint's project, with one key, as the Cloud console creates them. */
export interface ServiceAccount {
  clientEmail: string;
  clientId: string;
  privateKeyId: string;
  /** PKCS#8 PEM, as in the key file. */
  privateKey: string;
  /** The key file as the Cloud console downloads it (pretty-printed JSON). */
  keyJson: string;
}

/** A token the endpoint issued, and whom for. */
export interface Issued {
  clientEmail: string;
  sub: string;
  scope: string;
}

export interface GoogleTokenEndpoint {
  /** The token URI, the key files' token_uri and the JWTs' expected audience. */
  url: string;
  /** Form fields of every token request, in order. */
  requests: Record<string, string>[];
  /** Every access token issued. */
  issued: Map<string, Issued>;
  /** Mailboxes of the Workspace domain (the users a service account may act as). */
  users: Set<string>;
  /** A new service account with a key (its public key registered here). */
  createAccount(name?: string): ServiceAccount;
  /** Deletes the account's key: its JWTs no longer verify. */
  deleteKey(account: ServiceAccount): void;
  /** Domain-wide delegation in the Admin console: the client ID with these scopes (none: removed). */
  delegate(clientId: string, scopes: string[]): void;
  /** The next answer, instead of a verdict. */
  answerNext(status: number, body: unknown): void;
  /** The issued token is for this mailbox and has Gmail's scope: what smtp.gmail.com checks. */
  acceptsForGmail(user: string, token: string): boolean;
  close(): Promise<void>;
}

/** Google's answers of the fixtures, by what they say. */
const googleAnswer = (description: RegExp) => {
  const found = providers.token.find((t) => 'provider' in t && t.provider === 'Google' && description.test(t.body.error_description));
  if (!found) throw new Error(`no Google answer ${description} in the fixtures`);
  return { status: found.status, body: found.body };
};
const NOT_DELEGATED = googleAnswer(/Client is unauthorized/);
const BAD_SIGNATURE = googleAnswer(/Invalid JWT Signature/);
const BAD_TIME = googleAnswer(/short-lived token/);
const NO_SUCH_USER = googleAnswer(/Invalid email or User ID/);
/** Not in the fixtures: Google's wording for these is not known here, only that they are invalid_grant. */
const ACCOUNT_NOT_FOUND = { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid grant: account not found' } };
const BAD_AUDIENCE = { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT: Failed audience check.' } };
const BAD_GRANT_TYPE = { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' } };

/** Seconds of clock difference the endpoint forgives. */
const SKEW_S = 300;

export async function startGoogleTokenEndpoint(): Promise<GoogleTokenEndpoint> {
  const requests: Record<string, string>[] = [];
  const issued = new Map<string, Issued>();
  const users = new Set<string>();
  const next: { status: number; body: unknown }[] = [];
  /** client_email → its client ID and its keys' public halves by key id. */
  const accounts = new Map<string, { clientId: string; keys: Map<string, crypto.KeyObject> }>();
  const delegations = new Map<string, Set<string>>();
  let count = 0;

  const verdict = (form: Record<string, string>, url: string): { status: number; body: unknown } => {
    if (form.grant_type !== JWT_BEARER) return BAD_GRANT_TYPE;
    const parts = String(form.assertion ?? '').split('.');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      if (parts.length !== 3) throw new Error('not a JWS');
      [header, claims] = parts.slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
    } catch {
      return BAD_SIGNATURE;
    }
    const account = accounts.get(String(claims.iss));
    if (!account) return ACCOUNT_NOT_FOUND;
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    // Any active key of the account may have signed; the kid names which.
    const keys = header.kid !== undefined ? [account.keys.get(String(header.kid))] : [...account.keys.values()];
    const signed = header.alg === 'RS256' && keys.some((k) => k && crypto.verify('sha256', data, k, signature));
    if (!signed) return BAD_SIGNATURE;
    if (claims.aud !== url) return BAD_AUDIENCE;
    const now = Math.floor(Date.now() / 1000);
    const [iat, exp] = [Number(claims.iat), Number(claims.exp)];
    if (!(Number.isInteger(iat) && Number.isInteger(exp) && exp - iat <= 3600 && iat <= now + SKEW_S && exp > now - SKEW_S))
      return BAD_TIME;
    const scopes = String(claims.scope ?? '')
      .split(' ')
      .filter(Boolean);
    const delegated = delegations.get(account.clientId);
    if (!scopes.length || !delegated || !scopes.every((s) => delegated.has(s))) return NOT_DELEGATED;
    if (typeof claims.sub !== 'string' || !users.has(claims.sub)) return NO_SUCH_USER;
    const token = `ya29.${crypto.randomBytes(24).toString('base64url')}`;
    issued.set(token, { clientEmail: String(claims.iss), sub: claims.sub, scope: scopes.join(' ') });
    return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      requests.push(form);
      const answer =
        req.method !== 'POST' || req.url !== '/token'
          ? { status: 404, body: { error: 'not_found' } }
          : (next.shift() ?? verdict(form, url));
      res.writeHead(answer.status, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;

  return {
    url,
    requests,
    issued,
    users,
    createAccount(name = `mailer-${++count}`) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const clientEmail = `${name}@project-1.iam.gserviceaccount.com`;
      const clientId = String(100000000000000000000n + BigInt(crypto.randomInt(1e9)));
      const privateKeyId = crypto.randomBytes(20).toString('hex');
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const known = accounts.get(clientEmail) ?? { clientId, keys: new Map() };
      known.keys.set(privateKeyId, publicKey);
      accounts.set(clientEmail, known);
      const keyJson = JSON.stringify(
        {
          type: 'service_account',
          project_id: 'project-1',
          private_key_id: privateKeyId,
          private_key: pem,
          client_email: clientEmail,
          client_id: known.clientId,
          auth_uri: 'https://accounts.google.com/o/oauth2/auth',
          token_uri: url,
          auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
          client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
          universe_domain: 'googleapis.com',
        },
        null,
        2,
      );
      return { clientEmail, clientId: known.clientId, privateKeyId, privateKey: pem, keyJson };
    },
    deleteKey(account) {
      accounts.get(account.clientEmail)?.keys.delete(account.privateKeyId);
    },
    delegate(clientId, scopes) {
      if (scopes.length) delegations.set(clientId, new Set(scopes));
      else delegations.delete(clientId);
    },
    answerNext(status, body) {
      next.push({ status, body });
    },
    acceptsForGmail(user, token) {
      const t = issued.get(token);
      return !!t && t.sub === user && t.scope.split(' ').includes('https://mail.google.com/');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
