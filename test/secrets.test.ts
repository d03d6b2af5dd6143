// Secrets stay secret: a run through every failure path with recognisable secrets, then a search
// of everything the nodes emitted (log at every level, status, msgs, errors, admin responses).
import assert from 'node:assert/strict';
import net from 'node:net';
import util from 'node:util';
import { startSmtp, type SmtpServer } from './support/smtp';
import { startTokenEndpoint } from './support/token-endpoint';
import { helper, deploy } from './support/flow';
import type { ConnectionConfig, ConnectionCredentials } from '../src/lib/config/transport-options';
import { clientCertificate } from './support/certificate';
import { startGoogleTokenEndpoint, type GoogleTokenEndpoint, type ServiceAccount } from './support/google-token';
import { opensslKey } from './support/dkim';

/** Connection properties, each given as a value or as a function that gives it once the servers run. */
type Deferred<T> = { [K in keyof T]: T[K] | (() => T[K]) };

const SECRETS = {
  password: 'PW-secret-7f3a91',
  clientSecret: 'CS-secret-9b2c44',
  refreshToken: 'RT-secret-5d6e77',
  accessToken: 'AT-secret-1a2b33',
  clientKeyPassphrase: 'KP-secret-3c4d55',
  /** The password in the shared outbox's Redis URL: a credential of the connection, never of its sign-in. */
  redisPassword: 'RD-secret-8e9f00',
};
const REDIS_URL = `rediss://mailer:${SECRETS.redisPassword}@redis.example.com:6380/2`;
/** The certificate uploaded to the app registration, and one that is not; their keys are secrets, encrypted with the passphrase. */
const registered = clientCertificate({ passphrase: SECRETS.clientKeyPassphrase });
const unknown = clientCertificate({ passphrase: SECRETS.clientKeyPassphrase, subject: 'not-uploaded' });
/** The DKIM signing key every path signs with, and one that is refused at deploy (too short): neither may appear anywhere. */
const dkimKey = opensslKey('rsa', 2048);
const shortDkimKey = opensslKey('rsa', 512);
/** Lines of a PEM key: none may appear anywhere (a line is 64 base64 characters of the key). */
const keyLines = (pem: string) => pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));

