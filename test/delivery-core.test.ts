// The delivery queue owns every mail from acceptance to its end: what a redeploy does to a mail
// whose attempt is still with a slow server, what the Outbox list and the log show of Bcc
// recipients, why a mail waits, and what the outbox does with files it did not write.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startSlowMta, startSmtp, smtpError, type SlowMta } from './support/smtp';
import { fakeClock } from './support/clock';
import { helper, deploy, next, whenStatus, type TestNode } from './support/flow';
import { outboxDir, outboxFiles, reports } from './support/outbox';
import { Spool } from '../src/lib/delivery/spool';
import { composeStream } from '../src/lib/message/compose';
import type { SentInfo } from '../src/lib/connection';

/** The connection's user, the mails' sender. */
const credentials = { user: 'sender@example.com' };

/** The warnings a node said (node.warn), as text. */
const warnings = (node: TestNode) =>
  node.warn
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => String(c.args[0]));

/** Resolves with the first warning of `node` that matches `re`. */
function warned(node: TestNode, re: RegExp): Promise<string> {
  const found = () => warnings(node).find((w) => re.test(w));
  return new Promise((resolve) => {
    const now = found();
    if (now) return resolve(now);
    node.on('call:warn', () => {
      const w = found();
      if (w) resolve(w);
    });
  });
}

