// The node layer's translator: the runtime texts in Node-RED's language through RED._ (here the
// runtime's own i18n from @node-red/util with the package's catalogs), English where RED._ has
// nothing, and the language of an editor's request.
import assert from 'node:assert/strict';
import path from 'node:path';
import { i18n } from '@node-red/util';
import { text } from '../../src/lib/errors/texts';
import { localized, NAMESPACE, requestLanguage, translator, withHint, type RedTranslate } from '../../src/lib/errors/translate';
import { mailError, type MailError } from '../../src/lib/errors/errors';
import { diagnose, hintFor } from '../../src/lib/errors/diagnose';

/** The runtime's i18n with the two calls the runtime makes at start, which @types/node-red__util leaves out. */
const runtimeI18n = i18n as typeof i18n & {
  init(settings: object): Promise<void>;
  i: { loadLanguages(languages: string[]): Promise<unknown> };
};
const locales = path.join(__dirname, '..', '..', 'locales');

describe('translate', function () {
  describe("through Node-RED's i18n (@node-red/util)", function () {
    let _: RedTranslate;

    before(async function () {
      // The runtime's own i18n, as a node module's RED._ uses it: the catalog registered under the
      // node set's namespace, German loaded as the editor's catalog request loads it. The
      // runtime's language stays as it is: each call names its language.
      await runtimeI18n.init({});
      await runtimeI18n.registerMessageCatalog(NAMESPACE, locales, 'send-smtp-email.json');
      await runtimeI18n.i.loadLanguages(['de']);
      _ = (key, options) => i18n._(key, options);
    });

    it('says an error and its hint in German, nested texts and plurals included', function () {
      const say = translator(_, 'de');
      const err = mailError(
        'EINPUT',
        text('errors.notText', { field: text('fields.subject'), type: text('types.object') }),
        text('hints.notText', { field: text('fields.subject') }),
      );
      const de = localized(err, say);
      assert.equal(de.message, '„Betreff“ muss Text sein, ist aber ein Objekt');
      assert.equal(de.hint, 'Setzen Sie „Betreff“ auf einen Text.');
      assert.equal(de.code, 'EINPUT');
      assert.equal(err.message, 'Subject must be text, not an object', 'the error itself keeps its English');
      assert.equal(say(text('errors.retry.gaveUp', { count: 1, seconds: 4 })), 'nach 1 Versuch in 4 s aufgegeben');
      assert.equal(say(text('errors.retry.gaveUp', { count: 5, seconds: 10 })), 'nach 5 Versuchen in 10 s aufgegeben');
    });

    it("keeps a server's own words and translates only the hint", function () {
      const response = '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.';
      const err: MailError = Object.assign(new Error(`Invalid login: ${response}`), { code: 'EAUTH', responseCode: 535, response });
      const de = localized(diagnose(err, { authType: 'basic' }), translator(_, 'de'));
      assert.equal(de.message, err.message);
      assert.match(de.hint ?? '', /^SMTP AUTH ist für dieses Postfach deaktiviert: Aktivieren Sie „Authentifiziertes SMTP“/);
    });

    it('falls back to English where RED._ has no catalog (the test helper answers every key as it is)', function () {
      const say = translator((key: string) => key);
      assert.equal(say(text('hints.server.smtpAuthMailbox')), hintFor(Object.assign(new Error('x'), { response: '535 5.7.139 disabled' })));
      assert.equal(
        say(text('errors.retry.closed', { count: 2 })),
        'not retried: the connection was closed (redeploy or stop) after 2 attempts',
      );
      // And in a language without a catalog of ours: Node-RED's fallback, en-US.
      assert.equal(translator(_, 'fr')(text('errors.send.noConnection')), 'No SMTP connection is configured');
    });
  });

  it('joins message and hint with one full stop, also after a server answer that ends with its own', function () {
    assert.equal(withHint({ message: 'To is empty', hint: 'Set To in the node.' }), 'To is empty. Set To in the node.');
    assert.equal(
      withHint({ message: '535 5.7.139 Visit the page for more information.', hint: 'Enable SMTP AUTH.' }),
      '535 5.7.139 Visit the page for more information. Enable SMTP AUTH.',
    );
    assert.equal(withHint({ message: 'No hint' }), 'No hint');
  });

  it('takes the first language of an Accept-Language header, and nothing that is not a language tag', function () {
    assert.equal(requestLanguage('de'), 'de');
    assert.equal(requestLanguage('de-DE,de;q=0.9,en;q=0.8'), 'de-DE');
    assert.equal(requestLanguage('en-US;q=0.9'), 'en-US');
    for (const header of [undefined, '', '*', '../../etc', 'de_DE', ['de'], 'lng=de'])
      assert.equal(requestLanguage(header), undefined, String(header));
  });

  it('leaves an error without catalog keys as it is, and never changes the error it was given', function () {
    const theirs = Object.assign(new Error('Invalid login: 535 5.7.8 Error: authentication failed'), { code: 'EAUTH' });
    assert.equal(
      localized(
        theirs,
        translator((key: string) => key),
      ),
      theirs,
    );
    const ours = mailError('EINPUT', text('errors.send.noConnection'), text('hints.send.noConnection'));
    const copy = localized(ours, () => 'übersetzt');
    assert.notEqual(copy, ours);
    assert.equal(copy.message, 'übersetzt');
    assert.equal(copy.hint, 'übersetzt');
    assert.equal(copy.code, 'EINPUT');
    assert.ok(copy instanceof Error);
    assert.equal(ours.message, 'No SMTP connection is configured');
  });
});
