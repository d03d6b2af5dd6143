import assert from 'node:assert/strict';
import { checkConnectionConfig } from '../../src/lib/config/connection-config';
import type { MailError } from '../../src/lib/errors/errors';
import { planTest, resolveEnvFields, UNCHANGED, type TestPlan } from '../../src/lib/config/test-connection';
import type { ConnectionConfig } from '../../src/lib/config/transport-options';

/** A plan's credentials, read as the dialog would; a plan that asks for a secret has none, and reading them fails. */
const ready = (plan: TestPlan) => plan as Extract<TestPlan, { credentials: unknown }>;
/** A plan read as one that asks for a secret (its fields are undefined on a plan that does not). */
const asking = (plan: TestPlan) => plan as Extract<TestPlan, { needSecret: string }>;

describe('Test connection plan', function () {
  const deployed = { host: 'smtp.example.com', port: 587, security: 'starttls', authType: 'basic' };
  const stored = { config: checkConnectionConfig(deployed), credentials: { user: 'u@example.com', password: 'stored-pw' } };

  it('fills in a stored secret for the unchanged, deployed connection', function () {
    const plan = planTest({ ...deployed, port: '587', credentials: { user: 'u@example.com', password: UNCHANGED } }, stored);
    assert.equal(ready(plan).credentials.password, 'stored-pw');
  });

  const changes: [string, ConnectionConfig][] = [
    ['host', { host: 'evil.example.com' }],
    ['port', { port: 2525 }],
    ['security', { security: 'none' }],
    ['certificate check', { rejectUnauthorized: false }],
    ['method', { authType: 'none' }],
    ['service', { service: 'Gmail' }],
  ];
  for (const [what, change] of changes) {
    it(`asks for the secret again when the ${what} differs`, function () {
      const plan = planTest({ ...deployed, ...change, credentials: { user: 'u@example.com', password: UNCHANGED } }, stored);
      if (change.authType === 'none') return assert.equal(ready(plan).credentials.password, undefined);
      assert.equal(asking(plan).needSecret, 'password');
      assert.ok(asking(plan).changed.length > 0);
    });
  }

  it('uses a secret typed in the dialog wherever it goes, and never a stored one without a deployed connection', function () {
    assert.equal(
      ready(planTest({ ...deployed, host: 'other.example.com', credentials: { password: 'typed' } }, stored)).credentials.password,
      'typed',
    );
    assert.deepEqual(planTest({ ...deployed, credentials: { password: UNCHANGED } }, undefined), { needSecret: 'password', changed: [] });
  });

  it("never takes, fills in or asks for the outbox's Redis URL: a secret Test connection does not need", function () {
    const REDIS_URL = 'rediss://mailer:redis-pw-4e1a@redis.example.com:6380/2';
    const withRedis = {
      config: checkConnectionConfig({ ...deployed, outbox: 'redis' }),
      credentials: { ...stored.credentials, redisUrl: REDIS_URL },
    };
    const body = { ...deployed, outbox: 'redis', credentials: { user: 'u@example.com', password: UNCHANGED } };
    // Stored: the password is filled in for the unchanged connection, the URL is not.
    const filled = ready(planTest(body, withRedis)).credentials;
    assert.deepEqual(filled, { user: 'u@example.com', password: 'stored-pw' });
    // Typed, or left unchanged in the dialog: neither used nor asked for, with or without a deployed connection.
    for (const redisUrl of [REDIS_URL, UNCHANGED]) {
      const typed = { ...body, credentials: { ...body.credentials, redisUrl } };
      assert.equal(ready(planTest(typed, withRedis)).credentials.redisUrl, undefined, redisUrl);
      assert.equal(ready(planTest({ ...typed, credentials: { password: 'typed', redisUrl } }, undefined)).credentials.redisUrl, undefined);
    }
    // A changed destination asks for the sign-in's secret, never for the URL.
    assert.deepEqual(planTest({ ...body, host: 'other.example.com' }, withRedis), { needSecret: 'password', changed: ['host'] });
    assert.ok(!JSON.stringify(planTest(body, withRedis)).includes('redis-pw-4e1a'), 'nothing of the URL in the plan');
  });

  it('refuses malformed fields before anything else', function () {
    for (const bad of [
      { host: ['x'] },
      { host: 'a b' },
      { ...deployed, port: 70000 },
      { ...deployed, security: 'ssl' },
      { ...deployed, credentials: { password: 5 } },
      { ...deployed, credentials: 'pw' },
    ]) {
      assert.throws(
        () => planTest(bad, stored),
        (e: MailError) => e.code === 'ECONFIG',
        JSON.stringify(bad),
      );
    }
  });

  it('resolves a field that is an environment variable as a whole, as a deploy does; never a credential', function () {
    const env: Record<string, string> = { INBOX_SMTP_PORT: '1025', HOST: 'smtp.example.com' };
    const body = {
      host: '$(HOST)',
      port: '${INBOX_SMTP_PORT}',
      scope: 'a ${HOST} b',
      tokenUrl: '${UNSET}',
      credentials: { user: '${HOST}' },
    };
    assert.deepEqual(resolveEnvFields(body, (name) => env[name]).fields, { ...body, host: 'smtp.example.com', port: '1025' });
  });

  it("never quotes a variable's value in a refusal: the reference stands there instead", function () {
    const { fields, conceal } = resolveEnvFields({ ...deployed, port: '${API_KEY}' }, (name) =>
      name === 'API_KEY' ? 'sk-secret-42' : undefined,
    );
    assert.throws(
      () => planTest(fields, stored),
      (e: MailError) => {
        assert.match(e.message, /sk-secret-42/, 'the check quotes the value');
        assert.equal(conceal(e.message), `The connection's port must be a whole number from 1 to 65535, not "\${API_KEY}"`);
        assert.doesNotMatch(conceal(String(e.hint)), /sk-secret-42/);
        return true;
      },
    );
    // As a DNS error names a host: unquoted.
    assert.equal(conceal('getaddrinfo ENOTFOUND sk-secret-42'), 'getaddrinfo ENOTFOUND ${API_KEY}');
  });

  it('says where a refused port is: under Server, not Advanced', function () {
    const refused = (raw: Record<string, unknown>) => {
      try {
        checkConnectionConfig(raw);
      } catch (e) {
        return String((e as MailError).hint);
      }
      return assert.fail('refused');
    };
    assert.match(refused({ ...deployed, port: '${INBOX_SMTP_PORT}' }), /port in the connection \(under Server\)/);
    assert.match(refused({ ...deployed, timeout: 'x' }), /time-out in the connection \(under Advanced\)/);
  });

  describe('with certificate credentials', function () {
    const certificate = {
      host: 'smtp.office365.com',
      port: 587,
      security: 'starttls',
      authType: 'oauth2-client-credentials',
      clientAuth: 'certificate',
      tokenUrl: 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token',
      scope: 'https://outlook.office365.com/.default',
    };
    const storedKey = {
      config: checkConnectionConfig(certificate),
      credentials: {
        user: 'u@example.com',
        clientId: 'app-1',
        clientCertificate: '-----BEGIN CERTIFICATE-----',
        clientPrivateKey: 'stored-key',
        clientKeyPassphrase: 'stored-passphrase',
      },
    };
    const unchanged = { user: 'u@example.com', clientId: 'app-1', clientPrivateKey: UNCHANGED, clientKeyPassphrase: UNCHANGED };

    it('fills in the stored private key and its passphrase for the unchanged, deployed connection', function () {
      const { credentials } = ready(planTest({ ...certificate, credentials: unchanged }, storedKey));
      assert.equal(credentials.clientPrivateKey, 'stored-key');
      assert.equal(credentials.clientKeyPassphrase, 'stored-passphrase');
      assert.equal(credentials.clientCertificate, '-----BEGIN CERTIFICATE-----');
    });

    const changes: [string, Record<string, unknown>][] = [
      ['token URL', { tokenUrl: 'https://idp.evil.example/token' }],
      ['client authentication', { clientAuth: 'secret' }],
      ['transport', { transport: 'graph' }],
      ['Graph URL', { transport: 'graph', graphUrl: 'https://graph.microsoft.us' }],
    ];
    for (const [what, change] of changes) {
      it(`never uses the stored key when the ${what} differs`, function () {
        const plan = planTest({ ...certificate, ...change, credentials: unchanged }, storedKey);
        if (change.clientAuth === 'secret') {
          // The secret method sends no key at all: nothing stored reaches the endpoint.
          assert.equal(ready(plan).credentials.clientPrivateKey, undefined);
          return;
        }
        assert.equal(asking(plan).needSecret, 'clientPrivateKey');
        assert.ok(asking(plan).changed.length > 0, asking(plan).changed.join());
      });
    }

    it('asks for the key when Test connection names no deployed connection', function () {
      assert.deepEqual(planTest({ ...certificate, credentials: unchanged }, undefined), { needSecret: 'clientPrivateKey', changed: [] });
    });

    it('compares Graph URLs of deployed Graph connections too', function () {
      const graph = { ...certificate, transport: 'graph', graphUrl: 'https://graph.microsoft.com' };
      const stored = { ...storedKey, config: checkConnectionConfig(graph) };
      assert.equal(ready(planTest({ ...graph, credentials: unchanged }, stored)).credentials.clientPrivateKey, 'stored-key');
      const plan = planTest({ ...graph, graphUrl: 'https://graph.evil.example', credentials: unchanged }, stored);
      assert.deepEqual(asking(plan), { needSecret: 'clientPrivateKey', changed: ['graphUrl'] });
    });
  });
});
