// Node-RED 5 on Node 22, both from the npm registry (test/support/node-red-5.ts caches them in
// .cache/node-red-5/): the packed package installed with Node-RED 5's own palette npm, both node
// types loaded, a deployed flow delivering a mail to a loopback SMTP server, and the send node's
// dialog edited in Chromium and deployed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EmailAddress } from 'mailparser';
import type { SMTPServerAddress } from 'smtp-server';
import { buildIfNeeded, installIntoUserDir, PALETTE_INSTALL_ARGS, pkg } from '../../scripts/install-package';
import { ensureNodeRed5, type NodeRed5 } from '../support/node-red-5';
import { startNodeRed } from '../support/node-red-process';
import { assertBothNodeTypes, assertLoaded } from '../support/node-sets';
import { startSmtp } from '../support/smtp';
import { assertNoPageErrors, launchEditor, type LaunchedBrowser } from '../support/browser';

/** What the editor test reads of a node in the editor page (RED.nodes). */
interface EditorNode {
  id: string;
  type: string;
  valid: boolean;
  validationErrors?: string[];
}

const MODULE = pkg.name;
const USER = 'nr5@example.com';
const PASSWORD = 'node-red-5-password';
const IDS = {
  tab: 'f5a0000000000001',
  connection: 'f5a0000000000002',
  inject: 'f5a0000000000003',
  send: 'f5a0000000000004',
  debug: 'f5a0000000000005',
};

/** The test flow: inject -> send (templates, basic auth) -> debug showing msg.emailResult. */
function flow(smtpPort: number) {
  return [
    { id: IDS.tab, type: 'tab', label: 'Node-RED 5' },
    {
      id: IDS.connection,
      type: 'smtp-oauth-config',
      name: 'Loopback',
      service: '',
      host: '127.0.0.1',
      port: String(smtpPort),
      security: 'none',
      rejectUnauthorized: true,
      authType: 'basic',
      maxConnections: 5,
      rateLimitPerMinute: 0,
      timeout: 30,
      maxAttachmentMB: 25,
      // As the editor sends them with a deploy; the runtime moves them into flows_cred.json.
      credentials: { user: USER, password: PASSWORD },
    },
    // Every property the editor saves, so that no node shows as not properly configured.
    {
      id: IDS.inject,
      type: 'inject',
      z: IDS.tab,
      name: 'send',
      props: [{ p: 'payload' }],
      repeat: '',
      crontab: '',
      once: false,
      onceDelay: 0.1,
      topic: '',
      payload: '{"name":"Ada"}',
      payloadType: 'json',
      x: 120,
      y: 80,
      wires: [[IDS.send]],
    },
    {
      id: IDS.send,
      type: 'send-smtp-email',
      z: IDS.tab,
      name: 'mail Ada',
      connection: IDS.connection,
      to: 'Ada Lovelace <ada@example.com>',
      toType: 'str',
      cc: '',
      ccType: 'str',
      bcc: '',
      bccType: 'str',
      from: 'Node-RED 5 <nr5@example.com>',
      fromType: 'str',
      replyTo: '',
      replyToType: 'str',
      subject: 'Hello {{payload.name}} from Node-RED 5',
      subjectType: 'str',
      html: '<p>Sent by <b>Node-RED 5</b> to {{payload.name}}</p>',
      htmlType: 'str',
      text: '',
      textType: 'str',
      priority: 'normal',
      attachmentType: 'none',
      attachment: '',
      attachmentValueType: 'str',
      attachmentFilename: '',
      attachmentFilenameType: 'str',
      attachmentMimeType: '',
      storeResult: 'msg',
      resultKey: 'emailResult',
      stopOnError: true,
      async: false,
      x: 300,
      y: 80,
      wires: [[IDS.debug]],
    },
    {
      id: IDS.debug,
      type: 'debug',
      z: IDS.tab,
      name: 'sent',
      active: true,
      tosidebar: true,
      console: false,
      tostatus: false,
      complete: 'emailResult',
      targetType: 'msg',
      statusVal: '',
      statusType: 'auto',
      x: 480,
      y: 80,
      wires: [],
    },
  ];
}

