// What a user gets from the palette: the packed tarball installed into a fresh user dir with the
// palette manager's npm arguments, loaded by a real Node-RED. Then every example flow, as Import >
// Examples would bring it in, is deployed and clicked through.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildIfNeeded, installIntoUserDir, PALETTE_INSTALL_ARGS, pkg, root } from '../../scripts/install-package';
import { startNodeRed } from '../support/node-red-process';
import { assertBothNodeTypes, assertLoaded } from '../support/node-sets';
import { startSmtp } from '../support/smtp';

/** A node of an example flow. */
interface FlowNode {
  id: string;
  type: string;
  name?: string;
  z?: string;
  info?: string;
  [property: string]: unknown;
}

/** A debug node's message in the debug sidebar: the tests pick them by the debug node's name. */
interface DebugMessage {
  name: string;
}

const MODULE = pkg.name;
const examplesDir = path.join(root, 'examples');
const exampleNames = fs
  .readdirSync(examplesDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();
const readExample = (name: string) => JSON.parse(fs.readFileSync(path.join(examplesDir, `${name}.json`), 'utf8')) as FlowNode[];

describe('palette install: the packed package in a fresh Node-RED user dir', function () {
  this.timeout(240000);
  let userDir: string;
  let red: Awaited<ReturnType<typeof startNodeRed>>;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let installed: ReturnType<typeof installIntoUserDir>;

  before(async function () {
    buildIfNeeded();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-palette-'));
    installed = installIntoUserDir(userDir);
    smtp = await startSmtp({ auth: false });
    red = await startNodeRed(userDir);
  });

  after(async function () {
    if (red) await red.close();
    if (smtp) await smtp.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('installs from the tarball with the palette arguments, without dev dependencies or sources', function () {
    assert.deepEqual(PALETTE_INSTALL_ARGS, [
      'install',
      '--no-audit',
      '--no-update-notifier',
      '--no-fund',
      '--save',
      '--save-prefix=~',
      '--omit=dev',
      '--engine-strict',
    ]);
    const project = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.match(project.dependencies[MODULE], /^file:.*\.tgz$/);
    const shipped = JSON.parse(fs.readFileSync(path.join(installed.moduleDir, 'package.json'), 'utf8'));
    assert.equal(shipped.version, pkg.version);
    for (const file of Object.values(pkg['node-red'].nodes as Record<string, string>)) {
      assert.ok(fs.existsSync(path.join(installed.moduleDir, file)), `${file} is in the package`);
      assert.ok(
        fs.existsSync(path.join(installed.moduleDir, file.replace(/\.js$/, '.html'))),
        `the editor HTML of ${file} is in the package`,
      );
    }
    assert.ok(fs.existsSync(path.join(installed.moduleDir, 'LICENSE')));
    assert.ok(!fs.existsSync(path.join(installed.moduleDir, 'src')), 'TypeScript sources are not shipped');
    assert.ok(!fs.existsSync(path.join(installed.moduleDir, 'test')), 'tests are not shipped');
    for (const dep of Object.keys(pkg.devDependencies)) {
      assert.ok(!fs.existsSync(path.join(userDir, 'node_modules', dep)), `dev dependency ${dep} is not installed`);
    }
    for (const dep of Object.keys(pkg.dependencies)) {
      assert.ok(fs.existsSync(path.join(userDir, 'node_modules', dep)), `dependency ${dep} is installed`);
    }
  });

  it('loads both node types (GET /nodes)', async function () {
    const res = await red.api('/nodes', { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 200);
    assertLoaded(await assertBothNodeTypes(res));
    const mod = await (await red.api(`/nodes/${MODULE}`, { headers: { Accept: 'application/json' } })).json();
    assert.equal(mod.name, MODULE);
    assert.equal(mod.nodes.length, 2);
  });

  it('serves the editor definitions and the English labels the palette shows', async function () {
    const html = await (await red.api('/nodes', { headers: { Accept: 'text/html' } })).text();
    assert.match(html, /RED\.nodes\.registerType\(\s*'send-smtp-email'/);
    assert.match(html, /RED\.nodes\.registerType\(\s*'smtp-oauth-config'/);
    const messages = await (await red.api(`/nodes/messages?lng=en-US`)).json();
    const own = Object.keys(messages).find((k) => k.startsWith(MODULE) && k.endsWith('/send-smtp-email'));
    assert.ok(own, 'message catalogue of send-smtp-email is served');
    assert.equal(messages[own]['send-smtp-email'].label.palette, 'send email');
  });

  it('lists every example under Import > Examples (GET /library/examples/flows/…)', async function () {
    const res = await red.api(`/library/examples/flows/${MODULE}`);
    assert.equal(res.status, 200);
    const listed = ((await res.json()) as { fn?: string }[]).map((e) => e.fn || e).sort();
    assert.deepEqual(listed, exampleNames);
    assert.ok(exampleNames.length >= 7);
    for (const name of exampleNames) {
      const body = await (await red.api(`/library/examples/flows/${MODULE}/${encodeURIComponent(name)}`)).json();
      assert.deepEqual(body, readExample(name), `${name} is served as in examples/`);
    }
  });

  describe('every example deploys without errors and works when clicked', function () {
    /** The example as Import brings it onto a new tab, its local connection pointed at the test server. */
    function onTab(name: string): FlowNode[] {
      const nodes = readExample(name);
      const tab = { id: 'tab' + nodes[0].id.slice(3), type: 'tab', label: name };
      for (const n of nodes) {
        if (n.type === 'smtp-oauth-config') {
          if (n.host === '127.0.0.1') n.port = String(smtp.port);
        } else n.z = tab.id;
      }
      return [tab, ...nodes];
    }

    async function deployExample(name: string): Promise<FlowNode[]> {
      const flow = onTab(name);
      const log = await red.deploy(flow);
      assert.doesNotMatch(log, /\[(error|warn)\]/, `deploying "${name}" logged:\n${log}`);
      const state = (await (await red.api('/flows')).json()) as FlowNode[];
      const deployed = new Map(state.map((n) => [n.id, n.type]));
      for (const n of flow) assert.equal(deployed.get(n.id), n.type, `${n.type} ${n.id} is deployed`);
      red.debug.length = 0;
      smtp.messages.length = 0;
      return flow;
    }

    const injects = (flow: FlowNode[], name?: string) => flow.filter((n) => n.type === 'inject' && (!name || n.name === name));
    const sent = (msg: DebugMessage) => msg.name === 'sent';

    it('every example has a comment node and uses only core nodes and ours', function () {
      const core = new Set([
        'tab',
        'comment',
        'inject',
        'debug',
        'catch',
        'change',
        'switch',
        'template',
        'split',
        'send-smtp-email',
        'smtp-oauth-config',
      ]);
      for (const name of exampleNames) {
        const nodes = readExample(name);
        assert.ok(
          nodes.some((n) => n.type === 'comment' && n.info && n.info.length > 100),
          `${name} explains itself in a comment`,
        );
        for (const n of nodes) assert.ok(core.has(n.type), `${name} uses ${n.type}`);
        assert.ok(
          nodes.some((n) => n.type === 'send-smtp-email'),
          `${name} has a send node`,
        );
      }
    });

    it('01 sends a basic HTML email', async function () {
      const flow = await deployExample(exampleNames[0]);
      await red.inject(injects(flow)[0].id);
      const [mail] = await smtp.waitForMessages(1);
      assert.equal(mail.parsed.subject, 'Hello from Node-RED');
      assert.match(mail.parsed.html, /<b>HTML<\/b>/);
      assert.match(mail.parsed.text, /Hello!/);
      assert.equal(mail.parsed.to.text, 'recipient@example.com');
      // What it demonstrates shows in the debug sidebar: the result, not just {_msgid, payload}.
      const [result] = await red.waitForDebug(sent);
      assert.equal(result.value.success, true);
      assert.deepEqual(result.value.accepted, ['recipient@example.com']);
    });

    it('02 takes recipients from msg and fills the templates', async function () {
      const flow = await deployExample(exampleNames[1]);
      for (const i of injects(flow)) await red.inject(i.id);
      const mails = await smtp.waitForMessages(2);
      const bySubject = Object.fromEntries(mails.map((m) => [m.parsed.subject ?? '', m] as const));
      const grace = bySubject['Order A-1002 for Grace'];
      assert.ok(grace, `subjects: ${Object.keys(bySubject)}`);
      assert.deepEqual(grace.envelope.rcptTo.map((r) => r.address).sort(), [
        'grace@example.com',
        'sales@example.com',
        'support@example.com',
      ]);
      assert.match(grace.parsed.html, /<li>cable<\/li><li>adapter<\/li>/);
      assert.deepEqual(
        grace.parsed.replyTo.value.map((a) => [a.name, a.address]),
        [['Orders', 'orders@example.com']],
      );
      assert.deepEqual(bySubject['Order B-7 for team'].envelope.rcptTo.map((r) => r.address).sort(), [
        'ann@example.com',
        'bob@example.com',
      ]);
    });

    it('03 sends every attachment type', async function () {
      const flow = await deployExample(exampleNames[2]);
      for (const i of injects(flow)) await red.inject(i.id);
      const mails = await smtp.waitForMessages(6);
      const files = Object.fromEntries(
        mails.map((m) => [m.parsed.subject, m.parsed.attachments.map((a) => `${a.filename}|${a.contentType}`)]),
      );
      assert.deepEqual(files['Attachment from a URL'], ['orders.csv|text/csv']);
      assert.deepEqual(files['Attachment from text'], ['timestamp.txt|text/plain']);
      assert.deepEqual(files['Attachment from base64'], ['pixel.png|image/png']);
      assert.deepEqual(files['Custom content with a MIME type'], ['reading.json|application/json']);
      assert.deepEqual(files['Pregenerated MIME part'], ['meeting.ics|text/calendar']);
      assert.deepEqual(files['Attachments from msg.attachments'], ['notes.md|text/markdown', 'pixel.png|image/png']);
      const json = mails.find((m) => m.parsed.subject === 'Custom content with a MIME type')!.parsed.attachments[0].content.toString();
      assert.deepEqual(JSON.parse(json), { sensor: 'kitchen', temperature: 21.5 });
    });

    it('04 stores the result in msg and in flow context', async function () {
      const flow = await deployExample(exampleNames[3]);
      await red.inject(injects(flow, 'result in msg')[0].id);
      const [inMsg] = await red.waitForDebug((m: DebugMessage) => m.name === 'msg.emailResult');
      assert.equal(inMsg.value.success, true);
      assert.deepEqual(inMsg.value.accepted, ['recipient@example.com']);
      await red.inject(injects(flow, 'result in flow')[0].id);
      await smtp.waitForMessages(2);
      await red.inject(injects(flow, 'read flow.lastEmail')[0].id);
      const [inFlow] = await red.waitForDebug((m: DebugMessage) => m.name === 'flow.lastEmail');
      assert.equal(inFlow.value.success, true);
      assert.match(inFlow.value.messageId, /@/);
    });

    it('05 stops on error into the Catch node, or continues with the stored failure', async function () {
      const flow = await deployExample(exampleNames[4]);
      await red.inject(injects(flow, 'stop on error')[0].id);
      const [caught] = await red.waitForDebug((m: DebugMessage) => m.name === 'caught error');
      // The debug node shows msg.error.message: one line, the message as the stored result has it (no "Error: " before it).
      assert.equal(typeof caught.value, 'string');
      assert.match(caught.value, /^To has an invalid address/);
      await red.inject(injects(flow, 'continue')[0].id);
      const [failed] = await red.waitForDebug((m: DebugMessage) => m.name === 'failed');
      assert.equal(failed.value.code, 'EINPUT');
      assert.ok(failed.value.hint);
      assert.equal(red.debug.filter((m: DebugMessage) => m.name === 'not reached' || sent(m)).length, 0);
      assert.equal(smtp.messages.length, 0);
    });

    it('06 passes the msgs on at once and stores the background result in flow context', async function () {
      const flow = await deployExample(exampleNames[5]);
      await red.inject(injects(flow, 'send 3 mails')[0].id);
      await red.waitForDebug((m: DebugMessage) => m.name === 'passed on at once', 3);
      const mails = await smtp.waitForMessages(3);
      assert.deepEqual(mails.map((m) => m.parsed.subject).sort(), ['Background mail 1', 'Background mail 2', 'Background mail 3']);
      // The result is stored once the node has the server's answer, a moment after the server has
      // the mail: read it until it is there (each read is an inject and its debug message).
      const read = injects(flow, 'read flow.asyncResult')[0].id;
      let last: Awaited<ReturnType<typeof red.waitForDebug>>[number] | undefined;
      for (let i = 0; i < 50 && last?.value?.success === undefined; i++) {
        await red.inject(read);
        last = (await red.waitForDebug((m: DebugMessage) => m.name === 'last result', i + 1))[i];
      }
      assert.equal(last?.value?.success, true);
    });

    it('09 sends the inline image with a readable date, and its preview is built without sending', async function () {
      const flow = await deployExample(exampleNames[8]);
      await red.inject(injects(flow, 'inline image')[0].id);
      const [mail] = await smtp.waitForMessages(1);
      // mailparser shows the inline image as a data: URL; the mail itself refers to it by cid.
      assert.match(mail.parsed.html, /<img src="[^"]+" alt="logo"> Daily report of \d{1,2} [A-Z][a-z]+ \d{4}<\/p>/);
      assert.match(mail.raw, /src=3D"cid:logo"|src="cid:logo"/);
      assert.equal(mail.parsed.attachments[0].contentId, '<logo>');
      await red.inject(injects(flow, 'preview')[0].id);
      const [eml] = await red.waitForDebug((m: DebugMessage) => m.name === 'eml');
      assert.match(eml.value, /^Subject: Preview of \d{1,2} [A-Z][a-z]+ \d{4}\r?$/m);
      assert.equal(smtp.messages.length, 1, 'the preview sent nothing');
    });

    it('07 (Microsoft 365) deploys with placeholders and no secret in the flow', async function () {
      const flow = await deployExample(exampleNames[6]);
      const conn = flow.find((n) => n.type === 'smtp-oauth-config')!;
      assert.equal(conn.service, 'Outlook365');
      assert.equal(conn.authType, 'oauth2-client-credentials');
      assert.equal(conn.scope, 'https://outlook.office365.com/.default');
      assert.match(conn.tokenUrl as string, /^https:\/\/login\.microsoftonline\.com\/YOUR-TENANT-ID\/oauth2\/v2\.0\/token$/);
      assert.equal(conn.credentials, undefined);
      const text = JSON.stringify(readExample(exampleNames[6]));
      for (const step of ['SMTP.SendAsApp', 'admin consent', 'New-ServicePrincipal', 'Add-MailboxPermission', 'Authenticated SMTP'])
        assert.ok(text.includes(step), `the comment explains ${step}`);
    });

    it('10 (Microsoft 365 over Graph) deploys with placeholders, a certificate and no credentials in the flow', async function () {
      const flow = await deployExample(exampleNames[9]);
      const conn = flow.find((n) => n.type === 'smtp-oauth-config')!;
      assert.equal(conn.service, 'Outlook365');
      assert.equal(conn.authType, 'oauth2-client-credentials');
      assert.equal(conn.clientAuth, 'certificate');
      assert.equal(conn.transport, 'graph');
      assert.equal(conn.graphUrl, 'https://graph.microsoft.com');
      assert.equal(conn.scope, '', "Graph's own scope");
      assert.match(conn.tokenUrl as string, /^https:\/\/login\.microsoftonline\.com\/YOUR-TENANT-ID\/oauth2\/v2\.0\/token$/);
      assert.equal(conn.credentials, undefined);
      const text = JSON.stringify(readExample(exampleNames[9]));
      assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY|BEGIN CERTIFICATE/, 'no key or certificate in the file');
      for (const step of [
        'openssl req',
        'Certificates & secrets',
        'Application Mail.Send',
        'New-ManagementScope',
        'Test-ServicePrincipalAuthorization',
      ])
        assert.ok(text.includes(step), `the comment explains ${step}`);
    });

    it('11 (Google Workspace) deploys with placeholders, a service account and no key in the flow', async function () {
      const flow = await deployExample(exampleNames[10]);
      const conn = flow.find((n) => n.type === 'smtp-oauth-config')!;
      assert.equal(conn.service, 'Gmail');
      assert.equal(conn.authType, 'google-service-account');
      assert.equal(conn.scope, '', "Gmail's own scope, https://mail.google.com/");
      assert.equal(conn.credentials, undefined);
      const text = JSON.stringify(readExample(exampleNames[10]));
      assert.doesNotMatch(text, /PRIVATE KEY|private_key|service_account|client_email/, 'no key file in the file');
      for (const step of [
        'Create service account',
        'Keys > Add key > Create new key > JSON',
        'Domain-wide delegation',
        'client_id',
        'https://mail.google.com/',
        'iam.disableServiceAccountKeyCreation',
      ])
        assert.ok(text.includes(step), `the comment explains ${step}`);
    });
  });
});
