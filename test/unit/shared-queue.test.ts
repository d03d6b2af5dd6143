// The outbox on Redis, with Connections as config nodes own them: a real redis-server of the test's
// own, a real SMTP server on loopback, and (for the limits) the Exchange-shaped server with a real
// token endpoint. Two Connections with the same name are two Node-RED instances of the same flows.
import assert from 'node:assert/strict';
import type Mail from 'nodemailer/lib/mailer';
import { Connection, type Outcome, type SendError } from '../../src/lib/connection';
import type { ConnectionConfig, ConnectionCredentials } from '../../src/lib/config/transport-options';
import type { MailRecord } from '../../src/lib/delivery/store';
import type { MailError } from '../../src/lib/errors/errors';
import { delivered } from '../support/connection';
import { startRedis, type RedisServer } from '../support/redis';
import { startExchange, type ExchangeServer } from '../support/exchange';
import { startScriptedSmtp, type ScriptedSmtp } from '../support/smtp';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';

const mail = (subject: string, extra: Mail.Options = {}): Mail.Options => ({
  from: 'sender@example.com',
  to: 'to@example.com',
  subject,
  text: `body of ${subject}`,
  ...extra,
});

const settled = <T>(p: Promise<T>): Promise<{ value: T } | { error: SendError }> =>
  p.then(
    (value) => ({ value }),
    (error: SendError) => ({ error }),
  );

/** The keys the shared outbox left in Redis besides BullMQ's own bookkeeping. */
async function leftovers(conn: Connection): Promise<string[]> {
  const client = (conn.shared as unknown as { link: { commands: import('ioredis').Redis } }).link.commands;
  const keys = await client.keys('smtp-outbox:*:message:*');
  return keys;
}

