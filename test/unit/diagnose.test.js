'use strict';
const assert = require('node:assert/strict');
const { hintFor } = require('../../dist/lib/diagnose');
const providers = require('../fixtures/provider-responses.json');

describe('diagnose', function () {
  it('gives every provider answer of the fixtures a specific hint', function () {
    const generic = hintFor({ code: 'EAUTH', message: 'x' });
    for (const r of providers.smtp) {
      const code = /^53[45]/.test(r.response) ? 'EAUTH' : undefined;
      const hint = hintFor({ code, response: r.response, message: r.response }, { authType: 'basic' });
      assert.ok(hint, r.response);
      if (!/^535 5\.7\.3 /.test(r.response)) assert.notEqual(hint, generic, `specific hint for: ${r.response}`);
    }
    for (const t of providers.token) {
      const hint = hintFor({ code: 'EOAUTH2', message: `The token endpoint refused the request (HTTP ${t.status}): ${t.body.error}: ${t.body.error_description}` });
      assert.ok(hint && !/refused the client: check the client ID/.test(hint), t.body.error_description);
    }
  });

  it('explains a DNS failure and a refused connection', function () {
    assert.match(hintFor({ code: 'EDNS', message: 'getaddrinfo ENOTFOUND smtp.example.invalid' }), /cannot be resolved/);
    assert.match(hintFor({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25' }), /Nothing accepts connections/);
  });

  it('points OAuth2 auth failures at the app permissions, and names a custom From', function () {
    const err = { code: 'EAUTH', response: '535 5.7.3 Authentication unsuccessful', message: 'Invalid login' };
    assert.match(hintFor(err, { authType: 'oauth2-client-credentials' }), /SMTP\.SendAsApp/);
    assert.match(hintFor(err, { authType: 'oauth2-client-credentials', customFrom: true }), /Custom From/);
    assert.doesNotMatch(hintFor(err, { authType: 'basic' }), /SendAsApp/);
  });
});
