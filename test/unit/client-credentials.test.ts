// Which token cache a connection gets: the scope Graph's tokens are asked for, and what a
// certificate connection sends instead of a secret (against the loopback token endpoint).
import assert from 'node:assert/strict';
import { clientCredentialTokens } from '../../src/lib/auth/client-credentials';
import { graphScope } from '../../src/shared/connection-fields';
import { clientCertificate } from '../support/certificate';
import { startTokenEndpoint } from '../support/token-endpoint';

describe('client credentials', function () {
  it("asks for Graph's own scope when a Graph connection sets none, for the Graph URL's cloud", async function () {
    assert.equal(graphScope(''), 'https://graph.microsoft.com/.default');
    assert.equal(graphScope('https://graph.microsoft.us'), 'https://graph.microsoft.us/.default');
    assert.equal(graphScope(' https://graph.microsoft.us/ '), 'https://graph.microsoft.us/.default');
    const idp = await startTokenEndpoint({ clientId: 'app', clientSecret: 's' });
    try {
      const config = { authType: 'oauth2-client-credentials' as const, tokenUrl: idp.url };
      for (const [extra, scope] of [
        [
          { transport: 'graph' as const, graphUrl: 'https://microsoftgraph.chinacloudapi.cn' },
          'https://microsoftgraph.chinacloudapi.cn/.default',
        ],
        [{ transport: 'graph' as const, scope: 'api://custom/.default' }, 'api://custom/.default'],
        [{ scope: 'https://outlook.office365.com/.default' }, 'https://outlook.office365.com/.default'],
      ] as const) {
        await clientCredentialTokens({ ...config, ...extra }, { clientId: 'app', clientSecret: 's' }, {})!.get();
        assert.equal(idp.state.requests.at(-1)!.scope, scope);
      }
    } finally {
      await idp.close();
    }
  });

  it('gives no token cache to other methods', function () {
    for (const authType of ['basic', 'oauth2', 'none'] as const) assert.equal(clientCredentialTokens({ authType }, {}, {}), undefined);
  });

  it('sends a signed assertion and no secret with a certificate, even when a secret is stored too', async function () {
    const pair = clientCertificate({ days: 30 });
    const idp = await startTokenEndpoint({ clientId: 'app', certificate: pair.cert });
    try {
      const tokens = clientCredentialTokens(
        { authType: 'oauth2-client-credentials', clientAuth: 'certificate', tokenUrl: idp.url, scope: 'x/.default' },
        { clientId: 'app', clientSecret: 'left-over-secret', clientCertificate: pair.cert, clientPrivateKey: pair.key },
        {},
      )!;
      await tokens.get();
      const [request] = idp.state.requests;
      assert.equal(request.client_secret, undefined);
      assert.equal(typeof request.client_assertion, 'string');
    } finally {
      await idp.close();
    }
  });
});
