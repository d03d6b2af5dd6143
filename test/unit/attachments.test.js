'use strict';
const assert = require('node:assert/strict');
const { buildAttachment, decodeBase64, fromMsgAttachments, downloadLimits } = require('../../dist/lib/attachments');

describe('attachments', function () {
  it('decodes strict base64, with line breaks, and refuses anything else', function () {
    assert.equal(decodeBase64('aGVs\r\nbG8=', 'x').toString(), 'hello');
    for (const bad of ['aGVsbG8=!', 'a', 'data:text/plain;base64,aGk=', 'aGVs bG8==x']) assert.throws(() => decodeBase64(bad, 'The thing'), (e) => e.code === 'EATTACHMENT' && /The thing is not valid base64/.test(e.message));
  });

  it('derives file names and types from the attachment type', async function () {
    assert.deepEqual(await buildAttachment({ type: 'text', value: 'hi' }), { filename: 'attachment.txt', content: 'hi', contentType: 'text/plain; charset=utf-8' });
    assert.equal((await buildAttachment({ type: 'base64', value: 'aGk=', mimeType: 'application/pdf' })).filename, 'attachment.pdf');
    assert.equal((await buildAttachment({ type: 'custom', value: 'a,b', mimeType: 'text/csv' })).filename, 'attachment.csv');
    assert.equal((await buildAttachment({ type: 'custom', value: { a: [1] }, mimeType: 'application/json' })).content, '{"a":[1]}');
    assert.deepEqual((await buildAttachment({ type: 'custom', value: Buffer.from('b') })).content, Buffer.from('b'));
    const data = await buildAttachment({ type: 'url', value: 'data:image/png;base64,iVBORw0KGgo=' });
    assert.equal(data.filename, 'attachment.png');
    assert.equal(data.contentType, 'image/png');
    assert.equal(await buildAttachment({ type: 'none' }), undefined);
  });

  it('accepts a MIME part only with headers and an empty line', async function () {
    assert.deepEqual(await buildAttachment({ type: 'mime', value: 'Content-Type: text/plain\n\nhi' }), { raw: 'Content-Type: text/plain\n\nhi' });
    await assert.rejects(buildAttachment({ type: 'mime', value: 'Content-Type: text/plain' }), /no headers followed by an empty line/);
  });

  it('refuses every scheme but http, https and data', async function () {
    for (const url of ['file:///etc/passwd', 'ftp://x/y', 'gopher://x', 'javascript:alert(1)']) {
      await assert.rejects(buildAttachment({ type: 'url', value: url }), (e) => e.code === 'EATTACHMENT' && /are refused/.test(e.message), url);
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

  it('takes the size cap of the connection, else 25 MB', function () {
    assert.equal(downloadLimits(5000, '2').maxBytes, 2 * 1024 * 1024);
    assert.equal(downloadLimits(5000, '').maxBytes, 25 * 1024 * 1024);
    assert.equal(downloadLimits(5000, undefined).timeout, 5000);
  });
});