describe('Node-RED 5 on Node 22: the packed package, a sent mail, the editor', function () {
  this.timeout(60000);
  let nr5: NodeRed5;
  let env: NodeJS.ProcessEnv;
  let userDir: string;
  let red: Awaited<ReturnType<typeof startNodeRed>>;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let browser: LaunchedBrowser;
  const pageErrors: Error[] = [];

  before(async function () {
    // First run: Node 22 and Node-RED 5 from the registry (each npm install bounded to 5 min).
    this.timeout(12 * 60 * 1000);
    nr5 = ensureNodeRed5({ log: (line) => console.log(`      ${line}`) });
    // Everything below runs on Node 22: the palette's npm, Node-RED, and whatever they spawn.
    env = { ...process.env, PATH: nr5.nodeBin + path.delimiter + process.env.PATH };
    buildIfNeeded();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-node-red-5-'));
    // Node-RED 5's palette manager runs its bundled npm with its own Node (@node-red/registry installer.js).
    installIntoUserDir(userDir, { npmCommand: [nr5.node, nr5.npmCli], env });
    smtp = await startSmtp({ users: { [USER]: PASSWORD } });
    red = await startNodeRed(userDir, '', { node: nr5.node, redJs: nr5.redJs, env });
  });

  after(async function () {
    if (browser) await browser.close();
    if (red) await red.close();
    if (smtp) await smtp.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('runs Node-RED 5 on Node 22, offline', async function () {
    assert.match(nr5.versions.node, /^22\./);
    assert.match(nr5.versions.nodeRed, /^5\./);
    assert.match(red.output.text, new RegExp(`Node-RED version: v${nr5.versions.nodeRed.replace(/\./g, '\\.')}`));
    assert.match(red.output.text, new RegExp(`Node\\.js\\s+version: v${nr5.versions.node.replace(/\./g, '\\.')}`));
    const settings = await (await red.api('/settings')).json();
    assert.equal(settings.version, nr5.versions.nodeRed);
    assert.equal(settings.editorTheme.tours, false);
    assert.deepEqual(settings.editorTheme.palette.catalogues, []);
    assert.equal(settings.telemetryEnabled ?? false, false);
  });

  it("installs the tarball as Node-RED 5's palette manager does", function () {
    // The same npm and the same arguments as Node-RED 5's palette manager (@node-red/registry).
    const registryDir = path.dirname(require.resolve('@node-red/registry/package.json', { paths: [path.dirname(nr5.redJs)] }));
    assert.equal(path.dirname(require.resolve('npm/package.json', { paths: [registryDir] })), path.dirname(path.dirname(nr5.npmCli)));
    const installer = fs.readFileSync(path.join(registryDir, 'lib', 'installer.js'), 'utf8');
    const args = PALETTE_INSTALL_ARGS.slice(1)
      .map((a) => `'${a}'`)
      .join(',');
    assert.ok(
      installer.includes(`"args": [${args}]`),
      `Node-RED ${nr5.versions.nodeRed} installs with npm install ${PALETTE_INSTALL_ARGS.slice(1).join(' ')}`,
    );
    const project = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.match(project.dependencies[MODULE], /^file:.*\.tgz$/);
    assert.ok(
      fs.existsSync(path.join(userDir, 'node_modules', ...MODULE.split('/'), 'dist', 'nodes', 'send-smtp-email', 'send-smtp-email.html')),
    );
  });

  it('loads both node types (GET /nodes)', async function () {
    const sets = await assertBothNodeTypes(await red.api('/nodes', { headers: { Accept: 'application/json' } }));
    assertLoaded(sets);
  });

  it('deploys a flow whose send node delivers the mail to the SMTP server', async function () {
    const log = await red.deploy(flow(smtp.port));
    assert.doesNotMatch(log, /\[(error|warn)\]/, `the deploy logged:\n${log}`);
    await red.inject(IDS.inject);
    const [mail] = await smtp.waitForMessages(1);
    assert.equal(mail.parsed.subject, 'Hello Ada from Node-RED 5');
    assert.deepEqual(
      mail.parsed.to.value.map((a: EmailAddress) => [a.name, a.address]),
      [['Ada Lovelace', 'ada@example.com']],
    );
    assert.deepEqual(
      mail.envelope.rcptTo.map((r: SMTPServerAddress) => r.address),
      ['ada@example.com'],
    );
    assert.equal(mail.parsed.html, '<p>Sent by <b>Node-RED 5</b> to Ada</p>');
    assert.equal(mail.user, USER, 'logged in with the deployed credentials');
    const [sent] = await red.waitForDebug((m: { name: string }) => m.name === 'sent');
    assert.equal(sent.value.success, true);
    assert.deepEqual(sent.value.accepted, ['ada@example.com']);
  });

  it('edits the send node in the editor (Chromium), deploys, and the next mail has the new subject', async function () {
    browser = await launchEditor(red.url, pageErrors);
    const { page } = browser;
    // No node carries the "not properly configured" triangle (Deploy would ask for confirmation).
    const invalid = await page.evaluate(
      (ids) =>
        [...RED.nodes.filterNodes({ z: ids.tab }), RED.nodes.node(ids.connection)]
          .filter((n: EditorNode) => !n.valid)
          .map((n: EditorNode) => `${n.type} ${n.id}: ${n.validationErrors}`),
      IDS,
    );
    assert.deepEqual(invalid, []);
    await page.locator(`g.red-ui-flow-node-group[id="${IDS.send}"] rect.red-ui-flow-node`).dblclick();
    const subject = page.locator('.form-row:has(#node-input-subject) input.red-ui-typedInput-input');
    await subject.waitFor();
    assert.equal(await subject.inputValue(), 'Hello {{payload.name}} from Node-RED 5');
    await subject.fill('Edited in Node-RED 5 for {{payload.name}}');
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });

    const from = red.output.length;
    const deployed = page.waitForResponse((r) => r.url().endsWith('/flows') && r.request().method() === 'POST');
    await page.locator('#red-ui-header-button-deploy').click();
    assert.equal((await deployed).status(), 200);
    await page.locator('#red-ui-header-button-deploy.disabled').waitFor();
    // The answer to the deploy can come before the flows run again (seen on a busy machine): the
    // inject below waits for the runtime's own word that they started.
    await red.output.waitFor(/\[info\] Started (modified )?flows/, from);

    const text = await (await red.api('/flows')).text();
    assert.ok(!text.includes(PASSWORD), 'no password in /flows');
    const send = (JSON.parse(text) as Record<string, unknown>[]).find((n) => n.id === IDS.send)!;
    assert.equal(send.subject, 'Edited in Node-RED 5 for {{payload.name}}');
    assert.equal(send.to, 'Ada Lovelace <ada@example.com>', 'the other fields are kept');
    assert.equal(send.html, '<p>Sent by <b>Node-RED 5</b> to {{payload.name}}</p>');
    assert.equal(send.connection, IDS.connection);

    await red.inject(IDS.inject);
    const mails = await smtp.waitForMessages(2);
    assert.equal(mails[1].parsed.subject, 'Edited in Node-RED 5 for Ada');
    assert.equal(mails[1].user, USER, 'the stored credentials still work after the editor deploy');
    assertNoPageErrors(pageErrors);
  });
});
