// PEM as the dialog takes it: a key pasted into a password field loses its line breaks (Chromium)
// or gets spaces for them (Firefox); pemText gives OpenSSL its lines back.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { certificatesOf, isPrivateKey, pemBlocks, pemText } from '../../src/shared/pem';
import { clientCertificate } from '../support/certificate';

describe('pem', function () {
  const { key, cert } = clientCertificate({ subject: '/CN=pem-test', days: 2 });

  it('rebuilds a key whose line breaks a password field dropped or turned into spaces', function () {
    for (const flattened of [String(key).replace(/\n/g, ''), String(key).replace(/\n/g, ' '), String(key).replace(/\n/g, '\r\n')]) {
      const rebuilt = pemText(flattened);
      assert.equal(rebuilt, String(key));
      assert.equal(crypto.createPrivateKey(rebuilt).asymmetricKeyType, 'rsa');
    }
  });

  it('rebuilds an OpenSSL legacy encrypted key with its Proc-Type and DEK-Info headers', function () {
    const legacy = crypto.generateKeyPairSync('rsa', {
      modulusLength: 1024,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    assert.match(legacy, /DEK-Info: AES-256-CBC,/);
    const rebuilt = pemText(legacy.replace(/\n/g, ''));
    assert.equal(crypto.createPrivateKey({ key: rebuilt, passphrase: 'secret' }).asymmetricKeyType, 'rsa');
  });

  it('keeps only the certificates of a bundle, and finds its key', function () {
    const bundle = `Bag Attributes\n${key}subject=CN=pem-test\n${cert}`;
    assert.deepEqual(
      pemBlocks(bundle).map((b) => [b.label, isPrivateKey(b)]),
      [
        ['PRIVATE KEY', true],
        ['CERTIFICATE', false],
      ],
    );
    assert.equal(certificatesOf(bundle), String(cert));
    assert.equal(certificatesOf(String(key)), '');
  });

  it('leaves text that holds no PEM block as it is, for the check to refuse', function () {
    assert.equal(pemText('  not a key '), 'not a key');
    assert.equal(pemText(''), '');
  });
});
