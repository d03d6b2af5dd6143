// The shared outbox (outbox: redis) in real Node-RED: a msg answered with the result, the Outbox
// tab's list and Delete on the shared queue, a redeploy that hands a waiting msg over, and a Redis
// that does not answer: EOUTBOX to Catch with the host in the hint and the password nowhere. A
// redis-server of the test's own, a real SMTP server on loopback.
import assert from 'node:assert/strict';
import { helper, deploy, next, outcome, whenStatus, type Deployed, type TestNode } from './support/flow';
import { startRedis, type RedisServer } from './support/redis';
import { startScriptedSmtp, type ScriptedSmtp } from './support/smtp';

const PASSWORD = 'redis-pw-5c1e9a';

/** Everything a node said or showed: log lines, warnings, errors and statuses. */
const said = (node: TestNode) =>
  JSON.stringify(
    ['log', 'warn', 'error', 'status'].map((k) =>
      (node as unknown as Record<string, { getCalls(): { args: unknown[] }[] }>)[k]?.getCalls().map((c) => c.args),
    ),
  );

describe('shared outbox (Redis) in Node-RED', function () {
  this.timeout(30000);
  let redis: RedisServer;
  let smtp: ScriptedSmtp;
  before(async function () {
    redis = await startRedis({ password: PASSWORD });
    smtp = await startScriptedSmtp({ auth: false });
  });
  after(async function () {
    await smtp.close();
    await redis.close();
  });
  beforeEach(async function () {
    smtp.reset();
    helper.settings({ smtpOauthConfigRetryTiming: { baseMs: 50, maxMs: 100 }, smtpOauthConfigRedisLockMs: 2000 });
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  const deployShared = (url = redis.url, connection = {}): Promise<Deployed> =>
    deploy({
      connection: { port: smtp.port, authType: 'none', outbox: 'redis', retryForSeconds: 60, ...connection },
      credentials: { user: 'sender@example.com', redisUrl: url },
      send: { storeResult: 'msg', resultKey: 'mail' },
    });

  it('sends a msg and passes it on with the result', async function () {
    const nodes = await deployShared();
    const ended = outcome(nodes);
    nodes.send.receive({ payload: 'hello', topic: 'greeting' });
    const { kind, msg } = await ended;
    assert.equal(kind, 'sent');
    const result = msg.mail as { messageId: string; accepted: string[]; attempts: number };
    assert.deepEqual(result.accepted, ['to@example.com']);
    assert.equal(result.attempts, 1);
    const [received] = await smtp.waitForMessages(1);
    assert.equal(received.parsed.messageId, result.messageId);
  });

  it('lists the waiting mail in the Outbox tab as a Redis outbox, and Delete ends its msg at Catch', async function () {
    smtp.refuse = Array.from({ length: 100 }, () => '451 4.3.0 Try again later');
    const nodes = await deployShared();
    nodes.send.receive({ payload: 'waits', subject: 'Invoice 7' });
    await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
    const listed = (await helper.request().get('/smtp-oauth-config/outbox').expect(200)).body as {
      id: string;
      outbox: string;
      mails: { id: string; subject: string; lastError: { responseCode: number } }[];
    }[];
    const conn = listed.find((c) => c.id === 'conn')!;
    assert.equal(conn.outbox, 'redis');
    assert.equal(conn.mails.length, 1);
    assert.equal(conn.mails[0].lastError.responseCode, 451);
    const caught = next(nodes.caught);
    const { body } = await helper.request().post('/smtp-oauth-config/outbox/conn/delete').send({ mail: conn.mails[0].id }).expect(200);
    assert.equal((body as { count: number }).count, 1);
    const msg = await caught;
    assert.equal(msg.error.code, 'EOUTBOX');
    assert.match(msg.error.message, /deleted from the outbox/);
  });

  it('a Redis that does not answer: the msg goes to Catch with EOUTBOX naming the host, and the password is nowhere', async function () {
    const nodes = await deployShared(`redis://:${PASSWORD}@127.0.0.1:1`);
    const caught = next(nodes.caught);
    nodes.send.receive({ payload: 'nowhere' });
    const msg = await caught;
    assert.equal(msg.error.code, 'EOUTBOX');
    // Catch nodes get the hint within the message.
    assert.match(msg.error.message, /Redis at 127\.0\.0\.1:1 did not answer.*Redis URL/s);
    assert.equal(smtp.messages.length, 0);
    assert.doesNotMatch(JSON.stringify(msg) + said(nodes.send) + said(nodes.config as unknown as TestNode), new RegExp(PASSWORD));
  });

  it('takes the Redis URL from the environment when the credential is ${REDIS_URL}', async function () {
    process.env.SMTP_TEST_REDIS_URL = redis.url;
    try {
      const nodes = await deployShared('${SMTP_TEST_REDIS_URL}');
      const ended = outcome(nodes);
      nodes.send.receive({ payload: 'from the environment' });
      assert.equal((await ended).kind, 'sent');
      await smtp.waitForMessages(1);
    } finally {
      delete process.env.SMTP_TEST_REDIS_URL;
    }
  });

  it('a Redis URL that is not one: the connection is invalid at deploy (ECONFIG), and a msg goes to Catch with it', async function () {
    const nodes = await deployShared(`http://:${PASSWORD}@127.0.0.1:6379`);
    const caught = next(nodes.caught);
    nodes.send.receive({ payload: 'x' });
    const msg = await caught;
    assert.equal(msg.error.code, 'ECONFIG');
    assert.match(msg.error.message, /redis:\/\//);
    assert.doesNotMatch(JSON.stringify(msg) + said(nodes.config as unknown as TestNode), new RegExp(PASSWORD));
  });
});
