import assert from 'node:assert/strict';
import { checkConnectionConfig } from '../../src/lib/config/connection-config';
import type { MailError } from '../../src/lib/errors/errors';

describe('connection settings: outbox', function () {
  const base = { host: 'smtp.example.com' };

  it('keeps mails on disk with a 200 MB cap unless the connection says otherwise', function () {
    const c = checkConnectionConfig(base);
    assert.equal(c.outbox, 'disk');
    assert.equal(c.outboxMaxMB, 200);
    assert.deepEqual(
      [
        checkConnectionConfig({ ...base, outbox: '', outboxMaxMB: '' }).outbox,
        checkConnectionConfig({ ...base, outbox: '', outboxMaxMB: '' }).outboxMaxMB,
      ],
      ['disk', 200],
    );
  });

  it('takes memory, and a cap the dialog saved as a string', function () {
    const c = checkConnectionConfig({ ...base, outbox: 'memory', outboxMaxMB: '0.5' });
    assert.deepEqual([c.outbox, c.outboxMaxMB], ['memory', 0.5]);
  });

  it('refuses an unknown outbox and a cap that is no positive number, with ECONFIG and what to set', function () {
    for (const bad of [{ outbox: 'cloud' }, { outbox: true }, { outboxMaxMB: '-1' }, { outboxMaxMB: 'lots' }, { outboxMaxMB: 0 }]) {
      assert.throws(
        () => checkConnectionConfig({ ...base, ...bad }),
        (e: MailError) => e.code === 'ECONFIG' && /outbox/.test(e.message) && !!e.hint,
        JSON.stringify(bad),
      );
    }
  });
});
