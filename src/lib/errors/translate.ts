import fs from 'node:fs';
import path from 'node:path';
import { hintOf, messageOf, type Localizable } from './errors';
import { CATALOG_ROOT, render, type Lookup, type Param } from './texts';

/** Node-RED's RED._ as a node module gets it: i18next's t() with the node set's namespace. */
export type RedTranslate = (key: string, options?: Record<string, string | number>) => string;

/**
 * The namespace Node-RED registers the send node's catalog under: `<module>/<node set>`
 * (@node-red/registry, loader.js). Named in every key, so that the connection node, whose RED._
 * looks in its own catalog, reaches the runtime texts too.
 */
export const NAMESPACE = `${(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { name: string }).name}/send-smtp-email`;

/** A language tag as the editor sends it (en-US, de, pt-BR); anything else is not passed to i18next. */
const LANGUAGE = /^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$/i;

/** Says a text of the catalog, or a value as it is, in one language. */
export type Say = (t: Param) => string;

/**
 * The runtime texts in Node-RED's language through RED._, or in `lng` (the editor's language, for
 * an answer to the editor). Where RED._ has no entry it answers the key itself: a runtime that
 * loaded the nodes without their catalog, or the test helper, whose RED._ is the identity. The
 * English of the catalog is used then.
 */
export function translator(_: RedTranslate, lng?: string): Say {
  const language = lng && LANGUAGE.test(lng) ? { lng } : undefined;
  const lookup: Lookup = (key, params) => {
    const full = `${NAMESPACE}:${CATALOG_ROOT}.${key}`;
    const out = _(full, language ? { ...params, ...language } : params);
    return typeof out === 'string' && out !== full && out !== `${CATALOG_ROOT}.${key}` ? out : undefined;
  };
  return (t) => render(t, lookup);
}

/** The first language of an Accept-Language header (the editor sends its own), if any. */
export function requestLanguage(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const first = header.split(',')[0].split(';')[0].trim();
  return LANGUAGE.test(first) ? first : undefined;
}

/**
 * The error with its message and hint said by `say`, every other field as it is. A copy: the same
 * error may also be stored or reported elsewhere. Words that are not ours (nodemailer's message,
 * the server's response) stay as they are.
 */
export function localized<E extends Localizable>(err: E, say: Say): E {
  if (!err.messageKey && !err.hintKey) return err;
  const message = err.messageKey ? say(messageOf(err)) : err.message;
  const hint = err.hintKey ? say(hintOf(err)!) : err.hint;
  const out = (err instanceof Error ? Object.assign(new Error(message), err) : { ...err }) as E;
  out.message = message;
  if (hint !== undefined) out.hint = hint;
  return out;
}

/**
 * Message and hint as one line, for what keeps only a message (a Catch node's msg.error, a log
 * line). A server's answer often ends with its own full stop: no second one then.
 */
export function withHint(err: Localizable): string {
  if (!err.hint) return err.message;
  return `${/[.!?]$/.test(err.message) ? err.message : `${err.message}.`} ${err.hint}`;
}
