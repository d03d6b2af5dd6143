// Real providers' limits: transient answers and broken connections are retried with backoff until
// retryForSeconds, permanent ones fail at once, the pool follows the server's connection limit,
// and nothing is lost. Servers and the token endpoint are real, on loopback; backoff runs on an
// injected clock, so waits of seconds take no time and no test reads the wall clock.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { ParsedMail } from 'mailparser';
import type { NodeStatus } from 'node-red';
import { startSmtp, smtpError, type SmtpServer } from './support/smtp';
import { delivered } from './support/connection';
import { startExchange, answer, type ExchangeServer } from './support/exchange';
import { startTokenEndpoint } from './support/token-endpoint';
import { fakeClock } from './support/clock';
import { helper, deploy, next, instantBackoff, type Deployed, type Msg } from './support/flow';
import { Connection } from '../src/lib/connection';
import { POOL_REGROW_MS } from '../src/lib/transports/smtp';
import type { MailError } from '../src/lib/errors/errors';
import type { RetryTiming } from '../src/lib/delivery/retry';

const MAILBOX = 'mailbox@contoso.example';
const basic = { user: 'sender@example.com', password: 'pw-1' };

/** Makes the config node use this backoff timing (settings.js key read by the connection). */
function useBackoff(timing: RetryTiming) {
  helper.settings({ smtpOauthConfigRetryTiming: timing });
}

/** How a msg ended: passed on (with its result), or reported as an error. */
interface Ended {
  kind: 'sent' | 'caught';
  msg: Msg;
  err?: MailError;
}

/**
 * Collects how each msg ended, by _msgid: passed on (with its result) or reported as an error.
 * It watches the send node itself rather than the test helper's spies, which a redeploy removes
 * before the nodes close.
 */
function collect(nodes: Deployed, count: number): Promise<Ended[]> {
  const seen = new Map<string, Ended>();
  return new Promise((resolve, reject) => {
    const record = (kind: Ended['kind'], msg: Msg, err?: MailError) => {
      if (seen.has(msg._msgid)) return reject(new Error(`msg ${msg._msgid} ended twice`));
      seen.set(msg._msgid, { kind, msg, err });
      if (seen.size === count) resolve([...seen.values()]);
    };
    const node: { send(msg: Msg): void; error(err: MailError, msg?: Msg): void } = nodes.send;
    const { send, error } = node;
    node.send = function (...args) {
      record('sent', args[0]);
      return send.apply(this, args);
    };
    node.error = function (...args) {
      const [err, msg] = args;
      if (msg) record('caught', msg, err);
      return error.apply(this, args);
    };
  });
}

/** Resolves with the first status the send node shows that matches. */
function statusMatching(nodes: Deployed, match: (status: NodeStatus) => boolean): Promise<NodeStatus> {
  return new Promise((resolve) => nodes.send.on('call:status', (c) => match(c.args[0]) && resolve(c.args[0])));
}

