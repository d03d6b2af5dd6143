// `npm start` as a newcomer runs it: the same script, on free ports and a fresh user dir. One click
// on the demo's inject node must put a mail into the development inbox, readable over HTTP.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import { freePort, outputWatcher, stopChild } from '../support/node-red-process';
import { assertBothNodeTypes } from '../support/node-sets';
import { IDS } from '../../scripts/demo-flow';

const root = path.join(__dirname, '..', '..');

/** A node of Node-RED's GET /flows. */
interface FlowNode {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [property: string]: unknown;
}

/** A mail in the development inbox's GET /api/messages. */
interface InboxMail {
  id: string;
  subject: string;
  from: string[];
  to: string[];
  envelope: { from: string; to: string[] };
  htmlUrl: string;
  attachments: { filename: string; url: string }[];
}

/** The environment `npm start` gets in a test: its own user directory and free ports. */
const demoEnv = (userDir: string, ports: { nodeRed: number; inbox: number; smtp: number }): NodeJS.ProcessEnv => ({
  ...process.env,
  DEMO_USER_DIR: userDir,
  NODE_RED_PORT: String(ports.nodeRed),
  INBOX_PORT: String(ports.inbox),
  INBOX_SMTP_PORT: String(ports.smtp),
});

describe('npm start: Node-RED with the package, a demo flow and a development inbox', function () {
  this.timeout(240000);
  let child: ChildProcessByStdio<null, Readable, Readable>;
  let output: ReturnType<typeof outputWatcher>;
  let userDir: string;
  let ports: { nodeRed: number; inbox: number; smtp: number };
  let nodeRed: string;
  let inbox: string;

  before(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-start-'));
    ports = { nodeRed: await freePort(), inbox: await freePort(), smtp: await freePort() };
    nodeRed = `http://127.0.0.1:${ports.nodeRed}`;
    inbox = `http://127.0.0.1:${ports.inbox}`;
    child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
      cwd: root,
      env: demoEnv(userDir, ports),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output = outputWatcher(child);
    await output.waitFor(/\[start\] Ready/);
  });

  after(async function () {
    await stopChild(child);
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('prints the URLs of Node-RED and of the inbox', function () {
    assert.ok(output.text.includes(`Node-RED:           ${nodeRed}/`), output.text);
    assert.ok(output.text.includes(`Development inbox:  ${inbox}/`), output.text);
  });

  it('starts Node-RED without warnings about the credential key or missing credentials', function () {
    const text = output.text;
    assert.doesNotMatch(text, /system-generated key/);
    assert.doesNotMatch(text, /Encrypted credentials not found/);
    assert.doesNotMatch(text, /credentialSecret/);
    assert.doesNotMatch(text, /Failed to decrypt|Error loading credentials/);
    // The one warning left is Node-RED's notice that projects are off, which no setting silences.
    const warnings = text.split('\n').filter((line) => /\[warn\]/.test(line) && !/Projects disabled/.test(line));
    assert.deepEqual(warnings, []);
    // The demo credentials file is encrypted (with the demo key), as after a deploy.
    assert.match(JSON.parse(fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8')).$, /^[0-9a-f]{32}/);
  });

  it('runs Node-RED with the package installed from its tarball into the user dir', async function () {
    const project = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.match(project.dependencies['@mailwire/node-red-send-smtp-email'], /^file:.*\.tgz$/);
    await assertBothNodeTypes(await fetch(`${nodeRed}/nodes`, { headers: { Accept: 'application/json' } }));
    const settings = await (await fetch(`${nodeRed}/settings`)).json();
    assert.equal(settings.editorTheme.tours, false);
    assert.deepEqual(settings.editorTheme.palette.catalogues, []);
    assert.equal(settings.telemetryEnabled ?? false, false);
  });

  it('shows an empty inbox page', async function () {
    const res = await fetch(`${inbox}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>Development inbox<\/title>/);
    assert.deepEqual(await (await fetch(`${inbox}/api/messages`)).json(), []);
  });

  it('has the demo flow deployed with a connection to the inbox (no auth, no TLS)', async function () {
    const flows = (await (await fetch(`${nodeRed}/flows`)).json()) as FlowNode[];
    const conn = flows.find((n) => n.id === IDS.connection)!;
    assert.equal(conn.type, 'smtp-oauth-config');
    assert.equal(conn.authType, 'none');
    assert.equal(conn.security, 'none');
    assert.equal(conn.port, '${INBOX_SMTP_PORT}');
    assert.equal(flows.find((n) => n.id === IDS.inject)!.name, 'Send demo mail');
    assert.ok(flows.some((n) => n.type === 'comment' && n.z === IDS.tab));
  });

  it('one click on the inject node puts the demo mail into the inbox', async function () {
    const res = await fetch(`${nodeRed}/inject/${IDS.inject}`, { method: 'POST' });
    assert.equal(res.status, 200);
    // Long poll: answers as soon as the mail is there.
    const [mail] = (await (await fetch(`${inbox}/api/messages?since=0&wait=20000`)).json()) as InboxMail[];
    assert.ok(mail, 'a mail arrived');
    assert.equal(mail.subject, 'Hello Ada, your order A-1001 from Node-RED');
    assert.deepEqual(mail.from, ['Node-RED demo <node-red@example.com>']);
    assert.deepEqual(mail.to, ['Ada Lovelace <ada@example.com>']);
    assert.deepEqual(mail.envelope, { from: 'node-red@example.com', to: ['ada@example.com'] });

    const html = await fetch(inbox + mail.htmlUrl);
    assert.match(html.headers.get('content-security-policy') ?? '', /^sandbox;/);
    const body = await html.text();
    assert.match(body, /<h2>Hello Ada!<\/h2>/);
    assert.match(body, /<li>Node-RED<\/li><li>SMTP<\/li><li>OAuth2<\/li>/);

    assert.equal(mail.attachments.length, 1);
    assert.equal(mail.attachments[0].filename, 'hello.txt');
    const file = await fetch(inbox + mail.attachments[0].url);
    assert.match(file.headers.get('content-disposition') ?? '', /^attachment; filename="hello.txt"/);
    assert.equal(await file.text(), 'A text file attached by the send email node.');

    const detail = await (await fetch(`${inbox}/api/messages/${mail.id}`)).json();
    assert.match(detail.text, /Hello Ada!/);
    assert.match(output.text, /Inbox received "Hello Ada, your order A-1001 from Node-RED"/);
  });

  it('stops Node-RED and the inbox on Ctrl-C and exits with 0', async function () {
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGINT');
    assert.deepEqual(await exited, { code: 0, signal: null });
    for (const url of [`${nodeRed}/`, `${inbox}/`]) {
      await assert.rejects(fetch(url), /fetch failed/, `${url} is closed`);
    }
    assert.match(output.text, /Stopped flows/);
  });
});

describe('npm start under npm, with an inbox password', function () {
  this.timeout(240000);
  const PASSWORD = 'practise-this-login';
  let npm: ChildProcessByStdio<null, Readable, Readable>;
  let output: ReturnType<typeof outputWatcher>;
  let userDir: string;
  let ports: { nodeRed: number; inbox: number; smtp: number };

  before(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-start-npm-'));
    ports = { nodeRed: await freePort(), inbox: await freePort(), smtp: await freePort() };
    // As the README says it: npm start -- --inbox-password …, run by the npm that runs the tests.
    const [command, args] = process.env.npm_execpath?.endsWith('.js')
      ? [process.execPath, [process.env.npm_execpath]]
      : ['npm', [] as string[]];
    npm = spawn(command, [...args, 'start', '--', '--inbox-password', PASSWORD], {
      cwd: root,
      env: demoEnv(userDir, ports),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output = outputWatcher(npm);
    await output.waitFor(/\[start\] Ready/);
  });

  after(async function () {
    await stopChild(npm);
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('says that the inbox wants a login, without printing the password', function () {
    assert.match(output.text, /no TLS, login required: any user, the inbox password\)/);
    // npm echoes the command it runs ("> exec node scripts/start.js --inbox-password …"); the
    // start script itself never prints it (INBOX_PASSWORD keeps it out of npm's line too).
    const ours = output.text.split('\n').filter((line) => !line.startsWith('> '));
    assert.ok(!ours.join('\n').includes(PASSWORD), 'the start script never prints the password');
  });

  it('refuses a wrong password with 535 and takes the right one', async function () {
    const login = (pass: string) =>
      nodemailer
        .createTransport({ host: '127.0.0.1', port: ports.smtp, secure: false, ignoreTLS: true, auth: { user: 'ada', pass } })
        .sendMail({ from: 'ada@example.com', to: 'bob@example.com', subject: `login with ${pass.length} characters`, text: 'hi' });
    await assert.rejects(login('wrong-password'), (err: Error & { code?: string; responseCode?: number }) => {
      assert.equal(err.code, 'EAUTH');
      assert.equal(err.responseCode, 535);
      return true;
    });
    const sent = await login(PASSWORD);
    assert.deepEqual(sent.accepted, ['bob@example.com']);
  });

  it("stops Node-RED and the inbox on SIGINT sent to npm's own process, and npm exits with 0", async function () {
    const exited = new Promise((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));
    npm.kill('SIGINT');
    assert.deepEqual(await exited, { code: 0, signal: null });
    for (const port of [ports.nodeRed, ports.inbox]) {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), /fetch failed/, `port ${port} is closed`);
    }
    assert.match(output.text, /Stopped flows/);
  });
});
