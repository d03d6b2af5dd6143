// The red-team findings against 0.1.0, one test each: Test connection cannot crash Node-RED or
// hand a stored secret to another host; unknown settings fail closed; token answers are capped;
// a hostile server cannot hold a send forever.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { builtDist } from './support/build';
import { startSmtp } from './support/smtp';
import { startTokenEndpoint } from './support/token-endpoint';
import { startNodeRed, type NodeRedProcess } from './support/node-red-process';
import { deploy, outcome, useHelperWithSmtp } from './support/flow';

type Smtp = Awaited<ReturnType<typeof startSmtp>>;

/** The answer of POST /smtp-oauth-config/test. */
interface TestAnswer {
  ok: boolean;
  /** The secret the dialog has to ask for, when the request may not use the stored one. */
  needSecret?: string;
  error: { code: string; message: string; hint?: string };
}

const listen = (server: net.Server) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
const close = (server: net.Server) => new Promise((resolve) => server.close(resolve));

describe('security: Test connection in a started Node-RED', function () {
  this.timeout(60000);
  const SECRETS = { connection: 'smtp-pw-3f9a', http: 'http-pw-81c2', mqtt: 'mqtt-pw-77d0', client: 'client-secret-5e1b' };
  let red: NodeRedProcess;
  let userDir: string;
  let legit: Smtp;
  let attacker: Smtp;
  /** The real token endpoint: what this test reads of it. */
  let idp: { url: string; state: { requests: Record<string, string>[] }; close(): Promise<void> };
  let attackerIdp: { requests: string[]; server: http.Server };
  let attackerTokenUrl: string;

  const post = (body: object | string, type = 'application/json') =>
    red.api('/smtp-oauth-config/test', {
      method: 'POST',
      headers: { 'Content-Type': type },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const alive = async () => {
    assert.equal(red.child.exitCode, null, `Node-RED exited:\n${red.output.text.slice(-2000)}`);
    assert.equal(red.child.signalCode, null);
    assert.equal((await red.api('/settings')).status, 200);
  };
  const offeredSecrets = () => {
    const seen = JSON.stringify([attacker.authAttempts, attackerIdp.requests]);
    return Object.values(SECRETS).filter((s) => seen.includes(s));
  };

  before(async function () {
    legit = await startSmtp({ users: { 'alice@example.com': SECRETS.connection } });
    attacker = await startSmtp({ users: {} });
    idp = await startTokenEndpoint({ clientId: 'app-1', clientSecret: SECRETS.client });
    // The attacker's token URL: records every request body it is sent.
    const requests: string[] = [];
    attackerIdp = {
      requests,
      server: http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          requests.push(body);
          res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"invalid_client"}');
        });
      }),
    };
    attackerTokenUrl = `http://127.0.0.1:${await listen(attackerIdp.server)}/token`;

    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-security-'));
    red = await startNodeRed(userDir, `nodesDir: ${JSON.stringify(builtDist())},`);
    await red.deploy([
      { id: 'tab', type: 'tab', label: 'secrets' },
      {
        id: 'conn',
        type: 'smtp-oauth-config',
        host: '127.0.0.1',
        port: legit.port,
        security: 'none',
        authType: 'basic',
        credentials: { user: 'alice@example.com', password: SECRETS.connection },
      },
      {
        id: 'cc',
        type: 'smtp-oauth-config',
        host: '127.0.0.1',
        port: legit.port,
        security: 'none',
        authType: 'oauth2-client-credentials',
        tokenUrl: idp.url,
        scope: 'mail',
        credentials: { user: 'alice@example.com', clientId: 'app-1', clientSecret: SECRETS.client },
      },
      {
        id: 'web',
        type: 'http request',
        z: 'tab',
        method: 'GET',
        url: 'http://127.0.0.1:9/',
        authType: 'basic',
        credentials: { user: 'bob', password: SECRETS.http },
        wires: [],
      },
      { id: 'broker', type: 'mqtt-broker', broker: '127.0.0.1', port: '1883', credentials: { user: 'carol', password: SECRETS.mqtt } },
    ]);
  });
  after(async function () {
    if (red) await red.close();
    fs.rmSync(userDir, { recursive: true, force: true });
    await Promise.all([legit.close(), attacker.close(), idp.close(), close(attackerIdp.server)]);
  });

  const malformed: [name: string, body: object | string, type: string, status: number][] = [
    ['a JSON list as host', { host: ['127.0.0.1'], port: 9, security: 'none', authType: 'none' }, 'application/json', 400],
    ['a JSON number as host', { host: 123, port: 9, security: 'none', authType: 'none' }, 'application/json', 400],
    ['a JSON boolean as host', { host: true, port: 9, security: 'none', authType: 'none' }, 'application/json', 400],
    ['a form body with host[]', 'host[]=127.0.0.1&port=9&security=none&authType=none', 'application/x-www-form-urlencoded', 415],
    ['a form body with host[a]', 'host[a]=b&port=9&security=none&authType=none', 'application/x-www-form-urlencoded', 415],
    ['a text body', 'host=127.0.0.1', 'text/plain', 415],
  ];
  for (const [name, body, type, status] of malformed) {
    it(`refuses ${name} with HTTP ${status}, and Node-RED stays up`, async function () {
      const res = await post(body, type);
      assert.equal(res.status, status);
      const answer = (await res.json()) as TestAnswer;
      assert.equal(answer.ok, false);
      if (status === 400) {
        assert.equal(answer.error.code, 'ECONFIG');
        assert.match(answer.error.message, /host must be text/);
      }
      await alive();
    });
  }

  it('refuses an unknown security value (fail closed) and lists the four', async function () {
    const res = await post({
      host: '127.0.0.1',
      port: legit.port,
      security: 'ssl',
      authType: 'basic',
      credentials: { user: 'alice@example.com', password: 'x' },
    });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as TestAnswer;
    assert.equal(error.code, 'ECONFIG');
    assert.match(error.hint ?? '', /starttls, tls, auto, none/);
  });

  /** A Test connection request; port and token URL are read when the test runs (the servers start in before()). */
  interface Redirected {
    id: string;
    port: () => number;
    authType: string;
    tokenUrl?: () => string;
    scope?: string;
    credentials: Record<string, string>;
  }
  const redirected: [name: string, request: Redirected, secret: string][] = [
    [
      'this connection, pointed at another SMTP server',
      { id: 'conn', port: () => attacker.port, authType: 'basic', credentials: { user: 'alice@example.com', password: '__PWRD__' } },
      'password',
    ],
    [
      'this connection, the secret left out altogether',
      { id: 'conn', port: () => attacker.port, authType: 'basic', credentials: { user: 'alice@example.com' } },
      'password',
    ],
    [
      'an http request node',
      { id: 'web', port: () => attacker.port, authType: 'basic', credentials: { user: 'bob', password: '__PWRD__' } },
      'password',
    ],
    [
      'an mqtt-broker node',
      { id: 'broker', port: () => attacker.port, authType: 'basic', credentials: { user: 'carol', password: '__PWRD__' } },
      'password',
    ],
    [
      'a client-credentials connection, pointed at another token URL',
      {
        id: 'cc',
        port: () => legit.port,
        authType: 'oauth2-client-credentials',
        tokenUrl: () => attackerTokenUrl,
        scope: 'mail',
        credentials: { user: 'alice@example.com', clientId: 'app-1', clientSecret: '__PWRD__' },
      },
      'clientSecret',
    ],
  ];
  for (const [name, request, secret] of redirected) {
    it(`never sends the stored secret of ${name}; the dialog is asked for the ${secret}`, async function () {
      const body = {
        host: '127.0.0.1',
        security: 'none',
        ...request,
        port: request.port(),
        tokenUrl: request.tokenUrl ? request.tokenUrl() : '',
      };
      const res = await post(body);
      assert.equal(res.status, 200);
      const answer = (await res.json()) as TestAnswer;
      assert.equal(answer.ok, false);
      assert.equal(answer.needSecret, secret);
      assert.equal(answer.error.code, 'ECONFIG');
      assert.deepEqual(offeredSecrets(), []);
      for (const s of Object.values(SECRETS)) assert.ok(!JSON.stringify(answer).includes(s), 'the answer holds no secret');
    });
  }

  it('still tests an unchanged, deployed connection with its stored secrets', async function () {
    const basic = await post({
      id: 'conn',
      host: '127.0.0.1',
      port: legit.port,
      security: 'none',
      authType: 'basic',
      credentials: { user: 'alice@example.com', password: '__PWRD__' },
    });
    assert.deepEqual(await basic.json(), { ok: true });
    const cc = await post({
      id: 'cc',
      host: '127.0.0.1',
      port: legit.port,
      security: 'none',
      authType: 'oauth2-client-credentials',
      tokenUrl: idp.url,
      scope: 'mail',
      credentials: { user: 'alice@example.com', clientId: 'app-1', clientSecret: '__PWRD__' },
    });
    const answer = (await cc.json()) as TestAnswer;
    // The loopback server knows no tokens: what matters is that the stored secret reached the real token endpoint.
    assert.equal(answer.ok, false);
    assert.equal(idp.state.requests.at(-1)?.client_secret, SECRETS.client);
    assert.deepEqual(offeredSecrets(), []);
  });
});