describe('shared outbox (Redis)', function () {
  this.timeout(60000);
  let redis: RedisServer;
  let smtp: ScriptedSmtp;
  const open: Connection[] = [];
  let name = 0;
  let current = '';

  before(async function () {
    redis = await startRedis({ password: 'redis-secret-7' });
    smtp = await startScriptedSmtp({ auth: false });
  });
  after(async function () {
    await smtp.close();
    await redis.close();
  });
  beforeEach(function () {
    smtp.reset();
    current = `conn-${++name}`;
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((c) => c.close(1000)));
  });

  const config = (extra: ConnectionConfig = {}): ConnectionConfig => ({
    host: '127.0.0.1',
    port: smtp.port,
    security: 'none',
    authType: 'none',
    outbox: 'redis',
    ...extra,
  });

  /** One instance of the connection `current`, started as a config node starts it once the flows run. */
  function instance(
    extra: ConnectionConfig = {},
    options: {
      reports?: { record: MailRecord; outcome: Outcome }[];
      url?: string;
      maxBytes?: number;
      errors?: Error[];
      worker?: boolean;
      creds?: ConnectionCredentials;
      rateWindowMs?: number;
    } = {},
  ) {
    const conn = new Connection(config(extra), options.creds ?? { user: 'sender@example.com' }, {
      rateWindowMs: options.rateWindowMs,
      shared: { name: current, url: options.url ?? redis.url, maxBytes: options.maxBytes ?? 50 * 1024 * 1024, lockMs: 2000 },
      retry: { baseMs: 50, maxMs: 200 },
      report: (record, outcome) => options.reports?.push({ record, outcome }),
      onError: (err) => options.errors?.push(err),
    });
    if (options.worker !== false) conn.shared!.resume();
    open.push(conn);
    return conn;
  }

  it('sends a mail and answers its msg with the result; nothing of it stays in Redis', async function () {
    const conn = instance();
    const info = await delivered(conn.send(mail('hello'), false, undefined, undefined, { node: 'send-1', msg: { topic: 't' } }));
    assert.equal(info.attempts, 1);
    assert.deepEqual(info.accepted, ['to@example.com']);
    assert.match(info.response, /^250 /);
    const [received] = await smtp.waitForMessages(1);
    assert.equal(received.parsed.subject, 'hello');
    assert.equal(received.parsed.messageId, info.messageId);
    assert.deepEqual(await leftovers(conn), []);
    // The job itself goes once BullMQ has recorded the end the msg already heard.
    await waitFor(async () => (await conn.shared!.list()).length === 0);
  });

  it('retries a 4xx with backoff (the same Message-ID), and gives a 5xx to the msg at once with its hint', async function () {
    const conn = instance({ retryForSeconds: 30 });
    smtp.refuse = ['451 4.7.1 Greylisted, try again later'];
    const info = await delivered(conn.send(mail('greylisted')));
    assert.equal(info.attempts, 2);
    assert.deepEqual(smtp.seen, [info.messageId, info.messageId]);
    smtp.refuse = ['550 5.1.1 User unknown'];
    const failed = await settled(conn.send(mail('unknown')));
    assert.ok('error' in failed);
    assert.equal(failed.error.responseCode, 550);
    assert.equal(failed.error.attempts, 1);
    assert.match(failed.error.message, /User unknown/);
  });

  it('an instance whose flows have not started yet has its mails sent by another, and its msgs answered where they wait', async function () {
    const a = instance({}, { worker: false });
    const b = instance();
    const sends = [];
    for (let i = 0; i < 20; i++) sends.push(delivered((i % 2 ? a : b).send(mail(`m${i}`))));
    const infos = await Promise.all(sends);
    assert.equal(new Set(infos.map((i) => i.messageId)).size, 20);
    const received = await smtp.waitForMessages(20);
    assert.deepEqual(received.map((m) => m.parsed.subject).sort(), Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
  });

  it('refuses a mail with EOUTBOX naming the Redis host, never its password, when Redis does not answer', async function () {
    const errors: Error[] = [];
    const conn = instance({}, { url: 'redis://:redis-secret-7@127.0.0.1:1', errors });
    const failed = await settled(conn.send(mail('nowhere')));
    assert.ok('error' in failed);
    assert.equal(failed.error.code, 'EOUTBOX');
    assert.equal(failed.error.attempts, 0);
    assert.match(failed.error.message, /127\.0\.0\.1:1/);
    assert.match(failed.error.hint!, /Redis URL/);
    assert.doesNotMatch(
      JSON.stringify([failed.error, failed.error.message, failed.error.hint, errors.map((e) => e.message)]),
      /redis-secret-7/,
    );
    assert.equal(smtp.messages.length, 0);
  });

  it('caps the bytes in Redis: a mail beyond the cap fails with EOUTBOX, the mails before it are sent', async function () {
    const conn = instance({ retryForSeconds: 60 }, { maxBytes: 40 * 1024 });
    const big = 'x'.repeat(30 * 1024);
    smtp.refuse = ['451 4.3.0 Try later'];
    const first = conn.send(mail('first', { text: big }));
    await waitFor(async () => smtp.seen.length === 1);
    const second = await settled(conn.send(mail('second', { text: big })));
    assert.ok('error' in second);
    assert.equal((second.error as MailError).code, 'EOUTBOX');
    assert.match(second.error.message, /full/);
    await delivered(first);
  });

  it('lists every instance’s waiting mails (To, never Bcc), and Delete ends one as a failure of its msg', async function () {
    const a = instance({ retryForSeconds: 60 });
    const b = instance({ retryForSeconds: 60 });
    smtp.refuse = Array.from({ length: 50 }, () => '451 4.3.0 Try later');
    const waiting = settled(a.send(mail('waits', { bcc: 'hidden@secret.example' })));
    await waitFor(async () => (await b.shared!.list()).some((e) => e.attempts >= 1));
    const [entry] = await b.shared!.list();
    assert.equal(entry.subject, 'waits');
    assert.equal(entry.to, 'to@example.com');
    assert.doesNotMatch(JSON.stringify(entry), /hidden/);
    assert.equal(entry.lastError?.responseCode, 451);
    await waitFor(async () => (await b.shared!.remove(entry.id)) === 1);
    const outcome = await waiting;
    assert.ok('error' in outcome);
    assert.match(outcome.error.message, /deleted from the outbox/);
    assert.deepEqual(await leftovers(a), []);
  });

  it("reports the outcome in the instance that ended the mail when the msg's instance is gone (closed, its msg handed over)", async function () {
    const reportsA: { record: MailRecord; outcome: Outcome }[] = [];
    const reportsB: { record: MailRecord; outcome: Outcome }[] = [];
    const a = instance({}, { worker: false, reports: reportsA });
    const sending = a.send(mail('handed over'), false, undefined, undefined, { node: 'send-1', msg: { topic: 'invoice 7' } });
    await waitFor(async () => (await a.shared!.list()).length === 1);
    await a.close(1000);
    assert.deepEqual(await sending, { handedOver: true });
    const b = instance({}, { reports: reportsB });
    await smtp.waitForMessages(1);
    await waitFor(async () => reportsB.length === 1);
    const [{ record, outcome }] = reportsB;
    assert.equal(record.node, 'send-1');
    assert.deepEqual(record.msg, { topic: 'invoice 7' });
    assert.ok('info' in outcome);
    assert.equal(outcome.info.messageId, smtp.messages[0].parsed.messageId);
    assert.equal(reportsA.length, 0);
    assert.ok(b);
  });

  it('loses no accepted mail when Redis stops and starts again mid-burst; mails it could not take fail with EOUTBOX', async function () {
    const conn = instance();
    const sends: Promise<{ value: unknown } | { error: SendError }>[] = [];
    for (let i = 0; i < 20; i++) sends.push(settled(conn.send(mail(`before ${i}`))));
    await smtp.waitForMessages(5);
    await redis.stop();
    const refused = await settled(conn.send(mail('while away')));
    assert.ok('error' in refused);
    assert.equal(refused.error.code, 'EOUTBOX');
    await redis.start();
    for (let i = 0; i < 10; i++) sends.push(settled(conn.send(mail(`after ${i}`))));
    const outcomes = await Promise.all(sends);
    const sent = outcomes.filter((o) => 'value' in o).length;
    const refusedToo = outcomes.filter((o) => 'error' in o);
    for (const o of refusedToo)
      assert.equal((o as { error: SendError }).error.code, 'EOUTBOX', 'only refusals of Redis, never a lost mail');
    await waitFor(async () => new Set(smtp.messages.map((m) => m.parsed.messageId)).size >= sent);
    assert.equal(new Set(smtp.messages.map((m) => m.parsed.messageId)).size, sent, 'every accepted mail delivered');
    assert.ok(sent >= 10, `${sent} sent`);
  });

  it('an instance whose flows start while Redis is away delivers once Redis is back, having said so once', async function () {
    const errors: Error[] = [];
    await redis.stop();
    try {
      const sender = instance({}, { worker: false });
      instance({}, { errors });
      await waitFor(async () => errors.length > 0);
      await redis.start();
      // Only the instance that started while Redis was away runs a worker: it has started it since.
      await delivered(sender.send(mail('after the outage')));
      assert.deepEqual(
        errors.map((e) => (e as MailError).code),
        ['EOUTBOX'],
      );
    } finally {
      await redis.start();
    }
  });

  it('keeps one rate limit for every instance: two instances together never send faster than it allows', async function () {
    // 20 a window of 2 s: one mail every 100 ms, whichever instance sends it.
    const a = instance({ rateLimitPerMinute: 20 }, { rateWindowMs: 2000 });
    const b = instance({ rateLimitPerMinute: 20 }, { rateWindowMs: 2000 });
    const sends = [];
    for (let i = 0; i < 30; i++) sends.push(delivered((i % 2 ? a : b).send(mail(`paced ${i}`))));
    await Promise.all(sends);
    const times = smtp.messages.map((m) => m.at).sort((x, y) => x - y);
    assert.equal(times.length, 30);
    // In any 2 s: at most 20, and one more whose turn came at the window's very edge.
    for (const start of times) assert.ok(times.filter((t) => t >= start && t < start + 2000).length <= 21, `the 2 s from ${start}`);
    assert.ok(times[29] - times[0] >= 28 * 100, 'evenly paced: 30 mails span at least 28 intervals');
  });

  describe('against an Exchange-shaped server (3 sessions per mailbox, 432 beyond)', function () {
    const MAILBOX = 'mailbox@contoso.example';
    let idp: TokenEndpoint;
    let exchange: ExchangeServer;
    before(async function () {
      idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'cs-1' });
      exchange = await startExchange({ tokens: (user, token) => user === MAILBOX && idp.state.issued.includes(token) });
    });
    after(async function () {
      await exchange.close();
      await idp.close();
    });
    const oauth = (): ConnectionConfig => ({
      port: exchange.port,
      authType: 'oauth2-client-credentials',
      tokenUrl: idp.url,
      scope: 'https://outlook.office365.com/.default',
      maxConnections: 3,
    });
    const creds = { user: MAILBOX, clientId: 'app-1', clientSecret: 'cs-1' };

    it('two instances, 60 mails into each at once: all 120 delivered exactly once, never more than 3 sessions, no 432', async function () {
      const a = instance(oauth(), { creds });
      const b = instance(oauth(), { creds });
      const sends = [];
      for (let i = 0; i < 60; i++) {
        sends.push(delivered(a.send(mail(`a${i}`, { from: MAILBOX }))));
        sends.push(delivered(b.send(mail(`b${i}`, { from: MAILBOX }))));
      }
      const infos = await Promise.all(sends);
      const received = await exchange.waitForMessages(120);
      assert.equal(received.length, 120);
      assert.deepEqual(new Set(received.map((m) => m.parsed.messageId)), new Set(infos.map((i) => i.messageId)), 'each exactly once');
      assert.equal(exchange.stats.refusals, 0);
      assert.ok(exchange.stats.peakSessions <= 3, `peak sessions ${exchange.stats.peakSessions}`);
    });

    it('a server that allows fewer sessions (another client holds one) lowers the limit for every instance, and every mail arrives', async function () {
      const errors: Error[] = [];
      exchange.occupy(MAILBOX, 1);
      try {
        const a = instance(oauth(), { creds, errors });
        const b = instance(oauth(), { creds, errors });
        // The server holds its answers: every session stays busy, so the instances take a third lease and meet the limit.
        exchange.switches.holdAnswers = true;
        const sends = [];
        for (let i = 0; i < 20; i++) sends.push(delivered((i % 2 ? a : b).send(mail(`c${i}`, { from: MAILBOX }))));
        await exchange.waitForRefusals(1);
        exchange.letGo();
        await Promise.all(sends);
        assert.equal(new Set(exchange.messages.map((m) => m.parsed.subject).filter((t) => /^c\d+$/.test(t ?? ''))).size, 20);
        assert.ok(
          errors.some((e) => /at most 2/.test(e.message)),
          errors.map((e) => e.message).join('\n'),
        );
      } finally {
        exchange.release(MAILBOX);
      }
    });

    it('paced mails share one login: an idle session waits as long as the pace, and a closing instance gives its sessions back at once', async function () {
      exchange.stats.auths = 0;
      // 600 a minute: one mail every 100 ms.
      const a = instance({ ...oauth(), rateLimitPerMinute: 600 }, { creds });
      await delivered(a.send(mail('first', { from: MAILBOX })));
      const sends = [];
      for (let i = 0; i < 8; i++) sends.push(delivered(a.send(mail(`p${i}`, { from: MAILBOX }))));
      await Promise.all(sends);
      assert.equal(exchange.stats.auths, 1, 'one login for the first mail and the 8 paced after it');
      const client = (a.shared as unknown as { link: { commands: import('ioredis').Redis } }).link.commands;
      assert.equal((await client.keys(`smtp-outbox:${current}:lease:*`)).length, 1, 'its session holds one lease');
      const other = instance(oauth(), { creds });
      await a.close(1000);
      assert.deepEqual(
        await (other.shared as unknown as { link: { commands: import('ioredis').Redis } }).link.commands.keys(
          `smtp-outbox:${current}:lease:*`,
        ),
        [],
      );
    });
  });
});

/** Polls a condition a bounded number of times (Redis state has no event to await). */
async function waitFor(condition: () => Promise<boolean>, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met');
}
