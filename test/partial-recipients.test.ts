// A server that accepts a mail for some recipients and defers others (a 4xx to RCPT TO: greylisting,
// a full mailbox): the deferred recipients are retried, and only they, with the same message and
// Message-ID, until they are accepted, refused for good or Retry for runs out; the disk outbox keeps
// only the recipients still owed, so that a restart never sends the mail again to those that have it.
// Servers are real, on loopback, the nodes run in a real Node-RED; backoff runs on an injected clock.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeStatus } from 'node-red';
import type { SMTPServerAddress } from 'smtp-server';
import { startSmtp, smtpError, type SmtpOptions, type SmtpServer } from './support/smtp';
import { fakeClock } from './support/clock';
import { helper, deploy, next, instantBackoff, whenStatus, type EmailResult, type TestNode } from './support/flow';
import { outboxDir, outboxFiles, reports } from './support/outbox';
import type { SpoolRecord } from '../src/lib/delivery/spool';

const basic = { user: 'sender@example.com', password: 'partial-pw-1' };

/**
 * A server that answers RCPT TO per recipient from a script: each address takes the answers listed
 * for it in turn (undefined accepts), and is accepted once its list is used up. It counts every RCPT
 * TO it was asked, by address.
 */
async function scriptedServer(
  script: Record<string, (string | undefined)[]>,
  options: SmtpOptions = {},
): Promise<SmtpServer & { asked: Map<string, number> }> {
  const asked = new Map<string, number>();
  const left = new Map(Object.entries(script).map(([address, answers]) => [address, [...answers]]));
  const server = await startSmtp({
    users: { [basic.user]: basic.password },
    ...options,
    onRcpt: (address: SMTPServerAddress) => {
      asked.set(address.address, (asked.get(address.address) ?? 0) + 1);
      const answer = left.get(address.address)?.shift();
      return answer ? smtpError(answer) : undefined;
    },
  });
  return Object.assign(server, { asked });
}

/** The RCPT TO addresses of each message the server accepted. */
const envelopes = (smtp: SmtpServer) => smtp.messages.map((m) => m.envelope.rcptTo.map((r) => r.address));

/** The statuses the send node showed. */
const statuses = (node: TestNode): NodeStatus[] =>
  node.status
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => c.args[0]);

/** The warnings the send node logged. */
const warned = (node: TestNode): string[] =>
  node.warn
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => String(c.args[0]));

