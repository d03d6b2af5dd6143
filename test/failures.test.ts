// Every bad input and every fault ends in a clear error: a code, a message naming the field or
// the server's answer, and a hint that says what to fix. Nothing is sent by mistake.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { NodeMessage } from 'node-red';
import { startSmtp, smtpError, type SmtpServer, type TokenVerdict } from './support/smtp';
import { startTokenEndpoint } from './support/token-endpoint';
import { selfSignedCertificate } from './support/certificate';
import { helper, deploy, next, useHelperWithSmtp, type DeployOptions, type EmailResult } from './support/flow';
import providers from './fixtures/provider-responses.json';
import configNode from '../src/nodes/smtp-oauth-config/smtp-oauth-config';
import type { StoredConnection } from '../src/lib/config/connection-config';

const response = (text: string) => providers.smtp.find((r) => r.response.includes(text))!.response;
const tokenAnswer = (code: number) => providers.token.find((t) => t.body.error_codes?.[0] === code)!;

/** Deploys with stop on error off and the result in msg, sends one msg, returns the stored result. */
async function attempt({ connection, credentials, send = {}, msg = {} }: DeployOptions & { msg?: NodeMessage }): Promise<EmailResult> {
  const nodes = await deploy({ connection, credentials, send: { stopOnError: false, storeResult: 'msg', ...send } });
  const passed = next(nodes.out);
  nodes.send.receive(msg);
  return (await passed).emailResult;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A case of bad input: the node's properties (or a function giving them once the servers run), the msg, the error expected. */
interface BadInput {
  name: string;
  connection?: StoredConnection;
  send?: Record<string, unknown> | (() => Record<string, unknown>);
  msg?: NodeMessage;
  code: string;
  message: RegExp;
}

let watchedClosed: () => void = () => {};

describe('bad input and faults', function () {
  const smtp = useHelperWithSmtp({ users: { 'sender@example.com': 'pw-1' } });
  let web: http.Server;
  let base: string;
  const basic = { user: 'sender@example.com', password: 'pw-1' };
  const conn = () => ({ port: smtp().port });
  before(async function () {
    web = http.createServer((req, res) => {
      if (req.url === '/missing') return res.writeHead(404).end('not here');
      if (req.url === '/broken') return res.writeHead(500).end('oops');
      if (req.url === '/to-file') return res.writeHead(302, { Location: 'file:///etc/passwd' }).end();
      if (req.url === '/loop') return res.writeHead(302, { Location: '/loop' }).end();
      if (req.url === '/stall') return res.writeHead(200, { 'Content-Type': 'text/plain' }).write('partial');
      if (req.url === '/watched') {
        req.socket.once('close', () => watchedClosed());
        return res.writeHead(200, { 'Content-Type': 'text/plain' }).write('partial');
      }
      if (req.url === '/big') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        let sent = 0;
        const pump = () => {
          while (sent < 64) {
            sent++;
            if (!res.write(Buffer.alloc(32 * 1024))) return res.once('drain', pump);
          }
          return res.end();
        };
        return pump();
      }
      if (req.url === '/declared-big') return res.writeHead(200, { 'Content-Length': String(50 * 1024 * 1024) }).end();
      return res.writeHead(200).end('ok');
    });
    base = `http://127.0.0.1:${await listen(web)}`;
  });
  after(async function () {
    web.closeAllConnections();
    await new Promise((r) => web.close(r));
  });

  describe('bad input: EINPUT / EATTACHMENT, nothing sent', function () {
    const cases: BadInput[] = [
      {
        name: 'a header injected through a line break in To',
        send: { to: 'payload', toType: 'msg' },
        msg: { payload: 'victim@example.com\r\nBcc: evil@example.com' },
        code: 'EINPUT',
        message: /To contains a line break/,
      },
      {
        name: 'an entry without an address in a list',
        send: { to: 'a@example.com, foo' },
        code: 'EINPUT',
        message: /To has an invalid address: "foo"/,
      },
      { name: 'two @ in an address', send: { cc: 'a@b@example.com' }, code: 'EINPUT', message: /CC has an invalid address/ },
      { name: 'an invalid custom From', send: { from: 'foo' }, code: 'EINPUT', message: /From has an invalid address/ },
      {
        name: 'two addresses in Reply-To',
        send: { replyTo: 'a@example.com, b@example.com' },
        code: 'EINPUT',
        message: /Reply-To takes one address/,
      },
      { name: 'no recipient at all', send: { to: '' }, code: 'EINPUT', message: /No recipient/ },
      {
        name: 'an object as the subject',
        send: { subject: 'payload', subjectType: 'msg' },
        msg: { payload: { a: 1 } },
        code: 'EINPUT',
        message: /Subject must be text, not an object/,
      },
      {
        name: 'a number as To',
        send: { to: 'payload', toType: 'msg' },
        msg: { payload: 42 },
        code: 'EINPUT',
        message: /To must be a string or a list of addresses, not a number/,
      },
      {
        name: 'an array as the content',
        send: { html: 'payload', htmlType: 'msg' },
        msg: { payload: [1] },
        code: 'EINPUT',
        message: /Content must be text, not an array/,
      },
      {
        name: 'a file: URL',
        send: { attachmentType: 'url', attachment: 'file:///etc/passwd' },
        code: 'EATTACHMENT',
        message: /file: are refused/,
      },
      {
        name: 'an ftp: URL',
        send: { attachmentType: 'url', attachment: 'ftp://127.0.0.1/x' },
        code: 'EATTACHMENT',
        message: /ftp: are refused/,
      },
      {
        name: 'a redirect to a file: URL',
        send: () => ({ attachmentType: 'url', attachment: `${base}/to-file` }),
        code: 'EATTACHMENT',
        message: /redirect to file: refused/,
      },
      {
        name: 'a redirect loop',
        send: () => ({ attachmentType: 'url', attachment: `${base}/loop` }),
        code: 'EATTACHMENT',
        message: /Maximum number of redirects exceeded/,
      },
      {
        name: 'a URL answering 404',
        send: () => ({ attachmentType: 'url', attachment: `${base}/missing` }),
        code: 'EATTACHMENT',
        message: /HTTP 404/,
      },
      {
        name: 'a URL answering 500',
        send: () => ({ attachmentType: 'url', attachment: `${base}/broken` }),
        code: 'EATTACHMENT',
        message: /HTTP 500/,
      },
      {
        name: 'a download declared larger than the cap',
        send: () => ({ attachmentType: 'url', attachment: `${base}/declared-big` }),
        code: 'EATTACHMENT',
        message: /larger than 25 MB/,
      },
      {
        name: 'a download that grows past the cap',
        connection: { maxAttachmentMB: 1 },
        send: () => ({ attachmentType: 'url', attachment: `${base}/big` }),
        code: 'EATTACHMENT',
        message: /larger than 1 MB/,
      },
      {
        name: 'a download that stalls',
        connection: { timeout: 1 },
        send: () => ({ attachmentType: 'url', attachment: `${base}/stall` }),
        code: 'EATTACHMENT',
        message: /broke off/,
      },
      {
        name: 'invalid base64',
        send: { attachmentType: 'base64', attachment: 'not base64!' },
        code: 'EATTACHMENT',
        message: /not valid base64/,
      },
      {
        name: 'invalid base64 in a data: URL',
        send: { attachmentType: 'url', attachment: 'data:text/plain;base64,@@@' },
        code: 'EATTACHMENT',
        message: /data: URL is not valid base64/,
      },
      {
        name: 'a msg.attachments entry with path',
        msg: { attachments: [{ filename: 'x', path: '/etc/passwd' }] },
        code: 'EATTACHMENT',
        message: /"path", which is not allowed/,
      },
      {
        name: 'a msg.attachments entry with an unknown key',
        msg: { attachments: [{ filename: 'x', content: 'a', httpHeaders: {} }] },
        code: 'EATTACHMENT',
        message: /"httpHeaders"/,
      },
      {
        name: 'a msg.attachments href to a file',
        msg: { attachments: [{ href: 'file:///etc/passwd' }] },
        code: 'EATTACHMENT',
        message: /file: are refused/,
      },
      {
        name: 'a pregenerated MIME part that is not one',
        send: { attachmentType: 'mime', attachment: 'just some text' },
        code: 'EATTACHMENT',
        message: /no headers followed by an empty line/,
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name}`, async function () {
        const send = typeof c.send === 'function' ? c.send() : c.send;
        const r = await attempt({ connection: { ...conn(), ...c.connection }, credentials: basic, send, msg: c.msg });
        assert.equal(r.success, false);
        assert.equal(r.error.code, c.code);
        assert.match(r.error.message, c.message);
        assert.ok(r.error.hint && r.error.hint.length > 10, 'a hint says what to fix');
        assert.equal(smtp().messages.length, 0, 'nothing was sent');
      });
    }
  });

  it('ends a download already started when a later msg.attachments entry is refused', async function () {
    const closed = new Promise<void>((resolve) => (watchedClosed = resolve));
    const r = await attempt({
      connection: conn(),
      credentials: basic,
      msg: { attachments: [{ href: `${base}/watched` }, { path: '/etc/passwd' }] },
    });
    assert.equal(r.error.code, 'EATTACHMENT');
    await closed; // the first download's connection was closed, not left open until its time-out
    assert.equal(smtp().messages.length, 0);
  });

  describe('SMTP answers from real providers', function () {
    const authCases = [
      {
        name: 'a wrong password (Google)',
        reply: response('5.7.8  https://support.google.com/mail/?p=BadCredentials'),
        hint: /app password or OAuth2/,
      },
      {
        name: 'SMTP AUTH disabled for the mailbox',
        reply: response('disabled for the Mailbox'),
        hint: /disabled for this mailbox.*Authenticated SMTP/,
      },
      { name: 'SMTP AUTH disabled for the tenant', reply: response('disabled for the Tenant'), hint: /whole tenant/ },
      { name: 'security defaults', reply: response('security defaults'), hint: /security defaults/ },
      { name: 'an app password required', reply: response('Application-specific password required'), hint: /app password/ },
      { name: 'a plain wrong password', reply: '535 Authentication credentials invalid', hint: /check the user and password/ },
    ];
    for (const c of authCases) {
      it(`diagnoses ${c.name}`, async function () {
        const server = await startSmtp({ users: {}, authError: c.reply });
        try {
          const r = await attempt({ connection: { port: server.port }, credentials: basic });
          assert.equal(r.error.code, 'EAUTH');
          assert.equal(r.error.responseCode, Number(c.reply.slice(0, 3)));
          assert.match(r.error.hint, c.hint);
        } finally {
          await helper.unload();
          await server.close();
        }
      });
    }

    it('diagnoses a custom From the mailbox may not send as (SendAs)', async function () {
      const server = await startSmtp({ users: { 'sender@example.com': 'pw-1' }, onData: () => smtpError(response('SendAsDenied')) });
      try {
        const r = await attempt({ connection: { port: server.port }, credentials: basic, send: { from: 'ceo@example.com' } });
        assert.equal(r.error.responseCode, 554);
        assert.match(r.error.hint, /leave Custom From empty, or grant SendAs/);
      } finally {
        await helper.unload();
        await server.close();
      }
    });

    it('diagnoses all recipients rejected (EENVELOPE)', async function () {
      const server = await startSmtp({ users: { 'sender@example.com': 'pw-1' }, onRcpt: () => smtpError('550 5.1.1 User unknown') });
      try {
        const r = await attempt({ connection: { port: server.port }, credentials: basic });
        assert.equal(r.error.code, 'EENVELOPE');
        assert.match(r.error.hint, /refused the sender or all recipients/);
      } finally {
        await helper.unload();
        await server.close();
      }
    });

    it('diagnoses a message too large (552)', async function () {
      const server = await startSmtp({ users: { 'sender@example.com': 'pw-1' }, size: 2048 });
      try {
        const r = await attempt({
          connection: { port: server.port },
          credentials: basic,
          send: { attachmentType: 'text', attachment: 'x'.repeat(8000) },
        });
        assert.equal(r.error.responseCode, 552);
        assert.match(r.error.hint, /larger than the server accepts/);
      } finally {
        await helper.unload();
        await server.close();
      }
    });

    it('diagnoses 530 5.7.57 when the connection has no authentication', async function () {
      const server = await startSmtp({ auth: false, onMailFrom: () => smtpError(response('5.7.57')) });
      try {
        const r = await attempt({ connection: { port: server.port, authType: 'none' }, send: { from: 'robot@example.com' } });
        assert.equal(r.error.responseCode, 530);
        assert.match(r.error.hint, /choose an authentication method/);
      } finally {
        await helper.unload();
        await server.close();
      }
    });
  });

  // With retries off (retryForSeconds 0), so that the first failure is the result; provider-limits.test.ts retries them.
  describe('connection faults', function () {
    it('diagnoses connection refused', async function () {
      const closed = net.createServer();
      const port = await listen(closed);
      await new Promise((r) => closed.close(r));
      const r = await attempt({ connection: { port, retryForSeconds: 0 }, credentials: basic });
      assert.equal(r.error.code, 'ESOCKET');
      assert.match(r.error.message, /ECONNREFUSED/);
      assert.match(r.error.hint, /Nothing accepts connections at this host and port/);
    });

    it('diagnoses a server that never greets (STARTTLS client on an implicit-TLS port)', async function () {
      const tls = await startSmtp({ secure: true, users: {} });
      try {
        const r = await attempt({
          connection: { port: tls.port, security: 'starttls', timeout: 1, retryForSeconds: 0 },
          credentials: basic,
        });
        assert.equal(r.error.code, 'ETIMEDOUT');
        assert.match(r.error.hint, /choose Security TLS/);
      } finally {
        await helper.unload();
        await tls.close();
      }
    });

    it('diagnoses implicit TLS against a plain port (wrong version number)', async function () {
      const r = await attempt({ connection: { ...conn(), security: 'tls', timeout: 2 }, credentials: basic });
      assert.match(r.error.message, /wrong version number|packet length/i);
      assert.match(r.error.hint, /TLS for port 465 and STARTTLS for port 587/);
    });

    it('diagnoses a self-signed certificate when verification is on, and sends when it is off', async function () {
      const tls = await startSmtp({ secure: true, ...selfSignedCertificate(), users: { 'sender@example.com': 'pw-1' } });
      try {
        const r = await attempt({ connection: { port: tls.port, security: 'tls' }, credentials: basic });
        assert.match(r.error.message, /certificate/i);
        assert.match(r.error.hint, /certificate could not be verified/);
        await helper.unload();
        const ok = await attempt({ connection: { port: tls.port, security: 'tls', rejectUnauthorized: false }, credentials: basic });
        assert.equal(ok.success, true);
      } finally {
        await helper.unload();
        await tls.close();
      }
    });
  });

  describe('OAuth2 faults', function () {
    let idp: Awaited<ReturnType<typeof startTokenEndpoint>>;
    let oauthSmtp: SmtpServer;
    let tokenVerdict: (user: string, token: string) => TokenVerdict;
    before(async function () {
      idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-1' });
      oauthSmtp = await startSmtp({ tokens: (...a) => tokenVerdict(...a), authError: response('5.7.3 Authentication unsuccessful') });
    });
    after(async function () {
      await oauthSmtp.close();
      await idp.close();
    });
    beforeEach(() => {
      tokenVerdict = () => true;
      idp.state.requests.length = 0;
    });
    const oauth = (connection = {}) => ({
      port: oauthSmtp.port,
      authType: 'oauth2-client-credentials',
      tokenUrl: idp.url,
      scope: 'https://outlook.office365.com/.default',
      ...connection,
    });
    const creds = { user: 'mailbox@contoso.example', clientId: 'app-1', clientSecret: 'cs-1' };

    for (const [code, hint] of [
      [700016, /application was not found in this tenant/],
      [90002, /tenant in the token URL does not exist/],
      [70011, /scope is not valid/],
      [1002012, /scope is not valid/],
      [7000222, /secret has expired/],
      [900023, /tenant part of the token URL is malformed/],
    ] as const) {
      it(`diagnoses the token endpoint's AADSTS${code}`, async function () {
        const answer = tokenAnswer(code);
        idp.answerNext(answer.status, answer.body);
        const r = await attempt({ connection: oauth(), credentials: creds });
        assert.equal(r.error.code, 'EOAUTH2');
        assert.equal(r.error.responseCode, answer.status);
        assert.match(r.error.message, new RegExp(`AADSTS${code}`));
        assert.match(r.error.hint, hint);
      });
    }

    it('diagnoses a token endpoint that cannot be reached', async function () {
      const closed = net.createServer();
      const port = await listen(closed);
      await new Promise((r) => closed.close(r));
      const r = await attempt({ connection: oauth({ tokenUrl: `http://127.0.0.1:${port}/token` }), credentials: creds });
      assert.equal(r.error.code, 'EOAUTH2');
      assert.match(r.error.message, /could not be reached: ECONNREFUSED/);
      assert.match(r.error.hint, /Check the token URL/);
    });

    it('diagnoses a token endpoint that answers with a page, not JSON', async function () {
      const page = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>Sign in</html>'));
      const port = await listen(page);
      try {
        const r = await attempt({ connection: oauth({ tokenUrl: `http://127.0.0.1:${port}/token` }), credentials: creds });
        assert.equal(r.error.code, 'EOAUTH2');
        assert.match(r.error.message, /not JSON/);
        assert.match(r.error.hint, /must be the OAuth2 token endpoint/);
      } finally {
        await new Promise((r) => page.close(r));
      }
    });

    it('diagnoses a token endpoint that does not answer in time', async function () {
      const silent = http.createServer(() => {});
      const port = await listen(silent);
      try {
        const r = await attempt({
          connection: oauth({ tokenUrl: `http://127.0.0.1:${port}/token`, timeout: 1, retryForSeconds: 0 }),
          credentials: creds,
        });
        assert.equal(r.error.code, 'EOAUTH2');
        assert.match(r.error.message, /timed out/);
        assert.match(r.error.hint, /did not answer in time/);
      } finally {
        silent.closeAllConnections();
        await new Promise((r) => silent.close(r));
      }
    });

    it('diagnoses a token the mailbox refuses (SMTP.SendAsApp, consent, service principal)', async function () {
      tokenVerdict = () => 'reject';
      const r = await attempt({ connection: oauth(), credentials: creds, send: { from: 'other@contoso.example' } });
      assert.equal(r.error.code, 'EAUTH');
      assert.match(r.error.message, /5\.7\.3/);
      assert.match(r.error.hint, /SMTP\.SendAsApp.*admin consent.*service principal/);
      assert.match(r.error.hint, /leave it empty/, 'a custom From is named as a possible cause');
      assert.equal(idp.state.requests.length, 2, 'renewed once, then given up');
    });
  });

  describe('Test connection', function () {
    const post = (body: object) => helper.request().post('/smtp-oauth-config/test').send(body).expect(200);

    it('reports success with the values of the dialog, before any deploy', async function () {
      await helper.load([configNode], []);
      const res = await post({ host: '127.0.0.1', port: smtp().port, security: 'none', authType: 'basic', credentials: basic });
      assert.deepEqual(res.body, { ok: true });
    });

    it('reports the diagnosed error for a wrong password', async function () {
      await helper.load([configNode], []);
      const res = await post({
        host: '127.0.0.1',
        port: smtp().port,
        security: 'none',
        authType: 'basic',
        credentials: { user: 'sender@example.com', password: 'nope' },
      });
      assert.equal(res.body.ok, false);
      assert.equal(res.body.error.code, 'EAUTH');
      assert.match(res.body.error.hint, /check the user and password/);
    });

    it('uses the stored secret when the dialog leaves it unchanged', async function () {
      await deploy({ connection: conn(), credentials: basic });
      const res = await post({
        id: 'conn',
        host: '127.0.0.1',
        port: smtp().port,
        security: 'none',
        authType: 'basic',
        credentials: { user: 'sender@example.com', password: '__PWRD__' },
      });
      assert.deepEqual(res.body, { ok: true });
    });

    it('asks for the password again, and connects nowhere, when the dialog points elsewhere', async function () {
      await deploy({ connection: conn(), credentials: basic });
      const attempts = smtp().authAttempts.length;
      const res = await post({
        id: 'conn',
        host: 'localhost',
        port: smtp().port,
        security: 'none',
        authType: 'basic',
        credentials: { user: 'sender@example.com', password: '__PWRD__' },
      });
      assert.equal(res.body.ok, false);
      assert.equal(res.body.needSecret, 'password');
      assert.equal(res.body.error.code, 'ECONFIG');
      assert.equal(smtp().authAttempts.length, attempts);
    });
  });
});
