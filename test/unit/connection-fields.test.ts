// One description per connection setting (src/shared/connection-fields.ts): the editor's validators
// built from it and the runtime's check (what a deploy and Test connection run) accept and refuse
// the same values. The same comparison runs in the real editor in test/editor/connection-fields.test.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkConnectionConfig } from '../../src/lib/config/connection-config';
import type { MailError } from '../../src/lib/errors/errors';
import { englishOf, text } from '../../src/lib/errors/texts';
import {
  CONNECTION_DEFAULTS,
  CONNECTION_FIELD_NAMES,
  CONNECTION_FIELDS,
  NUMBER_FIELD_NAMES,
  editorProperty,
  isHost,
  type ConnectionFieldName,
} from '../../src/shared/connection-fields';

const base = { host: 'smtp.example.com' };
const ROOT = path.join(__dirname, '..', '..');

/** Whether the runtime takes the value; when it refuses, that it says ECONFIG and names the field. */
function runtimeAccepts(name: ConnectionFieldName, value: unknown): boolean {
  try {
    // Graph sends with client credentials only.
    checkConnectionConfig({ ...base, ...(name === 'transport' && { authType: 'oauth2-client-credentials' }), [name]: value });
    return true;
  } catch (e) {
    const err = e as MailError;
    assert.equal(err.code, 'ECONFIG', `${name} = ${JSON.stringify(value)}: ${err.message}`);
    const field = englishOf(text(CONNECTION_FIELDS[name].name));
    assert.ok(err.message.includes(field), `"${err.message}" names ${field}`);
    return false;
  }
}
const editorAccepts = (name: ConnectionFieldName, value: unknown): boolean => editorProperty(name).validate(value);

/** min − 1, min, max, max + 1, each as the dialog saves it (text) and as a flow may hold it (a number). */
function boundaries(name: (typeof NUMBER_FIELD_NAMES)[number]): [unknown, boolean][] {
  const { min, max } = CONNECTION_FIELDS[name];
  const values: [number, boolean][] = [
    [min - 1, false],
    [min, true],
    [max, true],
    [max + 1, false],
  ];
  return values.flatMap(([n, ok]) => [
    [n, ok],
    [String(n), ok],
  ]);
}

