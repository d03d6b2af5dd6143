'use strict';
const assert = require('node:assert/strict');
const { htmlToText } = require('../../dist/lib/plain-text');
const { renderTemplate } = require('../../dist/lib/templates');

describe('htmlToText', function () {
  it('keeps paragraphs, breaks, list items and link targets, and decodes entities', function () {
    assert.equal(htmlToText('<h2>Report</h2><p>A&amp;B &lt;ok&gt;&nbsp;&#8364;</p><ol><li>one</li><li>two</li></ol><p><a href="https://x.example/a">details</a><br>end</p>'), 'Report\n\nA&B <ok> €\n\n- one\n- two\n\ndetails (https://x.example/a)\nend');
  });
  it('drops scripts and styles and does not repeat a link that is its own text', function () {
    assert.equal(htmlToText('<style>p{}</style><script>x()</script><p><a href="https://a.example">https://a.example</a></p>'), 'https://a.example');
  });
});

describe('renderTemplate', function () {
  const scopes = { flow: (k) => ({ area: 'Hall <A>' })[k], global: (k) => ({ n: 3 })[k], env: (k) => ({ SITE: 'Plant' })[k] };
  it('renders msg, flow, global and env values', function () {
    assert.equal(renderTemplate('{{payload.name}} {{flow.area}} {{global.n}} {{env.SITE}}', { payload: { name: 'Ada' } }, scopes, false), 'Ada Hall <A> 3 Plant');
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
