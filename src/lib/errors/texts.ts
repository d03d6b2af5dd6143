import fs from 'node:fs';
import path from 'node:path';

/**
 * The package's runtime texts (error messages, hints, warnings) as entries of the send node's
 * message catalog, `locales/<lang>/send-smtp-email.json`: a key and its parameters instead of a
 * finished sentence, so that the node layer can say them in the user's language (translate.ts).
 * Their English is read from the en-US catalog, the one place it is written: the library, and a
 * runtime without the catalog (the test helper's RED._ is the identity), still read English.
 */

/** A parameter: a value as it is (a host, a count, a server's own words) or another text of the catalog. */
export type Param = string | number | Text;
export type Params = Record<string, Param>;

export interface Text {
  /** The key under the catalog's root, e.g. `errors.attachment.base64`. */
  key: string;
  params?: Params;
}

export const text = (key: string, params?: Params): Text => (params ? { key, params } : { key });

export const isText = (value: unknown): value is Text =>
  typeof value === 'object' && value !== null && typeof (value as Text).key === 'string';

/** The root key of the send node's catalog, under which the runtime texts live. */
export const CATALOG_ROOT = 'send-smtp-email';

/**
 * The en-US catalog. In the package it is where the build puts it: Node-RED reads catalogs only
 * from the folder of a node's .js file, so locales/ is copied beside dist/nodes/send-smtp-email/
 * (scripts/build.js). Run from src/ (the tests, through tsx), it is the source catalog itself.
 */
export const ENGLISH_CATALOG = [
  path.join(__dirname, '..', '..', 'nodes', 'send-smtp-email', 'locales', 'en-US', 'send-smtp-email.json'),
  path.join(__dirname, '..', '..', '..', 'locales', 'en-US', 'send-smtp-email.json'),
].find((file) => fs.existsSync(file))!;

let english: Record<string, unknown> | undefined;
/** The en-US catalog below its root, read once, when the first text is needed. */
function englishCatalog(): Record<string, unknown> {
  english ??= (JSON.parse(fs.readFileSync(ENGLISH_CATALOG, 'utf8')) as Record<string, Record<string, unknown>>)[CATALOG_ROOT];
  return english;
}

/** The entry at a dotted key, if it is a string. */
function entry(catalog: Record<string, unknown>, key: string): string | undefined {
  let node: unknown = catalog;
  for (const part of key.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return typeof node === 'string' ? node : undefined;
}

/** `__name__` placeholders filled in one pass, as Node-RED's i18next does: a value is never read for placeholders itself. */
export const interpolate = (template: string, params: Record<string, string | number>): string =>
  template.replace(/__([A-Za-z0-9_]+?)__/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));

/**
 * The English of a key with its (already rendered) parameters, or undefined for a key the catalog
 * lacks. A `count` other than 1 takes the `<key>_plural` entry where there is one, as i18next does
 * for English and German.
 */
function englishEntry(key: string, params: Record<string, string | number>): string | undefined {
  const catalog = englishCatalog();
  const plural = typeof params.count === 'number' && params.count !== 1 ? entry(catalog, `${key}_plural`) : undefined;
  const template = plural ?? entry(catalog, key);
  return template === undefined ? undefined : interpolate(template, params);
}

/**
 * Looks a key up in some language with its parameters; undefined when that language has no entry
 * for it, so that the English one is used.
 */
export type Lookup = (key: string, params: Record<string, string | number>) => string | undefined;

/** A text in the language of `lookup`, parameters first (each a text of its own or a value as it is), English wherever the lookup has nothing. */
export function render(t: Param, lookup?: Lookup): string {
  if (!isText(t)) return String(t);
  const params: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(t.params ?? {})) params[name] = isText(value) ? render(value, lookup) : value;
  // A key missing from the catalog is a bug that test/unit/catalog.test.ts catches; at run time
  // the key itself says more than nothing.
  return lookup?.(t.key, params) ?? englishEntry(t.key, params) ?? t.key;
}

/** A text in English. */
export const englishOf = (t: Param): string => render(t);
