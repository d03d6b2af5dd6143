// Threading, custom headers, inline images and previews, checked in the message the loopback
// server receives (mailparser), sent by the node inside Node-RED.
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type { ReadMail } from './support/smtp';
import type { NodeMessage } from 'node-red';
import { helper, deploy, outcome, useHelperWithSmtp, type Deployed, type Outcome } from './support/flow';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

describe('message features: threading, headers, inline images, preview', function () {
  const smtp = useHelperWithSmtp({ users: { 'sender@example.com': 'pw-1' } });
  const basic = { user: 'sender@example.com', password: 'pw-1' };
  const store = { storeResult: 'msg', resultKey: 'emailResult' };

  /** Deploys with the given send-node properties and sends one msg; resolves with the outcome. */
  async function sendOne(send: Record<string, unknown>, msg: NodeMessage = { payload: 'x' }): Promise<Outcome & { nodes: Deployed }> {
    const nodes = await deploy({ connection: { port: smtp().port }, credentials: basic, send: { ...store, ...send } });
    const result = outcome(nodes);
    nodes.send.receive(msg);
    return { ...(await result), nodes };
  }

  it('replies in the same thread: In-Reply-To and References name the first mail', async function () {
    const nodes = await deploy({
      connection: { port: smtp().port },
      credentials: basic,
      send: { ...store, inReplyTo: 'parentId', inReplyToType: 'msg', references: 'thread', referencesType: 'msg' },
    });
    let result = outcome(nodes);
    nodes.send.receive({ payload: 'first' });
    const first = (await result).msg.emailResult;
    result = outcome(nodes);
    nodes.send.receive({ payload: 'reply', parentId: first.messageId, thread: ['<root@example.com>', first.messageId] });
    const reply = await result;
    assert.equal(reply.kind, 'sent');
    const [a, b] = await smtp().waitForMessages(2);
    assert.equal(a.parsed.messageId, first.messageId);
    assert.equal(b.parsed.inReplyTo, first.messageId);
    assert.deepEqual(b.parsed.references, ['<root@example.com>', first.messageId]);
  });

  it('replies in the same thread from msg.headers, as a function node that builds the reply sets them', async function () {
    const first = (await sendOne({})).msg.emailResult;
    await helper.unload();
    const reply = await sendOne({}, { payload: 'reply', headers: { 'In-Reply-To': first.messageId, References: [first.messageId] } });
    assert.equal(reply.kind, 'sent');
    assert.equal(reply.msg.emailResult.warnings, undefined);
    const [, m] = await smtp().waitForMessages(2);
    assert.equal(m.parsed.inReplyTo, first.messageId);
    assert.equal(m.parsed.references, first.messageId);
  });

  it("sends the node's own In-Reply-To over msg.headers, and warns in the result and the log", async function () {
    const { kind, msg } = await sendOne(
      { inReplyTo: '<parent@example.com>' },
      { payload: 'x', headers: { 'In-Reply-To': '<other@example.com>', 'X-Flow': 'replies' } },
    );
    assert.equal(kind, 'sent');
    const warning =
      "msg.headers sets In-Reply-To to <other@example.com>, but the node's own In-Reply-To field is set: the mail is sent with <parent@example.com>";
    assert.deepEqual(msg.emailResult.warnings, [warning]);
    assert.ok(helper.log().args.some(([event]) => event.level === helper.log().WARN && event.msg === warning));
    const [m] = await smtp().waitForMessages(1);
    assert.equal(m.parsed.inReplyTo, '<parent@example.com>');
    assert.equal(m.parsed.headers.get('x-flow'), 'replies');
  });

  it('refuses, with EINPUT and a hint, an In-Reply-To in msg.headers that is not a message id, and sends nothing', async function () {
    const { kind, msg } = await sendOne({}, { payload: 'x', headers: { 'In-Reply-To': 'yesterday' } });
    assert.equal(kind, 'caught');
    assert.equal(msg.error.code, 'EINPUT');
    assert.match(msg.error.message, /msg\.headers\["In-Reply-To"\] holds "yesterday", which is not a message id\. A message id looks like/);
    assert.equal(smtp().messages.length, 0);
  });

  it('refuses a 1 MB header value that would be one 1,000,001-character line, and folds a long one with spaces into short lines', async function () {
    const refused = await sendOne({}, { payload: 'x', headers: { 'X-Blob': 'a'.repeat(1024 * 1024) } });
    assert.equal(refused.kind, 'caught');
    assert.equal(refused.msg.error.code, 'EINPUT');
    assert.match(
      refused.msg.error.message,
      /X-Blob would become a header line longer than 998 characters\. A header line holds at most 998/,
    );
    assert.equal(smtp().messages.length, 0);
    await helper.unload();

    const words = 'word '.repeat(50_000).trim();
    const sent = await sendOne({}, { payload: 'x', headers: { 'X-Words': words } });
    assert.equal(sent.kind, 'sent');
    const [m] = await smtp().waitForMessages(1);
    assert.equal(m.parsed.headers.get('x-words'), words);
    assert.ok(Math.max(...m.raw.split('\r\n').map((l) => l.length)) <= 998, 'every line of the mail within RFC 5322');
  });

  it('sends a msg.headers "__proto__" key from JSON.parse as a header of that name, beside the others', async function () {
    const { kind } = await sendOne({}, { payload: 'x', headers: JSON.parse('{"__proto__": ["p"], "X-After": "1"}') });
    assert.equal(kind, 'sent');
    const [m] = await smtp().waitForMessages(1);
    assert.match(m.raw, /^__proto__: p\r$/m);
    assert.equal(m.parsed.headers.get('x-after'), '1');
  });

  it('sends custom headers from the node and from msg.headers', async function () {
    const { kind } = await sendOne(
      { headers: '{"X-Ticket-Id": "T-1", "List-Unsubscribe": "<mailto:unsub@example.com>"}', headersType: 'json' },
      { payload: 'x', headers: { 'X-Flow': 'alerts' } },
    );
    assert.equal(kind, 'sent');
    const [m] = await smtp().waitForMessages(1);
    assert.equal(m.parsed.headers.get('x-ticket-id'), 'T-1');
    assert.equal(m.parsed.headers.get('x-flow'), 'alerts');
    assert.match(m.raw, /^List-Unsubscribe: <mailto:unsub@example\.com>\r$/m);
  });

  const refused: [string, Record<string, string>][] = [
    ['Bcc', { Bcc: 'evil@example.com' }],
    ['From', { From: 'evil@example.com' }],
    ['Content-Type', { 'Content-Type': 'text/plain' }],
    ['Message-ID', { 'Message-ID': '<x@y>' }],
    ['MIME-Version', { 'MIME-Version': '2.0' }],
    ['a name that is not a field name', { 'X Bad Name': '1' }],
    ['CR/LF in a value', { 'X-Note': 'a\r\nBcc: evil@example.com' }],
  ];
  for (const [name, headers] of refused) {
    it(`refuses ${name} in msg.headers with EINPUT, and sends nothing`, async function () {
      const { kind, msg } = await sendOne({}, { payload: 'x', headers });
      assert.equal(kind, 'caught');
      assert.equal(msg.error.code, 'EINPUT');
      assert.equal(smtp().messages.length, 0);
    });
  }

  it('sends an attachment with a Content-ID as an inline image of multipart/related, and keeps others as attachments', async function () {
    const { kind, msg } = await sendOne(
      {
        html: '<p>Logo: <img src="cid:logo"></p>',
        attachmentType: 'base64',
        attachment: PNG.toString('base64'),
        attachmentFilename: 'logo.png',
        attachmentMimeType: 'image/png',
        attachmentCid: 'logo',
      },
      { payload: 'x', attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }] },
    );
    assert.equal(kind, 'sent');
    assert.equal(msg.emailResult.warnings, undefined);
    const [m] = await smtp().waitForMessages(1);
    assert.match(m.raw, /Content-Type: multipart\/related/);
    const logo = m.parsed.attachments.find((a) => a.filename === 'logo.png')!;
    const csv = m.parsed.attachments.find((a) => a.filename === 'report.csv')!;
    assert.equal(logo.cid, 'logo');
    assert.equal(logo.contentDisposition, 'inline');
    assert.deepEqual(logo.content, PNG);
    assert.equal(csv.contentDisposition, 'attachment');
    assert.match(m.raw, /Content-Disposition: attachment; filename=report\.csv/);
    // mailparser resolves cid: references to the related part it found
    assert.match(m.parsed.html, /src="data:image\/png;base64,/);
  });

  it('refuses a Content-ID beside a pregenerated MIME part (nodemailer would drop it), and sends nothing', async function () {
    const { kind, msg } = await sendOne({
      attachmentType: 'mime',
      attachment: 'Content-Type: text/plain\r\n\r\nhi',
      attachmentCid: 'logo',
    });
    assert.equal(kind, 'caught');
    assert.equal(msg.error.code, 'EINPUT');
    assert.match(msg.error.message, /Content-ID header into the MIME part/);
    assert.equal(smtp().messages.length, 0);
  });

  it('warns, in the result and the log, about a cid: the mail has no image for', async function () {
    const { kind, msg } = await sendOne({ html: '<img src="cid:chart">' });
    assert.equal(kind, 'sent');
    assert.deepEqual(msg.emailResult.warnings, [
      'The content refers to cid:chart, but no attachment has that Content-ID: the image will show as broken',
    ]);
    assert.ok(helper.log().args.some(([event]) => event.level === helper.log().WARN && /cid:chart/.test(String(event.msg))));
  });

  it('previews the exact message without connecting: same subject, recipients, HTML and attachments as a sent copy', async function () {
    const send = {
      to: 'Bob <bob@example.com>, carol@example.com',
      subject: 'Report {{payload.n}}',
      html: '<h1>Report {{payload.n}}</h1>',
      attachmentType: 'text',
      attachment: 'hello',
      attachmentFilename: 'a.txt',
    };
    const previewed = await sendOne({ ...send, deliver: 'preview' }, { payload: { n: 7 } });
    assert.equal(previewed.kind, 'sent');
    const result = previewed.msg.emailResult;
    assert.equal(result.success, true);
    assert.equal(result.preview, true);
    assert.deepEqual(result.envelope, { from: 'sender@example.com', to: ['bob@example.com', 'carol@example.com'] });
    assert.equal(typeof result.eml, 'string');
    assert.equal(smtp().messages.length, 0, 'the server received nothing');
    await helper.unload();

    const sent = await sendOne(send, { payload: { n: 7 } });
    assert.equal(sent.kind, 'sent');
    const [m] = await smtp().waitForMessages(1);
    const p = (await simpleParser(result.eml!)) as ReadMail;
    assert.equal(p.messageId, result.messageId);
    assert.equal(p.subject, m.parsed.subject);
    assert.equal(p.to.text, m.parsed.to.text);
    assert.equal(p.html, m.parsed.html);
    assert.equal(p.text, m.parsed.text);
    assert.deepEqual(
      p.attachments.map((a) => [a.filename, a.contentType, a.content.toString()]),
      m.parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()]),
    );
  });

  it("previews even when the connection's settings are invalid, since it connects to nothing; a send there still fails with ECONFIG", async function () {
    const invalid = { port: 70000 };
    for (const [send, msg] of [
      [{ deliver: 'preview' }, { payload: 'x' }],
      [{ previewFromMsg: true }, { payload: 'x', preview: true }],
    ] as const) {
      const nodes = await deploy({ connection: invalid, credentials: basic, send: { ...store, ...send } });
      const ended = outcome(nodes);
      nodes.send.receive(msg);
      const { kind, msg: out } = await ended;
      assert.equal(kind, 'sent', JSON.stringify(send));
      assert.equal(out.emailResult.preview, true);
      assert.deepEqual(out.emailResult.envelope, { from: 'sender@example.com', to: ['to@example.com'] });
      assert.match(String(out.emailResult.eml), /^From: sender@example\.com\r$/m);
      await helper.unload();
    }
    const nodes = await deploy({ connection: invalid, credentials: basic, send: store });
    const ended = outcome(nodes);
    nodes.send.receive({ payload: 'x' });
    const { kind, msg } = await ended;
    assert.equal(kind, 'caught');
    assert.equal(msg.error.code, 'ECONFIG');
  });

  it('ignores msg.preview unless the node allows it', async function () {
    const ignored = await sendOne({}, { payload: 'x', preview: true });
    assert.equal(ignored.msg.emailResult.preview, undefined);
    assert.equal(smtp().messages.length, 1);
    await helper.unload();
    const allowed = await sendOne({ previewFromMsg: true }, { payload: 'x', preview: true });
    assert.equal(allowed.msg.emailResult.preview, true);
    assert.equal(smtp().messages.length, 1, 'the preview sent nothing');
  });
});
