// A Google service account: its key file read and checked once, the JWT of the JWT bearer grant
// (RFC 7523 §2.1) verified as Google verifies it, and the token cache against a Google-shaped
// token endpoint on loopback.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readServiceAccountKey } from '../../src/shared/service-account';
import { serviceAccountKey } from '../../src/lib/auth/service-account-key';
import { JWT_BEARER_GRANT_TYPE, JWT_LIFETIME_S, serviceAccountTokens, signedJwt } from '../../src/lib/auth/jwt-bearer';
import type { MailError } from '../../src/lib/errors/errors';
import { startGoogleTokenEndpoint, type GoogleTokenEndpoint, type ServiceAccount } from '../support/google-token';

const MAILBOX = 'sales@example.org';

/** A JWT's parts: header and claims decoded, the signature, and what was signed. */
function decode(jwt: string) {
  const [h, c, s] = jwt.split('.');
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { header: json(h), claims: json(c), signature: Buffer.from(s, 'base64url'), signed: Buffer.from(`${h}.${c}`) };
}

describe('Google service account', function () {
  let google: GoogleTokenEndpoint;
  let account: ServiceAccount;
  before(async function () {
    google = await startGoogleTokenEndpoint();
    account = google.createAccount('mailer');
    google.users.add(MAILBOX);
  });
  after(() => google.close());
  beforeEach(function () {
    google.requests.length = 0;
    google.delegate(account.clientId, ['https://mail.google.com/']);
  });

  /** The key file with some fields changed (undefined: removed). */
  const keyWith = (changes: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(account.keyJson), ...changes });

  describe('the key file', function () {
    it('shows only the account and its client ID, and keeps what signing needs', function () {
      const read = readServiceAccountKey(account.keyJson);
      assert.ok('fields' in read);
      assert.equal(read.fields.clientEmail, account.clientEmail);
      assert.equal(read.fields.clientId, account.clientId);
      assert.equal(read.fields.tokenUri, google.url);
      const key = serviceAccountKey(account.keyJson);
      assert.equal(key.key.asymmetricKeyType, 'rsa');
      assert.ok(!JSON.stringify(key).includes('PRIVATE KEY'), 'the parsed key serialises without its PEM');
    });

    for (const [what, json, problem] of [
      ['nothing', '', 'empty'],
      ['text that is no JSON', 'not json {', 'notJson'],
      ['a JSON array', '[1]', 'notJson'],
      ["an OAuth client's file", JSON.stringify({ installed: { client_id: 'x' } }), 'notServiceAccount'],
      ['a file without client_email', () => keyWith({ client_email: undefined }), 'noClientEmail'],
      ['a file without private_key', () => keyWith({ private_key: undefined }), 'noPrivateKey'],
      ['a file without token_uri', () => keyWith({ token_uri: undefined }), 'noTokenUri'],
      [
        'a token_uri over http elsewhere than this machine',
        () => keyWith({ token_uri: 'http://oauth2.example.com/token' }),
        'plainTokenUri',
      ],
      [
        'a private_key that is not one',
        () => keyWith({ private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }),
        'badPrivateKey',
      ],
      [
        'an EC private_key',
        () =>
          keyWith({
            private_key: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
          }),
        'badPrivateKey',
      ],
    ] as [string, string | (() => string), string][]) {
      it(`refuses ${what} with ECONFIG and a hint that quotes nothing of it`, function () {
        const text = typeof json === 'function' ? json() : json;
        assert.throws(
          () => serviceAccountKey(text),
          (e: MailError) => {
            assert.equal(e.code, 'ECONFIG');
            assert.equal(e.messageKey, `errors.serviceAccount.${problem}`);
            assert.ok(e.hint && e.hint.length > 40, 'a hint that says what to do');
            const said = `${e.message} ${e.hint} ${e.stack}`;
            for (const line of String(JSON.parse(account.keyJson).private_key)
              .split('\n')
              .filter((l) => l.length > 20))
              assert.ok(!said.includes(line), 'no line of the key');
            assert.ok(!said.includes('BEGIN PRIVATE KEY'));
            return true;
          },
        );
      });
    }

    it('takes an http token_uri on loopback (a test endpoint) and an https one', function () {
      assert.equal(serviceAccountKey(keyWith({ token_uri: 'http://localhost:8080/token' })).tokenUri, 'http://localhost:8080/token');
      assert.equal(
        serviceAccountKey(keyWith({ token_uri: 'https://oauth2.googleapis.com/token' })).tokenUri,
        'https://oauth2.googleapis.com/token',
      );
    });
  });

  describe('the JWT', function () {
    it("is RS256, signed with the account's key, iss the account, sub the mailbox, aud the token URI, an hour at most", function () {
      const key = serviceAccountKey(account.keyJson);
      const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
      const jwt = decode(signedJwt(key, { user: MAILBOX, scope: 'https://mail.google.com/' }, now));
      assert.deepEqual(jwt.header, { alg: 'RS256', typ: 'JWT', kid: account.privateKeyId });
      assert.deepEqual(jwt.claims, {
        iss: account.clientEmail,
        sub: MAILBOX,
        scope: 'https://mail.google.com/',
        aud: google.url,
        iat: Math.floor(now / 1000),
        exp: Math.floor(now / 1000) + 3600,
      });
      assert.equal(JWT_LIFETIME_S, 3600);
      const publicKey = crypto.createPublicKey(account.privateKey);
      assert.ok(crypto.verify('sha256', jwt.signed, publicKey, jwt.signature), 'verifies with the public key (PKCS#1 v1.5)');
      const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      assert.ok(!crypto.verify('sha256', jwt.signed, other, jwt.signature), 'and with no other');
    });
  });

  describe('tokens', function () {
    const tokens = (over: { scope?: string; user?: string; key?: string; now?: () => number } = {}) =>
      serviceAccountTokens(
        { authType: 'google-service-account', scope: over.scope },
        { user: over.user ?? MAILBOX, serviceAccountKey: over.key ?? account.keyJson },
        { now: over.now },
      )!;

    it('gives no token cache to other methods', function () {
      for (const authType of ['basic', 'oauth2-client-credentials', 'oauth2', 'none'] as const)
        assert.equal(serviceAccountTokens({ authType }, { serviceAccountKey: account.keyJson }, {}), undefined);
    });

    it("posts the JWT bearer grant to the key's token URI with Gmail's scope, once for twenty callers", async function () {
      const cache = tokens();
      const got = await Promise.all(Array.from({ length: 20 }, () => cache.get()));
      assert.equal(google.requests.length, 1);
      assert.deepEqual(Object.keys(google.requests[0]).sort(), ['assertion', 'grant_type']);
      assert.equal(google.requests[0].grant_type, JWT_BEARER_GRANT_TYPE);
      assert.equal(decode(google.requests[0].assertion).claims.scope, 'https://mail.google.com/');
      assert.equal(new Set(got.map((t) => t.accessToken)).size, 1);
      assert.ok(google.acceptsForGmail(MAILBOX, got[0].accessToken));
    });

    it('asks for the scope the connection sets', async function () {
      google.delegate(account.clientId, ['https://mail.google.com/', 'https://www.googleapis.com/auth/gmail.send']);
      await tokens({ scope: 'https://www.googleapis.com/auth/gmail.send' }).get();
      assert.equal(decode(google.requests[0].assertion).claims.scope, 'https://www.googleapis.com/auth/gmail.send');
    });

    /** The error a token request fails with. */
    const refusal = (cache: ReturnType<typeof tokens>) =>
      cache.get().then(
        () => assert.fail('a token was issued'),
        (e: MailError) => e,
      );

    it('not delegated: EOAUTH2 naming the client ID, the scope and where in the Admin console', async function () {
      google.delegate(account.clientId, []);
      const err = await refusal(tokens());
      assert.equal(err.code, 'EOAUTH2');
      assert.equal(err.responseCode, 401);
      assert.match(err.message, /unauthorized_client/);
      assert.match(err.hint!, /Security > Access and data control > API controls > Domain-wide delegation/);
      assert.ok(err.hint!.includes(`client ID ${account.clientId}`), err.hint);
      assert.ok(err.hint!.includes('scope https://mail.google.com/'), err.hint);
    });

    it('a deleted key: create a new key', async function () {
      const doomed = google.createAccount('doomed');
      google.delegate(doomed.clientId, ['https://mail.google.com/']);
      google.deleteKey(doomed);
      const err = await refusal(tokens({ key: doomed.keyJson }));
      assert.match(err.message, /Invalid JWT Signature/);
      assert.match(err.hint!, /deleted or disabled.*Create a new JSON key/);
    });

    it("this machine's clock two hours behind: the clock", async function () {
      const err = await refusal(tokens({ now: () => Date.now() - 2 * 3600 * 1000 }));
      assert.match(err.message, /short-lived token/);
      assert.match(err.hint!, /clock is off/);
    });

    it('a user who is no mailbox of the domain: names the user', async function () {
      const err = await refusal(tokens({ user: 'nobody@example.org' }));
      assert.match(err.message, /Invalid email or User ID/);
      assert.match(err.hint!, /does not know the mailbox nobody@example\.org/);
    });

    it('a key file that cannot sign: ECONFIG at every token request, and no request made', async function () {
      const cache = tokens({ key: keyWith({ type: 'authorized_user' }) });
      for (let i = 0; i < 2; i++) assert.equal((await refusal(cache)).code, 'ECONFIG');
      assert.equal(google.requests.length, 0);
    });
  });
});
