import assert from 'node:assert/strict';
import { parseAddresses, parseSingleAddress } from '../../src/lib/message/addresses';
import type { MailError } from '../../src/lib/errors/errors';

describe('addresses', function () {
  it('splits on commas and semicolons, keeping quoted names whole', function () {
    const list = parseAddresses('a@example.com; "Doe, Jane" <jane@example.com>, Bob <bob@example.com>', 'To');
    assert.deepEqual(list, [
      { name: '', address: 'a@example.com' },
      { name: 'Doe, Jane', address: 'jane@example.com' },
      { name: 'Bob', address: 'bob@example.com' },
    ]);
  });

  it('accepts arrays of strings and {name, address} objects', function () {
    assert.deepEqual(
      parseAddresses(['a@example.com, b@example.com', { name: 'C', address: 'c@example.com' }], 'CC').map((a) => a.address),
      ['a@example.com', 'b@example.com', 'c@example.com'],
    );
  });

  it('treats empty values as no address', function () {
    for (const v of [undefined, null, '', ' , ;']) assert.deepEqual(parseAddresses(v, 'To'), []);
  });

  it('refuses line breaks, bare words, groups and two @', function () {
    for (const bad of [
      'a@example.com\r\nBcc: evil@example.com',
      'a@example.com, foo',
      'group: a@example.com;',
      'a@b@example.com',
      '<>',
      'Name <>',
    ]) {
      assert.throws(
        () => parseAddresses(bad, 'To'),
        (err: MailError) => err.code === 'EINPUT' && /^To /.test(err.message) && !!err.hint,
        bad,
      );
    }
    assert.throws(() => parseAddresses([{ name: 'x\ny', address: 'a@example.com' }], 'To'), /line break/);
  });

  it('stops at one address beyond the room it is given, without reading the rest of the list', function () {
    // The entry after the cut is not an address: had the parser gone on, it would have refused it.
    const list = 'a@x.example, b@x.example, c@x.example, not an address';
    assert.deepEqual(
      parseAddresses(list, 'To', 2).map((a) => a.address),
      ['a@x.example', 'b@x.example', 'c@x.example'],
    );
    assert.equal(parseAddresses(['a@x.example', 'b@x.example', 42], 'To', 1).length, 2);
    assert.throws(() => parseAddresses(list, 'To', 3), /invalid address/);
  });

  it('parses a list of 100,000 recipients', function () {
    const list = Array.from({ length: 100_000 }, (_, i) => (i % 2 ? `user${i}@example.com` : `"User, ${i}" <user${i}@example.com>`)).join(
      ', ',
    );
    const parsed = parseAddresses(list, 'To');
    assert.equal(parsed.length, 100_000);
    assert.deepEqual(parsed[99_998], { name: 'User, 99998', address: 'user99998@example.com' });
  });

  it('refuses an entry too long for one address (a quote left open swallows the list), quoting only its start', function () {
    const list = '"Doe, Jane <jane@example.com>, ' + Array.from({ length: 100_000 }, (_, i) => `user${i}@example.com`).join(', ');
    assert.throws(
      () => parseAddresses(list, 'To'),
      (e: MailError) =>
        e.code === 'EINPUT' &&
        e.message.startsWith(`To has an entry of ${list.length} characters, too long for one address: ""Doe, Jane`) &&
        e.message.length < 200 &&
        /close every quote/.test(e.hint!),
    );
  });

  it('names the type found when the value is not text', function () {
    assert.throws(() => parseAddresses(5, 'BCC'), /BCC must be a string or a list of addresses, not a number/);
    assert.throws(() => parseAddresses([{}], 'BCC'), /not an object/);
  });

  it('takes exactly one address for From and Reply-To', function () {
    assert.deepEqual(parseSingleAddress('Alerts <a@example.com>', 'From'), { name: 'Alerts', address: 'a@example.com' });
    assert.equal(parseSingleAddress('', 'From'), undefined);
    assert.throws(() => parseSingleAddress('a@example.com, b@example.com', 'Reply-To'), /Reply-To takes one address, got 2/);
  });
});
