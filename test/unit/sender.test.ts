import assert from 'node:assert/strict';
import { isSenderAddress, senderMissing } from '../../src/shared/sender';

describe('sender check of the send dialog (src/shared/sender.ts)', function () {
  it('takes a bare address or Name <address> as a sender, nothing else', function () {
    for (const user of ['alice@example.com', ' alice@example.com ', 'Alice <alice@example.com>', 'node-red@localhost'])
      assert.equal(isSenderAddress(user), true, user);
    for (const user of ['', 'alice', 'DOMAIN\\alice', 'a b@example.com', 'Alice <alice>', undefined])
      assert.equal(isSenderAddress(user), false, String(user));
  });

  it('flags an empty Custom From only when the connection user is known and no address', function () {
    assert.equal(senderMissing('', 'str', ''), true, 'Method None: no user');
    assert.equal(senderMissing('  ', 'str', 'alice'), true, 'a user name, not an address');
    assert.equal(senderMissing('', 'str', 'alice@example.com'), false);
    assert.equal(senderMissing('', 'str', undefined), false, 'not known yet');
    assert.equal(senderMissing('Bob <bob@example.com>', 'str', ''), false, 'Custom From set');
    assert.equal(senderMissing('from', 'msg', ''), false, 'Custom From from msg: known only at run time');
  });
});