describe('secrets never leak', function () {
  let smtp: SmtpServer;
  let idp: Awaited<ReturnType<typeof startTokenEndpoint>>;
  let closedPort: number;
  /** Google's token endpoint: a service account delegated for Gmail, one that is not, and one whose key was deleted. */
  let google: GoogleTokenEndpoint;
  const accounts: Record<'delegated' | 'undelegated' | 'deleted', ServiceAccount> = {} as never;
  const emitted: unknown[] = [];
  before(async function () {
    google = await startGoogleTokenEndpoint();
    google.users.add('mailbox@contoso.example');
    for (const name of ['delegated', 'undelegated', 'deleted'] as const) accounts[name] = google.createAccount(name);
    for (const name of ['delegated', 'deleted'] as const) google.delegate(accounts[name].clientId, ['https://mail.google.com/']);
    google.deleteKey(accounts.deleted);
    idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: SECRETS.clientSecret, certificate: registered.cert });
    // Knows the right password and tokens, and refuses them all with a provider's answer.
    smtp = await startSmtp({ users: {}, tokens: () => 'reject', authError: '535 5.7.3 Authentication unsuccessful' });
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
  });
  after(async function () {
    await smtp.close();
    await idp.close();
    await google.close();
  });
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    emitted.push(helper.log().args);
    await helper.unload();
    await helper.stopServer();
  });

  const paths: [
    name: string,
    connection: Deferred<ConnectionConfig>,
    extraCreds?: Deferred<ConnectionCredentials>,
    send?: Record<string, unknown>,
  ][] = [
    ['a refused password', { authType: 'basic' }],
    ['a refused password, no server', { authType: 'basic', port: () => closedPort, retryForSeconds: 0 }],
    ['a refused client secret', { authType: 'oauth2-client-credentials' }, { clientSecret: 'CS-secret-wrong-00' }],
    ['a refused token', { authType: 'oauth2-client-credentials' }],
    ['an unreachable token endpoint', { authType: 'oauth2-client-credentials', tokenUrl: () => `http://127.0.0.1:${closedPort}/token` }],
    ['a refused refresh token', { authType: 'oauth2' }],
    ['a refused token, with a certificate', { authType: 'oauth2-client-credentials', clientAuth: 'certificate' }],
    [
      'a certificate the app does not know',
      { authType: 'oauth2-client-credentials', clientAuth: 'certificate' },
      { clientCertificate: unknown.cert, clientPrivateKey: unknown.key },
    ],
    [
      'a key that does not belong to the certificate',
      { authType: 'oauth2-client-credentials', clientAuth: 'certificate' },
      { clientPrivateKey: unknown.key },
    ],
    [
      'a wrong key passphrase',
      { authType: 'oauth2-client-credentials', clientAuth: 'certificate' },
      { clientKeyPassphrase: 'KP-secret-wrong-66' },
    ],
    ['a refused Google token', { authType: 'google-service-account' }],
    [
      'a service account without delegation',
      { authType: 'google-service-account' },
      { serviceAccountKey: () => accounts.undelegated.keyJson },
    ],
    ['a deleted service account key', { authType: 'google-service-account' }, { serviceAccountKey: () => accounts.deleted.keyJson }],
    ['a DKIM key refused at deploy', { authType: 'basic' }, { dkimPrivateKey: shortDkimKey }],
    ['a DKIM-signed preview', { authType: 'basic' }, {}, { deliver: 'preview', storeResult: 'msg' }],
  ];
  for (const [name, connection, extraCreds, sendProps] of paths) {
    for (const mode of [{}, { stopOnError: false, storeResult: 'msg' }, { async: true, storeResult: 'flow' }]) {
      it(`${name} ${JSON.stringify(mode)}`, async function () {
        const resolve = <T extends object>(o: Deferred<T>) =>
          Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'function' ? v() : v])) as T;
        const resolved = resolve(connection);
        const nodes = await deploy({
          // Every path signs with DKIM: the key must not leak through any of them.
          connection: {
            port: smtp.port,
            tokenUrl: idp.url,
            scope: 'https://outlook.office365.com/.default',
            dkimDomain: 'contoso.example',
            dkimSelector: 's1',
            ...resolved,
          },
          credentials: {
            user: 'mailbox@contoso.example',
            password: SECRETS.password,
            clientId: 'app-1',
            clientSecret: SECRETS.clientSecret,
            refreshToken: SECRETS.refreshToken,
            accessToken: SECRETS.accessToken,
            clientCertificate: registered.cert,
            clientPrivateKey: registered.key,
            clientKeyPassphrase: SECRETS.clientKeyPassphrase,
            redisUrl: REDIS_URL,
            serviceAccountKey: accounts.delegated.keyJson,
            dkimPrivateKey: dkimKey,
            ...resolve(extraCreds ?? {}),
          },
          send: { ...mode, ...sendProps },
        });
        const ended = new Promise<unknown>((resolve) => {
          nodes.send.on('call:error', (c) => resolve(c.args));
          // A preview fails nothing: its msg (with the signed .eml) is what it emits.
          if (!mode.async || sendProps) nodes.out.on('input', resolve);
        });
        const statuses: unknown[] = [];
        nodes.send.on('call:status', (c) => statuses.push(c.args));
        nodes.send.receive({ payload: 'x' });
        emitted.push(await ended, statuses, nodes.send.context().flow.get('emailResult'));
        const res = await helper
          .request()
          .post('/smtp-oauth-config/test')
          .send({
            id: 'conn',
            host: '127.0.0.1',
            ...Object.fromEntries(Object.entries(resolved).filter(([k]) => k !== 'port')),
            port: resolved.port || smtp.port,
            security: 'none',
            tokenUrl: resolved.tokenUrl || idp.url,
            credentials: {
              user: 'mailbox@contoso.example',
              password: '__PWRD__',
              clientSecret: '__PWRD__',
              clientPrivateKey: '__PWRD__',
              clientKeyPassphrase: '__PWRD__',
              serviceAccountKey: '__PWRD__',
              // The dialog never sends them; a request may, and Test connection must not use them.
              redisUrl: REDIS_URL,
              dkimPrivateKey: '__PWRD__',
            },
          });
        assert.equal(res.body.ok, false);
        emitted.push(res.body);
        // What the dialog shows of the key: its public record only, from the deployed node and from a pasted key.
        emitted.push((await helper.request().get('/smtp-oauth-config/conn/dkim-record')).body);
        emitted.push((await helper.request().post('/smtp-oauth-config/dkim-record').send({ privateKey: shortDkimKey })).body);
      });
    }
  }

  it('none of the secrets or issued tokens appears in anything emitted', function () {
    const text = util.inspect(emitted, { depth: 12, maxArrayLength: null, maxStringLength: null });
    assert.ok(text.length > 5000, 'the failure paths were recorded');
    assert.match(text, /AADSTS7000215|535 5\.7\.3|ECONNREFUSED/, 'the errors themselves were recorded');
    for (const answer of [/AADSTS700027/, /does not belong to its certificate/, /could not be decrypted/])
      assert.match(text, answer, 'the certificate paths were recorded');
    for (const answer of [/unauthorized_client/, /Invalid JWT Signature/, /refused the service account's token/])
      assert.match(text, answer, 'the service account paths were recorded');
    assert.ok(idp.state.issued.length > 0, 'tokens were issued and used');
    assert.ok(google.issued.size > 0, 'Google tokens were issued and used');
    const jwts = google.requests.map((r) => r.assertion).filter((a): a is string => !!a);
    assert.ok(jwts.length > 0, 'service accounts signed JWTs');
    for (const account of Object.values(accounts)) {
      assert.ok(!text.includes(account.keyJson) && !text.includes(JSON.stringify(account.keyJson)), 'a key file leaked');
      assert.ok(!text.includes(account.privateKeyId), 'the id of a service account key leaked');
      for (const line of keyLines(account.privateKey)) assert.ok(!text.includes(line), "a line of a service account's key leaked");
    }
    const assertions = idp.state.requests.map((r) => r.client_assertion).filter((a): a is string => !!a);
    assert.ok(assertions.length > 0, 'client assertions were sent');
    assert.match(text, /512 bits; DKIM needs RSA keys of at least 1024 bits/, 'the refused DKIM key was recorded');
    assert.match(text, /v=DKIM1; k=rsa; p=/, 'the DKIM record was recorded');
    assert.match(text, /DKIM-Signature: v=1; a=rsa-sha256/, 'a signed preview was recorded');
    for (const key of [registered.key, unknown.key, dkimKey, shortDkimKey])
      for (const line of keyLines(key)) assert.ok(!text.includes(line), 'a line of a private key leaked');
    // An assertion, or its signature alone: a credential for as long as it is valid.
    const signed = [...assertions, ...jwts].flatMap((a) => [a, a.split('.')[2]]);
    const secrets = [
      ...Object.values(SECRETS),
      'CS-secret-wrong-00',
      'KP-secret-wrong-66',
      ...idp.state.issued,
      ...google.issued.keys(),
      ...signed,
    ];
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `a secret leaked: ${secret.slice(0, 12)}…`);
      assert.ok(!text.includes(Buffer.from(secret).toString('base64').slice(0, 16)), 'a secret leaked in base64');
    }
  });
});