describe('security: deployed connections and sends', function () {
  this.timeout(20000);
  const smtp = useHelperWithSmtp({ users: { 'sender@example.com': 'pw-1' } });
  const basic = { user: 'sender@example.com', password: 'pw-1' };

  it('fails closed on an unknown security value: ECONFIG, and no AUTH reaches the server', async function () {
    const nodes = await deploy({ connection: { port: smtp().port, security: 'ssl' }, credentials: basic });
    const result = outcome(nodes);
    nodes.send.receive({ payload: 'x' });
    const { kind, msg } = await result;
    assert.equal(kind, 'caught');
    assert.equal(msg.error.code, 'ECONFIG');
    assert.match(msg.error.message, /starttls, tls, auto, none/);
    assert.equal(smtp().authAttempts.length, 0);
    assert.equal(smtp().messages.length, 0);
  });

  it('reports ECONFIG, without crashing, for a host from a flow file that is not text', async function () {
    const nodes = await deploy({ connection: { port: smtp().port, host: ['127.0.0.1'] }, credentials: basic });
    const result = outcome(nodes);
    nodes.send.receive({ payload: 'x' });
    const { kind, msg } = await result;
    assert.equal(kind, 'caught');
    assert.equal(msg.error.code, 'ECONFIG');
    assert.match(msg.error.message, /host must be text/);
  });

  describe('token endpoint answers that are too large', function () {
    let server: http.Server;
    let url: string;
    before(async function () {
      const huge = Buffer.alloc(20 * 1024 * 1024, 'a');
      const gzip = zlib.gzipSync(Buffer.concat([Buffer.from('{"access_token":"'), huge, Buffer.from('"}')]));
      server = http.createServer((req, res) => {
        req.resume();
        if (req.url === '/gzip') {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }).end(gzip);
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"access_token":"');
        res.end(huge);
      });
      url = `http://127.0.0.1:${await listen(server)}`;
    });
    after(() => {
      server.closeAllConnections();
      return close(server);
    });
    for (const [name, p] of [
      ['20 MB', '/plain'],
      ['20 MB gzipped into a few KB', '/gzip'],
    ]) {
      it(`refuses a ${name} answer with EOAUTH2, and presents nothing to the SMTP server`, async function () {
        const nodes = await deploy({
          connection: { port: smtp().port, authType: 'oauth2-client-credentials', tokenUrl: url + p, scope: 'mail' },
          credentials: { user: 'sender@example.com', clientId: 'c', clientSecret: 's' },
        });
        const result = outcome(nodes);
        nodes.send.receive({ payload: 'x' });
        const { kind, msg } = await result;
        assert.equal(kind, 'caught');
        assert.equal(msg.error.code, 'EOAUTH2');
        assert.match(msg.error.message, /answer is too large/);
        assert.equal(smtp().authAttempts.length, 0);
      });
    }
  });

  it('ends a send by its deadline when the server answers 334 to every line', async function () {
    let lines = 0;
    let closed: () => void = () => {};
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const hostile = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.on('close', () => closed());
      socket.write('220 hostile ESMTP\r\n');
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1');
        let i;
        while ((i = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, i).trim();
          buffer = buffer.slice(i + 1);
          lines++;
          if (/^EHLO/i.test(line)) socket.write('250-hostile\r\n250 AUTH XOAUTH2\r\n');
          else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
          else socket.write('334 \r\n');
        }
      });
    });
    const port = await listen(hostile);
    try {
      const nodes = await deploy({
        connection: { port, timeout: 1, authType: 'oauth2', retryForSeconds: 0 },
        credentials: { user: 'sender@example.com', accessToken: 'at-1' },
      });
      const result = outcome(nodes);
      nodes.send.receive({ payload: 'x' });
      const { kind, msg } = await result;
      assert.equal(kind, 'caught');
      assert.equal(msg.error.code, 'ETIMEDOUT');
      assert.match(msg.error.message, /did not finish within the time-out/);
      await connectionClosed;
      assert.ok(lines > 2, 'the client was caught in the 334 loop before the deadline');
    } finally {
      hostile.close();
    }
  });
});
