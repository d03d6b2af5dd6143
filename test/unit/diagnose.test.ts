import assert from 'node:assert/strict';
import { hintFor } from '../../src/lib/errors/diagnose';
import type { MailError } from '../../src/lib/errors/errors';
import providers from '../fixtures/provider-responses.json';

/** An error as nodemailer or the token cache reports it: the fields the diagnosis reads (no name). */
const failure = (fields: Omit<MailError, 'name'>): MailError => fields as MailError;

describe('diagnose', function () {
  it('gives every provider answer of the fixtures a specific hint', function () {
    const generic = hintFor(failure({ code: 'EAUTH', message: 'x' }));
    for (const r of providers.smtp) {
      const code = /^53[45]/.test(r.response) ? 'EAUTH' : undefined;
      const hint = hintFor(failure({ code, response: r.response, message: r.response }), { authType: 'basic' });
      assert.ok(hint, r.response);
      if (!/^535 5\.7\.3 /.test(r.response)) assert.notEqual(hint, generic, `specific hint for: ${r.response}`);
    }
    // Entra ID's answers, and Google's to a service account's JWT bearer grant.
    for (const t of providers.token) {
      const hint = hintFor(
        failure({
          code: 'EOAUTH2',
          message: `The token endpoint refused the request (HTTP ${t.status}): ${t.body.error}: ${t.body.error_description}`,
        }),
        'provider' in t && t.provider === 'Google' ? GOOGLE : {},
      );
      assert.ok(hint && !/refused the client: check the client ID/.test(hint), t.body.error_description);
    }
  });

  /** A Google service account's connection, as its token cache and SMTP transport diagnose with it. */
  const GOOGLE = {
    authType: 'google-service-account',
    clientId: '109876543210987654321',
    scope: 'https://mail.google.com/',
    user: 'sales@example.org',
  };

  it("gives each of Google's answers to a service account the cause and the fix of the fixtures", function () {
    const expected: [RegExp, RegExp][] = [
      [
        /Client is unauthorized/,
        /Domain-wide delegation is missing.*Security > Access and data control > API controls > Domain-wide delegation.*client ID 109876543210987654321 .*scope https:\/\/mail\.google\.com\//,
      ],
      [/Invalid JWT Signature/, /key was deleted or disabled, or the file belongs to another service account\. Create a new JSON key/],
      [/short-lived token/, /clock is off by minutes\. Synchronise it \(NTP/],
      [/Invalid email or User ID/, /does not know the mailbox sales@example\.org/],
    ];
    const google = providers.token.filter((t) => 'provider' in t && t.provider === 'Google');
    assert.equal(google.length, expected.length, 'every Google answer of the fixtures has an expectation here');
    for (const t of google) {
      const [, hint] = expected.find(([description]) => description.test(t.body.error_description))!;
      const message = `The token endpoint refused the request (HTTP ${t.status}): ${t.body.error}: ${t.body.error_description}`;
      assert.match(hintFor(failure({ code: 'EOAUTH2', message, responseCode: t.status }), GOOGLE)!, hint, t.body.error_description);
    }
    // Gmail refusing the token it was given (535 5.7.8 BadCredentials, or its 334 challenge): delegation and the user.
    for (const response of [
      providers.smtp.find((r) => /BadCredentials/.test(r.response))!.response,
      providers.smtp.find((r) => /^334 eyJ/.test(r.response))!.response,
    ]) {
      const hint = hintFor(failure({ code: 'EAUTH', responseCode: Number(response.slice(0, 3)), response, message: response }), GOOGLE)!;
      assert.match(
        hint,
        /Gmail refused the service account's token for sales@example\.org.*client ID 109876543210987654321 must have the scope https:\/\/mail\.google\.com\//,
      );
      assert.doesNotMatch(hint, /app password/);
    }
  });

  // The provider limits: each answer of the fixtures that says when it comes gets a hint of its own.
  const LIMITS: [RegExp, RegExp][] = [
    [/^432 4\.3\.2/, /Microsoft 365 allows 3 connections per mailbox; lower Pool size to 3; mails were retried/],
    [/SubmissionQuotaExceeded/, /10,000 recipients in a rolling 24 hours/],
    [/mailbox full; STOREDRV/, /mailbox is full .*Sent Items/],
    [/5\.2\.251 Sender throttled/, /throttles this sender after repeated errors/],
    [/5\.2\.252 SendAsDenied/, /may not send as this From address/],
    [/^452 4\.5\.3/, /Too many recipients in one message .*split the recipients/],
    [/5\.4\.5 Daily user sending limit/, /daily sending limit \(2,000 messages a day/],
    [/^421 4\.7\.0 Try again later/, /rate-limiting this client/],
    [/^454 4\.7\.0 Too many login attempts/, /Too many logins in a short time/],
    [/^421 4\.3\.2 Service shutting down/, /restarting or shutting down/],
    [/^451 4\.3\.0/, /could not store the message/],
  ];
  /** The code nodemailer gives an answer at that step. */
  const codeAt = (when: string) =>
    /^AUTH/.test(when) ? 'EAUTH' : /greeting/.test(when) ? 'EPROTOCOL' : /DATA/.test(when) && !/MAIL/.test(when) ? 'EMESSAGE' : 'EENVELOPE';
  const limits = providers.smtp.filter((r): r is typeof r & { when: string } => !!r.when);

  it('gives each provider limit of the fixtures its own hint, whatever the authentication', function () {
    assert.equal(limits.length, LIMITS.length, 'every limit answer of the fixtures has an expected hint here');
    const seen = new Map<string | undefined, string>();
    for (const r of limits) {
      const expected = LIMITS.filter(([answer]) => answer.test(r.response));
      assert.equal(expected.length, 1, `one expectation for: ${r.response}`);
      for (const authType of ['oauth2-client-credentials', 'basic', 'google-service-account']) {
        const err = failure({
          code: codeAt(r.when),
          responseCode: Number(r.response.slice(0, 3)),
          response: r.response,
          message: `Failed: ${r.response}`,
        });
        const hint = hintFor(err, { authType });
        assert.match(hint!, expected[0][1], `${authType}: ${r.response}`);
        assert.doesNotMatch(
          hint!,
          /SendAsApp|refused the OAuth2 token|check the user and password/,
          `not a credentials problem: ${r.response}`,
        );
      }
      const hint = hintFor(failure({ code: codeAt(r.when), response: r.response, message: r.response }), {
        authType: 'oauth2-client-credentials',
      });
      assert.ok(!seen.has(hint), `${r.response} shares its hint with ${seen.get(hint)}`);
      seen.set(hint, r.response);
    }
  });

  it('never gives a temporary answer the OAuth2-permission hint', function () {
    for (const response of [
      '432 4.7.12 A password transition is needed',
      '454 4.7.0 Temporary authentication failure',
      '421 4.4.2 Connection dropped',
      '450 4.2.1 Try later',
    ]) {
      const hint = hintFor(
        failure({ code: 'EAUTH', responseCode: Number(response.slice(0, 3)), response, message: `Invalid login: ${response}` }),
        { authType: 'oauth2-client-credentials' },
      );
      assert.match(hint!, /temporary error \(4xx\): mails are retried/, response);
    }
  });

  it('words the limits for Test connection and retries off without promising a retry', function () {
    const r = limits.find((x) => /^432/.test(x.response))!;
    const hint = hintFor(failure({ code: 'EAUTH', responseCode: 432, response: r.response, message: r.response }), {
      authType: 'oauth2-client-credentials',
      noRetry: true,
    });
    assert.equal(hint, 'Microsoft 365 allows 3 connections per mailbox; lower Pool size to 3.');
  });

  it('explains a busy token endpoint (429, 5xx)', function () {
    const hint = hintFor(failure({ code: 'EOAUTH2', responseCode: 429, message: 'The token endpoint refused the request (HTTP 429)' }));
    assert.match(hint!, /overloaded or failing.*mails were retried/);
  });

  it('explains a DNS failure and a refused connection', function () {
    assert.match(hintFor(failure({ code: 'EDNS', message: 'getaddrinfo ENOTFOUND smtp.example.invalid' }))!, /cannot be resolved/);
    assert.match(hintFor(failure({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25' }))!, /Nothing accepts connections/);
  });

  it('points OAuth2 auth failures at the app permissions, and names a custom From', function () {
    const err = failure({ code: 'EAUTH', response: '535 5.7.3 Authentication unsuccessful', message: 'Invalid login' });
    assert.match(hintFor(err, { authType: 'oauth2-client-credentials' })!, /SMTP\.SendAsApp/);
    assert.match(hintFor(err, { authType: 'oauth2-client-credentials', customFrom: true })!, /Custom From/);
    assert.doesNotMatch(hintFor(err, { authType: 'basic' })!, /SendAsApp/);
  });

  it("explains Entra ID's refusals of certificate credentials, and a missing secret or certificate", function () {
    /** The token cache's error for Entra ID's answer (the wording of /work/shared/fixtures/provider-responses.json). */
    const refused = (status: number, error: string, description: string) =>
      hintFor(
        failure({
          code: 'EOAUTH2',
          responseCode: status,
          message: `The token endpoint refused the request (HTTP ${status}): ${error}: ${description}`,
        }),
      );
    const notRegistered = refused(
      401,
      'invalid_client',
      "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '9D6E0C1F...']",
    );
    assert.match(
      notRegistered!,
      /upload this certificate .* Certificates & secrets .* thumbprint .* private key must be the one of that certificate/,
    );
    const time = refused(
      401,
      'invalid_client',
      'AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-12-07T10:00:00Z, assertion valid from 2026-12-07T10:20:00Z, expiry time of assertion 2026-12-07T10:30:00Z.',
    );
    assert.match(time!, /clock is wrong.*NTP/);
    const missing = refused(
      400,
      'invalid_request',
      "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    );
    assert.match(missing!, /enter the secret's Value .* paste the certificate and its private key/);
    // The secret's own answers keep their hints.
    assert.match(refused(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.')!, /secret VALUE/);
  });
});