describe('recipients deferred by the server (4xx to RCPT TO)', function () {
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    helper.settings({});
    await helper.unload();
    await helper.stopServer();
  });

  it('sends to the 2 accepted, then to the greylisted one once it is accepted: same message and Message-ID, each recipient once', async function () {
    const clock = instantBackoff();
    const greylisted = '451 4.7.1 Greylisted, try again later';
    const smtp = await scriptedServer({ 'late@example.com': [greylisted, greylisted] });
    try {
      // The deferred recipient in Bcc: it stays in the envelope, never in the message.
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'a@example.com, b@example.com', bcc: 'late@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;

      assert.deepEqual(envelopes(smtp), [['a@example.com', 'b@example.com'], ['late@example.com']]);
      assert.deepEqual(Object.fromEntries(smtp.asked), { 'a@example.com': 1, 'b@example.com': 1, 'late@example.com': 3 });
      const [first, second] = smtp.messages;
      assert.equal(second.raw, first.raw, 'the same message, byte for byte');
      assert.equal(first.parsed.messageId, emailResult.messageId);
      assert.doesNotMatch(first.raw, /late@example\.com/, 'Bcc only in the envelope');

      assert.equal(emailResult.success, true);
      assert.deepEqual(emailResult.accepted, ['a@example.com', 'b@example.com', 'late@example.com']);
      assert.deepEqual(emailResult.rejected, []);
      assert.equal(emailResult.attempts, 3);
      assert.deepEqual(emailResult.envelope, { from: basic.user, to: ['a@example.com', 'b@example.com', 'late@example.com'] });
      assert.equal(emailResult.warnings, undefined);
      assert.deepEqual(clock.delays, [1000, 2000], 'the backoff of any other transient failure');
      assert.ok(
        statuses(nodes.send).some((s) => s.fill === 'yellow' && s.text === 'send-smtp-email.status.retry'),
        'the node showed that it retries',
      );
      const said = warned(nodes.send);
      assert.equal(said.length, 1, 'one warning: why the mail waits, none for a recipient given up');
      assert.match(said[0], /waits for a retry: Recipient command failed: 451 4\.7\.1 Greylisted.*greylists/);
      assert.deepEqual(outboxFiles(), [], 'nothing left in the outbox');
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('does not retry a recipient refused for good (550) while it retries a deferred one (451): rejected is the 550 one', async function () {
    instantBackoff();
    const smtp = await scriptedServer({
      'gone@example.com': ['550 5.1.1 User unknown', '550 5.1.1 User unknown'],
      'late@example.com': ['451 4.7.1 Greylisted, try again later'],
    });
    try {
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'a@example.com, gone@example.com, late@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.deepEqual(envelopes(smtp), [['a@example.com'], ['late@example.com']]);
      assert.equal(smtp.asked.get('gone@example.com'), 1, 'a permanent refusal is not asked again');
      assert.deepEqual(emailResult.accepted, ['a@example.com', 'late@example.com']);
      assert.deepEqual(emailResult.rejected, ['gone@example.com']);
      assert.equal(emailResult.attempts, 2);
      assert.equal(emailResult.warnings, undefined, 'a permanent refusal is reported in rejected, as before');
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('ends with success for the others when a deferred recipient outlives Retry for: rejected and a warning name it, with the answer and a hint', async function () {
    const clock = instantBackoff();
    const full = '452 4.2.2 Mailbox full';
    const smtp = await scriptedServer({ 'full@example.com': Array<string>(10).fill(full) });
    try {
      const nodes = await deploy({
        connection: { port: smtp.port, retryForSeconds: '10' },
        credentials: basic,
        send: { to: 'a@example.com, full@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      // 0 s, 1 s, 3 s, 7 s, and the last one at the deadline (10 s).
      assert.deepEqual(clock.delays, [1000, 2000, 4000, 3000]);
      assert.deepEqual(envelopes(smtp), [['a@example.com']], 'a got the mail once');
      assert.equal(smtp.asked.get('full@example.com'), 5);
      assert.equal(emailResult.success, true);
      assert.deepEqual(emailResult.accepted, ['a@example.com']);
      assert.deepEqual(emailResult.rejected, ['full@example.com']);
      assert.equal(emailResult.attempts, 5);
      assert.deepEqual(emailResult.envelope.to, ['a@example.com', 'full@example.com']);
      assert.deepEqual(emailResult.warnings, [
        "Not delivered to full@example.com: 452 4.2.2 Mailbox full (gave up after 5 attempts in 10 s). The recipient's mailbox is full " +
          "(on the recipient's side, not this sender's): mails are retried for the connection's Retry for (s); if it stays full, tell the recipient another way.",
      ]);
      const [waits, ...rest] = warned(nodes.send);
      assert.match(
        waits,
        /^"Hello" waits for a retry: Recipient command failed: 452 4\.2\.2 Mailbox full\. The recipient's mailbox is full/,
      );
      assert.deepEqual(rest, emailResult.warnings, 'the same warning in the log, after the one that said why it waits');
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('with Retry for 0 sends once: success for the others, a warning that says nothing was retried', async function () {
    const smtp = await scriptedServer({ 'late@example.com': ['451 4.7.1 Greylisted, try again later'] });
    try {
      const nodes = await deploy({
        connection: { port: smtp.port, retryForSeconds: '0' },
        credentials: basic,
        send: { to: 'a@example.com, late@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.attempts, 1);
      assert.deepEqual([emailResult.accepted, emailResult.rejected], [['a@example.com'], ['late@example.com']]);
      assert.equal(emailResult.warnings!.length, 1);
      assert.match(
        emailResult.warnings![0],
        /^Not delivered to late@example\.com: 451 4\.7\.1 Greylisted, try again later \(not retried: Retry for \(s\) of the connection is 0\)\. The recipient's server greylists: .* Set Retry for \(s\) in the connection to 900 or more/,
      );
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('keeps only the recipient still owed in the outbox record, and after a redeploy sends to it alone', async function () {
    const smtp = await scriptedServer({ 'late@example.com': ['451 4.7.1 Greylisted, try again later'] });
    try {
      const still = fakeClock(); // never moves: the mail waits for its retry until the redeploy
      helper.settings({ smtpOauthConfigRetryTiming: { now: still.now, timers: still, random: () => 0.5 } });
      const send = { to: 'a@example.com, late@example.com', storeResult: 'flow', resultKey: 'mail' };
      let nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send });
      nodes.send.receive({ topic: 'order 7' });
      await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
      assert.deepEqual(envelopes(smtp), [['a@example.com']]);

      const json = outboxFiles().find((f) => f.endsWith('.json'))!;
      const record = JSON.parse(fs.readFileSync(path.join(outboxDir(), json), 'utf8')) as SpoolRecord;
      assert.deepEqual(record.envelope, { from: basic.user, to: ['late@example.com'] }, 'written before the wait');
      const { response, ...progress } = record.progress!;
      assert.deepEqual(progress, { to: ['a@example.com', 'late@example.com'], accepted: ['a@example.com'], rejected: [] });
      assert.match(response!, /^250 /, "the answer to the attempt a's copy went with");
      assert.deepEqual([record.attempts, record.lastError?.responseCode], [1, 451]);
      const [waiting] = await nodes.config.outbox!.list();
      assert.match(waiting.lastError!.hint!, /greylists/);
      assert.deepEqual(waiting.delivered, { count: 1, of: 2 }, 'the Outbox tab tells it was delivered to 1 of 2');
      assert.equal(waiting.to, 'a@example.com, late@example.com');

      // Redeploy: the msg ends, the mail stays; the new flow sends it to the recipient still owed only.
      await helper.unload();
      const clock = fakeClock({ auto: true, start: still.now() });
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
      nodes = await deploy({ connection: { port: smtp.port }, credentials: basic, send });
      const later = reports(nodes.send);
      const [{ outcome }] = await later.until(1);
      assert.deepEqual(envelopes(smtp), [['a@example.com'], ['late@example.com']]);
      assert.equal(smtp.asked.get('a@example.com'), 1, 'never asked again for the recipient that has it');
      assert.equal(smtp.messages[1].parsed.messageId, record.messageId);
      assert.ok('info' in outcome);
      const result = nodes.send.context().flow.get('mail') as EmailResult;
      assert.equal(result.success, true);
      assert.deepEqual(result.accepted, ['a@example.com', 'late@example.com']);
      assert.deepEqual(result.rejected, []);
      assert.deepEqual(result.envelope.to, ['a@example.com', 'late@example.com']);
      assert.equal(result.attempts, 2);
      assert.equal(result.messageId, record.messageId);
      assert.deepEqual(outboxFiles(), []);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('ends delivered to the others when the mail is deleted in the Outbox tab while a recipient is still deferred', async function () {
    const smtp = await scriptedServer({ 'late@example.com': Array<string>(10).fill('451 4.7.1 Greylisted, try again later') });
    try {
      const clock = fakeClock(); // never moves: the mail waits until it is deleted
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock } });
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'a@example.com, late@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
      assert.equal(await nodes.config.outbox!.remove(), 1);
      const { emailResult } = await passed;
      assert.equal(emailResult.success, true, 'a has the mail: no failure that would make a flow send it again');
      assert.deepEqual([emailResult.accepted, emailResult.rejected], [['a@example.com'], ['late@example.com']]);
      assert.match(
        emailResult.warnings![0],
        /^Not delivered to late@example\.com: 451 4\.7\.1 .*\(not retried: the mail was deleted from the outbox\)/,
      );
      assert.deepEqual(outboxFiles(), []);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('ends delivered to the others when a later attempt for a deferred recipient fails for good (554 at DATA)', async function () {
    instantBackoff();
    let data = 0;
    const smtp = await scriptedServer(
      { 'late@example.com': ['451 4.7.1 Greylisted, try again later'] },
      { onData: () => (++data === 2 ? smtpError('554 5.7.1 Message rejected as spam') : undefined) },
    );
    try {
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'a@example.com, late@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.success, true);
      assert.deepEqual([emailResult.accepted, emailResult.rejected, emailResult.attempts], [['a@example.com'], ['late@example.com'], 2]);
      assert.deepEqual(emailResult.warnings, [
        'Not delivered to late@example.com: 554 5.7.1 Message rejected as spam (not retried: the failure is permanent). ' +
          'Send the mail to them again if they still need it.',
      ]);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('retries a mail whose recipients were all deferred as a whole', async function () {
    const clock = instantBackoff();
    const smtp = await scriptedServer({
      'a@example.com': ['450 4.2.0 try later'],
      'b@example.com': ['451 4.7.1 Greylisted, try again later'],
    });
    try {
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'a@example.com, b@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.deepEqual(envelopes(smtp), [['a@example.com', 'b@example.com']]);
      assert.deepEqual(Object.fromEntries(smtp.asked), { 'a@example.com': 2, 'b@example.com': 2 });
      assert.deepEqual([emailResult.accepted, emailResult.rejected, emailResult.attempts], [['a@example.com', 'b@example.com'], [], 2]);
      assert.deepEqual(clock.delays, [1000]);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('retries only the deferred recipient of a mail whose recipients were all refused, one of them for good', async function () {
    instantBackoff();
    const smtp = await scriptedServer({
      'gone@example.com': ['550 5.1.1 User unknown', '550 5.1.1 User unknown'],
      'late@example.com': ['451 4.7.1 Greylisted, try again later'],
    });
    try {
      const nodes = await deploy({
        connection: { port: smtp.port },
        credentials: basic,
        send: { to: 'gone@example.com, late@example.com', storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.deepEqual(envelopes(smtp), [['late@example.com']]);
      assert.equal(smtp.asked.get('gone@example.com'), 1);
      assert.deepEqual([emailResult.accepted, emailResult.rejected, emailResult.attempts], [['late@example.com'], ['gone@example.com'], 2]);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('fails as before when no recipient was ever accepted and Retry for runs out', async function () {
    instantBackoff();
    const smtp = await scriptedServer({ 'late@example.com': Array<string>(10).fill('451 4.7.1 Greylisted, try again later') });
    try {
      const nodes = await deploy({
        connection: { port: smtp.port, retryForSeconds: '3' },
        credentials: basic,
        send: { to: 'late@example.com', stopOnError: false, storeResult: 'msg' },
      });
      const passed = next(nodes.out);
      nodes.send.receive({});
      const { emailResult } = await passed;
      assert.equal(emailResult.success, false);
      assert.equal(emailResult.error.code, 'EENVELOPE');
      assert.equal(emailResult.error.responseCode, 451);
      assert.match(emailResult.error.message, /gave up after 3 attempts in 3 s/);
      assert.match(emailResult.error.hint, /greylists/);
      assert.equal(smtp.messages.length, 0);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });
});
