// The message catalogs: German has every key English has and no other, each with the same
// __params__; and every runtime text the sources name is in the catalog, and every one there is
// used. (How texts are said: texts.test.ts and translate.test.ts.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CATALOG_ROOT } from '../../src/lib/errors/texts';

type Catalog = { [key: string]: string | Catalog };

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
});
