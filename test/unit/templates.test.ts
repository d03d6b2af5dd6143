import assert from 'node:assert/strict';
import { renderTemplate, type TemplateScopes } from '../../src/lib/message/templates';

/** A context read: the value stored under `key`, or undefined. */
const lookup = (values: Record<string, unknown>, key: string): unknown => values[key];

describe('renderTemplate', function () {
  const scopes: TemplateScopes = {
    flow: (k) => lookup({ area: 'Hall <A>' }, k),
    global: (k) => lookup({ n: 3 }, k),
    env: (k) => lookup({ SITE: 'Plant' }, k),
  };
  it('renders msg, flow, global and env values', function () {
    assert.equal(
      renderTemplate('{{payload.name}} {{flow.area}} {{global.n}} {{env.SITE}}', { payload: { name: 'Ada' } }, scopes, false),
      'Ada Hall <A> 3 Plant',
    );
  });
  it('escapes HTML only in HTML content', function () {
    assert.equal(renderTemplate('<b>{{flow.area}}</b>', {}, scopes, true), '<b>Hall &lt;A&gt;</b>');
    assert.equal(renderTemplate('{{{flow.area}}}', {}, scopes, true), 'Hall <A>');
  });
  it('leaves strings without tags untouched and renders missing values as empty', function () {
    assert.equal(renderTemplate('plain {text}', {}, scopes, false), 'plain {text}');
    assert.equal(renderTemplate('[{{flow.none}}]', {}, scopes, false), '[]');
  });
});
