import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { dkimRecordName, dkimRecordValue, dkimSettings, readDkimKey } from '../../src/lib/message/dkim-key';
import type { MailError } from '../../src/lib/errors/errors';
import { opensslKey, opensslRecord } from '../support/dkim';

const rsa = opensslKey('rsa', 2048);
const ed25519 = opensslKey('ed25519');
/** Refused with ECONFIG, the message key `key`, and no line of the key in message, hint or params. */
const refused = (key: string, pem: string) => (e: MailError) => {
  const said = JSON.stringify(e) + e.message + String(e.hint);
  return (
    e.code === 'ECONFIG' &&
    e.messageKey === `errors.config.${key}` &&
    !!e.hintKey &&
    !pem.split('\n').some((l) => l.length > 20 && !l.startsWith('-----') && said.includes(l))
  );
};

describe('DKIM key', function () {
  it('reads PEM RSA (PKCS#8 and PKCS#1) and Ed25519 keys, also without their line breaks', function () {
    assert.deepEqual([readDkimKey(rsa).type, readDkimKey(rsa).bits], ['rsa', 2048]);
    const pkcs1 = crypto.createPrivateKey(rsa).export({ type: 'pkcs1', format: 'pem' }) as string;
    assert.equal(readDkimKey(pkcs1).type, 'rsa');
    assert.equal(readDkimKey(ed25519).type, 'ed25519');
    assert.equal(readDkimKey(rsa.replace(/\n/g, '')).pem, rsa);
  });

  it('derives the TXT record as openssl computes it: SPKI for RSA, the bare 32-byte key for Ed25519 (RFC 8463)', function () {
    assert.equal(dkimRecordValue(readDkimKey(rsa)), opensslRecord(rsa));
    assert.equal(dkimRecordValue(readDkimKey(ed25519)), opensslRecord(ed25519));
    assert.equal(Buffer.from(dkimRecordValue(readDkimKey(ed25519)).split('p=')[1], 'base64').length, 32);
    assert.equal(dkimRecordName('s1', 'example.com'), 's1._domainkey.example.com');
  });

  it('refuses what cannot sign, never quoting the key', function () {
    const short = opensslKey('rsa', 768);
    const ec = opensslKey('ec');
    const encrypted = crypto
      .createPrivateKey(rsa)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    assert.throws(() => readDkimKey('hello'), refused('dkimKeyNotPem', 'hello'));
    assert.throws(() => readDkimKey(undefined), refused('dkimKeyNotPem', ''));
    assert.throws(() => readDkimKey(short), refused('dkimKeyShort', short));
    assert.throws(() => readDkimKey(ec), refused('dkimKeyType', ec));
    assert.throws(() => readDkimKey(encrypted), refused('dkimKeyEncrypted', encrypted));
    const broken = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n';
    assert.throws(() => readDkimKey(broken), refused('dkimKeyUnreadable', broken));
  });

  it('signs only with domain, selector and key; either of the first two alone, or no key, is refused; a key alone signs nothing', function () {
    assert.equal(dkimSettings('', '', rsa), undefined);
    assert.equal(dkimSettings(undefined, undefined, undefined), undefined);
    const s = dkimSettings(' Bücher.Example ', 's1', rsa)!;
    assert.deepEqual([s.domain, s.selector, s.key.type], ['xn--bcher-kva.example', 's1', 'rsa']);
    assert.throws(() => dkimSettings('example.com', '', rsa), refused('dkimMissing', rsa));
    assert.throws(() => dkimSettings('', 's1', rsa), refused('dkimMissing', rsa));
    assert.throws(() => dkimSettings('example.com', 's1', ''), refused('dkimMissing', ''));
    assert.throws(() => dkimSettings('example', 's1', rsa), refused('dkimDomain', rsa));
    assert.throws(() => dkimSettings('example.com', 's1; x=y', rsa), refused('dkimSelector', rsa));
  });
});
