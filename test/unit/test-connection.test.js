'use strict';
const assert = require('node:assert/strict');
const { planTest, UNCHANGED } = require('../../dist/lib/test-connection');
const { checkConnectionConfig } = require('../../dist/lib/connection-config');

describe('Test connection plan', function () {
  const deployed = { host: 'smtp.example.com', port: 587, security: 'starttls', authType: 'basic' };
  const stored = { config: checkConnectionConfig(deployed), credentials: { user: 'u@example.com', password: 'stored-pw' } };

  it('fills in a stored secret for the unchanged, deployed connection', function () {
    const plan = planTest({ ...deployed, port: '587', credentials: { user: 'u@example.com', password: UNCHANGED } }, stored);
    assert.equal(plan.credentials.password, 'stored-pw');
  });

  for (const [what, change] of [
    ['host', { host: 'evil.example.com' }],
    ['port', { port: 2525 }],
    ['security', { security: 'none' }],
    ['certificate check', { rejectUnauthorized: false }],
    ['method', { authType: 'none' }],
    ['service', { service: 'Gmail' }],
  ]) {
    it(`asks for the secret again when the ${what} differs`, function () {
      const plan = planTest({ ...deployed, ...change, credentials: { user: 'u@example.com', password: UNCHANGED } }, stored);
      if (change.authType === 'none') return assert.equal(plan.credentials.password, undefined);
      assert.equal(plan.needSecret, 'password');
      assert.ok(plan.changed.length > 0);
    });
  }

  it('uses a secret typed in the dialog wherever it goes, and never a stored one without a deployed connection', function () {
    assert.equal(planTest({ ...deployed, host: 'other.example.com', credentials: { password: 'typed' } }, stored).credentials.password, 'typed');
    assert.deepEqual(planTest({ ...deployed, credentials: { password: UNCHANGED } }, undefined), { needSecret: 'password', changed: [] });
  });

  it('refuses malformed fields before anything else', function () {
    for (const bad of [{ host: ['x'] }, { host: 'a b' }, { ...deployed, port: 70000 }, { ...deployed, security: 'ssl' }, { ...deployed, credentials: { password: 5 } }, { ...deployed, credentials: 'pw' }]) {
      assert.throws(() => planTest(bad, stored), (e) => e.code === 'ECONFIG', JSON.stringify(bad));
    }
  });
});
