// Input a flow passes on from elsewhere (a webhook, a queue) must not reshape the mail or make the
// node send something it then reports as failed. Each case checks what the receiving server got.
import assert from 'node:assert/strict';
import type { SinonSpy } from 'sinon';
import { helper, deploy, outcome, useHelperWithSmtp, type EmailResult, type FlowNode, type Msg } from './support/flow';

const INJECTION = 'v\r\nX-Inj: 1\r\n\r\nINJECTED BODY';

describe('untrusted input', function () {
  const smtp = useHelperWithSmtp({ users: { 'sender@example.com': 'pw-1' } });
  const credentials = { user: 'sender@example.com', password: 'pw-1' };

  /**
   * A second send node on the same connection: once its mail has arrived, every mail the node under
   * test had started would have arrived too, so the server's count is final without waiting on a timer.
   */
  const barrier: FlowNode[] = [
    {
      id: 'barrier',
      type: 'send-smtp-email',
      z: 'tab',
      connection: 'conn',
      to: 'to@example.com',
      subject: 'Barrier',
      html: '<p>b</p>',
      wires: [['barrierOut']],
    },
    { id: 'barrierOut', type: 'helper', z: 'tab' },
  ];
  async function passBarrier() {
    const before = smtp().messages.length;
    helper.getNode('barrier').receive({});
    const all = await smtp().waitForMessages(before + 1);
    return all.filter((m) => m.parsed.subject !== 'Barrier');
  }

  describe('msg.attachments', function () {
    const refused = [
      {
        name: 'an attachment header given as a prepared value',
        entry: { filename: 'a.txt', content: 'hi', headers: { 'X-Note': { prepared: true, value: INJECTION } } },
        message: /msg\.attachments\[0\]\.headers "X-Note" must be text/,
      },
      {
        name: 'an attachment header value with CR/LF',
        entry: { filename: 'a.txt', content: 'hi', headers: { 'X-Note': INJECTION } },
        message: /msg\.attachments\[0\]\.headers "X-Note" contains a line break/,
      },
      {
        name: 'a data: href with a raw that reads a local file',
        entry: { href: 'data:text/plain;base64,aGk=', raw: { path: '/etc/hostname' } },
        message: /msg\.attachments\[0\] has raw together with href/,
      },
      {
        name: 'a raw MIME part together with an href',
        entry: { raw: 'Content-Type: text/plain\r\n\r\nhi', href: 'data:text/plain;base64,aGk=' },
        message: /msg\.attachments\[0\] has raw together with href/,
      },
    ];
    for (const c of refused) {
      it(`refuses ${c.name} (EATTACHMENT), nothing sent`, async function () {
        const nodes = await deploy({ connection: { port: smtp().port }, credentials, extra: barrier });
        const ended = outcome(nodes);
        nodes.send.receive({ attachments: [c.entry] });
        const r = await ended;
        assert.equal(r.kind, 'caught');
        assert.equal(r.msg.error.code, 'EATTACHMENT');
        assert.match(r.msg.error.message, c.message);
        assert.deepEqual(await passBarrier(), [], 'nothing was sent');
      });
    }

    it("refuses a data: URL larger than the connection's Max attachment size, as href or as the node's URL attachment (EATTACHMENT), nothing sent", async function () {
      const large = `data:application/pdf;base64,${Buffer.alloc(1024 * 1024 + 1).toString('base64')}`;
      for (const [send, msg] of [
        [{}, { attachments: [{ filename: 'big.pdf', href: large }] }],
        [{ attachmentType: 'url', attachment: 'url', attachmentValueType: 'msg' }, { url: large }],
      ] as const) {
        const nodes = await deploy({ connection: { port: smtp().port, maxAttachmentMB: 1 }, credentials, send, extra: barrier });
        const ended = outcome(nodes);
        nodes.send.receive(msg);
        const r = await ended;
        assert.equal(r.kind, 'caught');
        assert.equal(r.msg.error.code, 'EATTACHMENT');
        assert.match(
          r.msg.error.message,
          /The attachment is larger than 1 MB\. Send a smaller file or a link, or raise Max attachment size/,
        );
        assert.deepEqual(await passBarrier(), [], 'nothing was sent');
        await helper.unload();
      }
    });

    it('never writes a prepared attachment header into the mail, whatever the node decides', async function () {
      const nodes = await deploy({
        connection: { port: smtp().port },
        credentials,
        send: { stopOnError: false, storeResult: 'msg' },
        extra: barrier,
      });
      const ended = outcome(nodes);
      nodes.send.receive({
        attachments: [{ filename: 'a.txt', content: 'hi', headers: { 'X-Note': { prepared: true, value: INJECTION } } }],
      });
      await ended;
      await passBarrier();
      for (const m of smtp().messages) {
        assert.doesNotMatch(m.raw, /^X-Inj:/im, 'no injected header line');
        assert.doesNotMatch(m.raw, /INJECTED BODY/, 'no injected body');
      }
    });

    it('still sends safe attachment headers, disposition and cid', async function () {
      const nodes = await deploy({ connection: { port: smtp().port }, credentials, send: { html: '<img src="cid:logo@x">' } });
      const ended = outcome(nodes);
      nodes.send.receive({
        attachments: [
          {
            filename: 'a.pdf',
            content: 'hi',
            contentType: 'application/pdf',
            contentDisposition: 'inline',
            headers: { 'X-Report-Id': '42' },
          },
          { filename: 'logo.png', content: 'iVBORw0KGgo=', encoding: 'base64', contentType: 'image/png', cid: 'logo@x' },
        ],
      });
      assert.equal((await ended).kind, 'sent');
      const [m] = await smtp().waitForMessages(1);
      const byName = Object.fromEntries(m.parsed.attachments.map((x) => [x.filename, x]));
      const a = byName['a.pdf'];
      const logo = byName['logo.png'];
      assert.equal(a.headers.get('x-report-id'), '42');
      assert.equal(a.contentDisposition, 'inline');
      assert.equal(logo.cid, 'logo@x');
      assert.deepEqual(logo.content, Buffer.from('iVBORw0KGgo=', 'base64'));
    });
  });

  describe('recipients per mail', function () {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.com`).join(', ');

    it('refuses a msg with 100,000 recipients (EINPUT, with a hint), nothing sent', async function () {
      const nodes = await deploy({ connection: { port: smtp().port }, credentials, send: { to: 'to', toType: 'msg' }, extra: barrier });
      const ended = outcome(nodes);
      nodes.send.receive({ to: list(100_000) });
      const r = await ended;
      assert.equal(r.kind, 'caught');
      assert.equal(r.msg.error.code, 'EINPUT');
      assert.match(
        r.msg.error.message,
        /The mail has more than 1000 recipients \(To, CC and BCC together\)\. Send to the recipients in several mails/,
      );
      assert.deepEqual(await passBarrier(), [], 'nothing was sent');
    });

    it('sends to more when settings.js smtpOauthConfigMaxRecipients allows it, and ignores a setting that is no count', async function () {
      helper.settings({ smtpOauthConfigMaxRecipients: 1200 });
      let nodes = await deploy({ connection: { port: smtp().port }, credentials, send: { to: 'to', toType: 'msg', storeResult: 'msg' } });
      let ended = outcome(nodes);
      nodes.send.receive({ to: list(1200) });
      const sent = await ended;
      assert.equal(sent.kind, 'sent');
      assert.equal(sent.msg.emailResult.accepted.length, 1200);
      const [m] = await smtp().waitForMessages(1);
      assert.equal(m.envelope.rcptTo.length, 1200);
      await helper.unload();

      helper.settings({ smtpOauthConfigMaxRecipients: 'many' });
      nodes = await deploy({ connection: { port: smtp().port }, credentials, send: { to: 'to', toType: 'msg' } });
      ended = outcome(nodes);
      nodes.send.receive({ to: list(1001) });
      const r = await ended;
      assert.equal(r.kind, 'caught');
      assert.match(r.msg.error.message, /more than 1000 recipients/);
    });
  });

  describe('an invalid result key', function () {
    for (const mode of [{}, { stopOnError: false }, { async: true }, { storeResult: 'flow' }, { storeResult: 'global', async: true }]) {
      it(`is reported at deploy and fails every msg with ECONFIG before sending ${JSON.stringify(mode)}`, async function () {
        const nodes = await deploy({
          connection: { port: smtp().port },
          credentials,
          send: { storeResult: 'msg', resultKey: 'a..b[', ...mode },
          extra: barrier,
        });
        const own = <A extends unknown[]>(spy: SinonSpy<A, void>) => spy.getCalls().filter((c) => c.thisValue === nodes.send);
        const atDeploy = own(nodes.send.error);
        assert.equal(atDeploy.length, 1, 'the node reports the bad key once at deploy');
        assert.match(String(atDeploy[0].args[0].message), /Result key "a\.\.b\[" is not a valid property: Invalid property expression/);
        assert.deepEqual(own(nodes.send.status).at(-1)!.args[0], { fill: 'red', shape: 'ring', text: 'ECONFIG' });

        const caught = new Promise<Msg>((resolve) => nodes.caught.on('input', (msg) => msg.payload === 'm1' && resolve(msg)));
        const passedOn: Msg[] = [];
        nodes.out.on('input', (msg) => passedOn.push(msg));
        nodes.send.receive({ payload: 'm1' });
        const msg = await caught;
        assert.equal(msg.error.code, 'ECONFIG');
        assert.match(msg.error.message, /Result key "a\.\.b\["/);
        assert.match(msg.error.message, /Set Result key to a property path such as emailResult or result\.mail/);
        assert.deepEqual(await passBarrier(), [], 'nothing was sent');
        assert.deepEqual(passedOn, [], 'the msg is not passed on');
        assert.deepEqual(own(nodes.send.status).at(-1)!.args[0], { fill: 'red', shape: 'ring', text: 'ECONFIG' });
      });
    }

    it('fails a msg whose key refers to a msg property it lacks, before sending', async function () {
      const nodes = await deploy({
        connection: { port: smtp().port },
        credentials,
        send: { storeResult: 'msg', resultKey: 'results[msg.topic]' },
        extra: barrier,
      });
      const ended = outcome(nodes);
      nodes.send.receive({ payload: 'no topic' });
      const r = await ended;
      assert.equal(r.kind, 'caught');
      assert.equal(r.msg.error.code, 'ECONFIG');
      assert.deepEqual(await passBarrier(), [], 'nothing was sent');

      const sent = outcome(nodes);
      nodes.send.receive({ topic: 'daily' });
      assert.equal(
        ((await sent).msg.results as Record<string, EmailResult>).daily.success,
        true,
        'a msg with the property is sent and its result stored',
      );
    });
  });
});
