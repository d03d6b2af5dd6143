// Microsoft 365 over Graph, sent by the nodes inside Node-RED: tokens from a real token endpoint on
// loopback, mails to a Graph-shaped server on loopback (test/support/graph.ts), read with mailparser.
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type { NodeMessage } from 'node-red';
import { helper, deploy, instantBackoff, outcome, whenStatus, type Deployed, type Outcome } from './support/flow';
import { startGraph, type GraphServer } from './support/graph';
import { startSmtp, type SmtpServer } from './support/smtp';
import { startTokenEndpoint, type TokenEndpoint } from './support/token-endpoint';
import { clientCertificate } from './support/certificate';
import configNode from '../src/nodes/smtp-oauth-config/smtp-oauth-config';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const MAILBOX = 'sender@contoso.example';

/** The message with what differs from one build to the next made equal: Message-ID, Date and the MIME boundaries. */
const normalized = (eml: string) =>
  eml
    .replace(/^Message-ID: .*$/m, 'Message-ID: <x>')
    .replace(/^Date: .*$/m, 'Date: x')
    .replace(/_NmP-[0-9a-f]+-Part_\d+/g, 'BOUNDARY');

describe('send-smtp-email over Microsoft Graph', function () {
  let idp: TokenEndpoint;
  let graph: GraphServer;
  /** An SMTP server at the connection's host and port, which a Graph connection must never call. */
  let smtp: SmtpServer;
  let smtpConnections = 0;
  before(async function () {
    idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-graph-XYZ' });
    graph = await startGraph({ tokens: () => idp.state.issued, mailboxes: [MAILBOX] });
    smtp = await startSmtp({
      auth: false,
      onConnect: () => {
        smtpConnections++;
        return undefined;
      },
    });
  });
  after(async function () {
    await smtp.close();
    await graph.close();
    await idp.close();
  });
  beforeEach(async function () {
    idp.state.requests.length = 0;
    graph.state.requests.length = 0;
    graph.state.sent.length = 0;
    graph.state.next.length = 0;
    graph.state.mailSend = true;
    smtpConnections = 0;
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  const setup = (send: Record<string, unknown> = {}, connection: Record<string, unknown> = {}) =>
    deploy({
      connection: {
        service: 'Outlook365',
        host: '127.0.0.1',
        port: smtp.port,
        authType: 'oauth2-client-credentials',
        transport: 'graph',
        graphUrl: graph.url,
        tokenUrl: idp.url,
        ...connection,
      },
      credentials: { user: MAILBOX, clientId: 'app-1', clientSecret: 'cs-graph-XYZ' },
      send: { storeResult: 'msg', resultKey: 'emailResult', ...send },
    });
  const sendOne = async (nodes: Deployed, msg: NodeMessage): Promise<Outcome> => {
    const result = outcome(nodes);
    nodes.send.receive(msg);
    return result;
  };

  it('a mail with everything (headers, threading, Bcc, inline image, attachment) arrives as the bytes the preview shows, with its Message-ID', async function () {
    const send = {
      to: 'Bob <bob@example.com>',
      cc: 'carol@example.com',
      bcc: 'audit@example.com',
      subject: 'Report {{payload.n}}',
      html: '<p>Report {{payload.n}} <img src="cid:logo"></p>',
      attachmentType: 'base64',
      attachment: PNG.toString('base64'),
      attachmentFilename: 'logo.png',
      attachmentMimeType: 'image/png',
      attachmentCid: 'logo',
      headers: '{"X-Flow":"graph"}',
      headersType: 'json',
      inReplyTo: '<parent@example.com>',
      references: '<root@example.com> <parent@example.com>',
    };
    const msg = { payload: { n: 7 }, attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }] };
    const preview = (await sendOne(await setup({ ...send, deliver: 'preview' }), msg)).msg.emailResult;
    assert.equal(graph.state.requests.length, 0, 'a preview calls nothing');
    await helper.unload();

    const sent = await sendOne(await setup(send), msg);
    assert.equal(sent.kind, 'sent');
    const result = sent.msg.emailResult;
    assert.equal(result.success, true);
    assert.equal(result.response, '202 Accepted');
    assert.deepEqual(result.accepted, ['bob@example.com', 'carol@example.com', 'audit@example.com']);
    assert.deepEqual(result.rejected, []);
    assert.equal(result.attempts, 1);
    assert.deepEqual(result.envelope, { from: MAILBOX, to: ['bob@example.com', 'carol@example.com', 'audit@example.com'] });

    const [received] = graph.state.sent;
    assert.deepEqual(received.bcc, ['audit@example.com'], 'Bcc reached its recipient');
    const eml = received.mime.toString('utf8');
    assert.equal(normalized(eml), normalized(String(preview.eml)), 'the same bytes as the preview');
    const parsed = await simpleParser(received.mime);
    assert.equal(parsed.messageId, result.messageId);
    assert.equal(parsed.subject, 'Report 7');
    assert.equal(parsed.inReplyTo, '<parent@example.com>');
    assert.deepEqual(parsed.references, ['<root@example.com>', '<parent@example.com>']);
    assert.equal(parsed.headers.get('x-flow'), 'graph');
    assert.equal(parsed.bcc, undefined);
    const logo = parsed.attachments.find((a) => a.filename === 'logo.png')!;
    assert.equal(logo.cid, 'logo');
    assert.deepEqual(logo.content, PNG);
    assert.equal(parsed.attachments.find((a) => a.filename === 'report.csv')!.content.toString(), 'a,b\n1,2\n');
    assert.equal(smtpConnections, 0, 'no SMTP connection was opened');
  });

  it('429, then success: the result says two attempts, and no SMTP connection was opened', async function () {
    instantBackoff();
    const nodes = await setup();
    graph.state.throttleNext(1, 2);
    const sent = await sendOne(nodes, { payload: 'x' });
    assert.equal(sent.kind, 'sent');
    assert.equal(sent.msg.emailResult.attempts, 2);
    assert.equal(graph.state.sent.length, 1);
    assert.equal(smtpConnections, 0);
  });

  it('a refusal reaches the Catch node with EGRAPH and the hint; nothing secret in the log, status, msg or error', async function () {
    graph.state.mailSend = false;
    const nodes = await setup({}, { retryForSeconds: 0 });
    const caught = await sendOne(nodes, { payload: 'x' });
    assert.equal(caught.kind, 'caught');
    assert.equal(caught.msg.error.code, 'EGRAPH');
    // The Catch node gets message and hint in one sentence.
    assert.match(caught.msg.error.message, /HTTP 403.*ErrorAccessDenied.*Mail\.Send application permission with admin consent/s);
    await whenStatus(nodes.send, () => nodes.send.status.called);
    const token = idp.state.issued.at(-1)!;
    const everything = JSON.stringify([caught.msg, nodes.send.status.args, helper.log().args]);
    for (const secret of [token, token.split('.')[2], 'cs-graph-XYZ']) assert.ok(!everything.includes(secret), 'a secret leaked');
  });

  describe('Test connection', function () {
    const post = (body: object) => helper.request().post('/smtp-oauth-config/test').send(body).expect(200);
    const dialog = (credentials: object, extra: object = {}) => ({
      service: 'Outlook365',
      authType: 'oauth2-client-credentials',
      transport: 'graph',
      graphUrl: graph.url,
      tokenUrl: idp.url,
      credentials: { user: MAILBOX, clientId: 'app-1', ...credentials },
      ...extra,
    });

    it('fetches a token and says what its roles show of Mail.Send, without sending or opening SMTP', async function () {
      await helper.load([configNode], []);
      let res = await post(dialog({ clientSecret: 'cs-graph-XYZ' }));
      assert.equal(res.body.ok, true);
      assert.match(res.body.note, /grants Microsoft Graph's Mail\.Send application permission, which reaches every mailbox/);
      idp.state.roles = ['SMTP.SendAsApp'];
      try {
        res = await post(dialog({ clientSecret: 'cs-graph-XYZ' }));
      } finally {
        idp.state.roles = ['SMTP.SendAsApp', 'Mail.Send'];
      }
      assert.equal(res.body.ok, true);
      assert.match(res.body.note, /lists no Mail\.Send .*RBAC for Applications.*Test-ServicePrincipalAuthorization/);
      assert.equal(graph.state.requests.length, 0, 'nothing was sent to Graph');
      assert.equal(smtpConnections, 0);
    });

    it('with a certificate: the token endpoint gets a signed assertion, and a refusal comes back diagnosed', async function () {
      const registered = clientCertificate({ days: 30 });
      const other = clientCertificate({ days: 30 });
      const certIdp = await startTokenEndpoint({ clientId: 'app-1', certificate: registered.cert });
      try {
        await helper.load([configNode], []);
        const certificate = (pair: typeof registered) =>
          dialog({ clientCertificate: pair.cert, clientPrivateKey: pair.key }, { clientAuth: 'certificate', tokenUrl: certIdp.url });
        const ok = await post(certificate(registered));
        assert.equal(ok.body.ok, true, JSON.stringify(ok.body));
        assert.equal(certIdp.state.requests[0].client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        const refused = await post(certificate(other));
        assert.equal(refused.body.ok, false);
        assert.equal(refused.body.error.code, 'EOAUTH2');
        assert.match(refused.body.error.message, /AADSTS700027/);
        assert.ok(!JSON.stringify(refused.body).includes(other.key.split('\n')[1]), 'no line of the key in the answer');
      } finally {
        await certIdp.close();
      }
    });
  });
});
