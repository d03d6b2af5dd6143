// The message a send node builds from its evaluated properties, and the results it stores: a
// success from a real send to a loopback server, a failure from a real refusal or a bad input.
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { composeBuffer } from '../../src/lib/message/compose';
import { Connection, type SendError } from '../../src/lib/connection';
import type { MailError } from '../../src/lib/errors/errors';
import {
  buildMessage,
  failureResult,
  previewResult,
  PREVIEW_TEXT_LIMIT,
  successResult,
  withWarnings,
  type MailInput,
} from '../../src/lib/message/message';
import { startSmtp, smtpError } from '../support/smtp';
import { delivered } from '../support/connection';

/** The error buildMessage throws for this input, or undefined when it builds. */
function refusal(input: MailInput, defaultFrom = 'sender@x.example'): MailError | undefined {
  try {
    buildMessage(input, defaultFrom);
    return undefined;
  } catch (e) {
    return e as MailError;
  }
}

describe('message', function () {
  describe('buildMessage', function () {
    it("builds nodemailer's message: every address parsed, empty lists left out, the text derived from the HTML", function () {
      const message = buildMessage(
        {
          to: 'a@x.example; Bob <b@x.example>',
          cc: '',
          bcc: ['c@x.example'],
          replyTo: 'Desk <desk@x.example>',
          subject: 'Report',
          html: '<p>Hello <b>you</b></p><ul><li>one</li></ul>',
          priority: 'high',
          attachments: [{ filename: 'a.txt', content: 'x' }],
          headers: { 'X-Ticket': '42' },
          inReplyTo: '<parent@x.example>',
          references: '<root@x.example> <parent@x.example>',
        },
        'sender@x.example',
      );
      assert.deepEqual(message, {
        from: { name: '', address: 'sender@x.example' },
        to: [
          { name: '', address: 'a@x.example' },
          { name: 'Bob', address: 'b@x.example' },
        ],
        cc: undefined,
        bcc: [{ name: '', address: 'c@x.example' }],
        replyTo: { name: 'Desk', address: 'desk@x.example' },
        subject: 'Report',
        html: '<p>Hello <b>you</b></p><ul><li>one</li></ul>',
        text: 'Hello you\n\n- one',
        priority: 'high',
        attachments: [{ filename: 'a.txt', content: 'x' }],
        headers: { 'X-Ticket': '42' },
        inReplyTo: '<parent@x.example>',
        references: '<root@x.example> <parent@x.example>',
      });
    });

    it('sends from Custom From, else from the connection user, and refuses a mail without a sender', function () {
      assert.deepEqual(buildMessage({ to: 'a@x.example', from: 'Alerts <alerts@x.example>' }, 'sender@x.example').from, {
        name: 'Alerts',
        address: 'alerts@x.example',
      });
      assert.deepEqual(buildMessage({ to: 'a@x.example', from: '' }, 'sender@x.example').from, { name: '', address: 'sender@x.example' });
      const none = refusal({ to: 'a@x.example' }, '');
      assert.equal(none?.code, 'EINPUT');
      assert.match(none.message, /sender/i);
      assert.ok(none.hint);
      // A connection user that is no address (a login name) cannot be the sender.
      const login = refusal({ to: 'a@x.example' }, 'svc-mailer');
      assert.equal(login?.code, 'EINPUT');
      assert.match(login.message, /connection user/);
    });

    it('needs one recipient in To, CC or BCC', function () {
      const none = refusal({ to: '', cc: [], bcc: undefined });
      assert.equal(none?.code, 'EINPUT');
      assert.match(none.message, /recipient/i);
      assert.ok(none.hint);
      const blind = buildMessage({ to: '', bcc: 'hidden@x.example' }, 'sender@x.example');
      assert.deepEqual(blind.to, []);
      assert.deepEqual(blind.bcc, [{ name: '', address: 'hidden@x.example' }]);
    });

    it('keeps a text content given beside the HTML, and gives no text without either', function () {
      assert.equal(buildMessage({ to: 'a@x.example', html: '<p>html</p>', text: 'my own text' }, 'sender@x.example').text, 'my own text');
      const empty = buildMessage({ to: 'a@x.example' }, 'sender@x.example');
      assert.equal(empty.text, undefined);
      assert.equal(empty.html, undefined);
      assert.equal(empty.subject, '');
    });

    it('takes numbers and booleans as text, and refuses objects with EINPUT', function () {
      const message = buildMessage({ to: 'a@x.example', subject: 42, text: true }, 'sender@x.example');
      assert.equal(message.subject, '42');
      assert.equal(message.text, 'true');
      for (const input of [{ subject: { a: 1 } }, { html: ['<p>'] }, { text: Buffer.from('x') }]) {
        const err = refusal({ to: 'a@x.example', ...input });
        assert.equal(err?.code, 'EINPUT', JSON.stringify(input));
        assert.ok(err.hint, JSON.stringify(input));
      }
    });

    it('refuses a subject that would become a line longer than 998 characters, and folds a long one with spaces', function () {
      const err = refusal({ to: 'a@x.example', subject: 'x'.repeat(5000) });
      assert.equal(err?.code, 'EINPUT');
      assert.equal(err.message, 'Subject would become a header line longer than 998 characters');
      assert.match(err.hint!, /shorten Subject or put spaces in it/);
      const words = 'word '.repeat(1000).trim();
      assert.equal(buildMessage({ to: 'a@x.example', subject: words }, 'sender@x.example').subject, words);
    });

    it('takes at most 1,000 recipients, To, CC and BCC together, or as many as it is told', function () {
      const addresses = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}@x.example`);
      const message = buildMessage({ to: addresses(500, 'to'), cc: addresses(400, 'cc'), bcc: addresses(100, 'bcc') }, 'sender@x.example');
      assert.equal((message.bcc as unknown[]).length, 100, '1,000 are sent');
      const err = refusal({ to: addresses(500, 'to'), cc: addresses(400, 'cc'), bcc: addresses(101, 'bcc') });
      assert.equal(err?.code, 'EINPUT');
      assert.equal(err.message, 'The mail has more than 1000 recipients (To, CC and BCC together)');
      assert.match(err.hint!, /several mails .* raise smtpOauthConfigMaxRecipients in settings\.js/);
      assert.equal((buildMessage({ to: addresses(1001, 'to') }, 'sender@x.example', 2000).to as unknown[]).length, 1001);
      assert.throws(() => buildMessage({ to: addresses(3, 'to') }, 'sender@x.example', 2), /more than 2 recipients/);
    });

    it('refuses 100,000 recipients with EINPUT, and builds them when told to take as many', function () {
      const list = Array.from({ length: 100_000 }, (_, i) => `user${i}@example.com`).join(', ');
      const err = refusal({ to: list });
      assert.equal(err?.code, 'EINPUT');
      assert.match(err.message, /more than 1000 recipients/);
      assert.equal((buildMessage({ to: list }, 'sender@x.example', 100_000).to as unknown[]).length, 100_000);
    });

    it('falls back to normal priority for a value it does not know, and leaves an empty attachment list out', function () {
      assert.equal(buildMessage({ to: 'a@x.example', priority: 'urgent' }, 'sender@x.example').priority, 'normal');
      assert.equal(buildMessage({ to: 'a@x.example' }, 'sender@x.example').priority, 'normal');
      assert.equal(buildMessage({ to: 'a@x.example', priority: 'low' }, 'sender@x.example').priority, 'low');
      assert.equal(buildMessage({ to: 'a@x.example', attachments: [] }, 'sender@x.example').attachments, undefined);
    });

    it('refuses a bad address with EINPUT, naming the field', function () {
      for (const [field, input] of [
        ['CC', { to: 'a@x.example', cc: 'not an address' }],
        ['Reply-To', { to: 'a@x.example', replyTo: 'a@x.example, b@x.example' }],
        ['From', { to: 'a@x.example', from: 'x@y@z' }],
      ] as const) {
        const err = refusal(input);
        assert.equal(err?.code, 'EINPUT', field);
        assert.ok(err.message.includes(field), `${field}: ${err.message}`);
      }
    });
  });

  describe('previewResult', function () {
    it('gives the built message as .eml text with its Message-ID and envelope, Bcc in the envelope only', async function () {
      const built = await composeBuffer(
        buildMessage({ to: 'a@x.example', bcc: 'hidden@x.example', subject: 'Preview', text: 'body' }, 'sender@x.example'),
      );
      const { eml, ...preview } = previewResult(built);
      assert.deepEqual(preview, {
        success: true,
        preview: true,
        messageId: built.messageId,
        envelope: { from: 'sender@x.example', to: ['a@x.example', 'hidden@x.example'] },
      });
      assert.equal(typeof eml, 'string');
      assert.equal(eml, built.message.toString('utf8'));
      const parsed = await simpleParser(eml);
      assert.equal(parsed.subject, 'Preview');
      assert.equal(parsed.messageId, built.messageId);
      assert.doesNotMatch(eml as string, /hidden@x\.example/);
    });

    it('keeps an .eml above 1 MB a Buffer', function () {
      const built = (size: number) => ({
        messageId: '<m@x.example>',
        envelope: { from: 'a@x.example', to: ['b@x.example'] },
        message: Buffer.alloc(size, 'a'),
      });
      assert.equal(previewResult(built(PREVIEW_TEXT_LIMIT)).eml, 'a'.repeat(PREVIEW_TEXT_LIMIT));
      const large = built(PREVIEW_TEXT_LIMIT + 1);
      assert.equal(previewResult(large).eml, large.message);
    });
  });

  describe('withWarnings', function () {
    it('adds the warnings to a copy of the result, and leaves a result without warnings as it is', function () {
      const result = { success: true, messageId: '<m@x.example>' };
      assert.equal(withWarnings(result, []), result);
      const warned = withWarnings(result, ['The content refers to cid:logo']);
      assert.deepEqual(warned, { success: true, messageId: '<m@x.example>', warnings: ['The content refers to cid:logo'] });
      assert.deepEqual(result, { success: true, messageId: '<m@x.example>' }, 'the result itself is not changed');
    });
  });

  describe('results of a send to a server', function () {
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let conn: Connection;
    before(async function () {
      smtp = await startSmtp({
        auth: false,
        onRcpt: (address: { address: string }) => (address.address.startsWith('unknown') ? smtpError('550 5.1.1 User unknown') : undefined),
      });
      conn = new Connection({ host: '127.0.0.1', port: smtp.port, security: 'none', authType: 'none' }, { user: 'sender@x.example' });
    });
    after(async function () {
      await conn.close();
      await smtp.close();
    });

    it('reports what the server accepted and refused, with the attempts', async function () {
      const message = buildMessage({ to: 'a@x.example, unknown@x.example', subject: 'Partly', text: 'x' }, conn.user);
      const sent = await delivered(conn.send(message));
      assert.deepEqual(successResult(sent), {
        success: true,
        messageId: sent.messageId,
        accepted: ['a@x.example'],
        rejected: ['unknown@x.example'],
        response: sent.response,
        envelope: { from: 'sender@x.example', to: ['a@x.example', 'unknown@x.example'] },
        attempts: 1,
      });
      assert.match(successResult(sent).response, /^250 /);
      assert.match(sent.messageId, /^<.+@x\.example>$/);
    });

    it("counts one attempt when nodemailer's info has no count, and takes address objects as addresses", function () {
      // nodemailer's info with only the fields a result reads; an address may come as an object.
      const info = {
        messageId: '<m@x.example>',
        accepted: [{ name: 'A', address: 'a@x.example' }],
        rejected: [],
        response: '250 OK',
        envelope: { from: 'sender@x.example', to: ['a@x.example'] },
      } as unknown as SMTPPool.SentMessageInfo;
      const result = successResult(info);
      assert.deepEqual(result.accepted, ['a@x.example']);
      assert.equal(result.attempts, 1);
    });

    it('reports a refusal with its code, answer, hint and attempts, and leaves out what it does not know', async function () {
      const err = await delivered(conn.send(buildMessage({ to: 'unknown@x.example', text: 'x' }, conn.user))).then(
        () => assert.fail('the server refused the only recipient'),
        (e: SendError) => e,
      );
      assert.deepEqual(failureResult(err), {
        success: false,
        error: { message: err.message, code: 'EENVELOPE', responseCode: 550, hint: err.hint },
        attempts: 1,
      });
      assert.ok(err.hint);

      const input = refusal({ to: '' })!;
      assert.deepEqual(failureResult(input), {
        success: false,
        error: { message: input.message, code: 'EINPUT', hint: input.hint },
        attempts: 0,
      });
      assert.deepEqual(failureResult(new Error('plain')), { success: false, error: { message: 'plain' }, attempts: 0 });
    });
  });
});
