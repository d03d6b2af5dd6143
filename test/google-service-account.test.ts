// A Google Workspace service account with domain-wide delegation, in real Node-RED: the JWT
// bearer grant against a Google-shaped token endpoint on loopback, then XOAUTH2 to an SMTP server
// that, like smtp.gmail.com, takes only a token issued for the mailbox it signs in as.
import assert from 'node:assert/strict';
import providers from './fixtures/provider-responses.json';
import { startSmtp, type SmtpServer, type TokenVerdict } from './support/smtp';
import { startGoogleTokenEndpoint, type GoogleTokenEndpoint, type ServiceAccount } from './support/google-token';
import { helper, deploy, next, outcome } from './support/flow';
import configNode from '../src/nodes/smtp-oauth-config/smtp-oauth-config';

const MAILBOX = 'sales@example.org';
const GMAIL_SCOPE = 'https://mail.google.com/';
/** Gmail's answer to a token it does not take. */
const BAD_CREDENTIALS = providers.smtp.find((r) => /BadCredentials/.test(r.response))!.response;

describe('send-smtp-email with a Google service account', function () {
  let smtp: SmtpServer;
  let google: GoogleTokenEndpoint;
  let account: ServiceAccount;
  let verdict: (user: string, token: string) => TokenVerdict;
  before(async function () {
    google = await startGoogleTokenEndpoint();
    account = google.createAccount('node-red-mailer');
    google.users.add(MAILBOX);
    google.users.add('support@example.org');
    smtp = await startSmtp({ tokens: (user, token) => verdict(user, token), authError: BAD_CREDENTIALS });
  });
  after(async function () {
    await smtp.close();
    await google.close();
  });
  beforeEach(async function () {
    verdict = (user, token) => google.acceptsForGmail(user, token) || 'reject';
    google.delegate(account.clientId, [GMAIL_SCOPE]);
    google.requests.length = 0;
    google.issued.clear();
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
      connection: { port: smtp.port, authType: 'google-service-account', ...connection },
      credentials: { user: MAILBOX, serviceAccountKey: account.keyJson, ...credentials },
      send,
    });
  const claimsOf = (request: Record<string, string>) => JSON.parse(Buffer.from(request.assertion.split('.')[1], 'base64url').toString());

  it('delivers a mail sent as the mailbox, signed in with XOAUTH2 and a token of the JWT bearer grant', async function () {
    const nodes = await setup();
    const done = next(nodes.out);
    nodes.send.receive({ payload: 'x' });
    await done;
    const [m] = await smtp.waitForMessages(1);
    assert.equal(m.user, MAILBOX);
    assert.equal(m.parsed.from.value[0].address, MAILBOX);
    assert.deepEqual(
      smtp.authAttempts.map((a) => [a.method, a.username]),
      [['XOAUTH2', MAILBOX]],
    );
    assert.equal(google.requests.length, 1);
    assert.equal(google.requests[0].grant_type, 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    const claims = claimsOf(google.requests[0]);
    assert.equal(claims.iss, account.clientEmail);
    assert.equal(claims.sub, MAILBOX);
    assert.equal(claims.scope, GMAIL_SCOPE);
    assert.equal(claims.aud, google.url);
  });

  it('sends 20 mails over several pooled connections with one token request', async function () {
    const nodes = await setup({ maxConnections: 5 });
    let passed = 0;
    const allPassed = new Promise<void>((resolve) => nodes.out.on('input', () => ++passed === 20 && resolve()));
    for (let i = 0; i < 20; i++) nodes.send.receive({ payload: i });
    await allPassed;
    assert.equal(smtp.messages.length, 20);
    assert.equal(google.requests.length, 1, 'one token request for all sends');
    assert.equal(new Set(smtp.authAttempts.map((a) => a.accessToken)).size, 1);
  });

  it('not delegated: the msg reaches Catch with EOAUTH2 and where to add the client ID and scope', async function () {
    google.delegate(account.clientId, []);
    const nodes = await setup({ retryForSeconds: 0 });
    const ended = outcome(nodes);
    nodes.send.receive({ payload: 'x' });
    const { kind, msg } = await ended;
    assert.equal(kind, 'caught');
    assert.equal(msg.error.code, 'EOAUTH2');
    assert.match(msg.error.message, /unauthorized_client/);
    assert.match(msg.error.message, /Domain-wide delegation/);
    assert.ok(msg.error.message.includes(`client ID ${account.clientId}`), msg.error.message);
    assert.ok(msg.error.message.includes(`scope ${GMAIL_SCOPE}`));
    assert.equal(smtp.authAttempts.length, 0, 'no token, no login');
  });

  it('Gmail refusing the token (delegated for another scope): one fresh token, then the result names delegation and the mailbox', async function () {
    google.delegate(account.clientId, [GMAIL_SCOPE, 'https://www.googleapis.com/auth/gmail.send']);
    const nodes = await setup(
      { scope: 'https://www.googleapis.com/auth/gmail.send', retryForSeconds: 0 },
      { stopOnError: false, storeResult: 'msg' },
    );
    const done = next(nodes.out);
    nodes.send.receive({});
    const { emailResult } = await done;
    assert.equal(emailResult.success, false);
    assert.equal(emailResult.error.code, 'EAUTH');
    assert.equal(google.requests.length, 2, 'the refused token was dropped and one fresh token tried');
    assert.match(emailResult.error.hint, new RegExp(`refused the service account's token for ${MAILBOX}`));
    assert.ok(
      emailResult.error.hint.includes(`client ID ${account.clientId} must have the scope https://www.googleapis.com/auth/gmail.send`),
    );
  });

  it('a key file that is no key: ECONFIG at the send, saying what to paste', async function () {
    const nodes = await setup(
      { retryForSeconds: 0 },
      { stopOnError: false, storeResult: 'msg' },
      { serviceAccountKey: '{"installed":{}}' },
    );
    const done = next(nodes.out);
    nodes.send.receive({});
    const { emailResult } = await done;
    assert.equal(emailResult.error.code, 'ECONFIG');
    assert.match(emailResult.error.hint, /not of a service account: create a JSON key for the service account/);
    assert.equal(google.requests.length, 0);
  });

  it("tells the dialog the deployed key's account and client ID, and nothing else of the key file", async function () {
    await setup();
    const res = await helper.request().get('/smtp-oauth-config/service-account/conn').expect(200);
    assert.deepEqual(res.body, { clientEmail: account.clientEmail, clientId: account.clientId });
    await helper.request().get('/smtp-oauth-config/service-account/nothing-here').expect(404);
  });

  describe('Test connection', function () {
    const post = (body: object) => helper.request().post('/smtp-oauth-config/test').send(body).expect(200);
    const dialog = (credentials: object, extra: object = {}) => ({
      id: 'conn',
      host: '127.0.0.1',
      port: smtp.port,
      security: 'none',
      authType: 'google-service-account',
      credentials: { user: MAILBOX, ...credentials },
      ...extra,
    });

    it('fetches a token, signs in as the mailbox and quits, with the pasted key', async function () {
      await helper.load([configNode], []);
      const res = await post(dialog({ serviceAccountKey: account.keyJson }));
      assert.deepEqual(res.body, { ok: true });
      assert.equal(google.requests.length, 1);
      assert.deepEqual(
        smtp.authAttempts.map((a) => a.username),
        [MAILBOX],
      );
      assert.equal(smtp.messages.length, 0);
    });

    it('reports the missing delegation with the client ID', async function () {
      google.delegate(account.clientId, []);
      await helper.load([configNode], []);
      const res = await post(dialog({ serviceAccountKey: account.keyJson }));
      assert.equal(res.body.ok, false);
      assert.equal(res.body.error.code, 'EOAUTH2');
      assert.match(res.body.error.hint, /Security > Access and data control > API controls > Domain-wide delegation/);
      assert.ok(res.body.error.hint.includes(account.clientId));
    });

    it('uses the deployed key when the dialog sends its placeholder, and only for the deployed server', async function () {
      await setup();
      let res = await post(dialog({ serviceAccountKey: '__PWRD__' }));
      assert.deepEqual(res.body, { ok: true });
      res = await post(dialog({ serviceAccountKey: '__PWRD__' }, { host: 'localhost' }));
      assert.equal(res.body.ok, false);
      assert.equal(res.body.needSecret, 'serviceAccountKey');
      assert.equal(res.body.error.code, 'ECONFIG');
      assert.ok(!JSON.stringify(res.body).includes('PRIVATE KEY'));
    });
  });
});
