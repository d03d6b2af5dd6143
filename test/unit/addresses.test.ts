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
