import assert from 'node:assert/strict';
import vm from 'node:vm';
import { buildAttachment, decodeBase64, fromMsgAttachments, downloadLimits, DEFAULT_LIMITS } from '../../src/lib/message/attachments';
import type { MailError } from '../../src/lib/errors/errors';

describe('attachments', function () {
  it('decodes strict base64, with line breaks, and refuses anything else', function () {
    assert.equal(decodeBase64('aGVs\r\nbG8=', 'x').toString(), 'hello');
    for (const bad of ['aGVsbG8=!', 'a', 'data:text/plain;base64,aGk=', 'aGVs bG8==x'])
      assert.throws(
        () => decodeBase64(bad, 'The thing'),
        (e: MailError) => e.code === 'EATTACHMENT' && /The thing is not valid base64/.test(e.message),
      );
  });

  it('derives file names and types from the attachment type', async function () {
    assert.deepEqual(await buildAttachment({ type: 'text', value: 'hi' }), {
      filename: 'attachment.txt',
      content: 'hi',
      contentType: 'text/plain; charset=utf-8',
    });
    assert.equal((await buildAttachment({ type: 'base64', value: 'aGk=', mimeType: 'application/pdf' }))!.filename, 'attachment.pdf');
    assert.equal((await buildAttachment({ type: 'custom', value: 'a,b', mimeType: 'text/csv' }))!.filename, 'attachment.csv');
    assert.equal((await buildAttachment({ type: 'custom', value: { a: [1] }, mimeType: 'application/json' }))!.content, '{"a":[1]}');
    assert.deepEqual((await buildAttachment({ type: 'custom', value: Buffer.from('b') }))!.content, Buffer.from('b'));
    const data = (await buildAttachment({ type: 'url', value: 'data:image/png;base64,iVBORw0KGgo=' }))!;
    assert.equal(data.filename, 'attachment.png');
    assert.equal(data.contentType, 'image/png');
    assert.equal(await buildAttachment({ type: 'none', value: undefined }), undefined);
  });

  it('accepts a MIME part only with headers and an empty line', async function () {
    assert.deepEqual(await buildAttachment({ type: 'mime', value: 'Content-Type: text/plain\n\nhi' }), {
      raw: 'Content-Type: text/plain\n\nhi',
    });
    await assert.rejects(buildAttachment({ type: 'mime', value: 'Content-Type: text/plain' }), /no headers followed by an empty line/);
  });

  it('refuses every scheme but http, https and data', async function () {
    for (const url of ['file:///etc/passwd', 'ftp://x/y', 'gopher://x', 'javascript:alert(1)']) {
      await assert.rejects(
        buildAttachment({ type: 'url', value: url }),
        (e: MailError) => e.code === 'EATTACHMENT' && /are refused/.test(e.message),
        url,
      );
    }
    await assert.rejects(buildAttachment({ type: 'url', value: 'not a url' }), /not a valid URL/);
  });

  it('passes only safe keys of msg.attachments', async function () {
    const [a] = await fromMsgAttachments([{ filename: 'a.txt', content: 'x', cid: 'c1' }]);
    assert.deepEqual(a, { filename: 'a.txt', content: 'x', cid: 'c1' });
    await assert.rejects(fromMsgAttachments([{ path: '/etc/passwd' }]), /"path", which is not allowed/);
    await assert.rejects(fromMsgAttachments(['x']), /must be an object, not a string/);
    await assert.rejects(fromMsgAttachments([{ filename: 'empty' }]), /no content, href or raw/);
  });

  describe('msg.attachments entries are rebuilt from checked fields', function () {
    const refuses = (entry: unknown, code: string, message: RegExp) =>
      assert.rejects(fromMsgAttachments([entry]), (e: MailError) => {
        assert.equal(e.code, code);
        assert.match(e.message, message);
        assert.ok(e.hint && e.hint.length > 10, 'a hint says what to fix');
        return true;
      });

    it('copies each allowed field and nothing else', async function () {
      const entry = {
        filename: 'a.txt',
        content: 'x',
        contentType: 'text/plain',
        cid: 'c1',
        contentDisposition: 'inline',
        headers: { 'X-Report-Id': '42' },
      };
      const [a] = await fromMsgAttachments([entry]);
      assert.deepEqual(a, entry);
      assert.notEqual(a, entry, 'a new object, not the entry');
      assert.notEqual(a.headers, entry.headers, "a new headers object, not the entry's");
    });

    it('decodes encoded content itself, strictly for base64 and hex', async function () {
      assert.deepEqual(await fromMsgAttachments([{ filename: 'a', content: 'aGk=', encoding: 'BASE64' }]), [
        { filename: 'a', content: Buffer.from('hi') },
      ]);
      assert.deepEqual(await fromMsgAttachments([{ filename: 'a', content: '6869', encoding: 'hex' }]), [
        { filename: 'a', content: Buffer.from('hi') },
      ]);
      assert.deepEqual(await fromMsgAttachments([{ filename: 'a', content: 'hi', encoding: 'utf-8' }]), [{ filename: 'a', content: 'hi' }]);
      await refuses({ content: '68zz', encoding: 'hex' }, 'EATTACHMENT', /not valid hex/);
      await refuses({ content: 'x', encoding: 'rot13' }, 'EATTACHMENT', /encoding "rot13" is not known/);
    });

    it('treats null fields as absent', async function () {
      assert.deepEqual(await fromMsgAttachments([{ filename: 'a', content: 'x', cid: null, headers: null }]), [
        { filename: 'a', content: 'x' },
      ]);
    });

    it('takes headers only as a plain object of text values', async function () {
      await refuses(
        { content: 'x', headers: { 'X-A': { prepared: true, value: 'v' } } },
        'EATTACHMENT',
        /headers "X-A" must be text, not an object/,
      );
      await refuses({ content: 'x', headers: { 'X-A': 1 } }, 'EATTACHMENT', /headers "X-A" must be text, not a number/);
      await refuses({ content: 'x', headers: { 'X-A': ['a', 'b'] } }, 'EATTACHMENT', /must be text, not an array/);
      await refuses(
        { content: 'x', headers: [{ key: 'X-A', value: 'v' }] },
        'EATTACHMENT',
        /headers must be an object of names and texts, not an array/,
      );
      await refuses({ content: 'x', headers: 'X-A: v' }, 'EATTACHMENT', /headers must be an object of names and texts, not a string/);
      await refuses({ content: 'x', headers: new Map([['X-A', 'v']]) }, 'EATTACHMENT', /headers must be an object of names and texts/);
    });

    it('takes headers built in a Function node, whose objects come from another realm', async function () {
      const entry = vm.runInNewContext('({ filename: "a", content: "x", headers: { "X-A": "v" } })');
      assert.deepEqual((await fromMsgAttachments([entry]))[0].headers, { 'X-A': 'v' });
    });

    it('keeps a header named __proto__ a header, not a prototype', async function () {
      const [a] = await fromMsgAttachments([{ content: 'x', headers: JSON.parse('{"__proto__": "v"}') }]);
      assert.deepEqual(Object.keys(a.headers!), ['__proto__']);
      assert.equal(Object.getPrototypeOf(a.headers), Object.prototype);
    });

    it('refuses line breaks in header values and names that are not RFC 5322 field names', async function () {
      for (const value of ['a\r\nX-Inj: 1', 'a\nb', 'a\rb', 'a\u0000b'])
        await refuses(
          { content: 'x', headers: { 'X-A': value } },
          'EATTACHMENT',
          /headers "X-A" contains a line break or control character/,
        );
      for (const name of ['X-A: b', 'X A', 'X-\u00e4', '', 'X-A\r\nX-Inj'])
        await refuses({ content: 'x', headers: { [name]: 'v' } }, 'EATTACHMENT', /is not a header name/);
      assert.deepEqual((await fromMsgAttachments([{ content: 'x', headers: { 'X-Tab': 'a\tb' } }]))[0].headers, { 'X-Tab': 'a\tb' });
    });

    it('refuses a header value that would become a line longer than 998 characters', async function () {
      await refuses(
        { content: 'x', headers: { 'X-Blob': 'b'.repeat(5000) } },
        'EATTACHMENT',
        /msg\.attachments\[0\]\.headers\["X-Blob"\] would become a header line longer than 998 characters/,
      );
      const words = 'word '.repeat(1000).trim();
      assert.deepEqual((await fromMsgAttachments([{ content: 'x', headers: { 'X-Words': words } }]))[0].headers, { 'X-Words': words });
    });

    it('refuses headers that the other fields set, so a part never has two', async function () {
      for (const name of ['Content-Type', 'content-transfer-encoding', 'Content-Disposition', 'Content-ID', 'MIME-Version']) {
        await refuses({ content: 'x', headers: { [name]: 'text/html' } }, 'EATTACHMENT', /set by the attachment itself/);
      }
    });

    it('refuses line breaks in filename, contentType and cid, and text fields of other types', async function () {
      for (const field of ['filename', 'contentType', 'cid']) {
        await refuses(
          { content: 'x', [field]: 'a\r\nX-Inj: 1' },
          'EATTACHMENT',
          new RegExp(`msg\\.attachments\\[0\\]\\.${field} contains a line break`),
        );
        await refuses(
          { content: 'x', [field]: { a: 1 } },
          'EINPUT',
          new RegExp(`msg\\.attachments\\[0\\]\\.${field} must be text, not an object`),
        );
      }
      await refuses({ content: 'x', encoding: 64 }, 'EINPUT', /encoding must be text, not a number/);
      await refuses({ content: 42 }, 'EINPUT', /content must be a string or a Buffer, not a number/);
      await refuses({ content: { path: '/etc/passwd' } }, 'EINPUT', /content must be a string or a Buffer, not an object/);
    });

    it('takes contentDisposition attachment or inline only', async function () {
      assert.equal((await fromMsgAttachments([{ content: 'x', contentDisposition: 'INLINE' }]))[0].contentDisposition, 'inline');
      await refuses(
        { content: 'x', contentDisposition: 'attachment; filename=evil.exe' },
        'EATTACHMENT',
        /contentDisposition must be "attachment" or "inline"/,
      );
    });

    it('keeps cid, disposition and headers of an href, and takes only http(s) and data: URLs', async function () {
      const [a] = await fromMsgAttachments([
        { href: 'data:text/plain;base64,aGk=', filename: 'hi.txt', cid: 'c', contentDisposition: 'inline', headers: { 'X-A': 'v' } },
      ]);
      assert.deepEqual(a, {
        filename: 'hi.txt',
        content: Buffer.from('hi'),
        contentType: 'text/plain',
        cid: 'c',
        contentDisposition: 'inline',
        headers: { 'X-A': 'v' },
      });
      await refuses({ href: 'file:///etc/passwd' }, 'EATTACHMENT', /file: are refused/);
    });

    it('gives each attachment one source: raw alone, or href or content', async function () {
      assert.deepEqual(await fromMsgAttachments([{ raw: 'Content-Type: text/plain\r\n\r\nhi' }]), [
        { raw: 'Content-Type: text/plain\r\n\r\nhi' },
      ]);
      await refuses({ href: 'data:text/plain;base64,aGk=', raw: { path: '/etc/hostname' } }, 'EATTACHMENT', /has raw together with href/);
      await refuses(
        { raw: 'Content-Type: text/plain\r\n\r\nhi', href: 'data:text/plain;base64,aGk=' },
        'EATTACHMENT',
        /has raw together with href/,
      );
      await refuses({ raw: 'Content-Type: text/plain\r\n\r\nhi', content: 'x' }, 'EATTACHMENT', /has raw together with content/);
      await refuses(
        { raw: 'Content-Type: text/plain\r\n\r\nhi', filename: 'a.txt', headers: { 'X-A': 'v' } },
        'EATTACHMENT',
        /has raw together with filename, headers/,
      );
      await refuses({ raw: { path: '/etc/hostname' } }, 'EINPUT', /msg\.attachments\[0\]\.raw must be text, not an object/);
      await refuses({ href: 'data:text/plain;base64,aGk=', content: 'x' }, 'EATTACHMENT', /has both href and content/);
    });

    it('checks every field before a download starts', async function () {
      // An unreachable address: were the download started first, the error would be a download error.
      await refuses({ href: 'http://127.0.0.1:9/x', headers: { 'X-A': 'a\nb' } }, 'EATTACHMENT', /contains a line break/);
    });
  });

  it("caps data: URLs at the connection's Max attachment size, as downloads are, base64 or not", async function () {
    const limits = { ...DEFAULT_LIMITS, maxBytes: 1024 * 1024 };
    const oneMB = Buffer.alloc(1024 * 1024, 7);
    const base64 = (b: Buffer) => `data:application/octet-stream;base64,${b.toString('base64')}`;
    const tooLarge = (e: MailError) =>
      e.code === 'EATTACHMENT' && e.message === 'The attachment is larger than 1 MB' && /raise Max attachment size/.test(e.hint!);

    assert.deepEqual((await buildAttachment({ type: 'url', value: base64(oneMB) }, limits))!.content, oneMB, 'exactly the cap is sent');
    await assert.rejects(buildAttachment({ type: 'url', value: base64(Buffer.alloc(oneMB.length + 1)) }, limits), tooLarge);
    await assert.rejects(fromMsgAttachments([{ href: base64(Buffer.alloc(oneMB.length + 1)) }], limits), tooLarge);
    // Percent-encoded text: the cap counts the decoded bytes.
    const text = (n: number) => `data:text/plain,${'%41'.repeat(n)}`;
    assert.equal(((await buildAttachment({ type: 'url', value: text(oneMB.length) }, limits))!.content as Buffer).length, oneMB.length);
    await assert.rejects(buildAttachment({ type: 'url', value: text(oneMB.length + 1) }, limits), tooLarge);
    // The default cap (25 MB) holds without a connection too.
    await assert.rejects(buildAttachment({ type: 'url', value: base64(Buffer.alloc(25 * 1024 * 1024 + 1)) }), (e: MailError) =>
      /larger than 25 MB/.test(e.message),
    );
  });

  it('takes the size cap of the connection, else 25 MB', function () {
    assert.equal(downloadLimits(5000, '2').maxBytes, 2 * 1024 * 1024);
    assert.equal(downloadLimits(5000, '').maxBytes, 25 * 1024 * 1024);
    assert.equal(downloadLimits(5000, undefined).timeout, 5000);
  });
});
