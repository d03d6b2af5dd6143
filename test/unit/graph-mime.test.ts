import assert from 'node:assert/strict';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import type Mail from 'nodemailer/lib/mailer';
import { simpleParser, type Attachment } from 'mailparser';
import { DraftTooLargeError, headerRecipients, splitForDraft, withBcc, type DraftAttachment } from '../../src/lib/transports/graph-mime';

const build = (mail: Mail.Options): Promise<Buffer> => new MailComposer(mail).compile().build();
const base64Length = (b: Buffer) => Math.ceil(b.length / 3) * 4;

/** Bytes no encoding leaves alone: every value 0–255, in no simple order. */
function binary(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7919 + seed * 104729 + (i >> 8)) & 255;
  return out;
}

const LONG_NAME = 'Résumé très long — “Quartalsbericht” Überblick 2026 für die Geschäftsführung_final.pdf';

describe('graph-mime', function () {
  describe('headerRecipients', function () {
    it('lists the To and Cc addresses, lower case, groups and encoded names included, each once; never Bcc', async function () {
      const mime = await build({
        from: 'Sender <sender@x.example>',
        to: ['Ärger Jürgen <Juergen@X.example>', 'team: a@x.example, b@x.example;'],
        cc: Array.from({ length: 12 }, (_, i) => `Person number ${i} with a long display name <p${i}@y.example>`).concat(
          'juergen@x.example',
        ),
        bcc: 'hidden@z.example',
        subject: 's',
        text: 't',
      });
      assert.match(mime.toString(), /^Cc: .*\r\n /m, 'the fixture folds the Cc header');
      assert.deepEqual(headerRecipients(mime), [
        'juergen@x.example',
        'a@x.example',
        'b@x.example',
        ...Array.from({ length: 12 }, (_, i) => `p${i}@y.example`),
      ]);
    });
  });

  describe('withBcc', function () {
    it('puts a Bcc header at the top of the header block and leaves every other byte as it was', async function () {
      const mime = await build({ from: 'a@x.example', to: 'b@x.example', subject: 's', text: 't' });
      const out = withBcc(mime, ['c@y.example', 'd@y.example']);
      assert.ok(out.subarray(out.length - mime.length).equals(mime));
      const parsed = await simpleParser(out);
      assert.deepEqual(
        (Array.isArray(parsed.bcc) ? parsed.bcc : [parsed.bcc]).flatMap((a) => a!.value.map((v) => v.address)),
        ['c@y.example', 'd@y.example'],
      );
      assert.equal(parsed.text?.trim(), 't');
      assert.equal(withBcc(mime, []), mime);
    });
  });

  describe('splitForDraft', function () {
    const inline = binary(40_000, 1);
    const small = binary(300_000, 2);
    const large = binary(2_500_000, 3);
    const medium = binary(1_200_000, 4);
    const textFile = 'Zeile 1: Grüße\nZeile 2: ✓ done\n';
    let mime: Buffer;

    before(async function () {
      mime = await build({
        from: 'a@x.example',
        to: 'b@x.example',
        subject: 'Report',
        text: 'See the attachments.',
        html: '<p>Logo: <img src="cid:logo@x.example"></p>',
        attachments: [
          { filename: 'logo.png', content: inline, cid: 'logo@x.example', contentType: 'image/png' },
          { filename: LONG_NAME, content: large, contentType: 'application/pdf' },
          {
            filename: 'notes.txt',
            content: textFile,
            contentType: 'text/plain; charset=utf-8',
            contentTransferEncoding: 'quoted-printable',
          },
          { filename: 'data.bin', content: medium },
          { filename: 'small.bin', content: small },
        ],
      });
    });

    it('leaves a message that fits as it is', function () {
      const { draft, attachments } = splitForDraft(mime, base64Length(mime));
      assert.equal(draft, mime);
      assert.deepEqual(attachments, []);
    });

    it('takes out the largest attachments first, only as many as the cap needs, decoded', async function () {
      const cap = base64Length(mime) - 2_000_000;
      const { draft, attachments } = splitForDraft(mime, cap);
      assert.ok(base64Length(draft) <= cap);
      assert.deepEqual(
        attachments.map((a) => a.name),
        [LONG_NAME],
      );
      assert.deepEqual(attachments[0], { name: LONG_NAME, contentType: 'application/pdf', isInline: false, content: large });
      const parsed = await simpleParser(draft);
      assert.deepEqual(parsed.attachments.map((a) => a.filename).sort(), ['data.bin', 'logo.png', 'notes.txt', 'small.bin']);
    });

    it('keeps headers, boundaries and the other parts byte for byte; draft and attachments carry what the message did', async function () {
      const cap = 20_000;
      const { draft, attachments } = splitForDraft(mime, cap);
      assert.ok(base64Length(draft) <= cap);
      assert.deepEqual(
        attachments.map((a) => a.name),
        [LONG_NAME, 'data.bin', 'small.bin', 'logo.png'],
        'largest first; notes.txt is small enough to stay',
      );
      // Every byte of the draft is the message's, in order: only whole parts were cut out.
      const header = mime.subarray(0, mime.indexOf('\r\n\r\n') + 4);
      assert.ok(draft.subarray(0, header.length).equals(header));
      let at = 0;
      for (const line of draft.toString('latin1').split('\r\n')) {
        at = mime.indexOf(Buffer.from(`${line}\r\n`, 'latin1'), at);
        assert.ok(at >= 0, `a line of the draft that the message lacks: ${line}`);
      }

      const [original, kept] = await Promise.all([simpleParser(mime), simpleParser(draft)]);
      assert.equal(kept.text, original.text);
      assert.equal(kept.subject, original.subject);
      assert.equal(kept.messageId, original.messageId);
      const logo = attachments.find((a) => a.name === 'logo.png')!;
      assert.deepEqual(
        { ...logo, content: undefined },
        {
          name: 'logo.png',
          contentType: 'image/png',
          contentId: 'logo@x.example',
          isInline: true,
          content: undefined,
        },
      );
      const reassembled = new Map<string, Pick<Attachment, 'content' | 'contentType'>>();
      for (const a of kept.attachments) reassembled.set(a.filename!, a);
      for (const a of attachments as DraftAttachment[]) reassembled.set(a.name, a);
      assert.equal(reassembled.size, original.attachments.length);
      for (const a of original.attachments) {
        const back = reassembled.get(a.filename!);
        assert.ok(back, a.filename);
        assert.ok(back.content.equals(a.content), `${a.filename}: same bytes`);
        assert.equal(back.contentType, a.contentType);
      }
    });

    it('decodes quoted-printable, RFC 2231 and encoded-word names; a multipart left empty gets an empty text part', async function () {
      const root = new MimeNode('multipart/mixed', { baseBoundary: 'fixture' });
      root.setHeader({ from: 'a@x.example', to: 'b@x.example', subject: 'Hand-built' });
      root.createChild('text/plain').setContent('The body.');
      const files = root.createChild('multipart/mixed');
      files.createChild('application/pdf', { filename: '€ Bericht.pdf' }).setContent(large);
      const legacy = files.createChild('application/octet-stream');
      // Written as it is (prepared): an older client's encoded-word name, in Latin-1, and no Content-Disposition.
      legacy.setHeader('Content-Type', { prepared: true, value: 'application/octet-stream; name="=?ISO-8859-1?Q?r=E9sum=E9_2026.txt?="' });
      legacy.setHeader('Content-Transfer-Encoding', 'quoted-printable');
      legacy.setContent('caf\u00e9 = coffee, line long enough to be wrapped by the quoted-printable encoder of nodemailer: '.repeat(3));
      const mime = await root.build();
      assert.match(mime.toString(), /filename\*0\*=utf-8''|filename\*=utf-8''/);

      // Just under the draft that still holds the text file, so that one has to go as well.
      const withTextFile = splitForDraft(mime, base64Length(mime) - 1);
      assert.equal(withTextFile.attachments.length, 1);
      const { draft, attachments } = splitForDraft(mime, base64Length(withTextFile.draft) - 1);
      assert.deepEqual(
        attachments.map((a) => [a.name, a.isInline]),
        [
          ['€ Bericht.pdf', false],
          ['résumé 2026.txt', false],
        ],
      );
      assert.ok(attachments[0].content.equals(large));
      assert.equal(
        attachments[1].content.toString('utf8'),
        'café = coffee, line long enough to be wrapped by the quoted-printable encoder of nodemailer: '.repeat(3),
      );
      const parsed = await simpleParser(draft);
      assert.equal(parsed.text?.trim(), 'The body.');
      assert.equal(parsed.attachments.length, 0);
      assert.match(draft.toString(), /Content-Type: text\/plain; charset=us-ascii\r\n\r\n\r\n--/);
    });

    it('refuses a message whose text alone is over the cap, saying how large it is', async function () {
      const mime = await build({
        from: 'a@x.example',
        to: 'b@x.example',
        subject: 's',
        html: `<p>${'x'.repeat(200_000)}</p>`,
        attachments: [{ filename: 'a.bin', content: small }],
      });
      assert.throws(
        () => splitForDraft(mime, 100_000),
        (err: unknown) =>
          err instanceof DraftTooLargeError &&
          err.maxBase64Bytes === 100_000 &&
          err.base64Bytes > 200_000 &&
          /100000 bytes/.test(err.message),
      );
    });
  });
});