describe('provider limits', function () {
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    helper.settings({});
    await helper.unload();
    await helper.stopServer();
  });

  describe('an Exchange-shaped server (3 sessions per mailbox, 432 beyond)', function () {
    let idp: Awaited<ReturnType<typeof startTokenEndpoint>>;
    let exchange: ExchangeServer;
    before(async function () {
      idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-1' });
      exchange = await startExchange({ tokens: (user, token) => user === MAILBOX && idp.state.issued.includes(token) });
    });
    after(async function () {
      await exchange.close();
      await idp.close();
    });
    beforeEach(function () {
      idp.state.requests.length = 0;
      exchange.messages.length = 0;
      Object.assign(exchange.stats, { peakConnections: 0, peakSessions: 0, refusals: 0, auths: 0 });
      Object.assign(exchange.switches, { quotaExceeded: false, mailboxFull: false });
      exchange.release(MAILBOX);
    });
    const oauth = (connection = {}) => ({
      port: exchange.port,
      authType: 'oauth2-client-credentials',
      tokenUrl: idp.url,
      scope: 'https://outlook.office365.com/.default',
      ...connection,
    });
    const creds = { user: MAILBOX, clientId: 'app-1', clientSecret: 'cs-1' };

    it('delivers a burst of 30 at the connection defaults (pool 5): all 30, no error, at most 3 sessions, one token', async function () {
      // The defaults: pool 5, retries for 600 s with the real backoff; the pool learns the limit
      // from the first refusals and the refused mails go out at once over the accepted connections.
      const nodes = await deploy({ connection: oauth(), credentials: creds, send: { storeResult: 'msg' } });
      const ended = collect(nodes, 30);
      for (let i = 0; i < 30; i++) nodes.send.receive({ payload: i });
      const outcomes = await ended;
      assert.deepEqual(
        outcomes.filter((o) => o.kind !== 'sent').map((o) => o.err && o.err.message),
        [],
      );
      assert.equal(exchange.messages.length, 30);
      assert.equal(new Set(exchange.messages.map((m) => m.parsed.messageId)).size, 30);
      assert.ok(exchange.stats.peakSessions <= 3, `sessions at once: ${exchange.stats.peakSessions}`);
      assert.ok(
        exchange.stats.refusals >= 1 && exchange.stats.refusals <= 2,
        `432 answers: ${exchange.stats.refusals} (at most the 2 connections beyond 3)`,
      );
      assert.equal(idp.state.requests.length, 1, 'a 432 costs no token request');
      const attempts = outcomes.map((o) => o.msg.emailResult.attempts);
      assert.equal(attempts.filter((a) => a === 2).length, exchange.stats.refusals, 'each refused mail was sent on its second attempt');
      assert.equal(nodes.config.connection().poolSize, 3, 'the pool follows the server');
      assert.ok(
        nodes.config.warn.args.some((a) => /now opens at most 3/.test(String(a[0]))),
        'the config node says why',
      );
    });

    it('waits with backoff while another client holds the mailbox’s 3 sessions, then delivers, with no second token', async function () {
      const clock = instantBackoff();
      exchange.occupy(MAILBOX, 3);
      const nodes = await deploy({ connection: oauth(), credentials: creds, send: { storeResult: 'msg' } });
      const retrying = statusMatching(nodes, (s) => s.fill === 'yellow');
      const passed = next(nodes.out);
      // The other client goes away while this send waits for its first retry.
      let waitingThen: number | undefined;
      clock.nextTimer().then(() => {
        waitingThen = nodes.config.connection().retrying;
        exchange.release(MAILBOX);
      });
      nodes.send.receive({});
      const status = await retrying;
      // The test runtime shows message keys: "retry 1: EAUTH" in English.
      assert.deepEqual([status.shape, status.text], ['ring', 'send-smtp-email.status.retry']);
      assert.equal(waitingThen, 1);
      const { emailResult } = await passed;
      assert.equal(emailResult.success, true);
      assert.equal(emailResult.attempts, 2);
      assert.equal(exchange.messages.length, 1);
      assert.equal(exchange.stats.refusals, 1);
      assert.equal(idp.state.requests.length, 1, 'the token was kept: a 432 is no token refusal');
      assert.deepEqual(clock.delays, [1000]);
    });

    it('grows the pool back, one connection per 10 quiet minutes, once another client’s sessions are gone', async function () {
      const clock = fakeClock(); // moves only when told: 10 minutes pass in a step
      useBackoff({ now: clock.now, timers: clock, random: () => 0.5 });
      const tenMinutesPass = () => {
        clock.set(() => {}, POOL_REGROW_MS);
        clock.step();
      };
      exchange.occupy(MAILBOX, 2);
      const nodes = await deploy({ connection: oauth({ maxConnections: '3' }), credentials: creds, send: { storeResult: 'msg' } });
      const sendOne = async () => {
        const ended = collect(nodes, 1);
        nodes.send.receive({});
        const [{ kind, msg }] = await ended;
        assert.deepEqual([kind, msg.emailResult.success], ['sent', true]);
        return nodes.config.connection().poolSize;
      };
      const burst = collect(nodes, 3);
      for (let i = 0; i < 3; i++) nodes.send.receive({ payload: i });
      assert.deepEqual(
        (await burst).map((o) => o.kind),
        ['sent', 'sent', 'sent'],
      );
      assert.equal(nodes.config.connection().poolSize, 1, 'the other client holds 2 of the 3 sessions');
      const refused = exchange.stats.refusals;
      assert.ok(refused >= 1);
      const poolWarnings = () => nodes.config.warn.args.filter((a) => /now opens at most/.test(String(a[0]))).length;
      const warned = poolWarnings();
      assert.ok(warned >= 1);

      exchange.release(MAILBOX);
      assert.equal(await sendOne(), 1, 'not at once: the limit may still hold');
      tenMinutesPass();
      assert.equal(await sendOne(), 2);
      assert.equal(await sendOne(), 2, 'one connection per 10 minutes');
      tenMinutesPass();
      assert.equal(await sendOne(), 3);
      tenMinutesPass();
      assert.equal(await sendOne(), 3, "never beyond the connection's own size");
      assert.equal(exchange.stats.refusals, refused, 'no more 432 once the other client was gone');
      assert.equal(exchange.messages.length, 8);

      // The other client is back: the pool goes down at once, and the log is not told again. The
      // server answers slowly, so that the burst needs connections beyond the idle one.
      exchange.occupy(MAILBOX, 2);
      exchange.switches.holdAnswers = true;
      const again = collect(nodes, 3);
      for (let i = 0; i < 3; i++) nodes.send.receive({ payload: i });
      await exchange.waitForRefusals(refused + 1);
      exchange.letGo();
      assert.deepEqual(
        (await again).map((o) => o.kind),
        ['sent', 'sent', 'sent'],
      );
      assert.equal(nodes.config.connection().poolSize, 1);
      assert.ok(exchange.stats.refusals > refused);
      assert.equal(poolWarnings(), warned, 'a size the log was told about already');
    });

    for (const [name, setup, send, hint] of [
      ['a custom From without Send As (554 5.2.252)', () => {}, { from: 'other@contoso.example' }, /may not send as this From address/],
      [
        'the recipient quota (554 5.2.0 SubmissionQuotaExceeded)',
        () => (exchange.switches.quotaExceeded = true),
        {},
        /10,000 recipients in a rolling 24 hours/,
      ],
      ['a full mailbox (554 5.2.2)', () => (exchange.switches.mailboxFull = true), {}, /mailbox is full .*Sent Items/],
    ] as const) {
      it(`fails at once, after one attempt, on ${name}`, async function () {
        setup();
        const nodes = await deploy({ connection: oauth(), credentials: creds, send: { stopOnError: false, storeResult: 'msg', ...send } });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.success, false);
        assert.equal(emailResult.attempts, 1);
        assert.equal(emailResult.error.responseCode, 554);
        assert.match(emailResult.error.hint, hint);
        assert.doesNotMatch(emailResult.error.hint, /SendAsApp/);
        assert.equal(exchange.stats.auths, 1, 'nothing was tried again');
      });
    }

    it('Test connection says the server is busy when the mailbox has no session left', async function () {
      exchange.occupy(MAILBOX, 3);
      const res = await helper
        .request()
        .post('/smtp-oauth-config/test')
        .send({ host: '127.0.0.1', security: 'none', ...oauth(), credentials: creds });
      assert.equal(res.body.ok, false);
      assert.equal(res.body.error.responseCode, 432);
      assert.match(
        res.body.error.hint,
        /^The server is busy: 432 4\.3\.2 Concurrent connections limit exceeded\. .*; retry later\. Microsoft 365 allows 3 connections per mailbox; lower Pool size to 3\.$/,
      );
      assert.equal(idp.state.requests.length, 1);
    });
  });

  describe('transient answers', function () {
    it('delivers through Gmail’s 421 4.7.0 to the first two connections: attempts 3, one mail', async function () {
      const clock = instantBackoff();
      let connections = 0;
      const gmail = await startSmtp({
        users: { 'sender@example.com': 'pw-1' },
        onConnect: () => (++connections <= 2 ? smtpError(answer('421 4.7.0 Try again later')) : undefined),
      });
      try {
        const nodes = await deploy({ connection: { port: gmail.port }, credentials: basic, send: { storeResult: 'msg' } });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.success, true);
        assert.equal(emailResult.attempts, 3);
        assert.equal(gmail.messages.length, 1);
        assert.equal(connections, 3);
        assert.deepEqual(clock.delays, [1000, 2000], 'backed off: the server said "try again later"');
      } finally {
        await helper.unload();
        await gmail.close();
      }
    });

    it('delivers through 451 4.3.0 at DATA twice: one mail, attempts 3, every attempt with the same Message-ID', async function () {
      instantBackoff();
      const seenIds: (string | undefined)[] = [];
      const smtp = await startSmtp({
        users: { 'sender@example.com': 'pw-1' },
        onData: (parsed) => (seenIds.push(parsed.messageId), seenIds.length <= 2 ? smtpError(answer('451 4.3.0')) : undefined),
      });
      try {
        const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send: { storeResult: 'msg' } });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.attempts, 3);
        assert.equal(smtp.messages.length, 1);
        assert.equal(seenIds.length, 3);
        assert.equal(new Set(seenIds).size, 1, `one Message-ID for all attempts: ${seenIds}`);
        assert.equal(emailResult.messageId, seenIds[0]);
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('resends with the same Message-ID when the connection is lost after the final dot with no reply', async function () {
      instantBackoff();
      const arrivals: (string | undefined)[] = [];
      const smtp: SmtpServer = await startSmtp({
        users: { 'sender@example.com': 'pw-1' },
        onData: (parsed, session) => {
          arrivals.push(parsed.messageId);
          if (arrivals.length > 1) return undefined;
          // The whole message arrived; the server goes away before it answers.
          for (const c of smtp.server.connections) if (c.session.id === session.id) c._socket.destroy();
          return undefined;
        },
      });
      try {
        const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send: { storeResult: 'msg' } });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.success, true);
        assert.equal(emailResult.attempts, 2);
        assert.equal(arrivals.length, 2);
        assert.equal(arrivals[0], arrivals[1], 'the receiving side can drop the copy by its Message-ID');
        assert.equal(emailResult.messageId, arrivals[0]);
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('delivers when the server is down for a moment and back on the same port', async function () {
      const clock = fakeClock();
      useBackoff({ now: clock.now, timers: clock, random: () => 0.5 });
      const probe = net.createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise((r) => probe.close(r));
      const nodes = await deploy({ connection: { port }, credentials: basic, send: { storeResult: 'msg' } });
      const passed = next(nodes.out);
      const retrying = statusMatching(nodes, (s) => s.fill === 'yellow');
      nodes.send.receive({});
      // The first attempt met a closed port: the send waits for its retry. Bring the server back,
      // then let the backoff run out.
      await retrying;
      const back = await startSmtp({ port, users: { 'sender@example.com': 'pw-1' } });
      try {
        assert.equal(clock.pending(), 1);
        clock.step();
        const { emailResult } = await passed;
        assert.equal(emailResult.success, true);
        assert.equal(emailResult.attempts, 2);
        assert.equal(back.messages.length, 1);
      } finally {
        await helper.unload();
        await back.close();
      }
    });

    it('waits as long as a busy token endpoint asks (429, Retry-After), then sends with the new token', async function () {
      const clock = instantBackoff();
      const idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-1' });
      const smtp = await startSmtp({ tokens: (_user, token) => idp.state.issued.includes(token) });
      try {
        idp.answerNext(
          429,
          { error: 'temporarily_unavailable', error_description: 'AADSTS50196: too many requests' },
          { 'Retry-After': '30' },
        );
        const nodes = await deploy({
          connection: { port: smtp.port, authType: 'oauth2-client-credentials', tokenUrl: idp.url, scope: 'x/.default' },
          credentials: { user: MAILBOX, clientId: 'app-1', clientSecret: 'cs-1' },
          send: { storeResult: 'msg' },
        });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.attempts, 2);
        assert.deepEqual(clock.delays, [30000]);
        assert.equal(idp.state.requests.length, 2);
        assert.equal(smtp.messages.length, 1);
      } finally {
        await helper.unload();
        await smtp.close();
        await idp.close();
      }
    });
  });

  describe('permanent answers and the deadline', function () {
    let smtp: SmtpServer;
    let refuseData: (parsed: ParsedMail) => Error | undefined;
    before(
      async () =>
        (smtp = await startSmtp({
          users: { 'sender@example.com': 'pw-1' },
          onRcpt: (a) => (/^nobody@/.test(a.address) ? smtpError('550 5.1.1 User unknown') : undefined),
          onData: (parsed) => refuseData(parsed),
        })),
    );
    after(() => smtp.close());
    beforeEach(() => {
      smtp.messages.length = 0;
      smtp.authAttempts.length = 0;
      refuseData = () => undefined;
    });

    it('fails an unknown recipient (550 5.1.1) at once: one attempt, its hint', async function () {
      const clock = instantBackoff();
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'nobody@example.com', stopOnError: false, storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.attempts, 1);
      assert.equal(emailResult.error.code, 'EENVELOPE');
      assert.equal(emailResult.error.responseCode, 550);
      assert.match(emailResult.error.hint, /refused the sender or all recipients/);
      assert.doesNotMatch(emailResult.error.message, /gave up/);
      assert.deepEqual(clock.delays, []);
    });

    it('gives up at the deadline, naming the attempts and the last error with its hint', async function () {
      const clock = instantBackoff();
      let tries = 0;
      refuseData = () => (tries++, smtpError(answer('451 4.3.0')));
      const nodes = await deploy({
        connection: { port: smtp.port, retryForSeconds: '10' },
        credentials: basic,
        send: { stopOnError: false, storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      // 0 s, 1 s, 3 s, 7 s, and the last one at the deadline (10 s).
      assert.deepEqual(clock.delays, [1000, 2000, 4000, 3000]);
      assert.equal(emailResult.attempts, 5);
      assert.equal(tries, 5);
      assert.equal(emailResult.error.code, 'EMESSAGE');
      assert.equal(emailResult.error.responseCode, 451);
      assert.match(emailResult.error.message, /451 4\.3\.0 Error: queue file write error \(gave up after 5 attempts in 10 s\)$/);
      assert.match(emailResult.error.hint, /could not store the message/);
    });

    it('never retries with retryForSeconds 0', async function () {
      let tries = 0;
      refuseData = () => (tries++, smtpError(answer('451 4.3.0')));
      const nodes = await deploy({
        connection: { port: smtp.port, retryForSeconds: '0' },
        credentials: basic,
        send: { stopOnError: false, storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.attempts, 1);
      assert.equal(tries, 1);
      assert.doesNotMatch(emailResult.error.message, /gave up/);
      assert.equal(
        emailResult.error.hint,
        "The server could not store the message (a disk, queue or processing error on its side); if it persists, the server's admin must check its logs.",
      );
    });

    it('finishes every msg exactly once when the flow is redeployed while mails wait for a retry (outbox in memory)', async function () {
      const clock = fakeClock(); // never moves: the waits would last for ever
      useBackoff({ now: clock.now, timers: clock });
      refuseData = (parsed) => (/^retry/.test(String(parsed.subject)) ? smtpError(answer('451 4.3.0')) : undefined);
      // In memory the waiting mails cannot outlive the flow: they fail (outbox.test.ts has the disk outbox keep them).
      const nodes = await deploy({
        connection: { port: smtp.port, outbox: 'memory' },
        credentials: basic,
        send: { subject: 'topic', subjectType: 'msg' },
      });
      const ended = collect(nodes, 6);
      const waiting = statusMatching(nodes, (s) => /retry/.test(String(s.text)) && nodes.config.connection().retrying === 3);
      for (let i = 0; i < 6; i++) nodes.send.receive({ topic: i % 2 ? `retry ${i}` : `ok ${i}` });
      await waiting;
      await smtp.waitForMessages(3);
      await helper.unload();
      const outcomes = await ended;
      assert.deepEqual(outcomes.map((o) => o.kind).sort(), ['caught', 'caught', 'caught', 'sent', 'sent', 'sent']);
      for (const o of outcomes.filter((x) => x.kind === 'caught')) {
        assert.match(o.msg.topic!, /^retry/);
        assert.equal(o.err!.code, 'EMESSAGE');
        assert.match(o.err!.message, /not retried: the connection was closed \(redeploy or stop\) after 1 attempt/);
      }
      assert.equal(clock.pending(), 0, 'no backoff timer outlives the flow');
      assert.equal(smtp.messages.length, 3);
    });
  });

  describe('attachments streamed from a URL', function () {
    let smtp: SmtpServer;
    let web: http.Server;
    let base: string;
    let refuse: (step: 'mail' | 'data') => Error | undefined;
    before(async function () {
      smtp = await startSmtp({ users: { 'sender@example.com': 'pw-1' }, onMailFrom: () => refuse('mail'), onData: () => refuse('data') });
      web = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('attached text '.repeat(1000)));
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(web.address() as net.AddressInfo).port}`;
    });
    after(async function () {
      await smtp.close();
      await new Promise((r) => web.close(r));
    });

    it('keeps the download for the next attempt when the server refused before DATA', async function () {
      instantBackoff();
      let refused = 0;
      refuse = (step) => (step === 'mail' && refused++ === 0 ? smtpError('451 4.7.1 Greylisted, try again later') : undefined);
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { attachmentType: 'url', attachment: `${base}/notes.txt`, storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.attempts, 2);
      const [m] = await smtp.waitForMessages(1);
      assert.equal(m.parsed.attachments[0].filename, 'notes.txt');
      assert.equal(m.parsed.attachments[0].content.toString(), 'attached text '.repeat(1000));
    });

    it('sends the attachment whole after a refused token was renewed (a bare 535 before DATA)', async function () {
      const idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-1' });
      let first: string | undefined;
      const oauthSmtp = await startSmtp({ tokens: (_user, token) => (first ??= token) !== token && idp.state.issued.includes(token) });
      try {
        const nodes = await deploy({
          connection: { port: oauthSmtp.port, authType: 'oauth2-client-credentials', tokenUrl: idp.url, scope: 'x/.default' },
          credentials: { user: MAILBOX, clientId: 'app-1', clientSecret: 'cs-1' },
          send: { attachmentType: 'url', attachment: `${base}/notes.txt`, storeResult: 'msg' },
        });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.attempts, 1, 'a renewed token is part of the same attempt');
        assert.equal(idp.state.requests.length, 2);
        const [m] = await oauthSmtp.waitForMessages(1);
        assert.equal(m.parsed.attachments[0].content.toString(), 'attached text '.repeat(1000));
      } finally {
        await helper.unload();
        await oauthSmtp.close();
        await idp.close();
      }
    });

    it('outbox in memory: does not send a half attachment again: a refusal after DATA ends the send, saying why', async function () {
      instantBackoff();
      smtp.messages.length = 0;
      refuse = (step) => (step === 'data' ? smtpError(answer('451 4.3.0')) : undefined);
      const nodes = await deploy({
        connection: { port: smtp.port, outbox: 'memory' },
        credentials: basic,
        send: { attachmentType: 'url', attachment: `${base}/notes.txt`, stopOnError: false, storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.attempts, 1);
      assert.equal(emailResult.error.responseCode, 451);
      assert.match(emailResult.error.message, /not retried: an attachment streamed from a URL was already sent once/);
    });

    it('outbox on disk: a refusal after DATA is retried with the whole attachment, downloaded once', async function () {
      instantBackoff();
      smtp.messages.length = 0;
      let refused = 0;
      refuse = (step) => (step === 'data' && refused++ < 2 ? smtpError(answer('451 4.3.0')) : undefined);
      const downloads: (string | undefined)[] = [];
      const count = (req: http.IncomingMessage) => downloads.push(req.url);
      web.on('request', count);
      try {
        const nodes = await deploy({
          connection: { port: smtp.port },
          credentials: basic,
          send: { attachmentType: 'url', attachment: `${base}/notes.txt`, stopOnError: false, storeResult: 'msg' },
        });
        const passed = next(nodes.out);
        nodes.send.receive({});
        const { emailResult } = await passed;
        assert.equal(emailResult.success, true);
        assert.equal(emailResult.attempts, 3);
        const [m] = await smtp.waitForMessages(1);
        assert.equal(m.parsed.attachments[0].content.toString(), 'attached text '.repeat(1000));
        assert.equal(m.parsed.messageId, emailResult.messageId);
        assert.deepEqual(downloads, ['/notes.txt'], 'downloaded once, into the outbox');
      } finally {
        web.off('request', count);
      }
    });
  });
});

describe('backoff of a connection (injected clock)', function () {
  let smtp: SmtpServer;
  let refusals: number;
  before(
    async () =>
      (smtp = await startSmtp({
        auth: false,
        onData: () => (refusals-- > 0 ? smtpError('451 4.3.0 Error: queue file write error') : undefined),
      })),
  );
  after(() => smtp.close());

  it('waits 1 s, 2 s, 4 s between attempts and reports each wait', async function () {
    refusals = 3;
    const clock = fakeClock({ auto: true });
    const conn = new Connection(
      { host: '127.0.0.1', port: smtp.port, security: 'none', authType: 'none' },
      { user: 'sender@example.com' },
      { retry: { now: clock.now, timers: clock, random: () => 0.5 } },
    );
    const waits: boolean[] = [];
    const info = await delivered(
      conn.send({ from: 'sender@example.com', to: 'to@example.com', subject: 'x', text: 'x' }, false, undefined, (w) => waits.push(w)),
    );
    await conn.close();
    assert.equal(info.attempts, 4);
    assert.deepEqual(clock.delays, [1000, 2000, 4000]);
    assert.deepEqual(waits, [true, false, true, false, true, false]);
    assert.equal(conn.retrying, 0);
  });
});
