'use strict';
// A real OAuth2 token endpoint on loopback (oauth2-mock-server), refusing wrong client secrets
// the way Entra ID does.
const crypto = require('node:crypto');
const { OAuth2Server } = require('oauth2-mock-server');

async function startTokenEndpoint(options = {}) {
  const clientId = options.clientId || 'client-id-1';
  const clientSecret = options.clientSecret || 'client-secret-1';
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const state = { requests: [], issued: [], expiresIn: options.expiresIn || 3600, next: [] };
  server.service.on('beforeTokenSigning', (token) => {
    token.payload.exp = Math.floor(Date.now() / 1000) + state.expiresIn;
    // Tokens signed in the same second would otherwise be identical.
    token.payload.jti = crypto.randomUUID();
  });
  server.service.on('beforeResponse', (response, req) => {
    state.requests.push({ ...req.body });
    const override = state.next.shift();
    if (override) {
      response.statusCode = override.status;
      response.body = override.body;
      if (override.headers) req.res.set(override.headers);
      return;
    }
    if (req.body.client_id !== clientId || req.body.client_secret !== clientSecret) {
      response.statusCode = 401;
      response.body = {
        error: 'invalid_client',
        error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        error_codes: [7000215],
      };
      return;
    }
    response.body.expires_in = state.expiresIn;
    state.issued.push(response.body.access_token);
  });
  return {
    url: `${server.issuer.url.replace('localhost', '127.0.0.1')}/token`,
    clientId,
    clientSecret,
    state,
    /** Makes the next answer this one (status, body, extra headers such as Retry-After), as a provider would send it. */
    answerNext(status, body, headers) {
      state.next.push({ status, body, headers });
    },
    close: () => server.stop(),
  };
}

module.exports = { startTokenEndpoint };
