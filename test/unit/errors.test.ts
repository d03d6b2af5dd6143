// The package's own errors, lightly: errors.ts is being reworked (messages become translation
// keys), so only the contract every caller relies on is checked here: an Error with a code, the
// message it was given and, when there is one, a hint.
import assert from 'node:assert/strict';
import { ErrorCodes, mailError } from '../../src/lib/errors';

describe('errors', function () {
  it('makes an Error carrying the code, the message and the hint', function () {
    const err = mailError(ErrorCodes.EINPUT, 'To is empty', 'Set To in the node.');
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'EINPUT');
    assert.equal(err.message, 'To is empty');
    assert.equal(err.hint, 'Set To in the node.');
  });

  it('adds no hint when none is given', function () {
    const err = mailError(ErrorCodes.EOUTBOX, 'The outbox is full');
    assert.equal(err.code, 'EOUTBOX');
    assert.equal('hint' in err, false);
  });

  it('names each code as itself: flows and Catch nodes match on these strings', function () {
    for (const [name, code] of Object.entries(ErrorCodes)) assert.equal(code, name);
  });
});
