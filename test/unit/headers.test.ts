import assert from 'node:assert/strict';
import type { MailError } from '../../src/lib/errors/errors';
import { customHeaders, messageIds, missingCids } from '../../src/lib/message/headers';

describe('custom headers', function () {
  it('merges the node headers and msg.headers, msg winning, values as text or lists', function () {
    assert.deepEqual(
      customHeaders({ 'X-Ticket-Id': 42, 'List-Unsubscribe': '<mailto:u@x>' }, { 'X-Ticket-Id': '43', 'X-Tag': ['a', 'b'] }),
      {
        'X-Ticket-Id': '43',
        'List-Unsubscribe': '<mailto:u@x>',
        'X-Tag': ['a', 'b'],
      },
    );
    assert.equal(customHeaders(undefined, undefined), undefined);
    assert.equal(customHeaders({}, ''), undefined);
  });

  const refused: [string, unknown][] = [
    ['From', { From: 'evil@x' }],
    ['to in any case', { to: 'evil@x' }],
    ['Bcc', { Bcc: 'evil@x' }],
    ['Subject', { Subject: 's' }],
    ['Date', { Date: 'Mon' }],
    ['Message-ID', { 'Message-ID': '<a@b>' }],
    ['Content-Type', { 'Content-Type': 'text/plain' }],
    ['Content-Transfer-Encoding', { 'Content-Transfer-Encoding': '8bit' }],
    ['MIME-Version', { 'MIME-Version': '1.0' }],
    ['a name with a space', { 'X Bad': '1' }],
    ['a name with a colon', { 'X-A:B': '1' }],
    ['a value with CR/LF', { 'X-A': 'v\r\nBcc: evil@x' }],
    ['a value with a bare LF in a list', { 'X-A': ['ok', 'v\nX-Inj: 1'] }],
    ['an object value', { 'X-A': { prepared: true, value: 'x' } }],
  ];
  for (const [name, headers] of refused) {
    it(`refuses ${name} with EINPUT`, function () {
      assert.throws(
        () => customHeaders(headers, undefined),
        (e: MailError) => e.code === 'EINPUT' && !!e.hint,
      );
      assert.throws(
        () => customHeaders(undefined, headers),
        (e: MailError) => e.code === 'EINPUT' && !!e.hint,
      );
    });
  }
  it('tells a user whose msg.headers came from an http node to delete it', function () {
    assert.throws(
      () => customHeaders(undefined, { host: 'x', 'content-type': 'application/json' }),
      (e: MailError) => /delete it before this node/.test(e.hint ?? ''),
    );
  });
  it('refuses a list or text as the header object', function () {
    assert.throws(
      () => customHeaders(['X-A: 1'], undefined),
      (e: MailError) => e.code === 'EINPUT',
    );
    assert.throws(
      () => customHeaders(undefined, 'X-A: 1'),
      (e: MailError) => e.code === 'EINPUT',
    );
  });
});

describe('message ids for threading', function () {
  it('accepts ids with or without angle brackets, from text or a list', function () {
    assert.equal(messageIds('<a@x.com>', 'In-Reply-To'), '<a@x.com>');
    assert.equal(messageIds('a@x.com', 'In-Reply-To'), '<a@x.com>');
    assert.equal(messageIds('<a@x> <b@x>, c@x', 'References'), '<a@x> <b@x> <c@x>');
    assert.equal(messageIds(['<a@x>', 'b@x'], 'References'), '<a@x> <b@x>');
    assert.equal(messageIds('', 'References'), undefined);
  });
  it('refuses what is not a message id, line breaks included, and two ids in In-Reply-To', function () {
    for (const bad of ['no-at-sign', '<a@x>\r\nBcc: e@x', '<a b@x>', 42, { id: 'a@x' }]) {
      assert.throws(
        () => messageIds(bad, 'References'),
        (e: MailError) => e.code === 'EINPUT',
        String(bad),
      );
    }
    assert.throws(() => messageIds('<a@x> <b@x>', 'In-Reply-To'), /more than one/);
  });
});

describe('missing inline images', function () {
  it('lists the cid: references no attachment carries', function () {
    const html = '<img src="cid:logo"><img src=\'cid:chart%201\'><img src="cid:logo">';
    assert.deepEqual(missingCids(html, [{ cid: 'logo' }]), ['chart 1']);
    assert.deepEqual(missingCids(html, [{ cid: 'logo' }, { cid: 'chart 1' }]), []);
    assert.deepEqual(missingCids(undefined, []), []);
  });
});
