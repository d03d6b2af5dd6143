import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type Mail from 'nodemailer/lib/mailer';
import { composeBuffer, composeStream } from '../../src/lib/message/compose';
import type { MailError } from '../../src/lib/errors/errors';

describe('compose', function () {
  const message = (): Mail.Options => ({
    from: 'a@x.example',
    to: ['b@y.example'],
    subject: 'Hi',
    html: '<p>x<img src="cid:logo"></p>',
    attachments: [
      { filename: 'logo.png', content: Buffer.from('png'), cid: 'logo' },
      { filename: 'a.txt', content: 'text' },
    ],
  });

  it('builds the message as the SMTP transport would, with its envelope and Message-ID', async function () {
    const { messageId, envelope, message: eml } = await composeBuffer(message());
    assert.deepEqual(envelope, { from: 'a@x.example', to: ['b@y.example'] });
    const parsed = await simpleParser(eml);
    assert.equal(parsed.messageId, messageId);
    assert.equal(parsed.subject, 'Hi');
    const [logo, text] = parsed.attachments;
    assert.equal(logo.cid, 'logo');
    assert.equal(logo.contentDisposition, 'inline');
    assert.equal(text.contentDisposition, 'attachment');
    assert.match(eml.toString(), /multipart\/related/);
  });

  it('streams the same message for a given Message-ID', async function () {
    const first = await composeBuffer({ ...message(), messageId: '<fixed@x.example>', date: new Date(0) });
    const streamed = await composeStream({ ...message(), messageId: '<fixed@x.example>', date: new Date(0) });
    const chunks: Buffer[] = [];
    for await (const c of streamed.message) chunks.push(c);
    const a = await simpleParser(first.message);
    const b = await simpleParser(Buffer.concat(chunks));
    assert.equal(streamed.messageId, '<fixed@x.example>');
    assert.equal(b.messageId, a.messageId);
    assert.equal(b.html, a.html);
    assert.deepEqual(
      b.attachments.map((x) => x.content.toString()),
      a.attachments.map((x) => x.content.toString()),
    );
  });

  it('keeps Bcc in the envelope of the streamed message, never in its headers (as the SMTP transport does)', async function () {
    const built = await composeStream({ from: 'a@x.example', to: 'b@y.example', bcc: 'hidden@z.example', subject: 'Hi', text: 'x' });
    const chunks: Buffer[] = [];
    for await (const c of built.message) chunks.push(c);
    const parsed = await simpleParser(Buffer.concat(chunks));
    assert.deepEqual(built.envelope, { from: 'a@x.example', to: ['b@y.example', 'hidden@z.example'] });
    assert.equal(parsed.bcc, undefined);
    assert.doesNotMatch(Buffer.concat(chunks).toString(), /hidden@z\.example/);
  });

  it('keeps Bcc in the envelope only, as the SMTP transport does', async function () {
    const { envelope, message: eml } = await composeBuffer({ ...message(), bcc: 'hidden@z.example' });
    assert.deepEqual(envelope.to, ['b@y.example', 'hidden@z.example']);
    assert.doesNotMatch(eml.toString(), /^Bcc:/im);
    assert.doesNotMatch(eml.toString(), /hidden@z\.example/);
  });

  it('never reads a local file, even if asked to', async function () {
    await assert.rejects(
      composeBuffer({ from: 'a@x', to: 'b@y', text: { path: '/etc/hostname' } }),
      (e: MailError) => e.code === 'ESTREAM' || /EFILEACCESS|denied/i.test(`${e.code} ${e.message}`),
    );
  });
});
