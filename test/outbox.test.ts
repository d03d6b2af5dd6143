// The disk outbox in a running Node-RED (the test helper): what lands on disk and when it goes,
// a redeploy while mails wait, the outcome of mails sent after a redeploy, the Outbox tab's
// operations, and an outbox that is full or cannot be written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeMessage } from 'node-red';
import { startSmtp, smtpError, type SmtpOptions, type SmtpServer } from './support/smtp';
import { startTokenEndpoint } from './support/token-endpoint';
import { fakeClock } from './support/clock';
import {
  helper,
  deploy,
  next,
  currentUserDir,
  type ConfigNode,
  type EmailResult,
  type FlowNode,
  type Msg,
  type TestHelper,
  type TestNode,
  whenStatus,
} from './support/flow';
import { outboxDir, outboxFiles, reports } from './support/outbox';
import { Spool, storableMsg, type SpoolRecord } from '../src/lib/delivery/spool';
import { composeStream } from '../src/lib/message/compose';
import type { MailError } from '../src/lib/errors/errors';
import type { OutboxEntry } from '../src/lib/delivery/outcome';
import type { SentInfo } from '../src/lib/connection';

const basic = { user: 'sender@example.com', password: 'outbox-pw-1' };

/** An error a node reports: each carries a code and a hint that says what to fix (src/lib/errors.ts). */
type NodeError = MailError & { code: string; hint: string };

/** How a msg ended at a send node: done(), with or without an error. */
interface End {
  id: string;
  msg: Msg;
  err?: NodeError;
}

/** What watch() follows. */
interface Watch {
  ends: End[];
  outputs: Msg[];
  /** Resolves once `test()` holds, checked at each end and output. */
  until(test: () => boolean): Promise<void>;
}

/** The node's methods watch() wraps: Node-RED's done() of the node (Node#_complete, not in the types) and send. */
interface Completing {
  _complete(msg: Msg, err?: NodeError): void;
  send(msg: Msg): void;
}

/**
 * Follows how each msg ends at a send node: done() (with or without an error) and the msgs it
 * passes on. Works on the node itself, as the helper's spies are removed by a redeploy.
 */
