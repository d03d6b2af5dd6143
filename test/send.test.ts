import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSmtp } from './support/smtp';
import { helper, deploy, next, outcome, useHelperWithSmtp, type EmailResult } from './support/flow';

describe('send-smtp-email over basic auth', function () {
  const smtp = useHelperWithSmtp({ users: { 'sender@example.com': 'secret-pass-1' } });
  let files: http.Server;
  let filesUrl: string;
  before(async function () {
    files = http.createServer((req, res) => {
      if (req.url === '/report.csv') {
        res.writeHead(200, { 'Content-Type': 'text/csv' });
        return res.end('a,b\n1,2\n');
      }
      return res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  after(async function () {
    await new Promise((r) => files.close(r));
  });

  const connection = () => ({ port: smtp().port });
  const credentials = { user: 'sender@example.com', password: 'secret-pass-1' };

  it('delivers a message with every address field, subject, html, text and priority', async function () {
    const nodes = await deploy({
      connection: connection(),
      credentials,
      send: {
        to: 'a@example.com; Bob <b@example.com>',
        cc: 'payload.cc',
        ccType: 'msg',
        bcc: 'hidden@example.com',
        from: 'Alerts <sender@example.com>',
        replyTo: 'help@example.com',
        subject: 'Order {{payload.id}}',
        html: '<p>Hello {{payload.name}}</p>',
        text: 'Plain {{payload.name}}',
        priority: 'high',
      },
    });
    const done = next(nodes.out);
    nodes.send.receive({ payload: { id: 42, name: 'Ada & <Co>', cc: ['c1@example.com', { name: 'C Two', address: 'c2@example.com' }] } });
    await done;
    const [m] = await smtp().waitForMessages(1);
    const p = m.parsed;
    assert.deepEqual(
      p.to.value.map((a) => a.address),
      ['a@example.com', 'b@example.com'],
    );
    assert.equal(p.to.value[1].name, 'Bob');
    assert.deepEqual(
      p.cc.value.map((a) => a.address),
      ['c1@example.com', 'c2@example.com'],
    );
    assert.equal(p.bcc, undefined, 'BCC must not appear in the headers');
    assert.deepEqual(m.envelope.rcptTo.map((r) => r.address).sort(), [
      'a@example.com',
      'b@example.com',
      'c1@example.com',
      'c2@example.com',
      'hidden@example.com',
    ]);
    assert.equal(p.from.value[0].name, 'Alerts');
    assert.equal(p.replyTo.value[0].address, 'help@example.com');
    assert.equal(p.subject, 'Order 42');
    assert.equal(p.html.trim(), '<p>Hello Ada &amp; &lt;Co&gt;</p>');
    assert.equal(p.text.trim(), 'Plain Ada & <Co>');
    assert.equal(p.headers.get('priority'), 'high');
    assert.ok(p.headerLines.some((h) => /^x-priority: 1/i.test(h.line)));
    assert.equal(m.user, 'sender@example.com');
  });

  it('defaults From to the connection user and derives the text from the HTML', async function () {
    const nodes = await deploy({
      connection: connection(),
      credentials,
      send: { html: '<h1>Title</h1><p>Line<br>two <a href="https://x.example/">link</a></p><ul><li>one</li></ul>', priority: 'low' },
    });
    nodes.send.receive({});
    const [m] = await smtp().waitForMessages(1);
    assert.equal(m.parsed.from.value[0].address, 'sender@example.com');
    assert.equal(m.parsed.text.trim(), 'Title\n\nLine\ntwo link (https://x.example/)\n\n- one');
    assert.equal(m.parsed.headers.get('priority'), 'low');
  });

  it('reads recipients and content from msg, flow, global, env and jsonata', async function () {
    process.env.SMTP_TEST_BCC = 'env@example.com';
    const nodes = await deploy({
      connection: connection(),
      credentials,
      send: {
        to: 'payload.to',
        toType: 'msg',
        cc: 'ccList',
        ccType: 'flow',
        bcc: 'SMTP_TEST_BCC',
        bccType: 'env',
        subject: 'subj',
        subjectType: 'global',
        html: '"<b>" & payload.n & "</b>"',
        htmlType: 'jsonata',
      },
    });
    nodes.send.context().flow.set('ccList', 'flow@example.com');
    nodes.send.context().global.set('subj', 'From {{global}}');
    nodes.send.receive({ payload: { to: ['x@example.com'], n: 7 } });
    const [m] = await smtp().waitForMessages(1);
    assert.equal(m.parsed.to.value[0].address, 'x@example.com');
    assert.equal(m.parsed.cc.value[0].address, 'flow@example.com');
    assert.ok(m.envelope.rcptTo.some((r) => r.address === 'env@example.com'));
    assert.equal(m.parsed.subject, 'From {{global}}', 'only str values are templates');
    assert.equal(m.parsed.html.trim(), '<b>7</b>');
  });

  it('renders flow, global and env values in str templates', async function () {
    process.env.SMTP_TEST_SITE = 'Plant 3';
    const nodes = await deploy({
      connection: connection(),
      credentials,
      send: { subject: '{{flow.area}} / {{global.shift}} / {{env.SMTP_TEST_SITE}}' },
    });
    nodes.send.context().flow.set('area', 'Hall A');
    nodes.send.context().global.set('shift', 'night');
    nodes.send.receive({});
    const [m] = await smtp().waitForMessages(1);
    assert.equal(m.parsed.subject, 'Hall A / night / Plant 3');
  });

  const attachmentCases = [
    {
      name: 'url (http)',
      send: () => ({ attachmentType: 'url', attachment: `${filesUrl}/report.csv` }),
      filename: 'report.csv',
      type: 'text/csv',
      content: 'a,b\n1,2\n',
    },
    {
      name: 'url (data:)',
      send: () => ({ attachmentType: 'url', attachment: 'data:image/png;base64,iVBORw0KGgo=', attachmentFilename: 'pixel.png' }),
      filename: 'pixel.png',
      type: 'image/png',
      content: Buffer.from('iVBORw0KGgo=', 'base64'),
    },
    {
      name: 'text',
      send: () => ({ attachmentType: 'text', attachment: 'hello text' }),
      filename: 'attachment.txt',
      type: 'text/plain',
      content: 'hello text',
    },
    {
      name: 'base64',
      send: () => ({ attachmentType: 'base64', attachment: Buffer.from('binary!').toString('base64'), attachmentFilename: 'b.bin' }),
      filename: 'b.bin',
      type: 'application/octet-stream',
      content: 'binary!',
    },
    {
      name: 'custom',
      send: () => ({ attachmentType: 'custom', attachment: '{"a":1}', attachmentMimeType: 'application/json' }),
      filename: 'attachment.json',
      type: 'application/json',
      content: '{"a":1}',
    },
    {
      name: 'mime',
      send: () => ({
        attachmentType: 'mime',
        attachment:
          'Content-Type: text/calendar; method=REQUEST\r\nContent-Disposition: attachment; filename="invite.ics"\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR',
      }),
      filename: 'invite.ics',
      type: 'text/calendar',
      content: 'BEGIN:VCALENDAR\r\nEND:VCALENDAR',
    },
  ];
  for (const c of attachmentCases) {
    it(`attaches ${c.name}`, async function () {
      const nodes = await deploy({ connection: connection(), credentials, send: c.send() });
      nodes.send.receive({});
      const [m] = await smtp().waitForMessages(1);
      const [a] = m.parsed.attachments;
      assert.equal(a.filename, c.filename);
      assert.equal(a.contentType, c.type);
      assert.equal(a.content.toString('latin1'), Buffer.from(c.content).toString('latin1'));
    });
  }

  it('adds msg.attachments to the node attachment', async function () {
    const nodes = await deploy({
      connection: connection(),
      credentials,
      send: { attachmentType: 'text', attachment: 'own', attachmentFilename: 'own.txt' },
    });
    nodes.send.receive({
      attachments: [
        { filename: 'buf.bin', content: Buffer.from([1, 2, 3]) },
        { filename: 'b64.txt', content: Buffer.from('decoded').toString('base64'), encoding: 'base64' },
        { filename: 'remote.csv', href: `${filesUrl}/report.csv` },
      ],
    });
    const [m] = await smtp().waitForMessages(1);
    assert.deepEqual(
      m.parsed.attachments.map((a) => a.filename),
      ['own.txt', 'buf.bin', 'b64.txt', 'remote.csv'],
    );
    assert.deepEqual([...m.parsed.attachments[1].content], [1, 2, 3]);
    assert.equal(m.parsed.attachments[2].content.toString(), 'decoded');
    assert.equal(m.parsed.attachments[3].content.toString(), 'a,b\n1,2\n');
  });

  it('stores the result in msg at a nested path', async function () {
    const nodes = await deploy({ connection: connection(), credentials, send: { storeResult: 'msg', resultKey: 'mail.result' } });
    const done = next(nodes.out);
    nodes.send.receive({ payload: 1 });
    const msg = await done;
    const r = (msg.mail as { result: EmailResult }).result;
    assert.equal(r.success, true);
    assert.match(r.messageId, /^<.+@.+>$/);
    assert.deepEqual(r.accepted, ['to@example.com']);
    assert.deepEqual(r.rejected, []);
    assert.match(r.response, /^250 /);
    assert.deepEqual(r.envelope, { from: 'sender@example.com', to: ['to@example.com'] });
  });

  for (const scope of ['flow', 'global'] as const) {
    it(`stores the result in ${scope} context`, async function () {
      const nodes = await deploy({ connection: connection(), credentials, send: { storeResult: scope, resultKey: 'lastMail' } });
      const done = next(nodes.out);
      nodes.send.receive({});
      const msg = await done;
      assert.equal(msg.lastMail, undefined);
      const r = nodes.send.context()[scope].get('lastMail') as EmailResult;
      assert.equal(r.success, true);
      assert.deepEqual(r.accepted, ['to@example.com']);
    });
  }

  it('with stop on error on: reports to Catch and does not pass the msg on', async function () {
    const nodes = await deploy({ connection: connection(), credentials: { user: 'sender@example.com', password: 'wrong' } });
    const result = outcome(nodes);
    nodes.send.receive({ payload: 'x' });
    const r = await result;
    assert.equal(r.kind, 'caught');
    assert.equal(r.msg.error.code, 'EAUTH');
    assert.match(r.msg.error.message, /535/);
    assert.match(r.msg.error.message, /check the user and password/i);
  });

  it('with stop on error off: stores the failure and passes the msg on', async function () {
    const nodes = await deploy({
      connection: connection(),
      credentials: { user: 'sender@example.com', password: 'wrong' },
      send: { stopOnError: false, storeResult: 'msg' },
    });
    const result = outcome(nodes);
    nodes.send.receive({ payload: 'x' });
    const r = await result;
    assert.equal(r.kind, 'sent');
    const e = r.msg.emailResult;
    assert.equal(e.success, false);
    assert.equal(e.error.code, 'EAUTH');
    assert.equal(e.error.responseCode, 535);
    assert.match(e.error.hint, /user and password/);
  });

  it('asynchronous: passes the msg on at once and stores the result in flow context when sent', async function () {
    const nodes = await deploy({ connection: connection(), credentials, send: { async: true, storeResult: 'flow', resultKey: 'r' } });
    const passed = next(nodes.out);
    nodes.send.receive({ payload: 'now' });
    const msg = await passed;
    assert.equal(msg.payload, 'now');
    assert.equal(nodes.send.context().flow.get('r'), undefined, 'not sent yet when the msg passes on');
    await smtp().waitForMessages(1);
    // The result lands right after the server accepts; wait for the status that follows it.
    await new Promise<void>((resolve) => {
      const check = () => (nodes.send.context().flow.get('r') ? resolve() : setImmediate(check));
      check();
    });
    assert.equal((nodes.send.context().flow.get('r') as EmailResult).success, true);
  });

  it('asynchronous: a failure reaches Catch nodes after the msg passed on', async function () {
    const nodes = await deploy({
      connection: connection(),
      credentials: { user: 'sender@example.com', password: 'wrong' },
      send: { async: true },
    });
    const passed = next(nodes.out);
    const caught = next(nodes.caught);
    nodes.send.receive({ payload: 'later' });
    assert.equal((await passed).payload, 'later');
    const c = await caught;
    assert.equal(c.payload, 'later');
    assert.equal(c.error.code, 'EAUTH');
  });

  it('sends without authentication when the connection has none', async function () {
    const open = await startSmtp({ auth: false });
    try {
      const nodes = await deploy({ connection: { port: open.port, authType: 'none' }, send: { from: 'robot@example.com' } });
      const result = outcome(nodes);
      nodes.send.receive({});
      const r = await result;
      assert.equal(r.kind, 'sent', JSON.stringify(r.msg.error));
      const [m] = await open.waitForMessages(1);
      assert.equal(m.parsed.from.value[0].address, 'robot@example.com');
    } finally {
      await helper.unload(); // closes the pool, so the server can close
      await open.close();
    }
  });
});
