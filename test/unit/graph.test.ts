// The Graph transport through a Connection, as the config node owns it: tokens from a real token
// endpoint on loopback, mails to a Graph-shaped server on loopback (test/support/graph.ts), the
// retries on an injected clock (no sleeps).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { simpleParser } from 'mailparser';
import type Mail from 'nodemailer/lib/mailer';
import { Connection, type SendError } from '../../src/lib/connection';
import type { ConnectionConfig } from '../../src/lib/config/transport-options';
import { UPLOAD_CHUNK } from '../../src/lib/transports/graph';
import { clientCertificate } from '../support/certificate';
import { fakeClock } from '../support/clock';
import { delivered } from '../support/connection';
import { startGraph, type GraphServer } from '../support/graph';
import { englishOf } from '../../src/lib/errors/texts';
import providers from '../fixtures/provider-responses.json';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';

const MAILBOX = 'sender@contoso.example';
const mail = (extra: Mail.Options = {}): Mail.Options => ({
  from: MAILBOX,
  to: 'to@example.com',
  subject: 'over Graph',
  text: 'hello',
  ...extra,
});

describe('graph transport', function () {
  let idp: TokenEndpoint;
  let graph: GraphServer;
  /** The tokens Graph takes: the endpoint's, unless a test says otherwise. */
  let goodTokens: () => string[];
  before(async function () {
    idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-1' });
    graph = await startGraph({
      tokens: () => goodTokens(),
      mailboxes: [MAILBOX, 'onprem@contoso.example'],
      notEnabled: ['onprem@contoso.example'],
    });
  });
  after(async function () {
    await graph.close();
    await idp.close();
  });
  beforeEach(function () {
    goodTokens = () => idp.state.issued;
    idp.state.requests.length = 0;
    graph.state.requests.length = 0;
    graph.state.sent.length = 0;
    graph.state.deleted.length = 0;
    graph.state.next.length = 0;
    graph.state.peakConcurrent = 0;
    graph.state.mailSend = true;
    graph.state.mailReadWrite = true;
  });

  const config = (extra: ConnectionConfig = {}): ConnectionConfig => ({
    transport: 'graph',
    authType: 'oauth2-client-credentials',
    tokenUrl: idp.url,
    graphUrl: graph.url,
    ...extra,
  });
  const connect = (extra: ConnectionConfig = {}, user = MAILBOX) => {
    const clock = fakeClock({ auto: true });
    return new Connection(
      config(extra),
      { user, clientId: 'app-1', clientSecret: 'cs-1' },
      { retry: { now: clock.now, timers: clock, random: () => 0.5 } },
    );
  };
  const failure = async (conn: Connection, message = mail()): Promise<SendError> => {
    try {
      await conn.send(message);
    } catch (e) {
      return e as SendError;
    } finally {
      await conn.close();
    }
    throw new Error('the send did not fail');
  };

  it("posts the built MIME to the mailbox's sendMail with a token for Graph's own scope, and reports 202 for every recipient", async function () {
    const conn = connect();
    try {
      const info = await delivered(conn.send(mail({ cc: 'cc@example.com', bcc: 'hidden@example.com' })));
      assert.equal(info.response, '202 Accepted');
      assert.deepEqual(info.accepted, ['to@example.com', 'cc@example.com', 'hidden@example.com']);
      assert.deepEqual(info.rejected, []);
      assert.equal(info.attempts, 1);
      assert.deepEqual(
        idp.state.requests.map((r) => r.scope),
        [`${graph.url}/.default`],
      );
      const [sent] = graph.state.sent;
      assert.equal(sent.mailbox, MAILBOX);
      assert.deepEqual(sent.recipients.sort(), ['cc@example.com', 'hidden@example.com', 'to@example.com']);
      assert.deepEqual(sent.bcc, ['hidden@example.com']);
      const parsed = await simpleParser(sent.mime);
      assert.equal(parsed.messageId, info.messageId);
      assert.equal(parsed.subject, 'over Graph');
      assert.doesNotMatch(sent.mime.toString('latin1'), /hidden@example\.com/, 'Bcc is in no copy a recipient gets');
      const [request] = graph.state.requests;
      assert.equal(request.method, 'POST');
      assert.equal(request.path, `/v1.0/users/${encodeURIComponent(MAILBOX)}/sendMail`);
      assert.equal(request.contentType, 'text/plain');
    } finally {
      await conn.close();
    }
  });

  it('sends a 12 MB attachment through a draft and an upload session in 320 KiB-multiple chunks without Authorization, then deletes nothing', async function () {
    const conn = connect();
    const file = crypto.randomBytes(12 * 1024 * 1024);
    try {
      await delivered(conn.send(mail({ attachments: [{ filename: 'big.bin', content: file }] })));
      const [sent] = graph.state.sent;
      const parsed = await simpleParser(sent.mime);
      const big = parsed.attachments.find((a) => a.filename === 'big.bin');
      assert.ok(big, 'the attachment arrived');
      assert.ok(big.content.equals(file), 'byte for byte');
      const puts = graph.state.requests.filter((r) => r.method === 'PUT');
      assert.equal(puts.length, Math.ceil(file.length / UPLOAD_CHUNK));
      assert.ok(puts.every((p) => !p.authorization));
      assert.ok(puts.slice(0, -1).every((p) => p.bodyLength === UPLOAD_CHUNK && p.bodyLength % (320 * 1024) === 0));
      assert.ok(graph.state.requests.every((r) => r.bodyLength <= 4 * 1024 * 1024));
      assert.equal(graph.state.deleted.length, 0);
      assert.equal(graph.state.drafts.size, 0);
    } finally {
      await conn.close();
    }
  });

  it('a burst of 100 mails: one token, at most 4 requests at once, every mail sent', async function () {
    const conn = connect();
    try {
      graph.state.hold();
      const sending = Array.from({ length: 100 }, (_, i) => delivered(conn.send(mail({ subject: `n${i}` }))));
      await graph.state.waitForHeld(4);
      assert.equal(graph.state.inFlight.get(MAILBOX.toLowerCase()), 4, 'four requests at once');
      graph.state.release();
      assert.equal((await Promise.all(sending)).length, 100);
      assert.equal(graph.state.sent.length, 100);
      assert.equal(idp.state.requests.length, 1, 'one token for every request');
      assert.equal(graph.state.peakConcurrent, 4);
      assert.equal(graph.state.concurrencyRefusals, 0);
    } finally {
      await conn.close();
    }
  });

  it('429 with Retry-After, then success: the same message, two attempts', async function () {
    const conn = connect();
    try {
      graph.state.throttleNext(1, 3);
      const info = await delivered(conn.send(mail()));
      assert.equal(info.attempts, 2);
      assert.equal(graph.state.sent.length, 1);
    } finally {
      await conn.close();
    }
  });

  it('503 and 504 are retried; a 400 is not', async function () {
    let conn = connect();
    try {
      graph.state.answerNext(503, { error: { code: 'ServiceUnavailable', message: 'Service Unavailable' } });
      graph.state.answerNext(504, { error: { code: 'UnknownError', message: '' } });
      assert.equal((await delivered(conn.send(mail()))).attempts, 3);
    } finally {
      await conn.close();
    }
    conn = connect();
    graph.state.answerNext(400, { error: { code: 'ErrorMimeContentInvalid', message: 'The MIME content is invalid.' } });
    const err = await failure(conn);
    assert.equal(err.code, 'EGRAPH');
    assert.equal(err.attempts, 1);
  });

  it('a refused token (401) is renewed once within the attempt', async function () {
    const conn = connect();
    try {
      await delivered(conn.send(mail()));
      // Graph stops taking the first token (revoked): the next send fetches a new one and goes through.
      const first = idp.state.issued.at(-1);
      goodTokens = () => idp.state.issued.filter((t) => t !== first);
      const info = await delivered(conn.send(mail()));
      assert.equal(info.attempts, 1);
      assert.equal(idp.state.requests.length, 2);
    } finally {
      await conn.close();
    }
  });

  describe('diagnosis', function () {
    const cases: [string, () => void, RegExp, RegExp, string?][] = [
      ['401 InvalidAuthenticationToken: scope or audience', () => (goodTokens = () => []), /HTTP 401.*InvalidAuthenticationToken/, /Scope/],
      [
        '403 ErrorAccessDenied: Mail.Send',
        () => (graph.state.mailSend = false),
        /HTTP 403.*ErrorAccessDenied/,
        /Mail\.Send.*admin consent.*RBAC/s,
      ],
      [
        '404 ErrorInvalidUser: the mailbox',
        () => undefined,
        /HTTP 404.*ErrorInvalidUser/,
        /no mailbox by this name/,
        'nobody@contoso.example',
      ],
      [
        '404 MailboxNotEnabledForRESTAPI',
        () => undefined,
        /MailboxNotEnabledForRESTAPI/,
        /no Exchange Online mailbox/,
        'onprem@contoso.example',
      ],
      [
        '413: too large',
        () => graph.state.answerNext(413, { error: { code: 'ErrorRequestEntityTooLarge', message: 'The request is too large.' } }),
        /HTTP 413/,
        /150 MB/,
      ],
    ];
    for (const [name, arrange, message, hint, user] of cases) {
      it(name, async function () {
        arrange();
        const err = await failure(connect({ retryForSeconds: 0 }, user));
        assert.equal(err.code, 'EGRAPH');
        assert.match(err.message, message);
        assert.match(err.hint ?? '', hint);
        assert.equal(graph.state.sent.length, 0);
      });
    }

    // What Microsoft Graph really answers (test/fixtures/provider-responses.json), and what the user is told.
    const told: Record<string, RegExp | 'retried'> = {
      'Invalid audience': /another resource/,
      'token is expired': 'retried',
      ErrorAccessDenied: /Mail\.Send application permission with admin consent.*RBAC for Applications/s,
      ErrorInvalidUser: /no mailbox by this name/,
      MailboxNotEnabledForRESTAPI: /no Exchange Online mailbox/,
      ErrorSendAsDenied: /leave Custom From empty.*Send As/s,
      ErrorInvalidRecipients: /no valid recipient/,
      RequestEntityTooLarge: /too large/,
      ApplicationThrottled: 'retried',
      ServiceUnavailable: 'retried',
    };
    for (const answer of providers.graph.filter((a) => a.where === 'sendMail')) {
      const { code, message } = answer.body.error;
      const key = Object.keys(told).find((k) => code === k || message.includes(k))!;
      it(`Graph's ${answer.status} ${code} (${answer.cause})`, async function () {
        assert.ok(key, 'every answer of the fixtures has an expectation');
        // A 401 is answered twice where it is for good: the transport renews the token once.
        const times = answer.status === 401 && told[key] !== 'retried' ? 2 : 1;
        for (let i = 0; i < times; i++) graph.state.answerNext(answer.status, answer.body, answer.headers);
        const conn = connect({ retryForSeconds: 60 });
        if (told[key] === 'retried') {
          try {
            await delivered(conn.send(mail()));
            assert.equal(graph.state.sent.length, 1);
          } finally {
            await conn.close();
          }
          return;
        }
        const err = await failure(conn);
        assert.equal(err.code, 'EGRAPH');
        assert.equal(err.responseCode, answer.status);
        assert.match(err.message, new RegExp(code));
        assert.match(err.hint ?? '', told[key] as RegExp);
        assert.equal(err.attempts, 1, 'not retried: it fails the same way every time');
      });
    }

    it('403 on the upload path names Mail.ReadWrite, and the draft is deleted', async function () {
      graph.state.mailReadWrite = false;
      graph.state.mailSend = true;
      const err = await failure(connect(), mail({ attachments: [{ filename: 'big.bin', content: crypto.randomBytes(5 * 1024 * 1024) }] }));
      assert.equal(err.code, 'EGRAPH');
      assert.match(err.hint ?? '', /Mail\.ReadWrite/);
      assert.equal(graph.state.drafts.size, 0, 'no draft left behind');
    });

    it('429 until Retry for ends: the throttling hint, after several attempts', async function () {
      graph.state.throttleNext(50, 30);
      const err = await failure(connect({ retryForSeconds: 60 }));
      assert.equal(err.code, 'EGRAPH');
      assert.ok((err.attempts ?? 0) >= 2);
      assert.match(err.hint ?? '', /throttled/i);
    });

    it('an unreachable Graph URL is a connection failure with a hint, retried', async function () {
      const err = await failure(connect({ graphUrl: 'http://127.0.0.1:9', retryForSeconds: 5 }));
      assert.equal(err.code, 'EGRAPH');
      assert.match(err.message, /could not be reached: ECONNREFUSED/);
      assert.match(err.hint ?? '', /Graph URL/);
      assert.ok((err.attempts ?? 0) >= 2, 'a connection failure is transient');
    });
  });

  describe('Test connection', function () {
    const cases: [string, string[], string, RegExp][] = [
      [
        'says that the token grants Mail.Send tenant-wide when its roles list it',
        ['Mail.Send'],
        'notes.graph.mailSendTenantWide',
        /every mailbox/,
      ],
      [
        'says what to check when the roles list no Mail.Send (RBAC for Applications grants show in no token)',
        ['SMTP.SendAsApp'],
        'notes.graph.mailSendNotListed',
        /Test-ServicePrincipalAuthorization/,
      ],
    ];
    for (const [name, roles, key, words] of cases) {
      it(`${name}, and sends nothing`, async function () {
        idp.state.roles = roles;
        const conn = connect();
        try {
          const note = await conn.verify();
          assert.equal(note?.key, key);
          assert.match(englishOf(note!), words);
          assert.equal(graph.state.requests.length, 0);
        } finally {
          await conn.close();
          idp.state.roles = ['SMTP.SendAsApp', 'Mail.Send'];
        }
      });
    }
  });

  it('sends with certificate credentials: a signed client assertion instead of a secret, for the Graph scope', async function () {
    const client = clientCertificate({ days: 30 });
    const certIdp = await startTokenEndpoint({ clientId: 'app-2', certificate: client.cert });
    const saved = goodTokens;
    goodTokens = () => certIdp.state.issued;
    const conn = new Connection(config({ tokenUrl: certIdp.url, clientAuth: 'certificate' }), {
      user: MAILBOX,
      clientId: 'app-2',
      clientCertificate: client.cert,
      clientPrivateKey: client.key,
    });
    try {
      await delivered(conn.send(mail()));
      const [request] = certIdp.state.requests;
      assert.equal(request.client_secret, undefined);
      assert.equal(request.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      assert.equal(request.scope, `${graph.url}/.default`);
      assert.equal(graph.state.sent.length, 1);
    } finally {
      await conn.close();
      await certIdp.close();
      goodTokens = saved;
    }
  });

  it('never puts the access token in an error', async function () {
    graph.state.mailSend = false;
    const err = await failure(connect({ retryForSeconds: 0 }));
    const token = idp.state.issued[0];
    assert.ok(token);
    assert.doesNotMatch(JSON.stringify({ ...err, message: err.message, stack: err.stack }), new RegExp(token.slice(-20)));
  });
});