function watch(sendNode: TestNode): Watch {
  const ends: End[] = [];
  const outputs: Msg[] = [];
  const waiters: { test: () => boolean; resolve: () => void }[] = [];
  const settle = () => {
    for (const w of [...waiters]) {
      if (w.test()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const node: Completing = sendNode as TestNode & Pick<Completing, '_complete'>;
  const complete = node._complete;
  node._complete = function (...args) {
    const [msg, err] = args;
    ends.push({ id: msg._msgid, msg, err });
    settle();
    return complete.apply(this, args);
  };
  const send = node.send;
  node.send = function (...args) {
    outputs.push(args[0]);
    settle();
    return send.apply(this, args);
  };
  return {
    ends,
    outputs,
    until(test) {
      if (test()) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}

/** An SMTP server whose answers can be held back (switch `hold`) and let go (release()). */
interface HoldingServer extends SmtpServer {
  hold: boolean;
  held: (() => void)[];
  release(): void;
}

/** An SMTP server whose answers can be held back (switch `hold`), as a slow server's. */
async function holdingServer(options: SmtpOptions = {}): Promise<HoldingServer> {
  const held: (() => void)[] = [];
  const server = (await startSmtp({
    users: { [basic.user]: basic.password },
    ...options,
    holdAnswer: (answer) => (server.hold ? held.push(answer) : answer()),
  })) as HoldingServer;
  server.hold = false;
  server.held = held;
  server.release = () => {
    server.hold = false;
    while (held.length) held.shift()!();
  };
  return server;
}

/** A waiting mail's record as the outbox writes it (<id>.json), here one with its last error and its msg. */
type WrittenRecord = SpoolRecord & Required<Pick<SpoolRecord, 'lastError'>> & { msg: NodeMessage };

/** The runtime's flows as the helper deployed them (its internal nodes module, not in the types). */
interface RuntimeNodes {
  getFlows(): { flows: FlowNode[] };
}

/** A connection as GET /smtp-oauth-config/outbox lists it. */
interface OutboxListing {
  id: string;
  name: string;
  outbox: 'disk' | 'memory';
  mails: OutboxEntry[];
}

describe('outbox on disk', function () {
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    helper.settings({});
    await helper.unload();
    await helper.stopServer();
  });

  it('writes a mail that has to wait to the outbox (0600, without secrets) and deletes it once the server accepted it', async function () {
    const idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: 'client-secret-9c4e' });
    let refusals = 1;
    const smtp = await startSmtp({
      tokens: (_user, token) => idp.state.issued.includes(token),
      onMailFrom: () => (refusals-- > 0 ? smtpError('451 4.7.1 Greylisted, try again later') : undefined),
    });
    try {
      const clock = fakeClock(); // never moves: the mail waits for its retry until Retry now
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock } });
      const nodes = await deploy({
        connection: { port: smtp.port, authType: 'oauth2-client-credentials', tokenUrl: idp.url, scope: 'x/.default' },
        credentials: { user: 'mailbox@example.com', clientId: 'app-1', clientSecret: 'client-secret-9c4e' },
        send: { bcc: 'hidden@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({ payload: { order: 42 }, topic: 'orders' });
      await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
      // Refused for now: it waits for its retry in the outbox.
      const onDisk = outboxFiles();
      assert.equal(onDisk.length, 2);
      const [eml, json] = onDisk;
      assert.match(eml, /\.eml$/);
      assert.equal(fs.statSync(outboxDir()).mode & 0o777, 0o700);
      for (const f of onDisk) assert.equal(fs.statSync(path.join(outboxDir(), f)).mode & 0o777, 0o600, f);
      const record = JSON.parse(fs.readFileSync(path.join(outboxDir(), json), 'utf8')) as WrittenRecord;
      assert.deepEqual(record.envelope, { from: 'mailbox@example.com', to: ['to@example.com', 'hidden@example.com'] });
      assert.deepEqual(record.summary, { to: 'to@example.com', subject: 'Hello' });
      assert.deepEqual([record.attempts, record.lastError.responseCode], [1, 451]);
      assert.equal(record.node, 'send');
      assert.deepEqual([record.msg.payload, record.msg.topic], [{ order: 42 }, 'orders']);
      const stored = onDisk.map((f) => fs.readFileSync(path.join(outboxDir(), f), 'utf8')).join('\n');
      assert.ok(!stored.includes('client-secret-9c4e'), 'no client secret');
      for (const token of idp.state.issued) assert.ok(!stored.includes(token), 'no access token');
      assert.doesNotMatch(fs.readFileSync(path.join(outboxDir(), eml), 'utf8'), /hidden@example\.com/, 'Bcc only in the envelope');

      assert.equal(await nodes.config.outbox!.retryNow(), 1);
      const { emailResult } = await passed;
      assert.deepEqual(outboxFiles(), [], 'deleted before the msg was passed on');
      assert.equal(emailResult.attempts, 2);
      assert.equal(emailResult.messageId, record.messageId);
      assert.equal(smtp.messages[0].parsed.messageId, record.messageId);
      assert.deepEqual(emailResult.envelope, record.envelope);
      assert.deepEqual(emailResult.accepted, ['to@example.com', 'hidden@example.com']);
    } finally {
      await helper.unload();
      await smtp.close();
      await idp.close();
    }
  });

  it('sends a mail that can go at once from memory, writing nothing (the unspooled window)', async function () {
    const smtp = await holdingServer();
    try {
      smtp.hold = true;
      const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send: { storeResult: 'msg' } });
      await nodes.config.connection().outbox!.open();
      const passed = next(nodes.out);
      nodes.send.receive({});
      await smtp.waitForMessages(1);
      assert.deepEqual(outboxFiles(), [], 'in flight, only in memory');
      smtp.release();
      const { emailResult } = await passed;
      assert.equal(emailResult.messageId, smtp.messages[0].parsed.messageId);
      assert.deepEqual(outboxFiles(), []);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('keeps nothing on disk with outbox: memory', async function () {
    const smtp = await startSmtp({ users: { [basic.user]: basic.password } });
    try {
      const nodes = await deploy({ connection: { port: smtp.port, outbox: 'memory' }, credentials: basic, send: { storeResult: 'msg' } });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.success, true);
      assert.equal(smtp.messages[0].parsed.messageId, emailResult.messageId);
      assert.ok(!fs.existsSync(path.join(currentUserDir(), 'smtp-outbox')));
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('redeployed while 20 mails wait under the rate limit: every msg ends once, none fails, the new flow sends all 20 in order', async function () {
    const smtp = await holdingServer();
    try {
      // One a minute: after the first, every other mail waits.
      const connection = { port: smtp.port, rateLimitPerMinute: '1', maxConnections: '1' };
      const send = { subject: 'topic', subjectType: 'msg', storeResult: 'flow', resultKey: 'lastMail' };
      let nodes = await deploy({ connection, credentials: basic, send });
      const first = watch(nodes.send);
      for (let i = 0; i <= 20; i++) nodes.send.receive({ topic: `seq ${String(i).padStart(2, '0')}`, payload: i });
      await first.until(() => first.outputs.length === 1);
      await whenStatus(nodes.send, () => nodes.config.connection().waiting === 20);
      assert.equal(outboxFiles().length, 40, '20 mails in the outbox');

      // The new flow's minute is 20 ms: the 20 go out in 0.4 s. Its server answers wait until we listen.
      helper.settings({ smtpOauthConfigRateWindowMs: 20 });
      smtp.hold = true;
      await helper.unload();
      assert.equal(first.ends.length, 21, 'every msg ended with the redeploy');
      assert.deepEqual(
        first.ends.filter((e) => e.err),
        [],
        'none failed',
      );
      assert.equal(first.outputs.length, 1, 'only the sent one was passed on');
      const waited = first.ends.map((e) => e.id).filter((id) => id !== first.outputs[0]._msgid);

      nodes = await deploy({ connection, credentials: basic, send });
      const later = reports(nodes.send);
      const statuses = () =>
        nodes.send.status
          .getCalls()
          .filter((c) => c.thisValue === nodes.send)
          .map((c) => c.args[0]);
      await whenStatus(nodes.send, () => statuses().some((s) => s.text === 'send-smtp-email.status.outbox'));
      smtp.release();
      const got = await later.until(20);
      assert.deepEqual(
        got.map((r) => 'info' in r.outcome),
        Array(20).fill(true),
        'all sent',
      );
      assert.deepEqual(got.map((r) => r.msg._msgid).sort(), waited.sort(), 'each waiting msg reported once, with its own msg');
      assert.deepEqual(
        smtp.messages.map((m) => m.parsed.subject),
        Array.from({ length: 21 }, (_, i) => `seq ${String(i).padStart(2, '0')}`),
      );
      assert.equal(new Set(smtp.messages.map((m) => m.parsed.messageId)).size, 21);
      assert.equal(
        (nodes.send.context().flow.get('lastMail') as EmailResult).messageId,
        (got[19].outcome as { info: SentInfo }).info.messageId,
        'stored in flow context as in async mode',
      );
      assert.deepEqual(outboxFiles(), []);
      assert.deepEqual(
        nodes.send.error.getCalls().filter((c) => c.thisValue === nodes.send),
        [],
        'nothing reported to Catch',
      );
      const outboxStatus = statuses().find((s) => s.text === 'send-smtp-email.status.outbox');
      assert.deepEqual([outboxStatus!.fill, outboxStatus!.shape], ['blue', 'ring']);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('reports a mail that fails after a redeploy to Catch nodes with the msg it came with, and stores the failure', async function () {
    let answer = '451 4.3.0 Mail server temporarily rejected message';
    const smtp = await startSmtp({ users: { [basic.user]: basic.password }, onRcpt: () => smtpError(answer) });
    try {
      const clock = fakeClock(); // never moves: the retry waits until the redeploy
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
      const send = { storeResult: 'flow', resultKey: 'mail' };
      let nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send });
      const first = watch(nodes.send);
      nodes.send.receive({ payload: 'invoice 7', topic: 'billing' });
      await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
      const [waiting] = await nodes.config.outbox!.list();
      assert.equal(waiting.attempts, 1);
      assert.equal(waiting.lastError!.responseCode, 451);
      assert.ok(waiting.lastError!.hint, 'the hint the user would get');
      assert.equal(waiting.nextAttemptAt, clock.now() + 1000);
      await helper.unload();
      assert.deepEqual(
        first.ends.map((e) => e.err),
        [undefined],
        'the msg ended, accepted',
      );

      answer = '550 5.1.1 User unknown';
      const auto = fakeClock({ auto: true });
      helper.settings({ smtpOauthConfigRetryTiming: { now: auto.now, timers: auto } });
      nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send });
      const caught = await next(nodes.caught);
      assert.equal(caught.payload, 'invoice 7');
      assert.equal(caught.topic, 'billing');
      assert.equal(caught.error.source.id, 'send');
      assert.match(caught.error.message, /550 5\.1\.1 User unknown/);
      const result = nodes.send.context().flow.get('mail') as EmailResult;
      assert.equal(result.success, false);
      assert.equal(result.error.responseCode, 550);
      assert.equal(result.attempts, 2, 'the attempt before the redeploy counts');
      assert.deepEqual(outboxFiles(), []);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it("resumes 200 mails oldest first, opening a mail's file only when a connection is free for it", async function () {
    // What an earlier run left: 200 mails of the send node, written by the outbox's own code.
    const { spool } = await Spool.open(outboxDir(), { maxBytes: 1e9, maxCount: 1000 });
    for (let i = 0; i < 200; i++) {
      const built = await composeStream({ from: basic.user, to: 'to@example.com', subject: `left ${i}`, text: 'x' });
      await spool.add(
        {
          messageId: built.messageId,
          envelope: built.envelope,
          summary: { to: 'to@example.com', subject: `left ${i}` },
          attempts: 0,
          node: 'send',
          msg: storableMsg({ _msgid: `m${i}` }),
        },
        built.message,
      );
    }
    const smtp = await holdingServer();
    try {
      smtp.hold = true;
      const nodes = await deploy({ connection: { port: smtp.port, maxConnections: '1' }, credentials: basic });
      await smtp.waitForMessages(1);
      // One mail is with the server; 199 wait for the pooled connection, none with an open file.
      const open = fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(outboxDir());
        } catch {
          return false;
        }
      });
      assert.ok(open.length <= 1, `${open.length} outbox files open`);
      const later = reports(nodes.send);
      smtp.release();
      await later.until(200);
      assert.deepEqual(
        smtp.messages.map((m) => m.parsed.subject),
        Array.from({ length: 200 }, (_, i) => `left ${i}`),
      );
      assert.deepEqual(outboxFiles(), []);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('a send node redeployed alone: its msgs whose mails wait end at once, and the new node gets their outcomes', async function () {
    let refusals = 2;
    const smtp = await startSmtp({
      users: { [basic.user]: basic.password },
      onMailFrom: () => (refusals-- > 0 ? smtpError('451 4.7.1 Greylisted, try again later') : undefined),
    });
    try {
      const clock = fakeClock(); // never moves: the mails wait for their retry until Retry now
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock } });
      const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send: { subject: 'topic', subjectType: 'msg' } });
      const first = watch(nodes.send);
      nodes.send.receive({ topic: 'one' });
      nodes.send.receive({ topic: 'two' });
      await whenStatus(nodes.send, () => nodes.config.connection().retrying === 2);
      const connection = nodes.config.connection();
      // A "modified nodes" deploy of the send node only: the connection keeps running.
      const flow = (helper as TestHelper & { _redNodes: RuntimeNodes })._redNodes
        .getFlows()
        .flows.map((n) => (n.id === 'send' ? { ...n, name: 'renamed' } : n));
      await helper.setFlows(flow, 'nodes', { conn: basic });
      assert.equal((helper.getNode('conn') as ConfigNode).connection(), connection, 'the same connection');
      assert.deepEqual(
        first.ends.map((e) => [e.msg.topic, e.err]).sort(),
        [
          ['one', undefined],
          ['two', undefined],
        ],
        'both msgs ended, accepted',
      );
      const renamed = helper.getNode('send');
      assert.notEqual(renamed, nodes.send);
      const later = reports(renamed);
      assert.equal(await (helper.getNode('conn') as ConfigNode).outbox!.retryNow(), 2);
      const got = await later.until(2);
      assert.deepEqual(got.map((r) => r.msg.topic).sort(), ['one', 'two']);
      assert.ok(got.every((r) => 'info' in r.outcome));
      assert.equal(smtp.messages.length, 2);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('keeps the outbox in memory, with a warning, when Node-RED has no user directory', async function () {
    const smtp = await startSmtp({ users: { [basic.user]: basic.password } });
    try {
      helper.settings({ userDir: undefined });
      const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send: { storeResult: 'msg' } });
      assert.ok(nodes.config.warn.getCalls().some((c) => c.thisValue === nodes.config && c.args[0] === 'smtp-oauth-config.log.noUserDir'));
      assert.equal(nodes.config.outbox, undefined);
      const passed = next(nodes.out);
      nodes.send.receive({});
      assert.equal((await passed).emailResult.success, true);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  describe('the Outbox tab', function () {
    it('lists the waiting mails without their content, and deletes one or all: each msg ends as a failure', async function () {
      const smtp = await startSmtp({ users: { [basic.user]: basic.password } });
      try {
        const nodes = await deploy({
          connection: { port: smtp.port, rateLimitPerMinute: '1' },
          credentials: basic,
          send: { subject: 'topic', subjectType: 'msg' },
        });
        const ended = watch(nodes.send);
        for (const topic of ['first', 'second', 'third']) nodes.send.receive({ topic, payload: 'secret body text' });
        await ended.until(() => ended.outputs.length === 1);
        await whenStatus(nodes.send, () => nodes.config.connection().waiting === 2);
        const list = await nodes.config.outbox!.list();
        assert.deepEqual(
          list.map((e) => e.subject),
          ['second', 'third'],
          'oldest first',
        );
        for (const e of list) {
          assert.deepEqual(Object.keys(e).sort(), ['attempts', 'created', 'id', 'size', 'subject', 'to']);
          assert.equal(e.to, 'to@example.com');
          assert.ok(e.size > 0);
        }
        assert.doesNotMatch(JSON.stringify(list), /secret body text/);

        assert.equal(await nodes.config.outbox!.remove(list[0].id), 1);
        assert.equal(await nodes.config.outbox!.remove('no-such-id'), 0);
        const caught = await next(nodes.caught);
        assert.equal(caught.topic, 'second');
        assert.match(caught.error.message, /The mail was deleted from the outbox before the server accepted it/);
        assert.deepEqual(
          (await nodes.config.outbox!.list()).map((e) => e.subject),
          ['third'],
        );
        assert.equal(await nodes.config.outbox!.remove(), 1);
        await ended.until(() => ended.ends.length === 3);
        assert.deepEqual(
          ended.ends.map((e) => e.err && e.err.code),
          [undefined, 'EOUTBOX', 'EOUTBOX'],
        );
        assert.deepEqual(outboxFiles(), []);
        assert.equal(smtp.messages.length, 1);
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('serves the tab: GET lists every connection with its waiting mails, POST retries or deletes (JSON only)', async function () {
      const smtp = await startSmtp({ users: { [basic.user]: basic.password } });
      try {
        const nodes = await deploy({
          connection: { port: smtp.port, rateLimitPerMinute: '1', name: 'Office' },
          credentials: basic,
          send: { subject: 'topic', subjectType: 'msg' },
          extra: [{ id: 'mem', type: 'smtp-oauth-config', host: '127.0.0.1', security: 'none', authType: 'none', outbox: 'memory' }],
        });
        const ended = watch(nodes.send);
        for (const topic of ['first', 'second', 'third']) nodes.send.receive({ topic });
        await ended.until(() => ended.outputs.length === 1);
        await whenStatus(nodes.send, () => nodes.config.connection().waiting === 2);
        const listed = (await helper.request().get('/smtp-oauth-config/outbox').expect(200)).body as OutboxListing[];
        assert.deepEqual(
          listed.map((c) => [c.id, c.name, c.outbox, c.mails.map((m) => m.subject)]),
          [
            ['conn', 'Office', 'disk', ['second', 'third']],
            ['mem', '', 'memory', []],
          ],
        );
        await helper.request().post('/smtp-oauth-config/outbox/conn/delete').type('form').send({ mail: listed[0].mails[0].id }).expect(415);
        const one = await helper.request().post('/smtp-oauth-config/outbox/conn/delete').send({ mail: listed[0].mails[0].id }).expect(200);
        assert.deepEqual(one.body, { count: 1 });
        assert.deepEqual(
          (await helper.request().post('/smtp-oauth-config/outbox/conn/retry').send({}).expect(200)).body,
          { count: 0 },
          'nothing waits for a retry',
        );
        await helper.request().post('/smtp-oauth-config/outbox/mem/delete').send({}).expect(404);
        assert.deepEqual((await helper.request().post('/smtp-oauth-config/outbox/conn/delete').send({}).expect(200)).body, { count: 1 });
        await ended.until(() => ended.ends.length === 3);
        assert.deepEqual(
          ended.ends.map((e) => e.err && e.err.code),
          [undefined, 'EOUTBOX', 'EOUTBOX'],
        );
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('Retry now ends the backoff wait of a mail at once', async function () {
      let refusals = 1;
      const smtp = await startSmtp({
        users: { [basic.user]: basic.password },
        onRcpt: () => (refusals-- > 0 ? smtpError('451 4.7.1 Greylisted, try again later') : undefined),
      });
      try {
        const clock = fakeClock(); // never moves: only Retry now ends the wait
        helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock } });
        const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send: { storeResult: 'msg' } });
        const passed = next(nodes.out);
        nodes.send.receive({});
        await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
        assert.equal(await nodes.config.outbox!.retryNow(), 1);
        const { emailResult } = await passed;
        assert.equal(emailResult.attempts, 2);
        assert.equal(smtp.messages.length, 1);
        assert.equal(await nodes.config.outbox!.retryNow(), 0, 'nothing waits any more');
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });
  });

  describe('an outbox that cannot take the mail', function () {
    it('fails a mail beyond the cap at once with EOUTBOX and its hint, keeping nothing of it', async function () {
      const smtp = await startSmtp({ users: { [basic.user]: basic.password } });
      try {
        // One a minute, so that every mail after the first waits in the outbox; a cap of 50 KB:
        // one waiting mail with a 30 KB attachment fits, a second does not.
        const nodes = await deploy({
          connection: { port: smtp.port, outboxMaxMB: '0.05', rateLimitPerMinute: '1' },
          credentials: basic,
          send: {
            attachmentType: 'text',
            attachment: 'payload',
            attachmentValueType: 'msg',
            attachmentFilename: 'a.txt',
            subject: 'topic',
            subjectType: 'msg',
          },
        });
        const ended = watch(nodes.send);
        nodes.send.receive({ payload: 'x'.repeat(30 * 1024), topic: 'sent at once' });
        await ended.until(() => ended.outputs.length === 1);
        nodes.send.receive({ payload: 'y'.repeat(30 * 1024), topic: 'waits' });
        await whenStatus(nodes.send, () => nodes.config.connection().waiting === 1);
        const before = outboxFiles();
        assert.equal(before.length, 2);
        nodes.send.receive({ payload: 'z'.repeat(30 * 1024), topic: 'too much' });
        const caught = await next(nodes.caught);
        assert.equal(caught.topic, 'too much');
        const refused = ended.ends.find((e) => e.msg.topic === 'too much')!;
        assert.equal(refused.err!.code, 'EOUTBOX');
        assert.match(refused.err!.message, /The outbox is full/);
        assert.match(refused.err!.hint, /Outbox cap/);
        assert.deepEqual(outboxFiles(), before, 'nothing of the refused mail, no temporary file');
        assert.deepEqual(
          (await nodes.config.outbox!.list()).map((e) => e.subject),
          ['waits'],
        );
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('fails a mail with EOUTBOX when the outbox folder cannot be written: the msg is not taken as accepted', async function () {
      const smtp = await startSmtp({ users: { [basic.user]: basic.password } });
      const root = process.getuid!() === 0;
      let locked;
      try {
        // One a minute: the second mail has to wait, in the outbox.
        const nodes = await deploy({ connection: { port: smtp.port, rateLimitPerMinute: '1' }, credentials: basic });
        const ended = watch(nodes.send);
        nodes.send.receive({ payload: 'first' });
        await ended.until(() => ended.outputs.length === 1);
        locked = outboxDir();
        // Root writes through permission bits; the immutable attribute stops root too.
        if (root) execFileSync('chattr', ['+i', locked]);
        else fs.chmodSync(locked, 0o500);
        nodes.send.receive({ payload: 'second' });
        await ended.until(() => ended.ends.length === 2);
        const err = ended.ends[1].err!;
        assert.equal(err.code, 'EOUTBOX');
        assert.match(err.message, /could not be written to the outbox/);
        assert.match(err.hint, /writable/);
        assert.equal(smtp.messages.length, 1, 'the refused mail was not sent');
      } finally {
        if (locked && root) execFileSync('chattr', ['-i', locked]);
        else if (locked) fs.chmodSync(locked, 0o700);
        await helper.unload();
        await smtp.close();
      }
    });
  });
});
