import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { certificateInfo } from '../../src/lib/auth/certificate-info';
import { clientCertificate, opensslThumbprint } from '../support/certificate';

describe('certificate info', function () {
  it('gives the subject, both thumbprints as openssl prints them, x5t#S256 and the validity', function () {
    const { cert } = clientCertificate({ subject: '/CN=node-red-mailer/O=Contoso', days: 30 });
    const info = certificateInfo(cert);
    assert.equal(info.subject, 'CN=node-red-mailer, O=Contoso');
    assert.equal(info.sha1, opensslThumbprint(cert, 'sha1'));
    assert.equal(info.sha256, opensslThumbprint(cert, 'sha256'));
    assert.equal(Buffer.from(info.x5tS256, 'base64url').toString('hex').toUpperCase(), info.sha256);
    const days = (info.notAfter.getTime() - Date.now()) / 86400000;
    assert.ok(days > 29 && days <= 30, `expires in ${days} days`);
    assert.ok(info.notBefore.getTime() <= Date.now());
  });

  it('throws on text that is no certificate', function () {
    assert.throws(() => certificateInfo('-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----'));
    assert.throws(() => certificateInfo(crypto.randomBytes(16).toString('hex')));
  });
});
