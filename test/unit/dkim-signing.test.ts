import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { composeBuffer } from '../../src/lib/message/compose';
import { dkimSettings } from '../../src/lib/message/dkim-key';
import { DkimSigner, signEd25519 } from '../../src/lib/message/dkim-signing';
import { emptied, opensslKey, opensslRecord, verifyDkim } from '../support/dkim';

const ed25519 = opensslKey('ed25519');
const rsa = opensslKey('rsa', 2048);
const records = (pem: string) => ({ ['s1._domainkey.example.com']: opensslRecord(pem) });
const mail = (size: number) => ({
  from: 'sender@example.com',
  to: 'to@example.com',
  subject: 'Grüße',
  text: 'one\n.\ntwo',
  attachments: [{ filename: 'a.bin', content: Buffer.alloc(size, 5) }],
});

describe('DKIM signing', function () {
  let parent: string;
  beforeEach(() => (parent = fs.mkdtempSync(path.join(os.tmpdir(), 'dkim-unit-'))));
  afterEach(() => fs.rmSync(parent, { recursive: true, force: true }));

  for (const [type, pem] of [
    ['rsa', rsa],
    ['ed25519', ed25519],
  ] as const) {
    it(`${type}: a message built with the signer's signing verifies; small and cached bodies alike; its folder goes on close`, async function () {
      const signer = new DkimSigner(dkimSettings('example.com', 's1', pem)!, { parent });
      for (const size of [100, 700 * 1024]) {
        const built = await composeBuffer(mail(size), await signer.signing());
        const [verdict] = await verifyDkim(built.message, records(pem));
        assert.equal(verdict.result, 'pass', `${size}: ${verdict.comment}`);
        assert.equal(verdict.algorithm, `${type}-sha256`);
      }
      const [folder] = fs.readdirSync(parent);
      assert.match(folder, /^smtp-dkim-/);
      assert.equal(fs.statSync(path.join(parent, folder)).mode & 0o777, 0o700);
      assert.deepEqual(await emptied(path.join(parent, folder)), [], 'no cache file left once read');
      await signer.close();
      assert.deepEqual(fs.readdirSync(parent), []);
    });
  }

  it('Ed25519: a reader that stops early leaves no cache file, and an input error ends the output with it', async function () {
    const key = dkimSettings('example.com', 's1', ed25519)!.key.key;
    const body = Buffer.alloc(64 * 1024, 'x');
    const message = () => Readable.from([Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\n'), body, body, body]);
    const out = signEd25519(message(), { domain: 'example.com', selector: 's1', key, cacheDir: parent, memory: 1024 });
    for await (const chunk of out) {
      assert.ok(chunk.length);
      break;
    }
    assert.deepEqual(await emptied(parent), []);
    const failing = new Readable({ read() {} });
    const failed = signEd25519(failing, { domain: 'example.com', selector: 's1', key, cacheDir: parent });
    failing.push('From: a@example.com\r\n\r\nbody');
    failing.destroy(new Error('download failed'));
    await assert.rejects(async () => {
      for await (const chunk of failed) assert.ok(chunk);
    }, /download failed/);
  });
});
