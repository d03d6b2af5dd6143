// axios, loaded on first use: the modules that use it load without it (Node-RED starts faster),
// and the client they get is one and the same working axios.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { httpClient } from '../../src/lib/net/http-client';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';

const root = path.join(__dirname, '..', '..');

describe('http client', function () {
  it('is not loaded by the modules that use it, only by the first call', function () {
    // A fresh process: in this one, another test may have loaded axios already.
    const script = `
      const loaded = () => Object.keys(require.cache).some((file) => file.split(require('node:path').sep).includes('axios'));
      require('./src/lib/auth/token-cache');
      require('./src/lib/message/attachments');
      const { httpClient } = require('./src/lib/net/http-client');
      const before = loaded();
      const client = httpClient();
      process.stdout.write(JSON.stringify({ before, after: loaded(), same: client === httpClient(), post: typeof client.post }));
    `;
    const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { before: false, after: true, same: true, post: 'function' });
  });

  describe('against a token endpoint on loopback', function () {
    let idp: TokenEndpoint;
    before(async () => (idp = await startTokenEndpoint({ clientId: 'c', clientSecret: 's' })));
    after(() => idp.close());

    it('posts a form and reads the JSON answer, as the token cache does', async function () {
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: 'x/.default' });
      const res = await httpClient().post<{ access_token?: unknown; token_type?: unknown }>(idp.url, body.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.data.access_token, idp.state.issued[0]);
      assert.deepEqual(idp.state.requests, [{ grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: 'x/.default' }]);
    });

    it('gives the answer of a refusal to a caller that accepts every status', async function () {
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'c', client_secret: 'wrong', scope: 'x/.default' });
      const res = await httpClient().post<{ error?: unknown }>(idp.url, body.toString(), { validateStatus: () => true });
      assert.equal(res.status, 401);
      assert.equal(res.data.error, 'invalid_client');
    });
  });
});
