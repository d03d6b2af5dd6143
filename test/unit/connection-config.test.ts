import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkConnectionConfig, checkCredentials, checkRedisUrl } from '../../src/lib/config/connection-config';
import type { MailError } from '../../src/lib/errors/errors';
import { interpolate } from '../../src/lib/errors/texts';
import { AUTH_TYPES, CLIENT_AUTH, CREDENTIALS, credentialsOf, isSecret, outboxCredentialsOf } from '../../src/shared/constants';

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

  it('takes redis, with its cap', function () {
    const c = checkConnectionConfig({ ...base, outbox: 'redis', outboxMaxMB: '50' });
    assert.deepEqual([c.outbox, c.outboxMaxMB], ['redis', 50]);
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

describe("connection settings: the shared outbox's Redis URL", function () {
  const ROOT = path.join(__dirname, '..', '..');
  const german = JSON.parse(fs.readFileSync(path.join(ROOT, 'locales', 'de', 'send-smtp-email.json'), 'utf8'))['send-smtp-email'];
  /** A text of the German catalog with its parameters filled in, as a German Node-RED says it. */
  const inGerman = (key: string | undefined, params: Record<string, unknown> = {}) =>
    interpolate(
      String(key)
        .split('.')
        .reduce((o, k) => o[k], german),
      params as Record<string, string>,
    );

  it('takes redis:// and rediss:// with a host, with or without user, password, port and database', function () {
    const plain = checkRedisUrl('redis://h:6379');
    assert.deepEqual([plain.protocol, plain.hostname, plain.port, plain.password], ['redis:', 'h', '6379', '']);
    const tls = checkRedisUrl('rediss://:pw@h:6380/2');
    assert.deepEqual(
      [tls.protocol, tls.hostname, tls.port, tls.username, tls.password, tls.pathname],
      ['rediss:', 'h', '6380', '', 'pw', '/2'],
    );
    const acl = checkRedisUrl('redis://user:pw@h');
    assert.deepEqual([acl.hostname, acl.username, acl.password], ['h', 'user', 'pw']);
    assert.equal(checkRedisUrl(' redis://[::1]:6379/0 ').hostname, '[::1]', 'spaces around it, as a paste leaves them');
  });

  const refused: [string | undefined, string][] = [
    [undefined, 'noRedisUrl'],
    ['', 'noRedisUrl'],
    ['   ', 'noRedisUrl'],
    ['http://h', 'badRedisUrl'],
    ['http://user:pw@h:6379', 'badRedisUrl'],
    ['redis://', 'badRedisUrl'],
    ['redis://user:pw@', 'badRedisUrl'],
    ['redis://user:pw@h:99999', 'badRedisUrl'],
    ['redis://user:pw@h/cache', 'badRedisUrl'],
    ['redis:user:pw@h', 'badRedisUrl'],
    ['user:pw@h:6379', 'badRedisUrl'],
    ['garbage', 'badRedisUrl'],
  ];
  for (const [url, key] of refused) {
    it(`refuses ${JSON.stringify(url)} with ECONFIG, saying what to write and never a part of the URL`, function () {
      assert.throws(
        () => checkRedisUrl(url),
        (e: MailError) => {
          assert.equal(e.code, 'ECONFIG');
          assert.equal(e.messageKey, `errors.config.${key}`);
          assert.match(e.hint!, /redis:\/\/:password@host:6379\/0, or .*rediss:\/\/ for TLS/);
          assert.match(e.hint!, /Every Node-RED instance .* needs the same URL/);
          const germanHint = inGerman(e.hintKey, e.hintParams);
          assert.match(germanHint, /dieselbe URL/);
          for (const words of [e.message, e.hint!, inGerman(e.messageKey, e.params), germanHint])
            for (const part of ['pw', 'user', 'cache']) assert.ok(!words.includes(part), `"${words}" says ${part}`);
          assert.equal((e as Error).cause, undefined, "the parser's error, which quotes the URL, is not kept");
          return true;
        },
      );
    });
  }
});

describe('connection credentials: the Redis URL belongs to the outbox, not to a sign-in', function () {
  it('is a secret credential of the Redis outbox only', function () {
    assert.deepEqual(outboxCredentialsOf('redis'), ['redisUrl']);
    for (const outbox of ['disk', 'memory', '', undefined, 'cloud', 'constructor'])
      assert.deepEqual(outboxCredentialsOf(outbox), [], String(outbox));
    assert.equal(CREDENTIALS.redisUrl.type, 'password');
    assert.ok(isSecret('redisUrl'));
  });

  it('is asked by no sign-in method', function () {
    for (const method of [...AUTH_TYPES, undefined])
      for (const clientAuth of [...CLIENT_AUTH, undefined])
        assert.ok(!credentialsOf(method, clientAuth).includes('redisUrl'), `${method} ${clientAuth}`);
  });

  it('reaches the runtime as the connection stored it, and is refused like any credential when it is no text', function () {
    assert.equal(checkCredentials({ user: 'u', redisUrl: 'rediss://:pw@h:6380/2' }).redisUrl, 'rediss://:pw@h:6380/2');
    assert.throws(
      () => checkCredentials({ redisUrl: { host: 'h' } }),
      (e: MailError) => e.code === 'ECONFIG' && /redisUrl/.test(e.message),
    );
  });
});
