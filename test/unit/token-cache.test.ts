import assert from 'node:assert/strict';
import type { MailError } from '../../src/lib/errors/errors';
import { TokenCache } from '../../src/lib/auth/token-cache';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';

describe('TokenCache', function () {
  let idp: TokenEndpoint;
  before(async () => (idp = await startTokenEndpoint({ clientId: 'c', clientSecret: 's', expiresIn: 3600 })));
  after(() => idp.close());
  beforeEach(() => (idp.state.requests.length = 0));

  const cache = (clock: { now: number }) =>
    new TokenCache({ tokenUrl: idp.url, clientId: 'c', clientSecret: 's', scope: 'x/.default' }, { now: () => clock.now });

  it('makes one request however many callers wait', async function () {
    const c = cache({ now: Date.now() });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => c.get()));
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
    assert.equal(idp.state.requests.length, 1);
    assert.equal(c.requests, 1);
  });

  it('renews five minutes before expiry, with one request for concurrent callers', async function () {
    const clock = { now: Date.now() };
    const c = cache(clock);
    const first = await c.get();
    clock.now += (3600 - 301) * 1000;
    assert.equal((await c.get()).accessToken, first.accessToken, 'still fresh 301 s before expiry');
    clock.now += 2000;
    const renewed = await Promise.all([c.get(), c.get(), c.get()]);
    assert.notEqual(renewed[0].accessToken, first.accessToken);
    assert.equal(new Set(renewed.map((t) => t.accessToken)).size, 1);
    assert.equal(idp.state.requests.length, 2);
  });

  it('drops only the token a server rejected', async function () {
    const c = cache({ now: Date.now() });
    const a = await c.get();
    c.invalidate('some older token');
    assert.equal((await c.get()).accessToken, a.accessToken);
    c.invalidate(a.accessToken);
    assert.notEqual((await c.get()).accessToken, a.accessToken);
    assert.equal(c.rejections, 2);
  });

  it('does not cache a failure: the next call asks again', async function () {
    const c = cache({ now: Date.now() });
    idp.answerNext(400, { error: 'invalid_scope', error_description: 'AADSTS70011: bad scope' });
    await assert.rejects(c.get(), (e: MailError) => e.code === 'EOAUTH2' && e.responseCode === 400 && /AADSTS70011/.test(e.message));
    assert.ok((await c.get()).accessToken);
    assert.equal(idp.state.requests.length, 2);
  });

  it('refuses a token URL that is not http(s) without a request', async function () {
    const c = new TokenCache({ tokenUrl: 'file:///etc/passwd', clientId: 'c', clientSecret: 's', scope: 'x' });
    await assert.rejects(c.get(), /not an http\(s\) URL/);
    assert.equal(c.requests, 0);
  });
});
