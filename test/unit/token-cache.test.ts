import assert from 'node:assert/strict';
import type { MailError } from '../../src/lib/errors/errors';
import { TokenCache } from '../../src/lib/auth/token-cache';
import { clientCredentialsGrant, EXPIRY_WARNING_MS } from '../../src/lib/auth/client-credentials';
import { ASSERTION_TYPE, assertionSigner, type AssertionSigner } from '../../src/lib/auth/client-assertion';
import { englishOf, type Text } from '../../src/lib/errors/texts';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';
import { clientCertificate, type ClientCertificate } from '../support/certificate';

describe('TokenCache', function () {
  let idp: TokenEndpoint;
  before(async () => (idp = await startTokenEndpoint({ clientId: 'c', clientSecret: 's', expiresIn: 3600 })));
  after(() => idp.close());
  beforeEach(() => (idp.state.requests.length = 0));

  const cache = (clock: { now: number }) =>
    new TokenCache(clientCredentialsGrant({ tokenUrl: idp.url, clientId: 'c', clientSecret: 's', scope: 'x/.default' }), {
      now: () => clock.now,
    });

  it('makes one request however many callers wait', async function () {
    const c = cache({ now: Date.now() });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => c.get()));
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
    assert.equal(idp.state.requests.length, 1);
    assert.equal(c.requests, 1);
  });

  it('renews five minutes before expiry, with one request for concurrent callers', async function () {
    const clock = { now: Date.now() };
    const c = cache(clock);
    const first = await c.get();
    clock.now += (3600 - 301) * 1000;
    assert.equal((await c.get()).accessToken, first.accessToken, 'still fresh 301 s before expiry');
    clock.now += 2000;
    const renewed = await Promise.all([c.get(), c.get(), c.get()]);
    assert.notEqual(renewed[0].accessToken, first.accessToken);
    assert.equal(new Set(renewed.map((t) => t.accessToken)).size, 1);
    assert.equal(idp.state.requests.length, 2);
  });

  it('drops only the token a server rejected', async function () {
    const c = cache({ now: Date.now() });
    const a = await c.get();
    c.invalidate('some older token');
    assert.equal((await c.get()).accessToken, a.accessToken);
    c.invalidate(a.accessToken);
    assert.notEqual((await c.get()).accessToken, a.accessToken);
    assert.equal(c.rejections, 2);
  });

  it('does not cache a failure: the next call asks again', async function () {
    const c = cache({ now: Date.now() });
    idp.answerNext(400, { error: 'invalid_scope', error_description: 'AADSTS70011: bad scope' });
    await assert.rejects(c.get(), (e: MailError) => e.code === 'EOAUTH2' && e.responseCode === 400 && /AADSTS70011/.test(e.message));
    assert.ok((await c.get()).accessToken);
    assert.equal(idp.state.requests.length, 2);
  });

  it('refuses a token URL that is not http(s) without a request', async function () {
    const c = new TokenCache(clientCredentialsGrant({ tokenUrl: 'file:///etc/passwd', clientId: 'c', clientSecret: 's', scope: 'x' }));
    await assert.rejects(c.get(), /not an http\(s\) URL/);
    assert.equal(c.requests, 0);
  });

  describe('with a certificate (client assertion)', function () {
    const HOUR = 60 * 60 * 1000;
    let registered: ClientCertificate;
    let certIdp: TokenEndpoint;
    before(async function () {
      registered = clientCertificate({ passphrase: 'pw-of-the-key' });
      certIdp = await startTokenEndpoint({ clientId: 'c', certificate: registered.cert });
    });
    after(() => certIdp.close());
    beforeEach(() => (certIdp.state.requests.length = 0));

    /** The registered certificate's signer, on the real clock: the endpoint checks nbf and exp against its own. */
    const signer = (pair = registered): AssertionSigner =>
      assertionSigner({ tokenUrl: certIdp.url, clientId: 'c', certificate: pair.cert, privateKey: pair.key, passphrase: 'pw-of-the-key' });
    const certCache = (s: AssertionSigner, clock = { now: Date.now() }, warnings: Text[] = []) =>
      new TokenCache(
        clientCredentialsGrant({ tokenUrl: certIdp.url, clientId: 'c', scope: 'x/.default', signer: s }, { warn: (w) => warnings.push(w) }),
        { now: () => clock.now },
      );
    const jtiOf = (assertion: string) => JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString()).jti;

    it('sends a signed assertion instead of a secret, and the endpoint issues a token for it', async function () {
      const token = await certCache(signer()).get();
      assert.ok(certIdp.state.issued.includes(token.accessToken));
      const [request] = certIdp.state.requests;
      assert.deepEqual(Object.keys(request).sort(), ['client_assertion', 'client_assertion_type', 'client_id', 'grant_type', 'scope']);
      assert.equal(request.client_assertion_type, ASSERTION_TYPE);
      assert.equal(request.client_id, 'c');
    });

    it('signs a fresh assertion, with its own jti, for every token request', async function () {
      const c = certCache(signer());
      for (let i = 0; i < 3; i++) {
        c.invalidate();
        await c.get();
      }
      const jtis = certIdp.state.requests.map((r) => jtiOf(r.client_assertion));
      assert.equal(jtis.length, 3);
      assert.equal(new Set(jtis).size, 3, 'each request its own jti: the endpoint refuses one it has seen');
    });

    it("is refused with Entra ID's AADSTS700027 when another certificate's key signs", async function () {
      const other = clientCertificate({ passphrase: 'pw-of-the-key', subject: 'not-registered' });
      await assert.rejects(
        certCache(signer(other)).get(),
        (e: MailError & { transient?: boolean }) =>
          e.code === 'EOAUTH2' && e.responseCode === 401 && /AADSTS700027/.test(e.message) && !e.transient,
      );
    });

    it('fails an expired certificate with EOAUTH2 and what to do, without a request', async function () {
      const s = signer();
      const c = certCache(s, { now: s.certificate.notAfter.getTime() + 1000 });
      await assert.rejects(c.get(), (e: MailError & { transient?: boolean }) => {
        assert.equal(e.code, 'EOAUTH2');
        assert.ok(!e.transient, 'no retry brings a new certificate');
        assert.ok(e.message.includes(s.certificate.sha1) && e.message.includes(s.certificate.notAfter.toISOString()));
        assert.match(
          e.hint!,
          /upload it in Entra ID > App registrations > your app > Certificates & secrets, and paste it and its private key/,
        );
        return true;
      });
      assert.equal(c.requests, 0);
      assert.equal(certIdp.state.requests.length, 0);
    });

    it('warns once a day from 30 days before the certificate expires', async function () {
      const s = signer();
      const notAfter = s.certificate.notAfter.getTime();
      const clock = { now: notAfter - EXPIRY_WARNING_MS - HOUR };
      const warnings: Text[] = [];
      const c = certCache(s, clock, warnings);
      /** A token request at the clock's time after `ms` more. */
      const requestAfter = async (ms: number) => {
        clock.now += ms;
        c.invalidate();
        await c.get();
      };
      await requestAfter(0);
      assert.equal(warnings.length, 0, 'not yet: 30 days and an hour before');
      await requestAfter(2 * HOUR);
      assert.equal(warnings.length, 1);
      assert.match(
        englishOf(warnings[0]),
        new RegExp(`certificate ${s.certificate.sha1} expires on ${s.certificate.notAfter.toISOString()}`),
      );
      for (let i = 0; i < 24; i++) await requestAfter(HOUR - 1);
      assert.equal(warnings.length, 1, 'once a day, however often a token is fetched');
      await requestAfter(24);
      assert.equal(warnings.length, 2, 'again a day later');
      assert.equal(certIdp.state.requests.length, 27);
    });
  });
});
