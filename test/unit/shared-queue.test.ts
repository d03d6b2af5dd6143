// The outbox on Redis, with Connections as config nodes own them: a real redis-server of the test's
// own, a real SMTP server on loopback, and (for the limits) the Exchange-shaped server with a real
// token endpoint. Two Connections with the same name are two Node-RED instances of the same flows.
import assert from 'node:assert/strict';
import type Mail from 'nodemailer/lib/mailer';
import { Connection, type Outcome, type SendError } from '../../src/lib/connection';
import type { ConnectionConfig } from '../../src/lib/config/transport-options';
import type { MailRecord } from '../../src/lib/delivery/store';
import type { MailError } from '../../src/lib/errors/errors';
import { delivered } from '../support/connection';
import { startRedis, type RedisServer } from '../support/redis';
import { startScriptedSmtp, type ScriptedSmtp } from '../support/smtp';

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
    } = {},
  ) {
    const conn = new Connection(
      config(extra),
      { user: 'sender@example.com' },
      {
        shared: { name: current, url: options.url ?? redis.url, maxBytes: options.maxBytes ?? 50 * 1024 * 1024, lockMs: 2000 },
        retry: { baseMs: 50, maxMs: 200 },
        report: (record, outcome) => options.reports?.push({ record, outcome }),
        onError: (err) => options.errors?.push(err),
      },
    );
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
    assert.deepEqual(await conn.shared!.list(), []);
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
});

/** Polls a condition a bounded number of times (Redis state has no event to await). */
async function waitFor(condition: () => Promise<boolean>, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met');
}
