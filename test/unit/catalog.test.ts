// The message catalogs: German has every key English has and no other, each with the same
// __params__; every runtime text the sources name is in the catalog, and every one there is used;
// and Node-RED's own i18n says them in German through the node layer's translator.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { i18n } from '@node-red/util';
import { CATALOG_ROOT, englishOf, text } from '../../src/lib/texts';
import { localized, NAMESPACE, translator, type RedTranslate } from '../../src/lib/translate';
import { mailError, type MailError } from '../../src/lib/errors';
import { diagnose, hintFor } from '../../src/lib/diagnose';

type Catalog = { [key: string]: string | Catalog };
/** The runtime's i18n with the two calls the runtime makes at start, which @types/node-red__util leaves out. */
const runtimeI18n = i18n as typeof i18n & {
  init(settings: object): Promise<void>;
  i: { loadLanguages(languages: string[]): Promise<unknown> };
};

const root = path.join(__dirname, '..', '..');
const locales = path.join(root, 'locales');
const NODES = ['send-smtp-email', 'smtp-oauth-config'];
const read = (lang: string, node: string): Catalog => JSON.parse(fs.readFileSync(path.join(locales, lang, `${node}.json`), 'utf8'));

/** Every string entry of a catalog as dotted key → text. */
function flatten(obj: Catalog, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object') flatten(v, key, out);
    else out.set(key, v);
  }
  return out;
}
const paramsOf = (s: unknown): string[] => [...new Set([...String(s).matchAll(/__([A-Za-z0-9_]+?)__/g)].map((m) => m[1]))].sort();

/** Every .ts file under a folder. */
const sources = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

describe('message catalogs', function () {
  for (const node of NODES) {
    it(`${node}: German has exactly the keys of English, each with the same __params__`, function () {
      const en = flatten(read('en-US', node));
      const de = flatten(read('de', node));
      assert.deepEqual(
        [...de.keys()].filter((k) => !en.has(k)),
        [],
        'keys only German has',
      );
      assert.deepEqual(
        [...en.keys()].filter((k) => !de.has(k)),
        [],
        'keys German lacks',
      );
      for (const [key, english] of en) {
        assert.deepEqual(paramsOf(de.get(key)), paramsOf(english), `${key}: "${de.get(key)}" has the params of "${english}"`);
        assert.ok(String(de.get(key)).trim(), `${key} is translated`);
      }
    });
  }

  it('has none of the i18next option names as a parameter of a runtime text (t() would take them as options)', function () {
    const reserved = new Set([
      'lng',
      'lngs',
      'ns',
      'context',
      'defaultValue',
      'replace',
      'ordinal',
      'returnObjects',
      'joinArrays',
      'postProcess',
      'interpolation',
      'fallbackLng',
    ]);
    const catalog = flatten(read('en-US', 'send-smtp-email')[CATALOG_ROOT] as Catalog);
    for (const [key, s] of catalog) {
      if (!/^(errors|hints|warnings|types|fields)\./.test(key)) continue;
      for (const p of paramsOf(s)) assert.ok(!reserved.has(p), `${key} uses __${p}__`);
      // count chooses the plural form: a runtime text uses it only where it has one.
      if (paramsOf(s).includes('count')) assert.ok(key.endsWith('_plural') || catalog.has(`${key}_plural`), `${key} has a plural form`);
    }
  });

  describe('runtime texts named in the sources', function () {
    const RUNTIME = /^(errors|hints|warnings|types|fields)\./;
    const catalog = flatten(read('en-US', 'send-smtp-email')[CATALOG_ROOT] as Catalog);
    const runtime = [...catalog.keys()].filter((k) => RUNTIME.test(k));
    const code = sources(path.join(root, 'src'))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    // 'errors.x.y' in quotes, and `types.${…}`: a key built from a prefix.
    const named = new Set([...code.matchAll(/'((?:errors|hints|warnings|types|fields)\.[\w.]+)'/g)].map((m) => m[1]));
    const prefixes = [...code.matchAll(/`((?:errors|hints|warnings|types|fields)\.[\w.]*)\$\{/g)].map((m) => m[1]);

    it('every key a source names is in the en-US catalog', function () {
      assert.ok(named.size > 100, `found ${named.size} keys in the sources`);
      assert.deepEqual(
        [...named].filter((k) => !catalog.has(k)),
        [],
      );
      for (const prefix of prefixes)
        assert.ok(
          runtime.some((k) => k.startsWith(prefix)),
          `something under ${prefix}`,
        );
    });

    it('every runtime text of the catalog is used by a source', function () {
      const used = (k: string) => named.has(k.replace(/_plural$/, '')) || prefixes.some((p) => k.startsWith(p));
      assert.deepEqual(
        runtime.filter((k) => !used(k)),
        [],
      );
    });
  });

  it('gives the library English from the catalog, with nested texts and plural forms', function () {
    const err = mailError(
      'EINPUT',
      text('errors.notText', { field: text('fields.subject'), type: text('types.object') }),
      text('hints.notText', { field: text('fields.subject') }),
    );
    assert.equal(err.message, 'Subject must be text, not an object');
    assert.equal(err.hint, 'Set Subject to a string.');
    assert.equal(err.messageKey, 'errors.notText');
    assert.equal(englishOf(text('errors.retry.gaveUp', { count: 1, seconds: 2 })), 'gave up after 1 attempt in 2 s');
    assert.equal(englishOf(text('errors.retry.gaveUp', { count: 3, seconds: 2 })), 'gave up after 3 attempts in 2 s');
    // A value is never read for placeholders itself.
    assert.equal(englishOf(text('errors.withCode', { error: '__code__', code: 'EIO' })), '__code__ (EIO)');
  });

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
});
