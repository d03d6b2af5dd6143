// What is retried and when: the classification of real providers' answers and of broken
// connections, the backoff schedule, and the waits on an injected clock (no sleeps).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoffDelay, Backoff, RETRY_MAX_MS } from '../../src/lib/delivery/retry';
import { isTransient, isTooManyConnections, type RetryableError } from '../../src/lib/errors/transient';
import { TokenCache } from '../../src/lib/auth/token-cache';
import { clientCredentialsGrant, type ClientCredentials } from '../../src/lib/auth/client-credentials';
import { startTokenEndpoint, type TokenEndpoint } from '../support/token-endpoint';
import { fakeClock } from '../support/clock';
import providers from '../fixtures/provider-responses.json';

/** An error as nodemailer or the token cache reports it: the fields the retry reads (no name). */
const failure = (fields: Omit<RetryableError, 'name'>): RetryableError => fields as RetryableError;

/** The error nodemailer reports for an answer at that step of the session. */
function smtpError(response: string, when = 'MAIL FROM'): RetryableError {
  const code = /^AUTH/.test(when)
    ? 'EAUTH'
    : /greeting/.test(when)
      ? 'EPROTOCOL'
      : /DATA/.test(when) && !/MAIL/.test(when)
        ? 'EMESSAGE'
        : 'EENVELOPE';
  return failure({ code, response, responseCode: Number(response.slice(0, 3)), message: `Failed: ${response}` });
}

/** A socket-level error as nodemailer wraps it: its own code, the system's in originalCode. */
const socketError = (code: string, originalCode: string | undefined, message: string) => failure({ code, originalCode, message });

