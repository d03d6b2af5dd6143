// One SMTP connection as a config node owns it: sends to a real server on loopback, OAuth2 tokens
// from a real token endpoint, retries and the rate limit on an injected clock (no sleeps), and
// closing that waits for what is in flight.
import assert from 'node:assert/strict';
import type Mail from 'nodemailer/lib/mailer';
import { Connection, type SendError } from '../../src/lib/connection';
import { isTokenRefusal } from '../../src/lib/transports/smtp';
import type { MailError } from '../../src/lib/errors/errors';
import type { ConnectionConfig } from '../../src/lib/config/transport-options';
import { fakeClock } from '../support/clock';
import { startScriptedSmtp, startSmtp, smtpError, type ScriptedSmtp } from '../support/smtp';
import { delivered } from '../support/connection';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';
import { clientCertificate } from '../support/certificate';

const mail = (subject: string): Mail.Options => ({ from: 'sender@example.com', to: 'to@example.com', subject, text: `body of ${subject}` });

/** A promise's outcome, taken at once so that a rejection is never left unhandled while the test waits. */
const settled = <T>(p: Promise<T>): Promise<{ value: T } | { error: SendError }> =>
  p.then(
    (value) => ({ value }),
    (error: SendError) => ({ error }),
  );

describe('connection', function () {
  describe('without authentication', function () {
    let smtp: ScriptedSmtp;
    before(async function () {
      smtp = await startScriptedSmtp({
        auth: false,
        onRcpt: (address: { address: string }) => (address.address.startsWith('unknown') ? smtpError('550 5.1.1 User unknown') : undefined),
      });
    });
    after(() => smtp.close());
    beforeEach(() => smtp.reset());

    const config = (extra: ConnectionConfig = {}): ConnectionConfig => ({
      host: '127.0.0.1',
      port: smtp.port,
      security: 'none',
      authType: 'none',
      ...extra,
    });

    it("sends a message and resolves with the server's answer and one attempt", async function () {
      const conn = new Connection(config(), { user: 'sender@example.com' });
      try {
        assert.equal(conn.user, 'sender@example.com');
        const info = await delivered(conn.send(mail('hello')));
        assert.equal(info.attempts, 1);
        assert.deepEqual(info.accepted, ['to@example.com']);
        assert.match(info.response, /^250 /);
        const [received] = await smtp.waitForMessages(1);
        assert.equal(received.parsed.subject, 'hello');
        assert.equal(received.parsed.messageId, info.messageId);
        assert.deepEqual(
          received.envelope.rcptTo.map((r: { address: string }) => r.address),
          ['to@example.com'],
        );
      } finally {
        await conn.close();
      }
    });

    it('retries a 4xx with backoff, keeping the Message-ID, and reports the wait', async function () {
      const clock = fakeClock({ auto: true });
      const conn = new Connection(
        config(),
        { user: 'sender@example.com' },
        { retry: { now: clock.now, timers: clock, random: () => 0.5 } },
      );
      smtp.refuse = ['451 4.3.0 Error: queue file write error'];
      const waits: boolean[] = [];
      try {
        const info = await delivered(conn.send(mail('retried'), false, undefined, (waiting) => waits.push(waiting)));
        assert.equal(info.attempts, 2);
        assert.deepEqual(clock.delays, [1000]);
        assert.deepEqual(waits, [true, false]);
        assert.equal(smtp.seen.length, 2);
        assert.equal(smtp.seen[0], smtp.seen[1], 'both attempts carry the same Message-ID');
        assert.equal(smtp.seen[1], info.messageId);
        assert.equal(conn.retrying, 0);
      } finally {
        await conn.close();
      }
    });

    it('fails a 5xx at once, diagnosed, with the attempts made', async function () {
      const clock = fakeClock({ auto: true });
      const conn = new Connection(config(), { user: 'sender@example.com' }, { retry: { now: clock.now, timers: clock } });
      try {
        await assert.rejects(delivered(conn.send({ ...mail('unknown'), to: 'unknown@example.com' })), (e: SendError) => {
          assert.equal(e.code, 'EENVELOPE');
          assert.equal(e.responseCode, 550);
          assert.equal(e.attempts, 1);
          assert.ok(e.hint, 'a hint says what to do');
          return true;
        });
        assert.deepEqual(clock.delays, [], 'no backoff for a permanent answer');
      } finally {
        await conn.close();
      }
    });

    it('does not retry when Retry for is 0', async function () {
      const clock = fakeClock({ auto: true });
      const conn = new Connection(
        config({ retryForSeconds: 0 }),
        { user: 'sender@example.com' },
        { retry: { now: clock.now, timers: clock } },
      );
      smtp.refuse = ['451 4.3.0 Error: queue file write error'];
      try {
        await assert.rejects(delivered(conn.send(mail('once'))), (e: SendError) => e.responseCode === 451 && e.attempts === 1);
        assert.equal(smtp.seen.length, 1);
        assert.deepEqual(clock.delays, []);
      } finally {
        await conn.close();
      }
    });

    it('gives up at the deadline of Retry for, the last attempt at the deadline itself', async function () {
      const clock = fakeClock({ auto: true });
      // 4 s: attempts at 0, 1 s, 3 s and 4 s (the third wait, of 4 s, is cut to the 1 s left).
      const conn = new Connection(
        config({ retryForSeconds: 4 }),
        { user: 'sender@example.com' },
        { retry: { now: clock.now, timers: clock, random: () => 0.5 } },
      );
      smtp.refuse = Array.from({ length: 10 }, () => '451 4.3.0 Error: queue file write error');
      try {
        await assert.rejects(
          delivered(conn.send(mail('deadline'))),
          (e: SendError) => e.attempts === 4 && /gave up after 4 attempts in 4 s/.test(e.message),
        );
        assert.deepEqual(clock.delays, [1000, 2000, 1000]);
        assert.equal(smtp.seen.length, 4);
      } finally {
        await conn.close();
      }
    });

    it('paces sends under the rate limit, in order, telling each send that it waits', async function () {
      const clock = fakeClock();
      // 2 per minute: one every 30 s.
      const conn = new Connection(config({ rateLimitPerMinute: 2 }), { user: 'sender@example.com' }, { now: clock.now, timers: clock });
      const queued: string[] = [];
      let bothWait!: () => void;
      const waiting = new Promise<void>((resolve) => (bothWait = resolve));
      const send = (subject: string) =>
        settled(
          delivered(
            conn.send(mail(subject), false, (waits) => {
              queued.push(`${subject} ${waits ? 'waits' : 'goes'}`);
              if (queued.length === 2) bothWait();
            }),
          ),
        );
      try {
        const first = await send('one');
        const second = send('two');
        const third = send('three');
        // Each mail is built, then waits for its turn.
        await waiting;
        assert.equal(conn.waiting, 2);
        assert.deepEqual(queued, ['two waits', 'three waits']);
        assert.ok('value' in first);
        assert.equal(smtp.messages.length, 1);
        assert.deepEqual(clock.delays, [30000], 'one timer, for the next turn');
        clock.step();
        assert.ok('value' in (await second));
        assert.equal(clock.now() - clock.start, 30000);
        await clock.nextTimer();
        clock.step();
        assert.ok('value' in (await third));
        assert.equal(clock.now() - clock.start, 60000);
        assert.deepEqual(
          smtp.messages.map((m) => m.parsed.subject),
          ['one', 'two', 'three'],
        );
        assert.deepEqual(queued, ['two waits', 'three waits', 'two goes', 'three goes']);
        assert.equal(conn.waiting, 0);
      } finally {
        await conn.close();
      }
    });

    it('fails a send still waiting for its turn when the connection closes, with ECONNECTION and a hint', async function () {
      const clock = fakeClock();
      const conn = new Connection(config({ rateLimitPerMinute: 1 }), { user: 'sender@example.com' }, { now: clock.now, timers: clock });
      await delivered(conn.send(mail('first')));
      let queued!: () => void;
      const inQueue = new Promise<void>((resolve) => (queued = resolve));
      const waiting = settled(delivered(conn.send(mail('second'), false, (waits) => waits && queued())));
      await inQueue;
      assert.equal(conn.waiting, 1);
      await conn.close(0);
      const outcome = await waiting;
      assert.ok('error' in outcome);
      assert.equal(outcome.error.code, 'ECONNECTION');
      assert.ok(outcome.error.hint);
      assert.equal(smtp.messages.length, 1, 'the second mail never went out');
    });

    it('waits for a send in flight before it closes', async function () {
      let answer: (() => void) | undefined;
      const slow = await startSmtp({ auth: false, holdAnswer: (a: () => void) => (answer = a) });
      const conn = new Connection({ ...config(), port: slow.port }, { user: 'sender@example.com' });
      try {
        const order: string[] = [];
        const sent = delivered(conn.send(mail('slow'))).then(() => order.push('sent'));
        await slow.waitForMessages(1);
        const closed = conn.close().then(() => order.push('closed'));
        answer!();
        await Promise.all([sent, closed]);
        assert.deepEqual(order, ['sent', 'closed']);
      } finally {
        await slow.close();
      }
    });

    it('ends a send waiting for its next attempt when the connection closes, saying why', async function () {
      const clock = fakeClock(); // never moves: the wait would last for ever
      const conn = new Connection(config(), { user: 'sender@example.com' }, { retry: { now: clock.now, timers: clock } });
      smtp.refuse = ['451 4.3.0 Error: queue file write error'];
      let waitingForRetry!: () => void;
      const retrying = new Promise<void>((resolve) => (waitingForRetry = resolve));
      const outcome = settled(delivered(conn.send(mail('closed'), false, undefined, (waits) => waits && waitingForRetry())));
      await retrying;
      assert.equal(conn.retrying, 1);
      await conn.close();
      const result = await outcome;
      assert.ok('error' in result);
      assert.equal(result.error.responseCode, 451);
      assert.equal(result.error.attempts, 1);
      assert.match(result.error.message, /not retried: the connection was closed/);
      assert.equal(clock.pending(), 0, 'no backoff timer outlives the connection');
    });
  });

  describe('Test connection (verify)', function () {
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let busy = false;
    before(async function () {
      smtp = await startSmtp({
        users: { 'u@example.com': 'right' },
        onConnect: () => (busy ? smtpError('421 4.7.0 Try again later, closing connection') : undefined),
      });
    });
    after(() => smtp.close());
    afterEach(() => (busy = false));

    const connection = (password: string) =>
      new Connection({ host: '127.0.0.1', port: smtp.port, security: 'none', authType: 'basic' }, { user: 'u@example.com', password });

    it('logs in and out with the right password', async function () {
      const conn = connection('right');
      await conn.verify();
      await conn.close();
      const login = smtp.authAttempts.at(-1)!;
      assert.deepEqual([login.username, login.password], ['u@example.com', 'right']);
    });

    it('reports a wrong password as EAUTH with a hint, never retried', async function () {
      const conn = connection('wrong');
      const before = smtp.authAttempts.length;
      await assert.rejects(conn.verify(), (e: MailError) => e.code === 'EAUTH' && !!e.hint);
      await conn.close();
      assert.equal(smtp.authAttempts.length - before, 1);
    });

    it('says that a temporary answer is temporary', async function () {
      busy = true;
      const conn = connection('right');
      await assert.rejects(conn.verify(), (e: MailError) => /^The server is busy: 421 4\.7\.0 Try again later/.test(e.hint ?? ''));
      await conn.close();
    });
  });

  describe('OAuth2 client credentials', function () {
    let idp: TokenEndpoint;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    /** Tokens the server refuses with a bare 535 (no 334 challenge), as Exchange does for a stale one. */
    const refused = new Set<string>();
    before(async function () {
      idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'secret-1' });
      smtp = await startSmtp({
        tokens: (user: string, token: string) =>
          user === 'mailbox@example.com' && idp.state.issued.includes(token) && !refused.has(token) ? true : 'reject',
      });
    });
    after(async function () {
      await smtp.close();
      await idp.close();
    });
    beforeEach(function () {
      idp.state.requests.length = 0;
      idp.state.issued.length = 0;
      refused.clear();
      smtp.messages.length = 0;
    });

    const connection = () =>
      new Connection(
        {
          host: '127.0.0.1',
          port: smtp.port,
          security: 'none',
          authType: 'oauth2-client-credentials',
          tokenUrl: idp.url,
          scope: 'https://outlook.office365.com/.default',
          maxConnections: 3,
        },
        { user: 'mailbox@example.com', clientId: 'app-1', clientSecret: 'secret-1' },
      );

    it('fetches one token for all pooled connections and authenticates with XOAUTH2', async function () {
      const conn = connection();
      try {
        const infos = await Promise.all(
          ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => delivered(conn.send({ ...mail(s), from: 'mailbox@example.com' }))),
        );
        assert.equal(infos.length, 6);
        assert.equal(idp.state.requests.length, 1, 'one token request');
        assert.equal(idp.state.requests[0].grant_type, 'client_credentials');
        assert.equal(idp.state.requests[0].scope, 'https://outlook.office365.com/.default');
        assert.equal(conn.tokens!.requests, 1);
        const xoauth = smtp.authAttempts.filter((a) => a.method === 'XOAUTH2');
        assert.ok(xoauth.length >= 1);
        for (const a of xoauth) assert.equal(a.accessToken, idp.state.issued[0]);
      } finally {
        await conn.close();
      }
    });

    it('drops a token the server refuses with a bare 535 and sends once more with a new one', async function () {
      const conn = connection();
      try {
        const token = (await conn.tokens!.get()).accessToken;
        refused.add(token);
        const info = await delivered(conn.send({ ...mail('renewed'), from: 'mailbox@example.com' }));
        assert.equal(info.attempts, 1, 'the renewal is part of the attempt');
        assert.equal(idp.state.issued.length, 2);
        assert.notEqual(idp.state.issued[1], token);
        assert.equal(smtp.messages.length, 1);
        assert.equal(conn.tokens!.rejections, 1);
      } finally {
        await conn.close();
      }
    });

    it('fails with EOAUTH2 and its hint when the token endpoint refuses the client', async function () {
      const conn = new Connection(
        {
          host: '127.0.0.1',
          port: smtp.port,
          security: 'none',
          authType: 'oauth2-client-credentials',
          tokenUrl: idp.url,
          scope: 'x/.default',
        },
        { user: 'mailbox@example.com', clientId: 'app-1', clientSecret: 'the secret id, not its value' },
      );
      try {
        await assert.rejects(
          delivered(conn.send(mail('refused'))),
          (e: SendError) =>
            e.code === 'EOAUTH2' && /AADSTS7000215/.test(e.message) && /secret VALUE/.test(e.hint ?? '') && e.attempts === 1,
        );
        assert.equal(smtp.messages.length, 0);
      } finally {
        await conn.close();
      }
    });
  });

  it('takes the attachment caps of the connection, else of settings.js, else 25 MB', function () {
    const caps = (config: ConnectionConfig, settingsMB?: unknown) =>
      new Connection({ host: 'h', ...config }, {}, { maxAttachmentMB: settingsMB }).downloadLimits;
    assert.deepEqual(caps({ maxAttachmentMB: 2, timeout: 7 }), { timeout: 7000, maxBytes: 2 * 1024 * 1024, maxRedirects: 5 });
    assert.equal(caps({}, 10).maxBytes, 10 * 1024 * 1024);
    assert.equal(caps({}).maxBytes, 25 * 1024 * 1024);
    assert.equal(caps({}).timeout, 30000);
  });

  it("takes the pool size of the connection, else the service's documented limit", function () {
    assert.equal(new Connection({ host: 'h', maxConnections: 2 }, {}).poolSize, 2);
    assert.equal(new Connection({ service: 'Outlook365' }, {}).poolSize, 3);
    assert.equal(new Connection({ host: 'h' }, {}).poolSize, 5);
  });

  it('takes only a refusal of the token itself for a stale token', function () {
    const err = (fields: Omit<MailError, 'name'> & { originalCode?: string }) => fields as MailError & { originalCode?: string };
    assert.equal(
      isTokenRefusal(
        err({ code: 'EAUTH', responseCode: 535, response: '535 5.7.3 Authentication unsuccessful', message: 'Invalid login' }),
      ),
      true,
    );
    assert.equal(isTokenRefusal(err({ code: 'EAUTH', response: '334 eyJzdGF0dXMiOiI0MDEifQ==', message: 'Invalid login' })), true);
    // SMTP AUTH switched off for the mailbox: no new token changes that.
    assert.equal(
      isTokenRefusal(
        err({
          code: 'EAUTH',
          responseCode: 535,
          response: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.',
          message: 'x',
        }),
      ),
      false,
    );
    // The token endpoint refused us (nodemailer files it under EAUTH): not the server refusing a token.
    assert.equal(
      isTokenRefusal(err({ code: 'EAUTH', originalCode: 'EOAUTH2', responseCode: 535, response: '535 x', message: 'x' })),
      false,
    );
    assert.equal(
      isTokenRefusal(err({ code: 'EAUTH', responseCode: 454, response: '454 4.7.0 Temporary authentication failure', message: 'x' })),
      false,
    );
    assert.equal(isTokenRefusal(err({ code: 'EENVELOPE', responseCode: 535, response: '535 x', message: 'x' })), false);
  });

  it('sends a mail held in memory to a deferred recipient alone once the others accepted it, from the same sender', async function () {
    let deferrals = 1;
    const smtp = await startSmtp({
      auth: false,
      onRcpt: (address: { address: string }) =>
        address.address === 'late@example.com' && deferrals-- > 0 ? smtpError('451 4.7.1 Greylisted, try again later') : undefined,
    });
    const clock = fakeClock({ auto: true });
    const conn = new Connection(
      { host: '127.0.0.1', port: smtp.port, security: 'none', authType: 'none' },
      {},
      { retry: { now: clock.now, timers: clock, random: () => 0.5 } },
    );
    const waits: boolean[] = [];
    try {
      const message = {
        ...mail('partial'),
        from: { name: 'Sender', address: 'sender@example.com' },
        to: 'a@example.com, late@example.com',
      };
      const info = await delivered(conn.send(message, false, undefined, (waiting) => waits.push(waiting)));
      assert.deepEqual([info.accepted, info.rejected, info.attempts], [['a@example.com', 'late@example.com'], [], 2]);
      assert.deepEqual(info.envelope, { from: 'sender@example.com', to: ['a@example.com', 'late@example.com'] });
      assert.equal(info.warnings, undefined);
      assert.deepEqual(waits, [true, false]);
      assert.deepEqual(
        smtp.messages.map((m) => [m.envelope.mailFrom && m.envelope.mailFrom.address, m.envelope.rcptTo.map((r) => r.address)]),
        [
          ['sender@example.com', ['a@example.com']],
          ['sender@example.com', ['late@example.com']],
        ],
      );
      assert.equal(smtp.messages[1].parsed.messageId, info.messageId);
      assert.equal(smtp.messages[1].parsed.to.text, 'a@example.com, late@example.com', 'the same headers: only the envelope is narrowed');
    } finally {
      await conn.close();
      await smtp.close();
    }
  });

  describe('with a certificate that expires soon', function () {
    let idp: TokenEndpoint;
    const pair = clientCertificate({ days: 10 });
    before(async () => (idp = await startTokenEndpoint({ clientId: 'app-1', certificate: pair.cert })));
    after(() => idp.close());

    it("warns where the connection's own problems go (once, not per token), and still gets tokens", async function () {
      const problems: Error[] = [];
      const clock = { now: Date.now() };
      const connection = new Connection(
        {
          host: '127.0.0.1',
          security: 'none',
          authType: 'oauth2-client-credentials',
          clientAuth: 'certificate',
          tokenUrl: idp.url,
          scope: 'x/.default',
          outbox: 'memory',
        },
        { user: 'mailbox@contoso.example', clientId: 'app-1', clientCertificate: pair.cert, clientPrivateKey: pair.key },
        { onError: (e) => problems.push(e), now: () => clock.now },
      );
      try {
        assert.ok(await connection.tokens!.get());
        connection.tokens!.invalidate();
        // The clock stands still: the endpoint checks the assertion's time against its own.
        await connection.tokens!.get();
        assert.equal(problems.length, 1, 'once, not at every token');
        assert.match(problems[0].message, /certificate [0-9A-F]{40} expires on .*Certificates & secrets/);
        assert.equal(
          (problems[0] as MailError).messageKey,
          'warnings.certificateExpiring',
          "said in the user's language by the config node",
        );
      } finally {
        await connection.close(0);
      }
    });
  });
});
