import assert from 'node:assert/strict';
import { POOL_LIMITS, poolSize } from '../../src/lib/config/pool-limits';
import { transportOptions, type ConnectionConfig } from '../../src/lib/config/transport-options';

describe('pool size', function () {
  it('gives Microsoft 365 its documented 3 connections per mailbox when the connection sets none', function () {
    assert.equal(POOL_LIMITS.Outlook365, 3);
    for (const unset of [undefined, '', 0, '0'])
      assert.equal(transportOptions({ service: 'Outlook365', maxConnections: unset }, {}).maxConnections, 3, String(unset));
  });

  it('never changes a value the user set, and keeps 5 for services without a documented limit', function () {
    assert.equal(poolSize({ service: 'Outlook365', maxConnections: 5 }), 5);
    assert.equal(poolSize({ service: 'Outlook365', maxConnections: 2 }), 2);
    assert.equal(poolSize({ service: 'Gmail' }), 5);
    const byHost: ConnectionConfig = { host: 'smtp.example.com' };
    assert.equal(poolSize(byHost), 5);
  });
});
