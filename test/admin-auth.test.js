'use strict';
// The admin endpoints of the connection node sit behind Node-RED's own permissions: with adminAuth
// on, a caller without a token (or with read-only rights, for Test connection) is refused.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const bcrypt = require('bcryptjs'); // Node-RED's own dependency, used here to hash the test users' passwords
const { freePort, waitForHttp, stopChild } = require('./support/node-red-process');

describe('admin endpoints with adminAuth on', function () {
  this.timeout(60000);
  let child;
  let url;
  let userDir;
  const token = async (username) => {
    const res = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: username === 'admin' ? '*' : 'read', username, password: 'pw' }),
    });
    assert.equal(res.status, 200);
    return (await res.json()).access_token;
  };
  const testBody = JSON.stringify({ host: '127.0.0.1', port: 1, security: 'none', authType: 'none' });

  before(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-auth-'));
    const port = await freePort();
    const hash = bcrypt.hashSync('pw', 8);
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = {
  uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: false,
  nodesDir: ${JSON.stringify(path.join(__dirname, '..', 'dist'))},
  telemetry: { enabled: false }, editorTheme: { tours: false, palette: { catalogues: [] } },
  adminAuth: { type: 'credentials', users: [
    { username: 'admin', password: ${JSON.stringify(hash)}, permissions: '*' },
    { username: 'viewer', password: ${JSON.stringify(hash)}, permissions: 'read' },
  ] },
};
`,
    );
    child = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], { stdio: 'ignore' });
    url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/auth/login`, child);
  });
  after(async function () {
    await stopChild(child);
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('refuses the service list and Test connection without a token', async function () {
    assert.equal((await fetch(`${url}/smtp-oauth-config/services`)).status, 401);
    const res = await fetch(`${url}/smtp-oauth-config/test`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: testBody });
    assert.equal(res.status, 401);
  });

  it('lets a read-only user list services but not run Test connection', async function () {
    const auth = { Authorization: `Bearer ${await token('viewer')}` };
    const list = await fetch(`${url}/smtp-oauth-config/services`, { headers: auth });
    assert.equal(list.status, 200);
    assert.ok((await list.json()).some((s) => s.key === 'Outlook365'));
    const res = await fetch(`${url}/smtp-oauth-config/test`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: testBody });
    assert.equal(res.status, 401);
  });

  it('runs Test connection for an admin', async function () {
    const auth = { Authorization: `Bearer ${await token('admin')}` };
    const res = await fetch(`${url}/smtp-oauth-config/test`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: testBody });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.ok, false);
    assert.match(body.error.message, /ECONNREFUSED/);
  });
});
