import assert from 'node:assert/strict';
import type { MailError } from '../../src/lib/errors/errors';
import { transportOptions, resolveServer } from '../../src/lib/config/transport-options';

describe('transport options', function () {
  it('maps the four security settings to nodemailer', function () {
    const pick = (security: string) => {
      const o = transportOptions({ host: 'h', security }, {});
      return [o.port, o.secure, o.requireTLS, o.ignoreTLS];
    };
    assert.deepEqual(pick('starttls'), [587, false, true, false]);
    assert.deepEqual(pick('tls'), [465, true, false, false]);
    assert.deepEqual(pick('auto'), [587, false, false, false]);
    assert.deepEqual(pick('none'), [587, false, false, true]);
  });

  it('resolves well-known services from nodemailer, keeping their TLS mode', function () {
    assert.deepEqual(resolveServer({ service: 'Outlook365', security: 'tls' }), {
      host: 'smtp.office365.com',
      port: 587,
      secure: false,
      security: 'starttls',
    });
    assert.deepEqual(resolveServer({ service: 'Gmail', security: 'starttls' }), {
      host: 'smtp.gmail.com',
      port: 465,
      secure: true,
      security: 'tls',
    });
    assert.throws(
      () => resolveServer({ service: 'NoSuchMail' }),
      (e: MailError) => e.code === 'ECONFIG',
    );
    assert.throws(() => resolveServer({}), /no SMTP host/);
  });

  it('turns file and URL access off, and reads numbers saved as strings', function () {
    const o = transportOptions(
      { host: 'h', port: '2525', maxConnections: '3', rejectUnauthorized: false, timeout: '5' },
      { user: 'u', password: 'p' },
    );
    assert.equal(o.disableFileAccess, true);
    assert.equal(o.disableUrlAccess, true);
    assert.equal(o.port, 2525);
    assert.equal(o.maxConnections, 3);
    assert.equal(o.tls!.rejectUnauthorized, false);
    assert.equal(o.connectionTimeout, 5000);
    assert.deepEqual(o.auth, { user: 'u', pass: 'p' });
  });

  it('sets up auth for each method', function () {
    assert.deepEqual(transportOptions({ host: 'h', authType: 'oauth2-client-credentials' }, { user: 'm@x' }).auth, {
      type: 'OAuth2',
      user: 'm@x',
    });
    assert.equal(transportOptions({ host: 'h', authType: 'none' }, { user: 'u', password: 'p' }).auth, undefined);
    const legacy = transportOptions(
      { host: 'h', authType: 'oauth2', tokenUrl: 'https://t/token' },
      { user: 'm', clientId: 'c', clientSecret: 's', refreshToken: 'r' },
    ).auth!;
    assert.equal(legacy.accessUrl, 'https://t/token');
    assert.equal(legacy.refreshToken, 'r');
  });
});