describe('connection fields: one description for the dialog and the runtime', function () {
  for (const name of NUMBER_FIELD_NAMES) {
    const field = CONNECTION_FIELDS[name];
    it(`${name}: both take ${field.min} to ${field.max} and refuse what lies beyond, as a number or as text`, function () {
      for (const [value, ok] of boundaries(name)) {
        assert.equal(editorAccepts(name, value), ok, `the dialog on ${name} = ${JSON.stringify(value)}`);
        assert.equal(runtimeAccepts(name, value), ok, `the runtime on ${name} = ${JSON.stringify(value)}`);
      }
    });

    it(`${name}: both take an empty or missing value as the default and refuse text that is no ${field.integer ? 'whole ' : ''}number`, function () {
      const cases: [unknown, boolean][] = [
        ['', true],
        [undefined, true],
        [` ${field.max} `, true],
        ['lots', false],
        ['-1', false],
        ['1e3', false],
        [true, false],
        [[field.min], false],
      ];
      if (field.integer) cases.push([String(field.min + 0.5), false], [field.min + 0.5, false]);
      else cases.push([String(field.min + 0.5), true]);
      for (const [value, ok] of cases) {
        assert.equal(editorAccepts(name, value), ok, `the dialog on ${name} = ${JSON.stringify(value)}`);
        assert.equal(runtimeAccepts(name, value), ok, `the runtime on ${name} = ${JSON.stringify(value)}`);
      }
    });
  }

  it('says the range in the error and the hint, so the user knows what to type', function () {
    assert.throws(
      () => checkConnectionConfig({ ...base, maxConnections: '1001' }),
      (e: MailError) =>
        e.message === 'The connection\'s pool size must be a whole number from 0 to 1000, not "1001"' && /from 0 to 1000/.test(e.hint!),
    );
    assert.throws(
      () => checkConnectionConfig({ ...base, retryForSeconds: String(7 * 86400 + 1) }),
      (e: MailError) => /retry time must be a whole number from 0 to 604800/.test(e.message),
    );
  });

  it('choices and flags: both take each listed value or nothing, and refuse anything else', function () {
    for (const name of CONNECTION_FIELD_NAMES) {
      const field = CONNECTION_FIELDS[name];
      const cases: [unknown, boolean][] =
        field.kind === 'choice'
          ? [
              ...field.values.map((v): [unknown, boolean] => [v, true]),
              ['', true],
              ['ssl', false],
              [field.values[0].toUpperCase(), false],
              [1, false],
            ]
          : field.kind === 'flag'
            ? [
                [true, true],
                [false, true],
                ['true', true],
                ['false', true],
                ['', true],
                ['yes', false],
                [1, false],
              ]
            : [];
      for (const [value, ok] of cases) {
        assert.equal(editorAccepts(name, value), ok, `the dialog on ${name} = ${JSON.stringify(value)}`);
        assert.equal(runtimeAccepts(name, value), ok, `the runtime on ${name} = ${JSON.stringify(value)}`);
      }
    }
  });

  it('host: both need one without a service, and only a host name or address', function () {
    const cases: [Record<string, unknown>, boolean][] = [
      [{ host: 'smtp.example.com' }, true],
      [{ host: '127.0.0.1' }, true],
      [{ host: '' }, false],
      [{ host: '   ' }, false],
      [{ host: 'smtp://smtp.example.com' }, false],
      [{ host: 'smtp.example.com:587' }, false],
      [{ host: ['smtp.example.com'] }, false],
      [{ service: 'Gmail', host: '' }, true],
      [{ service: 'Gmail', host: 'smtp.gmail.com' }, true],
    ];
    for (const [props, ok] of cases) {
      let runtime = true;
      try {
        checkConnectionConfig(props);
      } catch (e) {
        assert.equal((e as MailError).code, 'ECONFIG');
        runtime = false;
      }
      assert.equal(isHost(props.service, props.host), ok, `the dialog on ${JSON.stringify(props)}`);
      assert.equal(runtime, ok, `the runtime on ${JSON.stringify(props)}`);
    }
  });

  it('gives the dialog the defaults the runtime applies to a connection saved with nothing set', function () {
    const settled = checkConnectionConfig({ host: 'smtp.example.com' });
    for (const name of ['security', 'rejectUnauthorized', 'authType', 'rateLimitPerMinute', 'timeout', 'outbox', 'outboxMaxMB'] as const)
      assert.equal(settled[name], editorProperty(name).value, name);
    assert.equal(CONNECTION_DEFAULTS.maxConnections, 5);
    assert.equal(CONNECTION_DEFAULTS.retryForSeconds, 600);
    assert.equal(CONNECTION_DEFAULTS.maxAttachmentMB, 25);
  });

  it("names in each field's description a label and tip the dialog shows in both languages, and a name the runtime's errors use", function () {
    const template = fs.readFileSync(path.join(ROOT, 'src', 'nodes', 'smtp-oauth-config', 'editor.html'), 'utf8');
    const catalogs = ['en-US', 'de'].map((lang) => ({
      lang,
      dialog: JSON.parse(fs.readFileSync(path.join(ROOT, 'locales', lang, 'smtp-oauth-config.json'), 'utf8'))['smtp-oauth-config'],
      runtime: JSON.parse(fs.readFileSync(path.join(ROOT, 'locales', lang, 'send-smtp-email.json'), 'utf8'))['send-smtp-email'],
    }));
    const at = (catalog: Record<string, unknown>, key: string) =>
      key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], catalog);
    for (const name of CONNECTION_FIELD_NAMES) {
      const field: { label: string; tip?: string; name: string } = CONNECTION_FIELDS[name];
      for (const { lang, dialog, runtime } of catalogs) {
        for (const key of [field.label, field.tip].filter((k): k is string => !!k))
          assert.equal(typeof at(dialog, key), 'string', `${lang} smtp-oauth-config.${key}`);
        assert.equal(typeof at(runtime, field.name), 'string', `${lang} send-smtp-email.${field.name}`);
      }
      // The row of the field's input carries its label, and the tip follows that row.
      const row = new RegExp(
        `<label for="node-config-input-${name}"[^>]*>(?:(?!</label>)[\\s\\S])*data-i18n="smtp-oauth-config\\.${field.label}"` +
          `|<input[^>]*id="node-config-input-${name}"[^>]*>\\s*<label[^>]*data-i18n="smtp-oauth-config\\.${field.label}"`,
      );
      assert.match(template, row, `${name}'s label in the dialog`);
      if (field.tip) {
        const rowEnd = template.indexOf('</div>', template.indexOf(`id="node-config-input-${name}"`));
        const next = template.slice(rowEnd, rowEnd + 300);
        assert.ok(
          next.includes(`data-i18n="smtp-oauth-config.${field.tip}"`) || next.includes(`id="smtp-config-${name}-hint"`),
          `${name}'s tip in the dialog`,
        );
      }
    }
  });
});
