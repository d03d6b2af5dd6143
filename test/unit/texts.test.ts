// The runtime texts as keys and parameters, and their English read from the en-US catalog.
import assert from 'node:assert/strict';
import { englishOf, interpolate, isText, render, text } from '../../src/lib/errors/texts';

describe('texts', function () {
  it('says a text in English from the catalog, its parameters first, texts among them included', function () {
    assert.equal(
      englishOf(text('errors.notText', { field: text('fields.subject'), type: text('types.object') })),
      'Subject must be text, not an object',
    );
    assert.equal(englishOf(text('hints.notText', { field: text('fields.subject') })), 'Set Subject to a string.');
    assert.equal(englishOf('a value as it is'), 'a value as it is');
    assert.equal(englishOf(42), '42');
  });

  it('takes the _plural entry for a count other than 1, as i18next does for English and German', function () {
    assert.equal(englishOf(text('errors.retry.gaveUp', { count: 1, seconds: 2 })), 'gave up after 1 attempt in 2 s');
    assert.equal(englishOf(text('errors.retry.gaveUp', { count: 3, seconds: 2 })), 'gave up after 3 attempts in 2 s');
    assert.equal(englishOf(text('errors.retry.gaveUp', { count: 0, seconds: 2 })), 'gave up after 0 attempts in 2 s');
  });

  it('fills placeholders in one pass: a value is never read for placeholders itself', function () {
    assert.equal(englishOf(text('errors.withCode', { error: '__code__', code: 'EIO' })), '__code__ (EIO)');
    assert.equal(interpolate('__a__ and __b__', { a: '__b__', b: 'B' }), '__b__ and B');
    assert.equal(interpolate('__missing__ stays', {}), '__missing__ stays', 'an unknown placeholder is left for the reader to see');
    assert.equal(interpolate('__toString__', {}), '__toString__', 'only own parameters, nothing inherited');
  });

  it('asks a lookup first and uses English wherever it has nothing; an unknown key says itself', function () {
    const german = (key: string, params: Record<string, string | number>) =>
      key === 'fields.subject' ? 'Betreff' : key === 'hints.notText' ? `Setzen Sie ${params.field} auf einen Text.` : undefined;
    assert.equal(render(text('hints.notText', { field: text('fields.subject') }), german), 'Setzen Sie Betreff auf einen Text.');
    assert.equal(
      render(text('errors.notText', { field: text('fields.subject'), type: text('types.object') }), german),
      'Betreff must be text, not an object',
    );
    assert.equal(englishOf(text('errors.no.such.key')), 'errors.no.such.key');
  });

  it('tells a text from a value', function () {
    assert.equal(isText(text('fields.subject')), true);
    assert.equal(isText({ key: 'x', params: {} }), true);
    for (const value of ['errors.x', 1, null, undefined, {}, { key: 1 }]) assert.equal(isText(value), false, JSON.stringify(value));
    assert.deepEqual(text('fields.subject'), { key: 'fields.subject' }, 'no empty params');
  });
});
