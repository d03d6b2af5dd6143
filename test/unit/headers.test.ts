import assert from 'node:assert/strict';
import type { MailError } from '../../src/lib/errors/errors';
import { customHeaders, MAX_LINE, messageIds, missingCids, threading } from '../../src/lib/message/headers';
import { englishOf } from '../../src/lib/errors/texts';

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
  it('keeps a "__proto__" name as a header of its own, never as the prototype of the headers', function () {
    // JSON.parse (an http in node, a function node) makes "__proto__" an own key; assigned as out[name]
    // it replaced the prototype of the result, and the header was dropped without a word.
    const headers = customHeaders(undefined, JSON.parse('{"__proto__": ["x"], "X-A": "1"}'))!;
    assert.equal(Object.getPrototypeOf(headers), Object.prototype);
    assert.deepEqual(Object.entries(headers), [
      ['__proto__', ['x']],
      ['X-A', '1'],
    ]);
    const text = customHeaders(JSON.parse('{"__proto__": "evil"}'), undefined)!;
    assert.deepEqual(Object.entries(text), [['__proto__', 'evil']]);
  });

  it('refuses a header that would become a line longer than 998 characters, and sends long values with spaces or non-ASCII text', function () {
    for (const [where, value] of [
      ['node', 'a'.repeat(1_000_000)],
      ['msg', 'a'.repeat(MAX_LINE)],
    ] as const) {
      assert.throws(
        () => (where === 'node' ? customHeaders({ 'X-Long': value }, undefined) : customHeaders(undefined, { 'X-Long': ['ok', value] })),
        (e: MailError) =>
          e.code === 'EINPUT' && /X-Long would become a header line longer than 998 characters/.test(e.message) && /RFC 5322/.test(e.hint!),
      );
    }
    // nodemailer folds these into short lines: words at their spaces, non-ASCII text as encoded words.
    assert.ok(customHeaders({ 'X-Words': 'word '.repeat(200_000) }, { 'X-Text': 'ä'.repeat(100_000) }));
    assert.ok(customHeaders({ 'X-Fits': 'a'.repeat(MAX_LINE - 1) }, undefined), 'a word of 997 characters fits on a folded line');
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

describe('threading from msg.headers', function () {
  it('takes In-Reply-To and References from msg.headers, in any case, when the node leaves them empty', function () {
    const msgHeaders = { 'in-reply-to': 'a@x.com', References: ['<root@x.com>', 'a@x.com'], 'X-Flow': 'replies' };
    assert.deepEqual(threading({ inReplyTo: '', references: undefined }, msgHeaders), {
      inReplyTo: '<a@x.com>',
      references: '<root@x.com> <a@x.com>',
      warnings: [],
    });
    // customHeaders leaves them to threading() and keeps the rest
    assert.deepEqual(customHeaders(undefined, msgHeaders), { 'X-Flow': 'replies' });
  });

  it('lets the node fields win, and warns when msg.headers says something else', function () {
    const same = threading({ inReplyTo: '<a@x.com>' }, { 'In-Reply-To': 'a@x.com' });
    assert.deepEqual(same, { inReplyTo: '<a@x.com>', references: undefined, warnings: [] });
    const differ = threading({ inReplyTo: '<a@x.com>', references: '<r@x.com>' }, { 'In-Reply-To': '<b@x.com>', References: 'not an id' });
    assert.equal(differ.inReplyTo, '<a@x.com>');
    assert.equal(differ.references, '<r@x.com>');
    assert.deepEqual(
      differ.warnings.map((w) => englishOf(w)),
      [
        "msg.headers sets In-Reply-To to <b@x.com>, but the node's own In-Reply-To field is set: the mail is sent with <a@x.com>",
        "msg.headers sets References to not an id, but the node's own References field is set: the mail is sent with <r@x.com>",
      ],
    );
  });

  it('checks msg.headers ids as the node fields are checked, naming where they came from', function () {
    assert.throws(
      () => threading({}, { 'In-Reply-To': 'not-an-id' }),
      (e: MailError) =>
        e.code === 'EINPUT' && e.message === 'msg.headers["In-Reply-To"] holds "not-an-id", which is not a message id' && !!e.hint,
    );
    assert.throws(
      () => threading({}, { 'In-Reply-To': '<a@x> <b@x>' }),
      (e: MailError) => e.code === 'EINPUT' && /more than one/.test(e.message),
    );
    assert.throws(
      () => threading({}, { References: { id: '<a@x>' } }),
      (e: MailError) => e.code === 'EINPUT' && /must be text or a list of message ids, not an object/.test(e.message),
    );
  });

  it("still refuses In-Reply-To and References in the node's Headers, which has fields for them", function () {
    assert.throws(
      () => customHeaders({ 'In-Reply-To': '<a@x>' }, undefined),
      (e: MailError) => e.code === 'EINPUT' && /In-Reply-To, References/.test(e.hint!),
    );
  });

  it('refuses a message id that would become a line longer than 998 characters', function () {
    const long = `<${'a'.repeat(1000)}@x.com>`;
    for (const call of [() => messageIds(long, 'References'), () => threading({}, { References: long })])
      assert.throws(call, (e: MailError) => e.code === 'EINPUT' && /longer than 998 characters/.test(e.message) && !!e.hint);
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