describe('retry: what is transient', function () {
  it('follows the transient flag of every provider answer in the fixtures', function () {
    const flagged = providers.smtp.filter((r) => r.transient !== undefined);
    assert.ok(flagged.length >= 10);
    for (const r of flagged) assert.equal(isTransient(smtpError(r.response, r.when)), r.transient, r.response);
    // The older entries carry no flag: every one of them is a 5xx (or a 334 challenge), never retried.
    for (const r of providers.smtp.filter((x) => x.transient === undefined && /^\d{3}/.test(x.response))) {
      assert.equal(isTransient(smtpError(r.response, 'AUTH')), false, r.response);
    }
  });

  it('retries a 4xx at every step of the session and no 5xx', function () {
    for (const when of ['greeting', 'EHLO', 'AUTH', 'MAIL FROM', 'RCPT TO', 'DATA']) {
      assert.equal(isTransient(smtpError('450 4.2.0 Try later', when)), true, when);
      assert.equal(isTransient(smtpError('550 5.1.1 User unknown', when)), false, when);
    }
  });

  it('retries a connection that could not be made or broke, not a wrong port, certificate or host', function () {
    const transient = [
      socketError('ESOCKET', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:587'),
      socketError('ESOCKET', 'ECONNRESET', 'read ECONNRESET'),
      socketError('ETLS', 'ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'),
      socketError('ECONNECTION', undefined, 'Connection closed unexpectedly'),
      socketError('ETIMEDOUT', undefined, 'Greeting never received'),
      socketError('EDNS', 'EAI_AGAIN', 'getaddrinfo EAI_AGAIN smtp.example.com'),
    ];
    const permanent = [
      socketError(
        'ESOCKET',
        'ERR_SSL_WRONG_VERSION_NUMBER',
        '80ECACED347F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number',
      ),
      socketError('ESOCKET', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'),
      socketError('EDNS', 'ENOTFOUND', 'getaddrinfo ENOTFOUND smtp.example.invalid'),
      failure({ code: 'EATTACHMENT', message: 'The attachment URL answered HTTP 404' }),
      failure({ code: 'EINPUT', message: 'No recipient' }),
    ];
    for (const e of transient) assert.equal(isTransient(e), true, e.message);
    for (const e of permanent) assert.equal(isTransient(e), false, e.message);
  });

  describe('the token endpoint', function () {
    let idp: TokenEndpoint;
    before(async () => (idp = await startTokenEndpoint({ clientId: 'c', clientSecret: 's' })));
    after(() => idp.close());
    const cache = (extra: Partial<ClientCredentials> = {}) =>
      new TokenCache(clientCredentialsGrant({ tokenUrl: idp.url, clientId: 'c', clientSecret: 's', scope: 'x/.default', ...extra }), {
        timeout: 300,
      });

    it('marks 429 and 5xx transient and keeps Retry-After; never a 4xx of the fixtures', async function () {
      idp.answerNext(
        429,
        {
          error: 'temporarily_unavailable',
          error_description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.',
        },
        { 'Retry-After': '7' },
      );
      await assert.rejects(
        cache().get(),
        (e: RetryableError) => e.code === 'EOAUTH2' && e.responseCode === 429 && isTransient(e) && e.retryAfterMs === 7000,
      );
      idp.answerNext(503, 'Service Unavailable');
      await assert.rejects(cache().get(), (e: RetryableError) => e.responseCode === 503 && isTransient(e) && e.retryAfterMs === undefined);
      for (const t of providers.token) {
        idp.answerNext(t.status, t.body);
        await assert.rejects(
          cache().get(),
          (e: RetryableError) => e.responseCode === t.status && !isTransient(e),
          t.body.error_description,
        );
      }
    });

    it('marks a time-out transient, not a refused connection', async function () {
      const silent = http.createServer(() => {});
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as AddressInfo).port;
      try {
        await assert.rejects(
          cache({ tokenUrl: `http://127.0.0.1:${port}/token` }).get(),
          (e: RetryableError) => /timed out/.test(e.message) && isTransient(e),
        );
      } finally {
        silent.closeAllConnections();
        await new Promise((r) => silent.close(r));
      }
      await assert.rejects(
        cache({ tokenUrl: `http://127.0.0.1:${port}/token` }).get(),
        (e: RetryableError) => /ECONNREFUSED/.test(e.message) && !isTransient(e),
      );
    });
  });

  it('recognises the answers that mean too many connections', function () {
    const answer = (text: string) => providers.smtp.find((r) => r.response.includes(text))!.response;
    assert.equal(isTooManyConnections(smtpError(answer('Concurrent connections limit exceeded'), 'AUTH')), true);
    assert.equal(isTooManyConnections(smtpError(answer('421 4.7.0 Try again later'), 'greeting')), true);
    assert.equal(isTooManyConnections(smtpError('421 Too many concurrent SMTP connections from this IP', 'greeting')), true);
    assert.equal(isTooManyConnections(smtpError(answer('Service shutting down'), 'MAIL FROM')), false);
    assert.equal(isTooManyConnections(smtpError(answer('Too many login attempts'), 'AUTH')), false);
    assert.equal(isTooManyConnections(smtpError('432 4.7.12 A password transition is needed', 'AUTH')), false);
  });
});

describe('retry: backoff', function () {
  it('waits 1 s, 2 s, 4 s … doubling up to 5 min', function () {
    const exact = { random: () => 0.5 };
    const delays = Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, exact));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000]);
    assert.equal(backoffDelay(1000, exact), RETRY_MAX_MS, 'no overflow far out');
  });

  it('spreads each wait by ±25 % so that sends that failed together do not come back together', function () {
    assert.equal(backoffDelay(3, { random: () => 0 }), 3000);
    assert.equal(backoffDelay(3, { random: () => 0.999999 }), 5000);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3)));
    assert.ok(spread.size > 10, `${spread.size} different waits for 50 sends`);
    for (const d of spread) assert.ok(d >= 3000 && d <= 5000, String(d));
    assert.ok(backoffDelay(20, { random: () => 0.999999 }) <= RETRY_MAX_MS, 'the spread never exceeds 5 min');
  });

  it('never waits less than the token endpoint asked for (Retry-After)', function () {
    assert.equal(backoffDelay(1, { random: () => 0.5 }, 30000), 30000);
    assert.equal(backoffDelay(6, { random: () => 0.5 }, 1000), 32000);
  });

  it('takes a shorter base and cap from tests and the benchmark', function () {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffDelay(n, { baseMs: 5, maxMs: 12, random: () => 0.5 })),
      [5, 10, 12, 12],
    );
  });

  it('waits on the injected timers and ends every wait when closed, leaving no timer behind', async function () {
    const clock = fakeClock();
    const backoff = new Backoff({ now: clock.now, timers: clock });
    const first = backoff.wait(1000);
    const second = backoff.wait(2000);
    assert.equal(backoff.waiting, 2);
    clock.step();
    await first;
    assert.equal(clock.now() - clock.start, 1000);
    assert.equal(backoff.waiting, 1);
    backoff.close(new Error('closed'));
    await assert.rejects(second, /closed/);
    assert.equal(backoff.waiting, 0);
    assert.equal(clock.pending(), 0);
  });

  it('ends one wait at once when woken (Retry now), leaving the others and no timer behind', async function () {
    const clock = fakeClock();
    const backoff = new Backoff({ now: clock.now, timers: clock });
    let wake!: () => void;
    const woken = backoff.wait(60000, (w) => (wake = w));
    const other = backoff.wait(60000);
    wake();
    await woken;
    assert.equal(clock.now(), clock.start, 'no time passed');
    assert.equal(backoff.waiting, 1);
    assert.equal(clock.pending(), 1);
    wake(); // a second wake is harmless
    backoff.close(new Error('closed'));
    await assert.rejects(other, /closed/);
  });
});
