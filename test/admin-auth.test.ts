// The admin endpoints of the connection node sit behind Node-RED's own permissions: with adminAuth
// on, a caller without a token (or with read-only rights, for Test connection) is refused.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs'; // Node-RED's own dependency, used here to hash the test users' passwords
import { builtDist } from './support/build';
import { clientCertificate, opensslThumbprint } from './support/certificate';
import { opensslKey, opensslRecord } from './support/dkim';
import { freePort, requestToken, waitForHttp, stopChild } from './support/node-red-process';

/** An entry of GET /smtp-oauth-config/services. */
interface Service {
  key: string;
}
/** The answer of POST /smtp-oauth-config/test. */
interface TestAnswer {
  ok: boolean;
  error: { message: string };
}

describe('admin endpoints with adminAuth on', function () {
  this.timeout(60000);
  let child: ChildProcess;
  let url: string;
  let userDir: string;
  let dist: string;
  const token = async (username: string): Promise<string> => {
    const res = await requestToken(url, { username, password: 'pw', scope: username === 'admin' ? '*' : 'read' });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const testBody = JSON.stringify({ host: '127.0.0.1', port: 1, security: 'none', authType: 'none' });

  // Node-RED loads the nodes from dist/ (nodesDir): built from the sources of this run, in a hook of its own.
  before(function () {
    dist = builtDist();
  });
  before(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-auth-'));
    const port = await freePort();
    const hash = bcrypt.hashSync('pw', 8);
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = {
  uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: false,
  nodesDir: ${JSON.stringify(dist)},
  telemetry: { enabled: false }, editorTheme: { tours: false, palette: { catalogues: [] } },
  adminAuth: { type: 'credentials', users: [
    { username: 'admin', password: ${JSON.stringify(hash)}, permissions: '*' },
    { username: 'viewer', password: ${JSON.stringify(hash)}, permissions: 'read' },
  ] },
};
`,
    );
    child = spawn(
      process.execPath,
      [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
      { stdio: 'ignore' },
    );
    url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/auth/login`, child);
  });
  after(async function () {
    await stopChild(child);
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('refuses the service list and Test connection without a token', async function () {
    assert.equal((await fetch(`${url}/smtp-oauth-config/services`)).status, 401);
    const res = await fetch(`${url}/smtp-oauth-config/test`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: testBody,
    });
    assert.equal(res.status, 401);
  });

  it('lets a read-only user list services but not run Test connection', async function () {
    const auth = { Authorization: `Bearer ${await token('viewer')}` };
    const list = await fetch(`${url}/smtp-oauth-config/services`, { headers: auth });
    assert.equal(list.status, 200);
    assert.ok(((await list.json()) as Service[]).some((s) => s.key === 'Outlook365'));
    const res = await fetch(`${url}/smtp-oauth-config/test`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: testBody,
    });
    assert.equal(res.status, 401);
  });

  it('runs Test connection for an admin', async function () {
    const auth = { Authorization: `Bearer ${await token('admin')}` };
    const res = await fetch(`${url}/smtp-oauth-config/test`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: testBody,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as TestAnswer;
    assert.equal(body.ok, false);
    assert.match(body.error.message, /ECONNREFUSED/);
  });

  describe('the DKIM record endpoints', function () {
    const key = opensslKey('rsa', 2048);
    const post = (headers: Record<string, string> = {}) =>
      fetch(`${url}/smtp-oauth-config/dkim-record`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ privateKey: key }),
      });

    it('need read permission, and a read-only user gets the record', async function () {
      assert.equal((await post()).status, 401);
      assert.equal((await fetch(`${url}/smtp-oauth-config/nothing/dkim-record`)).status, 401);
      const auth = { Authorization: `Bearer ${await token('viewer')}` };
      const res = await post(auth);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { value: string }).value, opensslRecord(key));
      assert.equal((await fetch(`${url}/smtp-oauth-config/nothing/dkim-record`, { headers: auth })).status, 404);
    });
  });

  describe('POST /smtp-oauth-config/certificate', function () {
    const { key, cert } = clientCertificate({ subject: '/CN=endpoint-test', days: 30 });
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}/smtp-oauth-config/certificate`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });

    it('needs read permission', async function () {
      assert.equal((await post({ certificate: String(cert) })).status, 401);
    });

    it('answers subject, both thumbprints and the expiry, and nothing of a key sent along', async function () {
      const auth = { Authorization: `Bearer ${await token('viewer')}` };
      const res = await post({ certificate: `${key}${cert}` }, auth);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.doesNotMatch(text, /PRIVATE KEY/);
      for (const line of String(key).trim().split('\n').slice(1, -1)) assert.ok(!text.includes(line), 'no line of the key');
      const body = JSON.parse(text) as Record<string, string>;
      assert.deepEqual(Object.keys(body).sort(), ['notAfter', 'sha1', 'sha256', 'subject']);
      assert.equal(body.subject, 'CN=endpoint-test');
      assert.equal(body.sha1, opensslThumbprint(cert, 'sha1'));
      assert.equal(body.sha256, opensslThumbprint(cert, 'sha256'));
      assert.ok(Math.abs(Date.parse(body.notAfter) - (Date.now() + 30 * 86400000)) < 5 * 60000, body.notAfter);
    });

    it('refuses what is no certificate with 400 and a short message, and bounds the body', async function () {
      const auth = { Authorization: `Bearer ${await token('viewer')}` };
      for (const certificate of [String(key), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'hello']) {
        const res = await post({ certificate }, auth);
        assert.equal(res.status, 400);
        const text = await res.text();
        assert.doesNotMatch(text, /PRIVATE KEY|MII/, 'the answer quotes nothing it was sent');
        // Its words are the catalog's (smtp-oauth-config.certificate.unreadable): loaded from nodesDir, the
        // nodes share the core nodes' namespace and Node-RED answers with the key; the editor test
        // reads the English words from the installed package.
        assert.match((JSON.parse(text) as { error: string }).error, /unreadable|no readable PEM certificate/);
      }
      assert.equal((await post({}, auth)).status, 400);
      assert.equal((await post({ certificate: 'x'.repeat(65 * 1024) }, auth)).status, 413);
      const form = await fetch(`${url}/smtp-oauth-config/certificate`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'certificate=x',
      });
      assert.equal(form.status, 415);
    });
  });
});
