// DKIM in real Node-RED: mails a loopback SMTP server receives, previews and the disk outbox's
// retries, each verified by mailauth with the key's TXT record answered offline; the key's check
// at deploy; and the admin endpoints that give the dialog the record to publish.
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { smtpError, startSmtp, type SmtpServer } from './support/smtp';
import { helper, deploy, outcome, next, whenStatus, type Deployed } from './support/flow';
import { fakeClock } from './support/clock';
import { outboxDir, outboxFiles } from './support/outbox';
import { emptied, opensslKey, opensslRecord, verifyDkim } from './support/dkim';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const DOMAIN = 'example.com';
const SELECTOR = 's2026';
const RECORD_NAME = `${SELECTOR}._domainkey.${DOMAIN}`;
const rsaKey = opensslKey('rsa', 2048);
const otherRsaKey = opensslKey('rsa', 2048);
const ed25519Key = opensslKey('ed25519');
const dns = (pem: string) => ({ [RECORD_NAME]: opensslRecord(pem) });

const SIGNING = { dkimDomain: DOMAIN, dkimSelector: SELECTOR };
const basic = { user: 'sender@example.com', password: 'pw-1' };

/** The send node's properties of a mail with everything a signature must survive. */
const everything = {
  storeResult: 'msg',
  subject: 'Grüße aus Köln – Bestellung № 42',
  html: '<p>Logo: <img src="cid:logo"></p><p>Zeile mit Umlauten: äöü</p>',
  text: 'First line\n.\nA line holding one dot came before this one.\n',
  headers:
    '{"X-Ticket-Id":"T-1234","List-Unsubscribe":"<mailto:unsubscribe@example.com>","List-Unsubscribe-Post":"List-Unsubscribe=One-Click"}',
  headersType: 'json',
  attachmentType: 'base64',
  attachment: PNG.toString('base64'),
  attachmentFilename: 'logo.png',
  attachmentMimeType: 'image/png',
  attachmentCid: 'logo',
};
const withAttachment: NodeMessage = { payload: 'x', attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }] };

/** The DKIM-Signature fields of a raw message. */
const signatures = (raw: string) => raw.split(/\r?\n(?![ \t])/).filter((line) => /^DKIM-Signature:/i.test(line));

