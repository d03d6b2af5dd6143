import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { MailError } from '../../src/lib/errors/errors';
import { ASSERTION_LIFETIME_S, assertionSigner, type AssertionInput } from '../../src/lib/auth/client-assertion';
import { certificateInfo } from '../../src/lib/auth/certificate-info';
import { clientCertificate, type ClientCertificate } from '../support/certificate';

const TOKEN_URL = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token';

/** A JWT's three parts: header and claims decoded, the signature as bytes, and what was signed. */
function decode(jwt: string) {
  const [h, c, s] = jwt.split('.');
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { header: json(h), claims: json(c), signature: Buffer.from(s, 'base64url'), signed: Buffer.from(`${h}.${c}`) };
}

describe('client assertion (RFC 7523 private_key_jwt)', function () {
  let pair: ClientCertificate;
  let other: ClientCertificate;
  let encrypted: ClientCertificate;
  before(function () {
    pair = clientCertificate();
    other = clientCertificate({ subject: 'someone-else' });
    encrypted = clientCertificate({ passphrase: 'correct horse' });
  });
  const input = (over: Partial<AssertionInput> = {}): AssertionInput => ({
    tokenUrl: TOKEN_URL,
    clientId: 'app-1',
    certificate: pair.cert,
    privateKey: pair.key,
    ...over,
  });
  /** The ECONFIG a pair is refused with: its message and hint, checked to quote nothing secret. */
  const refusal = (over: Partial<AssertionInput>) => {
    try {
      assertionSigner(input(over));
    } catch (e) {
      const err = e as MailError;
      assert.equal(err.code, 'ECONFIG');
      assert.ok(err.hint, 'a hint that says what to fix');
      const said = `${err.message} ${err.hint} ${err.stack}`;
      for (const secret of [pair.key, other.key, encrypted.key, 'correct horse', 'wrong horse'])
        assert.ok(!said.includes(secret) && !said.includes(secret.split('\n')[1]), 'no key or passphrase in the error');
      return err;
    }
    assert.fail('the pair was accepted');
  };

  it("signs PS256 with the certificate's key, names it by x5t#S256, and claims what Entra ID checks", function () {
    const now = Date.UTC(2026, 11, 7, 10, 0, 0);
    const signer = assertionSigner(input(), { now: () => now });
    const { header, claims, signature, signed } = decode(signer.assertion());
    assert.deepEqual(header, { alg: 'PS256', typ: 'JWT', 'x5t#S256': certificateInfo(pair.cert).x5tS256 });
    assert.equal(header['x5t#S256'], crypto.createHash('sha256').update(new crypto.X509Certificate(pair.cert).raw).digest('base64url'));
    assert.equal(claims.aud, TOKEN_URL);
    assert.equal(claims.iss, 'app-1');
    assert.equal(claims.sub, 'app-1');
    assert.match(claims.jti, /^[0-9a-f-]{36}$/);
    assert.equal(claims.nbf, now / 1000);
    assert.equal(claims.iat, now / 1000);
    assert.equal(claims.exp, now / 1000 + ASSERTION_LIFETIME_S);
    assert.ok(claims.exp - claims.nbf <= 600, 'Entra ID accepts at most 10 minutes');
    const publicKey = new crypto.X509Certificate(pair.cert).publicKey;
    const pss = (saltLength: number) => ({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength });
    assert.ok(crypto.verify('sha256', signed, pss(32), signature), 'RSA-PSS, SHA-256, salt length 32');
    assert.ok(!crypto.verify('sha256', signed, new crypto.X509Certificate(other.cert).publicKey, signature), "another certificate's key");
    assert.equal(signer.certificate.sha1, certificateInfo(pair.cert).sha1);
  });

  it('gives every assertion its own jti', function () {
    const signer = assertionSigner(input());
    const jtis = new Set(Array.from({ length: 5 }, () => decode(signer.assertion()).claims.jti));
    assert.equal(jtis.size, 5);
  });

  it('reads a key encrypted with a passphrase', function () {
    assert.match(encrypted.key, /BEGIN ENCRYPTED PRIVATE KEY/);
    const signer = assertionSigner(input({ certificate: encrypted.cert, privateKey: encrypted.key, passphrase: 'correct horse' }));
    const { signature, signed } = decode(signer.assertion());
    const key = new crypto.X509Certificate(encrypted.cert).publicKey;
    assert.ok(crypto.verify('sha256', signed, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature));
  });

  it('refuses an encrypted key without its passphrase, or with a wrong one, saying to enter the passphrase', function () {
    const missing = refusal({ certificate: encrypted.cert, privateKey: encrypted.key });
    assert.match(missing.message, /encrypted and no key passphrase/);
    assert.match(missing.hint!, /Key passphrase/);
    const wrong = refusal({ certificate: encrypted.cert, privateKey: encrypted.key, passphrase: 'wrong horse' });
    assert.match(wrong.message, /could not be decrypted/);
    assert.match(wrong.hint!, /Enter the passphrase the key was encrypted with/);
  });

  it('refuses a key that does not belong to the certificate, naming the certificate by thumbprint', function () {
    const err = refusal({ privateKey: other.key });
    assert.match(err.message, /does not belong to its certificate/);
    assert.ok(err.message.includes(certificateInfo(pair.cert).sha1));
    assert.match(err.hint!, /one pair/);
  });

  it('refuses what is not PEM, or missing, and says what to paste', function () {
    assert.match(refusal({ certificate: '' }).hint!, /BEGIN CERTIFICATE/);
    assert.match(refusal({ certificate: pair.key }).hint!, /openssl x509 -inform der/);
    assert.match(refusal({ privateKey: ' ' }).hint!, /BEGIN PRIVATE KEY/);
    assert.match(refusal({ privateKey: pair.cert }).hint!, /openssl pkcs12/);
    // The key pasted where the certificate goes and the other way round.
    assert.equal(refusal({ certificate: pair.key, privateKey: pair.cert }).code, 'ECONFIG');
  });

  it('refuses a key that is not RSA: PS256 and Entra ID need RSA', function () {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const err = refusal({ privateKey: ec });
    assert.match(err.message, /ec key, not an RSA key/);
    assert.match(err.hint!, /rsa:2048/);
  });
});
