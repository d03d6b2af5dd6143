import assert from 'node:assert/strict';
import { maskAddresses, maskError, shownRecipients, UNDISCLOSED, visibleAddresses } from '../../src/lib/delivery/privacy';
import { text } from '../../src/lib/errors/texts';

describe('privacy', function () {
  it('shows To, else Cc, else undisclosed recipients: never Bcc', function () {
    assert.equal(shownRecipients({ to: 'a@x.example, b@x.example', cc: 'c@x.example' }), 'a@x.example, b@x.example');
    assert.equal(shownRecipients({ cc: [{ name: 'C', address: 'c@x.example' }] }), 'c@x.example');
    assert.equal(shownRecipients({}), UNDISCLOSED);
    assert.equal(UNDISCLOSED, 'undisclosed-recipients:;');
  });

  it('masks every address in an answer that the message does not show', function () {
    const visible = visibleAddresses({ from: 'Me <me@x.example>', to: 'To@X.example', cc: [] });
    assert.deepEqual(visible, ['me@x.example', 'to@x.example']);
    assert.equal(
      maskAddresses('451 4.7.1 <hidden.person@secret.example>: Greylisted; <to@x.example> and me@x.example fine', visible),
      '451 4.7.1 <h…@secret.example>: Greylisted; <to@x.example> and me@x.example fine',
    );
  });

  it('masks an error’s words, its hint and the parameters of both, nested texts included', function () {
    const err = maskError(
      {
        message: 'Recipient command failed: 451 <b@y.example>',
        hint: 'Ask b@y.example',
        messageKey: 'errors.x',
        params: { answer: '451 <b@y.example>', n: 2, inner: text('hints.y', { who: 'b@y.example' }) },
        hintKey: 'hints.z',
        hintParams: { who: 'b@y.example' },
      },
      [],
    );
    assert.doesNotMatch(JSON.stringify(err), /b@y\.example/);
    assert.equal(err.params!.n, 2);
    assert.deepEqual(err.params!.inner, { key: 'hints.y', params: { who: 'b…@y.example' } });
  });
});
