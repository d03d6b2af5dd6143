import Mustache from 'mustache';

/** Reads `flow.x`, `global.x` and `env.X` inside templates, as Node-RED's template node does. */
export interface TemplateScopes {
  flow: (key: string) => unknown;
  global: (key: string) => unknown;
  env: (key: string) => unknown;
}

/** A view whose properties are looked up lazily (mustache asks `key in obj` before reading). */
function lazyScope(get: (key: string) => unknown): object {
  return new Proxy(
    {},
    {
      has: (_t, key) => typeof key === 'string' && get(key) !== undefined,
      get: (_t, key) => (typeof key === 'string' ? get(key) : undefined),
    },
  );
}

const noEscape = (value: unknown) => String(value);

/**
 * Renders a mustache template against the msg plus `flow`, `global` and `env`.
 * HTML-escapes values for HTML content; leaves them as they are for subject and text.
 */
export function renderTemplate(template: string, msg: object, scopes: TemplateScopes, html: boolean): string {
  if (!template.includes('{{')) return template;
  const view = { ...msg, flow: lazyScope(scopes.flow), global: lazyScope(scopes.global), env: lazyScope(scopes.env) };
  return Mustache.render(template, view, {}, html ? undefined : { escape: noEscape });
}