describe('delivery core', function () {
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  describe('a redeploy while a slow server holds the answer to DATA', function () {
    let mta: SlowMta;
    beforeEach(async () => (mta = await startSlowMta()));
    afterEach(async () => {
      await helper.unload();
      mta.acceptAll();
      await mta.close();
    });

    it('abandons the attempt after the grace period and sends the mail once from the next flow, with one result', async function () {
      helper.settings({ smtpOauthConfigCloseGraceMs: 200 });
      const connection = { port: mta.port, authType: 'none', outbox: 'disk' };
      const send = { storeResult: 'flow', resultKey: 'mail' };
      let nodes = await deploy({ connection, send, credentials });
      const first = nodes.send;
      const ended: unknown[] = [];
      first.on('call:error', (call) => ended.push(call.args[0]));
      nodes.send.receive({ payload: 'report', topic: 'slow' });
      await mta.waitForHeld(1);
      const firstId = mta.held[0].messageId;
      // What the closing flow says, on the nodes themselves: the test helper removes its spies when it unloads.
      const said: string[] = [];
      for (const node of [nodes.send, nodes.config] as unknown as { warn(text: unknown): void }[]) {
        const warn = node.warn;
        node.warn = function (text) {
          said.push(String(text));
          return warn.call(this, text);
        };
      }

      // The redeploy: the old connection waits 200 ms, then abandons the attempt and keeps the mail.
      await helper.unload();
      assert.deepEqual(outboxFiles().filter((f) => f.endsWith('.json')).length, 1, 'the mail is in the outbox for the next flow');
      const kept = JSON.parse(
        fs.readFileSync(
          path.join(
            outboxDir(),
            outboxFiles().find((f) => f.endsWith('.json'))!,
          ),
          'utf8',
        ),
      );
      assert.equal(kept.messageId, firstId);
      assert.equal(kept.attempts, 1, 'the abandoned attempt counts');
      assert.match(said.join('\n'), /closed before the server answered.*sent again with the same Message-ID/);
      // The old server finally answers: too late, the client hung up (a real MTA discards the mail).
      mta.acceptAll();

      nodes = await deploy({ connection, send, credentials });
      const later = reports(nodes.send);
      const [report] = await later.until(1);
      assert.ok('info' in report.outcome);
      assert.equal((report.outcome as { info: SentInfo }).info.messageId, firstId);
      assert.equal(mta.messages.length, 1, 'delivered once');
      assert.equal(mta.messages[0].parsed.messageId, firstId, 'with the same Message-ID');
      assert.equal(report.msg.topic, 'slow', 'reported with its own msg');
      assert.deepEqual(ended, [], 'no failure for the first msg');
      assert.deepEqual(outboxFiles(), []);
    });

    it('hands a mail over that gets a 451 while the old connection closes: the next flow delivers it', async function () {
      const clock = fakeClock(); // never moves: a mail that waits for a retry waits until the redeploy
      helper.settings({
        smtpOauthConfigCloseGraceMs: 5000,
        smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 },
      });
      const connection = { port: mta.port, authType: 'none', outbox: 'disk' };
      let nodes = await deploy({ connection, send: { storeResult: 'flow', resultKey: 'mail' }, credentials });
      nodes.send.receive({ payload: 'x', topic: 'deferred at close' });
      await mta.waitForHeld(1);
      const closing = helper.unload();
      // The server answers while the old connection closes: the mail must not be failed, nor lost.
      mta.held[0].decide('451 4.3.0 Error: queue file write error');
      await closing;
      const [record] = outboxFiles().filter((f) => f.endsWith('.json'));
      assert.ok(record, 'kept in the outbox');

      mta.acceptAll();
      helper.settings({ smtpOauthConfigRetryTiming: {} });
      nodes = await deploy({ connection, send: { storeResult: 'flow', resultKey: 'mail' }, credentials });
      const [report] = await reports(nodes.send).until(1);
      assert.ok('info' in report.outcome);
      assert.equal((report.outcome as { info: SentInfo }).info.attempts, 2);
      assert.equal(mta.messages.length, 1);
      assert.deepEqual(nodes.config.outbox!.list(), [], 'not stranded: the Outbox list is empty');
      assert.deepEqual(outboxFiles(), []);
    });
  });

  describe('privacy of the Outbox list and the log', function () {
    it('lists a mail with only Bcc as undisclosed recipients, and masks the Bcc address in a server answer', async function () {
      const smtp = await startSmtp({ auth: false, onRcpt: (a) => smtpError(`451 4.7.1 <${a.address}>: Greylisted, try again later`) });
      try {
        const clock = fakeClock(); // never moves: the mail waits for its retry
        helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
        const nodes = await deploy({
          connection: { port: smtp.port, authType: 'none', outbox: 'disk' },
          send: { to: '', cc: '', bcc: 'hidden.person@secret.example', from: 'sender@example.com', fromType: 'str' },
        });
        nodes.send.receive({ payload: 'x' });
        await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
        const [mail] = await nodes.config.outbox!.list();
        assert.equal(mail.to, 'undisclosed-recipients:;');
        assert.doesNotMatch(JSON.stringify(mail), /hidden\.person/);
        assert.match(mail.lastError!.message, /<h…@secret\.example>: Greylisted/);
        const record = fs.readFileSync(
          path.join(
            outboxDir(),
            outboxFiles().find((f) => f.endsWith('.json'))!,
          ),
          'utf8',
        );
        assert.doesNotMatch(JSON.parse(record).summary.to, /hidden/);
        assert.doesNotMatch(warnings(nodes.send).join('\n'), /hidden\.person/, 'nor in the warning of why it waits');
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('lists To (else Cc), never Bcc, and shows a To address in an answer as it is', async function () {
      const smtp = await startSmtp({
        auth: false,
        onRcpt: (a) => (a.address.startsWith('to') ? smtpError(`451 4.7.1 <${a.address}>: Greylisted`) : undefined),
      });
      try {
        const clock = fakeClock();
        helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
        const nodes = await deploy({
          connection: { port: smtp.port, authType: 'none', outbox: 'disk' },
          send: { to: 'to@example.com', cc: 'cc@example.com', bcc: 'bcc@example.com', from: 'sender@example.com', fromType: 'str' },
        });
        nodes.send.receive({ payload: 'x' });
        await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
        const [mail] = await nodes.config.outbox!.list();
        assert.equal(mail.to, 'to@example.com');
        assert.match(mail.lastError!.message, /<to@example\.com>: Greylisted/);
        assert.deepEqual(mail.delivered, { count: 2, of: 3 });
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });
  });

  describe('a mail that waits', function () {
    it('says why on its first deferral (debug sidebar and log) with the hint and until when, and shows the code in the status', async function () {
      const clock = fakeClock(); // never moves: the mail waits
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
      // A port nobody listens on: the connection is refused, which is worth retrying.
      const closed = await startSmtp({ auth: false });
      const port = closed.port;
      await closed.close();
      const nodes = await deploy({ connection: { port, authType: 'none' }, credentials });
      nodes.send.receive({ payload: 'x' });
      const warning = await warned(nodes.send, /waits for a retry/);
      assert.match(warning, /"Hello" waits for a retry: .*ECONNREFUSED/);
      assert.match(warning, /Retrying until \d\d:\d\d\./);
      await whenStatus(nodes.send, () => nodes.send.status.lastCall.args[0].fill === 'yellow');
      const status = nodes.send.status.lastCall.args[0];
      assert.deepEqual([status.fill, status.shape, status.text], ['yellow', 'ring', 'send-smtp-email.status.retry']);
      assert.equal(warnings(nodes.send).filter((w) => /waits for a retry/.test(w)).length, 1, 'once per mail');
    });

    it('retries and delivers a mail whose msg is nested 4500 levels deep', async function () {
      const smtp = await startSmtp({ auth: false });
      let refused = false;
      const refuseOnce = await startSmtp({
        auth: false,
        onData: () => (refused ? undefined : ((refused = true), smtpError('451 4.3.0 Try again later'))),
      });
      try {
        const clock = fakeClock({ auto: true });
        helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
        const nodes = await deploy({
          connection: { port: refuseOnce.port, authType: 'none', outbox: 'disk' },
          send: { storeResult: 'msg' },
          credentials,
        });
        let deep: Record<string, unknown> = { leaf: true };
        for (let i = 0; i < 4500; i++) deep = { next: deep };
        nodes.send.receive({ payload: deep });
        const msg = await next(nodes.out);
        assert.equal(msg.emailResult.success, true, JSON.stringify(msg.emailResult.error));
        assert.equal(msg.emailResult.attempts, 2);
        assert.equal(refuseOnce.messages.length, 1);
      } finally {
        await helper.unload();
        await smtp.close();
        await refuseOnce.close();
      }
    });
  });

  describe('files in the outbox it did not write', function () {
    /** Writes a mail into the connection's outbox folder as the outbox does, and returns its files. */
    async function put(subject: string, edit?: (record: Record<string, unknown>) => unknown) {
      const { spool } = await Spool.open(outboxDir(), { maxBytes: 1e9, maxCount: 100 });
      const built = await composeStream({ from: 'sender@example.com', to: 'to@example.com', subject, text: subject });
      const record = await spool.add(
        { messageId: built.messageId, envelope: built.envelope, summary: { to: 'to@example.com', subject }, attempts: 0 },
        built.message,
      );
      const json = spool.file(record.id, 'json');
      if (edit) fs.writeFileSync(json, JSON.stringify(edit(JSON.parse(fs.readFileSync(json, 'utf8')))));
      return { json, eml: spool.file(record.id, 'eml') };
    }

    it('sets aside planted and edited records, skips a stray directory, follows no link, and keeps the list working', async function () {
      const smtp = await startSmtp({ auth: false });
      const secret = path.join(path.dirname(outboxDir()), 'secret.txt');
      try {
        fs.mkdirSync(outboxDir(), { recursive: true });
        fs.writeFileSync(secret, 'Subject: not a mail\r\n\r\nsecret contents');
        const good = await put('good');
        const linked = await put('linked');
        fs.rmSync(linked.eml);
        fs.symlinkSync(secret, linked.eml);
        await put('no summary', ({ summary: _s, ...r }) => r);
        await put('bad first attempt', (r) => ({ ...r, firstAttemptAt: 'x' }));
        await put('far next attempt', (r) => ({ ...r, nextAttemptAt: 1e300 }));
        await put('attempts', (r) => ({ ...r, attempts: -1 }));
        fs.mkdirSync(path.join(outboxDir(), 'stray.tmp'));

        const nodes = await deploy({ connection: { port: smtp.port, authType: 'none', outbox: 'disk' }, credentials });
        // The config node logs the sent mail (it came from no send node) once the outbox deleted it.
        await new Promise((resolve) => nodes.config.on('call:log', resolve));
        assert.deepEqual(
          smtp.messages.map((m) => m.parsed.subject),
          ['good'],
        );
        assert.equal(fs.readFileSync(secret, 'utf8'), 'Subject: not a mail\r\n\r\nsecret contents', 'the link target is untouched');
        const damaged = fs.readdirSync(path.join(outboxDir(), 'damaged'));
        assert.equal(damaged.filter((f) => f.endsWith('.json')).length, 5, damaged.join(', '));
        assert.ok(fs.lstatSync(path.join(outboxDir(), 'damaged', path.basename(linked.eml))).isSymbolicLink(), 'the link itself moved');
        assert.ok(fs.statSync(path.join(outboxDir(), 'stray.tmp')).isDirectory(), 'the stray directory is left alone');
        assert.deepEqual(
          nodes.config.warn.getCalls().map((c) => c.args[0]),
          ['smtp-oauth-config.log.skipped', 'smtp-oauth-config.log.damaged'],
          'one warning for the stray directory, one for the damaged records (the test runtime shows the keys)',
        );
        assert.deepEqual(nodes.config.outbox!.list(), []);
        assert.ok(!fs.existsSync(good.json));

        nodes.send.receive({ payload: 'after' });
        await smtp.waitForMessages(2);
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });

    it('refuses an outbox folder that is a link: EOUTBOX with a hint, and the files behind it stay', async function () {
      const smtp = await startSmtp({ auth: false });
      const elsewhere = path.join(path.dirname(outboxDir()), 'elsewhere');
      try {
        fs.mkdirSync(elsewhere, { recursive: true });
        fs.writeFileSync(path.join(elsewhere, 'precious.tmp'), 'keep me');
        fs.writeFileSync(path.join(elsewhere, 'orphan.eml'), 'keep me too');
        fs.symlinkSync(elsewhere, outboxDir());
        const nodes = await deploy({
          connection: { port: smtp.port, authType: 'none', outbox: 'disk', rateLimitPerMinute: '1' },
          send: { storeResult: 'msg' },
          credentials,
        });
        nodes.send.receive({ payload: 'x' });
        nodes.send.receive({ payload: 'y' });
        const msg = await next(nodes.caught);
        assert.equal(msg.error.code, 'EOUTBOX');
        assert.match(msg.error.message, /is a link, not a folder.*Replace the link/);
        assert.deepEqual(fs.readdirSync(elsewhere).sort(), ['orphan.eml', 'precious.tmp']);
      } finally {
        await helper.unload();
        await smtp.close();
      }
    });
  });
});