describe('DKIM signing', function () {
  this.timeout(30000);
  let smtp: SmtpServer;
  before(async function () {
    smtp = await startSmtp({ users: { 'sender@example.com': 'pw-1' } });
  });
  after(() => smtp.close());
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    helper.settings({});
    await helper.unload();
    await helper.stopServer();
    smtp.messages.length = 0;
  });

  async function sendOne(
    connection: Record<string, unknown>,
    credentials: Record<string, string>,
    send: Record<string, unknown>,
    msg = withAttachment,
  ) {
    const nodes = await deploy({ connection: { port: smtp.port, ...connection }, credentials: { ...basic, ...credentials }, send });
    const result = outcome(nodes);
    nodes.send.receive(msg);
    return { ...(await result), nodes };
  }

  it('signs a mail with HTML, text, a custom header, an inline image, an attachment, a non-ASCII subject and a one-dot line: mailauth says pass', async function () {
    const { kind, msg } = await sendOne(SIGNING, { dkimPrivateKey: rsaKey }, everything);
    assert.equal(kind, 'sent', JSON.stringify(msg.error));
    const [m] = await smtp.waitForMessages(1);
    // What the recipient gets is the mail as built: the one-dot line, the header, both parts.
    assert.equal(m.parsed.text, everything.text);
    assert.equal(m.parsed.headers.get('x-ticket-id'), 'T-1234');
    assert.equal(m.parsed.subject, everything.subject);
    assert.deepEqual(m.parsed.attachments.map((a) => a.filename).sort(), ['logo.png', 'report.csv']);
    assert.equal(signatures(m.raw).length, 1, 'one signature');
    const [verdict] = await verifyDkim(m.raw, dns(rsaKey));
    assert.equal(verdict.result, 'pass', verdict.comment);
    assert.equal(verdict.domain, DOMAIN);
    assert.equal(verdict.selector, SELECTOR);
    assert.equal(verdict.algorithm, 'rsa-sha256');
    // RFC 8058: one-click unsubscribe counts only when both of its fields are signed.
    for (const field of ['from', 'to', 'subject', 'date', 'message-id', 'content-type', 'list-unsubscribe', 'list-unsubscribe-post'])
      assert.ok(verdict.signedHeaders.toLowerCase().split(/:\s*/).includes(field), `${field} is signed: ${verdict.signedHeaders}`);
  });

  it('fails verification when DNS holds another key, and a mail changed on the way fails too', async function () {
    await sendOne(SIGNING, { dkimPrivateKey: rsaKey }, everything);
    const [m] = await smtp.waitForMessages(1);
    assert.equal((await verifyDkim(m.raw, dns(otherRsaKey)))[0].result, 'fail');
    const changed = m.raw.replace('A line holding one dot', 'A line holding two dots');
    assert.notEqual(changed, m.raw);
    assert.equal((await verifyDkim(changed, dns(rsaKey)))[0].result, 'fail');
  });

  it('signs a preview: its .eml verifies as the sent mail would, and nothing is sent', async function () {
    const { kind, msg } = await sendOne(SIGNING, { dkimPrivateKey: rsaKey }, { ...everything, deliver: 'preview' });
    assert.equal(kind, 'sent');
    assert.equal(msg.emailResult.preview, true);
    const eml = String(msg.emailResult.eml);
    assert.equal(signatures(eml).length, 1);
    assert.equal((await verifyDkim(eml, dns(rsaKey)))[0].result, 'pass');
    assert.equal(smtp.messages.length, 0);
  });

  it('signs with an Ed25519 key (ed25519-sha256, RFC 8463), a 1 MB attachment included: mailauth says pass', async function () {
    const big = { payload: 'x', attachments: [{ filename: 'data.bin', content: Buffer.alloc(1024 * 1024, 7) }] };
    const { kind, msg } = await sendOne(SIGNING, { dkimPrivateKey: ed25519Key }, everything, big);
    assert.equal(kind, 'sent', JSON.stringify(msg.error));
    const [m] = await smtp.waitForMessages(1);
    assert.equal(m.parsed.attachments.find((a) => a.filename === 'data.bin')!.content.length, 1024 * 1024);
    const [verdict] = await verifyDkim(m.raw, dns(ed25519Key));
    assert.equal(verdict.result, 'pass', verdict.comment);
    assert.equal(verdict.algorithm, 'ed25519-sha256');
    assert.equal((await verifyDkim(m.raw, dns(opensslKey('ed25519'))))[0].result, 'fail');
  });

  it('signs a mail once as the disk outbox stores it: after a 451 the retry sends the same signed bytes, and the cache folder goes on close', async function () {
    let refusals = 1;
    const greylisting = await startSmtp({
      users: { 'sender@example.com': 'pw-1' },
      onMailFrom: () => (refusals-- > 0 ? smtpError('451 4.7.1 Greylisted, try again later') : undefined),
    });
    try {
      const clock = fakeClock(); // never moves: the mail waits in the outbox until Retry now
      helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock } });
      const big = { payload: 'x', attachments: [{ filename: 'data.bin', content: Buffer.alloc(1024 * 1024, 1) }] };
      const nodes: Deployed = await deploy({
        connection: { port: greylisting.port, outbox: 'disk', ...SIGNING },
        credentials: { ...basic, dkimPrivateKey: rsaKey },
        send: everything,
      });
      const passed = next(nodes.out);
      nodes.send.receive(big);
      await whenStatus(nodes.send, () => nodes.config.connection().retrying === 1);
      const eml = outboxFiles().find((f) => f.endsWith('.eml'))!;
      const stored = fs.readFileSync(path.join(outboxDir(), eml), 'utf8');
      assert.equal(signatures(stored).length, 1, 'stored signed, once');
      assert.equal((await verifyDkim(stored, dns(rsaKey)))[0].result, 'pass');
      // The signer's cache folder is the connection's own, inside its outbox folder: nothing else there.
      const cache = path.join(outboxDir(), 'dkim-cache');
      assert.equal(fs.readdirSync(cache).length, 1);
      assert.deepEqual(await emptied(path.join(cache, fs.readdirSync(cache)[0])), [], 'the cache file went once read');

      assert.equal(await nodes.config.outbox!.retryNow(), 1);
      const { emailResult } = await passed;
      assert.equal(emailResult.attempts, 2);
      const [m] = await greylisting.waitForMessages(1);
      // The stored bytes as SMTP's DATA carries them (nodemailer ends every line with CRLF on the wire), not signed again.
      assert.ok(m.raw === stored.replace(/\r?\n/g, '\r\n'), 'the retry sent the stored bytes');
      assert.deepEqual(signatures(m.raw), signatures(stored));
      assert.equal((await verifyDkim(m.raw, dns(rsaKey)))[0].result, 'pass');
      await helper.unload();
      assert.deepEqual(fs.readdirSync(cache), [], 'removed on close');
    } finally {
      await greylisting.close();
    }
  });

  it("keeps a memory outbox's cache in a folder of its own in the temporary folder, removed on close", async function () {
    const ours = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('smtp-dkim-'));
    const before = new Set(ours());
    const big = { payload: 'x', attachments: [{ filename: 'data.bin', content: Buffer.alloc(600 * 1024, 3) }] };
    const { kind } = await sendOne({ ...SIGNING, outbox: 'memory' }, { dkimPrivateKey: rsaKey }, everything, big);
    assert.equal(kind, 'sent');
    const made = ours().filter((n) => !before.has(n));
    assert.equal(made.length, 1);
    assert.equal(fs.statSync(path.join(os.tmpdir(), made[0])).mode & 0o777, 0o700);
    const [m] = await smtp.waitForMessages(1);
    assert.equal((await verifyDkim(m.raw, dns(rsaKey)))[0].result, 'pass');
    await helper.unload();
    assert.ok(!fs.existsSync(path.join(os.tmpdir(), made[0])));
  });

  for (const [name, key, pattern] of [
    ['garbage', 'not a key at all', /not a PEM private key/],
    ['an RSA key of 512 bits', opensslKey('rsa', 512), /512 bits; DKIM needs RSA keys of at least 1024 bits/],
    ['an EC key', opensslKey('ec'), /an ec key; DKIM signs with RSA or Ed25519/],
  ] as const) {
    it(`refuses ${name} at deploy with ECONFIG and a hint, and a msg goes to Catch with it, preview or not`, async function () {
      // 'send' is left out: Node-RED would read the value as the send node's id (a config node reference).
      for (const deliver of ['send', 'preview']) {
        const { kind, msg, nodes } = await sendOne(
          SIGNING,
          { dkimPrivateKey: key },
          { ...everything, ...(deliver === 'preview' ? { deliver } : {}) },
        );
        assert.equal(kind, 'caught', deliver);
        assert.equal(msg.error.code, 'ECONFIG');
        assert.match(msg.error.message, pattern);
        assert.match(msg.error.message, /openssl genpkey/, 'the hint says how to make a key');
        const atDeploy = nodes.config.error.getCalls().filter((c) => c.thisValue === nodes.config);
        assert.equal(atDeploy.length, 1);
        assert.match(String(atDeploy[0].args[0]), pattern);
        assert.equal(smtp.messages.length, 0);
        await helper.unload();
      }
    });
  }

  it('refuses a domain and selector without a key, rather than sending unsigned mail; a key alone signs nothing', async function () {
    const refused = await sendOne(SIGNING, {}, everything);
    assert.equal(refused.kind, 'caught');
    assert.equal(refused.msg.error.code, 'ECONFIG');
    assert.match(refused.msg.error.message, /DKIM private key is missing.*clear domain and selector/);
    await helper.unload();
    const unsigned = await sendOne({}, { dkimPrivateKey: rsaKey }, everything);
    assert.equal(unsigned.kind, 'sent');
    const [m] = await smtp.waitForMessages(1);
    assert.equal(signatures(m.raw).length, 0);
  });

  describe('the record for the dialog', function () {
    const post = (body: unknown) =>
      helper
        .request()
        .post('/smtp-oauth-config/dkim-record')
        .send(body as object);

    it('answers the TXT record of an RSA and an Ed25519 key, as openssl computes it, and nothing else', async function () {
      await deploy({});
      for (const key of [rsaKey, ed25519Key]) {
        const res = await post({ privateKey: key });
        assert.equal(res.status, 200);
        assert.equal(res.body.value, opensslRecord(key));
        assert.deepEqual(Object.keys(res.body).sort(), key === rsaKey ? ['bits', 'type', 'value'] : ['type', 'value']);
        assert.doesNotMatch(res.text, /PRIVATE/);
      }
      // A key pasted into a password field loses its line breaks (Chromium): the record is the same.
      assert.equal((await post({ privateKey: rsaKey.replace(/\n/g, '') })).body.value, opensslRecord(rsaKey));
    });

    it('refuses garbage, a short key and a body that is no JSON key, quoting nothing it was sent', async function () {
      await deploy({});
      const short = opensslKey('rsa', 768);
      for (const [privateKey, message] of [
        ['hello', /not a PEM private key/],
        ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /could not be read/],
        [short, /768 bits.*2048/],
      ] as const) {
        const res = await post({ privateKey });
        assert.equal(res.status, 400);
        assert.match(`${res.body.error} ${res.body.hint}`, message);
        for (const line of privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')))
          assert.ok(!res.text.includes(line));
      }
      assert.equal((await post({})).status, 400);
      assert.equal((await helper.request().post('/smtp-oauth-config/dkim-record').type('text/plain').send(rsaKey)).status, 415);
      assert.equal((await post({ privateKey: 'x'.repeat(20000) })).status, 413);
    });

    it("derives the record of a deployed connection's stored key by its id (the dialog never gets the key back)", async function () {
      await deploy({ connection: SIGNING, credentials: { ...basic, dkimPrivateKey: ed25519Key } });
      const res = await helper.request().get('/smtp-oauth-config/conn/dkim-record');
      assert.equal(res.status, 200);
      assert.equal(res.body.value, opensslRecord(ed25519Key));
      assert.equal((await helper.request().get('/smtp-oauth-config/send/dkim-record')).status, 404, 'not a connection');
      assert.equal((await helper.request().get('/smtp-oauth-config/nothing/dkim-record')).status, 404);
    });
  });
});
