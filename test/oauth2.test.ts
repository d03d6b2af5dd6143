import assert from 'node:assert/strict';
import { startSmtp, type SmtpServer, type TokenVerdict } from './support/smtp';
import { startTokenEndpoint } from './support/token-endpoint';
import { helper, deploy, next, outcome } from './support/flow';
import { clientCertificate, type ClientCertificate } from './support/certificate';

describe('send-smtp-email over OAuth2 client credentials', function () {
  let smtp: SmtpServer;
  let idp: Awaited<ReturnType<typeof startTokenEndpoint>>;
  /** What the SMTP server answers to each XOAUTH2 token: true, 'challenge' (334) or 'reject' (bare 535). */
  let verdict: (user: string, token: string) => TokenVerdict;
  /** The certificate uploaded to the app registration, its key encrypted; and one the app does not know. */
  let registered: ClientCertificate;
  let unknown: ClientCertificate;
  before(async function () {
    registered = clientCertificate({ passphrase: 'key-passphrase-1' });
    unknown = clientCertificate({ passphrase: 'key-passphrase-1', subject: 'not-uploaded' });
    idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-value-XYZ', certificate: registered.cert });
    smtp = await startSmtp({ tokens: (user, token) => verdict(user, token) });
  });
  after(async function () {
    await smtp.close();
    await idp.close();
  });
  beforeEach(async function () {
    verdict = (user, token) => user === 'mailbox@contoso.example' && idp.state.issued.includes(token);
    idp.state.requests.length = 0;
    idp.state.issued.length = 0;
    smtp.authAttempts.length = 0;
    smtp.messages.length = 0;
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  const setup = (connection = {}, send = {}, credentials = {}) =>
    deploy({
      connection: {
        port: smtp.port,
        authType: 'oauth2-client-credentials',
        tokenUrl: idp.url,
        scope: 'https://outlook.office365.com/.default',
        ...connection,
      },
      credentials: { user: 'mailbox@contoso.example', clientId: 'app-1', clientSecret: 'cs-value-XYZ', ...credentials },
      send,
    });

  it('fetches a token with exactly the four client-credentials fields and sends with XOAUTH2', async function () {
    const nodes = await setup();
    const done = next(nodes.out);
    nodes.send.receive({});
    await done;
    assert.deepEqual(idp.state.requests, [
      {
        grant_type: 'client_credentials',
        client_id: 'app-1',
        client_secret: 'cs-value-XYZ',
        scope: 'https://outlook.office365.com/.default',
      },
    ]);
    const [m] = await smtp.waitForMessages(1);
    assert.equal(m.user, 'mailbox@contoso.example');
    assert.equal(m.parsed.from.value[0].address, 'mailbox@contoso.example');
    assert.deepEqual(
      smtp.authAttempts.map((a) => a.method),
      ['XOAUTH2'],
    );
  });

  it('shares one token between many concurrent sends over several pooled connections', async function () {
    const nodes = await setup({ maxConnections: 5 });
    const count = 60;
    let passed = 0;
    const allPassed = new Promise<void>((resolve) => nodes.out.on('input', () => ++passed === count && resolve()));
    for (let i = 0; i < count; i++) nodes.send.receive({ payload: i });
    await allPassed;
    assert.equal(smtp.messages.length, count);
    assert.equal(idp.state.requests.length, 1, 'one token request for all sends');
    assert.ok(smtp.authAttempts.length >= 2, `several pooled connections authenticated (${smtp.authAttempts.length})`);
    assert.ok(smtp.authAttempts.length <= 5);
    assert.equal(new Set(smtp.authAttempts.map((a) => a.accessToken)).size, 1);
  });

  for (const [refusal, answer] of [
    ['a 334 challenge (nodemailer renews)', 'challenge'],
    ['a bare 535 (the connection drops the token and retries)', 'reject'],
  ] as const) {
    it(`renews the token once and sends when the server refuses a stale token with ${refusal}`, async function () {
      const nodes = await setup();
      let first: string | undefined;
      verdict = (_user, token) => {
        first ??= token;
        return token === first ? answer : idp.state.issued.includes(token);
      };
      const done = next(nodes.out);
      nodes.send.receive({});
      await done;
      assert.equal(idp.state.requests.length, 2);
      assert.equal(smtp.messages.length, 1);
      assert.notEqual(smtp.authAttempts.at(-1)!.accessToken, first);
    });
  }

  for (const [roles, hint] of [
    [['Mail.Send'], /token does not grant SMTP\.SendAsApp/],
    [['SMTP.SendAsApp'], /grant SMTP\.SendAsApp with admin consent, register the app's service principal/],
  ] as [string[], RegExp][]) {
    it(`a refused token whose roles are ${roles.join(', ')}: the hint ${roles.includes('SMTP.SendAsApp') ? 'lists the other causes' : 'names the missing SMTP.SendAsApp'}`, async function () {
      idp.state.roles = [...roles];
      verdict = () => 'reject';
      try {
        const nodes = await setup({ retryForSeconds: 0 }, { stopOnError: false, storeResult: 'msg' });
        const done = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await done;
        assert.equal(emailResult.success, false);
        assert.equal(emailResult.error.code, 'EAUTH');
        assert.match(emailResult.error.hint, hint);
      } finally {
        idp.state.roles = ['SMTP.SendAsApp', 'Mail.Send'];
      }
    });
  }

  it('reports a token endpoint refusal as EOAUTH2 with the fix in the hint', async function () {
    const nodes = await setup({}, { stopOnError: false, storeResult: 'msg' }, { clientSecret: 'secret-id-not-value' });
    const done = next(nodes.out);
    nodes.send.receive({});
    const { emailResult } = await done;
    assert.equal(emailResult.success, false);
    assert.equal(emailResult.error.code, 'EOAUTH2');
    assert.match(emailResult.error.message, /AADSTS7000215/);
    assert.match(emailResult.error.hint, /secret VALUE/);
    assert.equal(idp.state.requests.length, 1, 'a refused client is not asked again for the same send');
    assert.equal(smtp.messages.length, 0);
  });

  it('sends over the deprecated refresh-token flow and warns once per deploy', async function () {
    const nodes = await setup({ authType: 'oauth2' }, {}, { refreshToken: 'refresh-1' });
    const warnings = nodes.config.warn.args.map((a) => String(a[0]));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /deprecated/i);
    const done = next(nodes.out);
    nodes.send.receive({});
    await done;
    assert.equal(idp.state.requests[0].grant_type, 'refresh_token');
    assert.equal(idp.state.requests[0].refresh_token, 'refresh-1');
    assert.equal(smtp.messages.length, 1);
  });

  describe('with a certificate instead of a secret', function () {
    const withCertificate = (pair: ClientCertificate, send = {}, key = pair.key) =>
      setup({ clientAuth: 'certificate' }, send, {
        clientSecret: '',
        clientCertificate: pair.cert,
        clientPrivateKey: key,
        clientKeyPassphrase: 'key-passphrase-1',
      });

    it('signs a client assertion with the key, gets a token for it and sends with XOAUTH2', async function () {
      const nodes = await withCertificate(registered);
      const done = next(nodes.out);
      nodes.send.receive({});
      await done;
      const [request] = idp.state.requests;
      assert.equal(request.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      assert.equal(request.client_secret, undefined, 'no secret is sent');
      assert.equal(request.client_id, 'app-1');
      assert.equal(request.scope, 'https://outlook.office365.com/.default');
      const [m] = await smtp.waitForMessages(1);
      assert.equal(m.user, 'mailbox@contoso.example');
      assert.equal(m.parsed.subject, 'Hello');
      assert.ok(idp.state.issued.includes(smtp.authAttempts[0].accessToken!), 'the XOAUTH2 token is one the endpoint issued');
    });

    it("reports a certificate the app registration does not have as EOAUTH2 with AADSTS700027's hint, to Catch and stored", async function () {
      const nodes = await withCertificate(unknown);
      const ended = outcome(nodes);
      nodes.send.receive({});
      const { kind, msg } = await ended;
      assert.equal(kind, 'caught');
      assert.equal(msg.error.code, 'EOAUTH2');
      assert.match(msg.error.message, /AADSTS700027/);
      assert.match(msg.error.message, /upload this certificate .* Certificates & secrets/);
      await helper.unload();

      const stored = await withCertificate(unknown, { stopOnError: false, storeResult: 'msg' });
      const done = next(stored.out);
      stored.send.receive({});
      const { emailResult } = await done;
      assert.equal(emailResult.success, false);
      assert.equal(emailResult.error.code, 'EOAUTH2');
      assert.match(emailResult.error.message, /AADSTS700027/);
      assert.match(
        emailResult.error.hint,
        /thumbprint listed there is the connection's; the private key must be the one of that certificate/,
      );
      assert.equal(smtp.messages.length, 0);
    });

    it('reports a key that does not belong to the certificate as ECONFIG before asking Entra ID', async function () {
      const nodes = await withCertificate(registered, { stopOnError: false, storeResult: 'msg' }, unknown.key);
      const done = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await done;
      assert.equal(emailResult.error.code, 'ECONFIG');
      assert.match(emailResult.error.message, /does not belong to its certificate/);
      assert.match(emailResult.error.hint, /one pair/);
      assert.equal(idp.state.requests.length, 0);
    });
  });
});
