// The package's own errors: an Error with a code, its message and hint in English (read from the
// en-US catalog), and the catalog keys and parameters the node layer translates them from.
import assert from 'node:assert/strict';
import { ErrorCodes, hintOf, mailError, messageOf, textError } from '../../src/lib/errors/errors';
import { text } from '../../src/lib/errors/texts';

describe('errors', function () {
  it('makes an Error carrying the code, the English message and hint, and their keys and parameters', function () {
    const err = mailError(
      ErrorCodes.EINPUT,
      text('errors.notText', { field: text('fields.subject'), type: text('types.object') }),
      text('hints.notText', { field: text('fields.subject') }),
    );
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'EINPUT');
    assert.equal(err.message, 'Subject must be text, not an object');
    assert.equal(err.hint, 'Set Subject to a string.');
    assert.ok(err.stack?.startsWith('Error: Subject must be text, not an object'), 'the stack trace starts with the message');
    assert.equal(err.messageKey, 'errors.notText');
    assert.deepEqual(err.params, { field: text('fields.subject'), type: text('types.object') });
    assert.equal(err.hintKey, 'hints.notText');
    assert.deepEqual(hintOf(err), text('hints.notText', { field: text('fields.subject') }));
  });

  it('adds no hint when none is given', function () {
    const err = mailError(ErrorCodes.EOUTBOX, text('errors.outbox.diskFull'));
    assert.equal(err.code, 'EOUTBOX');
    assert.equal(err.message, 'The disk that holds the outbox is full');
    assert.equal('hint' in err, false);
    assert.equal(hintOf(err), undefined);
  });

  it("gives a message as a parameter of another text: its catalog text, or a server's own words as they are", function () {
    const ours = textError(text('errors.outbox.writeFailed'));
    assert.equal(ours.code, undefined);
    assert.deepEqual(messageOf(ours), text('errors.outbox.writeFailed'));
    const server = new Error('Invalid login: 535 5.7.139 Authentication unsuccessful');
    assert.equal(messageOf(server), 'Invalid login: 535 5.7.139 Authentication unsuccessful');
  });

  it('names each code as itself: flows and Catch nodes match on these strings', function () {
    for (const [name, code] of Object.entries(ErrorCodes)) assert.equal(code, name);
  });
});
