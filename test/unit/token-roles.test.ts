import assert from 'node:assert/strict';
import { rolesOf } from '../../src/lib/auth/token-roles';

const jwt = (payload: unknown) =>
  ['{"alg":"RS256"}', JSON.stringify(payload)].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.signature';

describe('token roles', function () {
  it("reads the application permissions of an app-only token's roles claim", function () {
    assert.deepEqual(rolesOf(jwt({ aud: 'https://graph.microsoft.com', roles: ['Mail.Send', 'User.Read.All'] })), [
      'Mail.Send',
      'User.Read.All',
    ]);
    assert.deepEqual(rolesOf(jwt({ roles: [] })), []);
  });

  it('says nothing of a token that is no JWT or lists no roles (another provider), nor of roles that are not text', function () {
    assert.equal(rolesOf('opaque-token-of-another-provider'), undefined);
    assert.equal(rolesOf(jwt({ scp: 'Mail.Send' })), undefined);
    assert.equal(rolesOf('a.%%%.c'), undefined);
    assert.deepEqual(rolesOf(jwt({ roles: ['Mail.Send', 42, null] })), ['Mail.Send']);
  });
});
