// The real Node-RED editor in headless Chromium, with the package installed from its packed
// tarball as the palette installs it. Everything a user does in the two dialogs, then Deploy.
//
// Screenshots of both dialogs go to test-artifacts/screenshots/ on every run; with
// UPDATE_SCREENSHOTS=1 they also replace the ones in docs/screenshots/ that the README shows.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { CHROMIUM, assertNoPageErrors, launch as launchBrowser, launchEditor, openEditor, type LaunchedBrowser } from '../support/browser';
import { startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';
import { startSmtp } from '../support/smtp';
import { preferDarkTheme, applyDarkTheme, toolbarContrast } from '../support/dark-theme';

const ROOT = path.join(__dirname, '..', '..');
const SHOT_DIRS = [path.join(ROOT, 'test-artifacts', 'screenshots')].concat(
  process.env.UPDATE_SCREENSHOTS ? [path.join(ROOT, 'docs', 'screenshots')] : [],
);
const USER = 'alice@example.com';
const PASSWORD = 'correct-horse-battery';
const WRONG_PASSWORD = 'not-the-password-42';
const CLIENT_SECRET = 'client-secret-never-in-flows';
/** The send node's attachment: a 1×1 PNG, sent inline with the Content-ID "logo". */
const LOGO = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** The environment variable the connection's Port names in the Test connection test. */
const PORT_VARIABLE = 'SMTP_EDITOR_TEST_PORT';

/** A node of the deployed flows as GET /flows returns it. */
type FlowNode = Record<string, unknown>;

const launch = (locale: string) => launchBrowser({ locale });

async function shoot(page: Page, name: string): Promise<void> {
  const file = path.join(SHOT_DIRS[0], name);
  for (const dir of SHOT_DIRS) fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: file });
  for (const dir of SHOT_DIRS.slice(1)) fs.copyFileSync(file, path.join(dir, name));
}

/** A screenshot for test-artifacts/ only: what a reviewer checks, not what the README shows. */
async function shootArtifact(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOT_DIRS[0], { recursive: true });
  await page.screenshot({ path: path.join(SHOT_DIRS[0], name) });
}

/** The settings.js value of smtpOauthConfigMaxAttachmentMB in test/support/editor-node-red.ts. */
const MAX_ATTACHMENT_SETTING = 40;

/** Texts of the visible elements matching a selector, trimmed. */
async function visibleTexts(locator: Locator): Promise<string[]> {
  return locator.evaluateAll((els: HTMLElement[]) => els.filter((e) => e.offsetParent !== null).map((e) => e.textContent!.trim()));
}

describe('editor in a real browser (Chromium)', function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let browser: LaunchedBrowser;
  let page: Page;
  const pageErrors: Error[] = [];
  /** The id of the send node the tests add: its label is "send email" in English, another text in German. */
  let sendId: string | null;
  const sendNode = (p: Page) => p.locator(`g.red-ui-flow-node-group[id="${sendId}"]`);

  before(async function () {
    this.timeout(240000);
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    smtp = await startSmtp({ users: { [USER]: PASSWORD } });
    // A connection's field may name an environment variable, as the demo's port does: Node-RED inherits this one.
    process.env[PORT_VARIABLE] = String(smtp.port);
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors, { locale: 'en-US' });
    page = browser.page;
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
    if (smtp) await smtp.close();
  });

  afterEach(async function () {
    if (this.currentTest!.state === 'failed' && page) {
      fs.mkdirSync(SHOT_DIRS[0], { recursive: true });
      await page.screenshot({ path: path.join(SHOT_DIRS[0], `failed-${this.currentTest!.title.replace(/\W+/g, '-').slice(0, 60)}.png`) });
    }
    assertNoPageErrors(pageErrors);
  });

  it('offers "send email" with an envelope in the network category, and the connection as a config node only', async () => {
    const node = page.locator('#red-ui-palette-network .red-ui-palette-node[data-palette-type="send-smtp-email"]');
    assert.equal((await node.innerText()).trim(), 'send email');
    assert.equal(await node.locator('.red-ui-palette-icon-fa.fa-envelope, .red-ui-palette-icon-fa .fa-envelope, i.fa-envelope').count(), 1);
    assert.equal(await page.locator('.red-ui-palette-node[data-palette-type="smtp-oauth-config"]').count(), 0);
  });

  it('adds the node and shows every section in the order of the issue, each value a TypedInput', async () => {
    await page.locator('#red-ui-palette-search input').pressSequentially('send email');
    // The filter applies after a short debounce: wait until it hid the other nodes.
    await page.locator('.red-ui-palette-node[data-palette-type="inject"]').waitFor({ state: 'hidden' });
    // locator.dragTo, not mouse.down/move/up: Chromium 156.0.8078.108 no longer drops a node
    // dragged by raw mouse events, and Debian updates Chromium without notice.
    await page
      .locator('.red-ui-palette-node[data-palette-type="send-smtp-email"]')
      .dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: { x: 300, y: 200 } });
    const canvasNode = page.locator('g.red-ui-flow-node-group').filter({ hasText: 'send email' });
    await canvasNode.waitFor();
    sendId = await canvasNode.getAttribute('id');
    await canvasNode.locator('rect.red-ui-flow-node').dblclick();
    await page.locator('#smtp-html-editor[data-editor="rich"]').waitFor();

    const sections = await visibleTexts(page.locator('.smtp-send-dialog .smtp-section'));
    assert.deepEqual(sections, ['Connection', 'Recipients', 'Subject', 'Content', 'Attachment', 'Result & errors', 'Advanced']);
    // Rows in order (Advanced opens on click).
    await page.locator('#smtp-send-advanced-toggle').click();
    const labels = await visibleTexts(page.locator('.smtp-send-dialog .form-row > label:not(.smtp-check-text)'));
    assert.deepEqual(labels.filter(Boolean), [
      'Name',
      'Connection',
      'To',
      'CC',
      'BCC',
      'Subject',
      'Content',
      'Attachment',
      'Store result',
      'Custom From',
      'Reply-To',
      'In-Reply-To',
      'References',
      'Text content',
      'Headers',
      'Priority',
      'Deliver',
    ]);
    const checks = await visibleTexts(page.locator('.smtp-send-dialog label.smtp-check-text'));
    assert.deepEqual(checks, ['Stop on error', 'Execute asynchronously', 'Allow msg.preview']);

    for (const name of ['to', 'cc', 'bcc', 'subject', 'from', 'replyTo', 'inReplyTo', 'references', 'text', 'headers']) {
      const row = page.locator(`.form-row:has(#node-input-${name})`);
      assert.equal(await row.locator('.red-ui-typedInput-container').count(), 1, `${name} is a TypedInput`);
    }
    // The types a flow can supply a recipient from.
    await page.locator('.form-row:has(#node-input-to) .red-ui-typedInput-type-select').click();
    const menu = page.locator('.red-ui-typedInput-options:visible');
    await menu.waitFor();
    const types = await menu.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('value')));
    assert.deepEqual(types.sort(), ['env', 'flow', 'global', 'jsonata', 'msg', 'str']);
    await menu.locator('a[value="str"]').click();
    await menu.waitFor({ state: 'hidden' });
    // A new node is flagged until it has a connection and a recipient.
    assert.equal(await page.locator('.form-row:has(#node-input-to) .red-ui-typedInput-container.input-error').count(), 1);
  });

  it('shows exactly the rows each attachment type needs, with a hint under each', async () => {
    const expected: Record<string, { value: null; rows: string[] } | { value: string; rows: string[]; hint: RegExp }> = {
      none: { value: null, rows: [] },
      url: { value: 'URL', rows: ['value', 'filename', 'mime', 'cid'], hint: /data: URL/ },
      text: { value: 'Text', rows: ['value', 'filename', 'mime', 'cid'], hint: /text\/plain/ },
      base64: { value: 'Base64', rows: ['value', 'filename', 'mime', 'cid'], hint: /invalid Base64/ },
      custom: { value: 'Content', rows: ['value', 'filename', 'mime', 'cid'], hint: /MIME type below/ },
      mime: { value: 'MIME part', rows: ['value'], hint: /complete MIME part/ },
    };
    const options = await page
      .locator('#node-input-attachmentType option')
      .evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options, [
      ['none', 'No attachment'],
      ['url', 'From URL'],
      ['text', 'From text content'],
      ['base64', 'From Base64 string'],
      ['custom', 'Custom content with MIME type'],
      ['mime', 'From pregenerated MIME part'],
    ]);
    for (const [type, want] of Object.entries(expected)) {
      await page.locator('#node-input-attachmentType').selectOption(type);
      for (const row of ['value', 'filename', 'mime', 'cid']) {
        const visible = await page.locator(`.form-row.smtp-attachment-${row}`).isVisible();
        assert.equal(visible, want.rows.includes(row), `${type}: row ${row}`);
        if (visible) assert.ok(await page.locator(`.form-tips.smtp-attachment-${row}`).isVisible(), `${type}: hint under ${row}`);
      }
      if (want.value) {
        assert.equal((await page.locator('#smtp-attachment-value-label').innerText()).trim(), want.value);
        assert.match(await page.locator('#smtp-attachment-value-hint').innerText(), want.hint);
        assert.equal(await page.locator('.form-row:has(#node-input-attachment) .red-ui-typedInput-container').count(), 1);
      }
    }
    await page.locator('#node-input-attachmentType').selectOption('url');
    await page.locator('.form-row:has(#node-input-attachment) input.red-ui-typedInput-input').fill(LOGO);
    await page.locator('.form-row:has(#node-input-attachmentFilename) input.red-ui-typedInput-input').fill('logo.png');
  });

  it('gives the attachment a Content-ID, and its hint shows the <img> tag with the value typed', async () => {
    const hint = page.locator('#smtp-attachment-cid-hint');
    assert.match(await hint.innerText(), /^Optional: .*sent inline.*<img src="cid:…">\.$/);
    const cid = page.locator('#node-input-attachmentCid');
    await cid.pressSequentially('logo');
    assert.equal(await hint.innerText(), 'Sent inline: refer to it in the content as <img src="cid:logo">.');
    assert.equal(await hint.locator('code').innerText(), '<img src="cid:logo">');
    // What the runtime refuses is flagged before deploy.
    await cid.fill('my logo');
    await cid.blur();
    assert.equal(await page.locator('#node-input-attachmentCid.input-error').count(), 1);
    assert.equal(await hint.locator('code').innerText(), '<img src="cid:my logo">');
    await cid.fill('logo');
    await cid.blur();
    assert.equal(await page.locator('#node-input-attachmentCid.input-error').count(), 0);
    await hint.scrollIntoViewIfNeeded();
    await shootArtifact(page, 'send-dialog-attachment.png');
  });

  it('shows the result key when storing, and explains that asynchronous mode cannot store in msg', async () => {
    assert.equal(await page.locator('.form-row.smtp-result-key').isVisible(), false);
    await page.locator('#node-input-storeResult').selectOption('msg');
    assert.ok(await page.locator('.form-row.smtp-result-key').isVisible());
    assert.equal((await page.locator('#smtp-result-key-prefix').innerText()).trim(), 'msg.');
    assert.equal(await page.locator('#node-input-resultKey').inputValue(), 'emailResult');
    assert.equal(await page.locator('#smtp-async-msg-warning').isVisible(), false);

    await page.locator('#node-input-async').check();
    assert.ok(await page.locator('#smtp-async-msg-warning').isVisible());
    assert.match(await page.locator('#smtp-async-msg-warning').innerText(), /cannot be stored in msg.*flow or global/);
    assert.match(await page.locator('#smtp-stop-hint').innerText(), /Catch nodes/);
    assert.ok(await page.locator('#node-input-stopOnError').isDisabled());

    await page.locator('#node-input-storeResult').selectOption('flow');
    assert.equal(await page.locator('#smtp-async-msg-warning').isVisible(), false);
    assert.equal(await page.locator('#smtp-result-key-prefix').isVisible(), false);
    await page.locator('#node-input-async').uncheck();
    await page.locator('#node-input-storeResult').selectOption('msg');
    assert.ok(await page.locator('#node-input-stopOnError').isEnabled());
  });

  it('offers threading, custom headers and preview under Advanced, with their hints', async () => {
    await page.locator('.form-row:has(#node-input-inReplyTo) input.red-ui-typedInput-input').fill('<first@example.com>');
    await page.locator('.form-row:has(#node-input-references) input.red-ui-typedInput-input').fill('<first@example.com>');
    assert.match(await page.locator('#smtp-thread-hint').innerText(), /same thread.*messageId/);
    // Headers: a JSON object by default, or an object a flow supplies.
    await page.locator('.form-row:has(#node-input-headers) .red-ui-typedInput-type-select').click();
    const menu = page.locator('.red-ui-typedInput-options:visible');
    await menu.waitFor();
    const types = await menu.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('value')));
    assert.deepEqual(types.sort(), ['flow', 'global', 'json', 'jsonata', 'msg']);
    await menu.locator('a[value="json"]').click();
    await menu.waitFor({ state: 'hidden' });
    await page.locator('.form-row:has(#node-input-headers) input.red-ui-typedInput-input').fill('{"X-Ticket-Id":"T-1"}');
    assert.equal(await page.locator('.form-row:has(#node-input-headers) .red-ui-typedInput-container.input-error').count(), 0);
    assert.match(await page.locator('#smtp-headers-hint').innerText(), /JSON object .*msg\.headers is merged in/);

    const options = await page
      .locator('#node-input-deliver option')
      .evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options, [
      ['send', 'Send'],
      ['preview', 'Preview: build the message as .eml without sending'],
    ]);
    assert.equal(await page.locator('#node-input-deliver').inputValue(), 'send');
    assert.equal(await page.locator('#smtp-preview-hint').isVisible(), false);
    await page.locator('#node-input-deliver').selectOption('preview');
    assert.match(await page.locator('#smtp-preview-hint').innerText(), /Nothing is sent: the result holds the message as eml/);
    // Stored nowhere, a preview is lost: the dialog says so while Store result is "Don't store".
    assert.equal(await page.locator('#smtp-preview-store-warning').isVisible(), false);
    await page.locator('#node-input-storeResult').selectOption('none');
    assert.match(await page.locator('#smtp-preview-store-warning').innerText(), /only useful with Store result set/);
    await page.locator('#smtp-preview-store-warning').scrollIntoViewIfNeeded();
    await shootArtifact(page, 'send-dialog-preview-not-stored.png');
    await page.locator('#node-input-storeResult').selectOption('msg');
    assert.equal(await page.locator('#smtp-preview-store-warning').isVisible(), false);

    assert.equal(await page.locator('#node-input-previewFromMsg').isChecked(), false);
    assert.match(await page.locator('#smtp-preview-msg-hint').innerText(), /preview: true.*stray value never stops real mail/);
    await page.locator('#node-input-previewFromMsg').check();
  });

  it('edits the content as rich text with headings, bold, lists and links, and as HTML source', async () => {
    const editor = page.locator('#smtp-html-rich .ql-editor');
    await editor.click();
    await page.keyboard.type('Monthly report');
    await page.locator('#smtp-html-toolbar .ql-header .ql-picker-label').click();
    await page.locator('#smtp-html-toolbar .ql-header .ql-picker-item[data-value="2"]').click();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('Hello {{payload.name}}, this is ');
    await page.locator('#smtp-html-toolbar button.ql-bold').click();
    await page.keyboard.type('important');
    await page.locator('#smtp-html-toolbar button.ql-bold').click();
    await page.keyboard.press('Enter');
    await page.locator('#smtp-html-toolbar button.ql-list[value="bullet"]').click();
    await page.keyboard.type('first point');
    await page.keyboard.press('Enter');
    await page.keyboard.type('second point');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await page.keyboard.type('Details');
    await page.keyboard.down('Shift');
    for (let i = 0; i < 'Details'.length; i++) await page.keyboard.press('ArrowLeft');
    await page.keyboard.up('Shift');
    await page.locator('#smtp-html-toolbar button.ql-link').click();
    const linkInput = page.locator('#smtp-html-editor .ql-tooltip.ql-editing input[type="text"]');
    await linkInput.fill('https://example.com/report');
    await linkInput.press('Enter');
    assert.equal(await editor.locator('h2').innerText(), 'Monthly report');
    assert.equal(await editor.locator('strong').innerText(), 'important');

    await page.locator('#smtp-html-toolbar button.ql-source').click();
    const source = page.locator('#smtp-html-source');
    assert.ok(await source.isVisible());
    assert.equal(await editor.isVisible(), false);
    const html = await source.inputValue();
    assert.match(
      html,
      /^<h2>Monthly report<\/h2><p>Hello \{\{payload\.name\}\}, this is <strong>important<\/strong><\/p><ul><li>first point<\/li><li>second point<\/li><\/ul><p><a href="https:\/\/example\.com\/report"[^>]*>Details<\/a><\/p>$/,
    );
    assert.doesNotMatch(html, /&nbsp;|ql-|contenteditable/);

    // An edit in the source view shows in the rich view.
    await source.fill(html.replace('Monthly report', 'Weekly report'));
    await page.locator('#smtp-html-toolbar button.ql-source').click();
    assert.equal(await editor.locator('h2').innerText(), 'Weekly report');

    // Content from msg: the rich editor hides; back to rich text: it returns with the text kept.
    const contentType = page.locator('.form-row:has(#smtp-html-value) .red-ui-typedInput-type-select');
    await contentType.click();
    await page.locator('.red-ui-typedInput-options:visible a[value="msg"]').click();
    assert.equal(await page.locator('#smtp-html-editor-row').isVisible(), false);
    await contentType.click();
    await page.locator('.red-ui-typedInput-options:visible a[value="str"]').click();
    assert.ok(await page.locator('#smtp-html-editor-row').isVisible());
    assert.equal(await editor.locator('h2').innerText(), 'Weekly report');
  });

  it('lists the services of the installed nodemailer, Other first; a service fills and locks the server', async () => {
    await page.locator('#node-input-btn-connection-add').click();
    const service = page.locator('#node-config-input-service');
    await page.locator('#node-config-input-service[data-loaded="true"]').waitFor();
    const nodemailerDir = path.join(nr.userDir, 'node_modules', 'nodemailer');
    const servicesFile = require.resolve('nodemailer/lib/well-known/services.json', { paths: [nodemailerDir] });
    const services = JSON.parse(fs.readFileSync(servicesFile, 'utf8')) as Record<string, { host?: string }>;
    const known = Object.values(services).filter((s) => s.host);
    const options = await service.locator('option').evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options[0], ['', 'Other SMTP Service']);
    // Each server once (nodemailer lists AWS SES US East as SES and as SES-US-EAST-1), sorted by
    // the name shown: "Outlook.com / Hotmail" under O, not under its key Hotmail.
    const servers = new Set(known.map((s) => JSON.stringify([(s as { description?: string }).description, s.host])));
    assert.equal(options.length, servers.size + 1);
    const names = options.slice(1).map(([, name]) => name!);
    assert.equal(new Set(names).size, names.length, 'no name twice');
    assert.deepEqual(
      names,
      [...names].sort((a, b) => a.localeCompare(b, 'en-US', { sensitivity: 'base' })),
    );
    assert.ok(options.some(([key]) => key === 'Outlook365'));
    assert.ok(names.indexOf('Outlook.com / Hotmail') > names.indexOf('Microsoft 365 / Office 365'));

    await service.selectOption('Gmail');
    assert.equal(await page.locator('#node-config-input-host').inputValue(), 'smtp.gmail.com');
    assert.equal(await page.locator('#node-config-input-port').inputValue(), '465');
    assert.equal(await page.locator('#node-config-input-security').inputValue(), 'tls');
    for (const id of ['host', 'port', 'security']) assert.ok(await page.locator(`#node-config-input-${id}`).isDisabled(), `${id} locked`);

    // Microsoft 365 with client credentials: scope pre-filled, tenant id fills the token URL.
    await service.selectOption('Outlook365');
    assert.equal(await page.locator('#node-config-input-host').inputValue(), 'smtp.office365.com');
    // Microsoft 365 accepts 3 connections per mailbox: its pool size while the user chose none.
    assert.equal(await page.locator('#node-config-input-maxConnections').inputValue(), '3');
    assert.equal(await page.locator('#smtp-config-tenant').isVisible(), false);
    await page.locator('#node-config-input-authType').selectOption('oauth2-client-credentials');
    assert.equal(await page.locator('#node-config-input-scope').inputValue(), 'https://outlook.office365.com/.default');
    await page.locator('#smtp-config-tenant').fill('contoso.onmicrosoft.com');
    assert.equal(
      await page.locator('#node-config-input-tokenUrl').inputValue(),
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
    );
    assert.equal(await page.locator('#node-config-input-password').isVisible(), false);
    for (const id of ['user', 'clientId', 'clientSecret', 'tokenUrl', 'scope'])
      assert.ok(await page.locator(`#node-config-input-${id}`).isVisible(), `${id} shown for client credentials`);
    assert.equal((await page.locator('#smtp-config-user-label').innerText()).trim(), 'Mailbox');
    await page.locator('#node-config-input-clientSecret').fill(CLIENT_SECRET);

    // The deprecated method warns and says how to migrate.
    assert.equal(await page.locator('#smtp-config-deprecated').isVisible(), false);
    await page.locator('#node-config-input-authType').selectOption('oauth2');
    assert.ok(await page.locator('#smtp-config-deprecated').isVisible());
    assert.match(await page.locator('#smtp-config-deprecated').innerText(), /deprecated.*client credentials/s);
    for (const id of ['refreshToken', 'accessToken']) assert.ok(await page.locator(`#node-config-input-${id}`).isVisible());
    await page.locator('#node-config-input-authType').selectOption('none');
    for (const id of ['user', 'password', 'clientId', 'clientSecret', 'tokenUrl', 'scope', 'refreshToken', 'accessToken']) {
      assert.equal(await page.locator(`#node-config-input-${id}`).isVisible(), false, `${id} hidden without authentication`);
    }

    // Other SMTP Service unlocks the server.
    await service.selectOption('');
    for (const id of ['host', 'port', 'security']) assert.ok(await page.locator(`#node-config-input-${id}`).isEnabled(), `${id} unlocked`);
    // Advanced holds the pool and the rate limit.
    assert.equal(await page.locator('#node-config-input-maxConnections').isVisible(), false);
    await page.locator('#smtp-config-advanced-toggle').click();
    assert.equal(await page.locator('#node-config-input-maxConnections').inputValue(), '5');
    assert.equal(await page.locator('#node-config-input-rateLimitPerMinute').inputValue(), '0');
    assert.equal(await page.locator('#node-config-input-retryForSeconds').inputValue(), '600');
    // settings.js smtpOauthConfigMaxAttachmentMB is the default of new connections.
    assert.equal(await page.evaluate(() => RED.settings.smtpOauthConfigMaxAttachmentMB), MAX_ATTACHMENT_SETTING);
    assert.equal(await page.locator('#node-config-input-maxAttachmentMB').inputValue(), String(MAX_ATTACHMENT_SETTING));
    // A pool size the user chose stays when the service changes.
    await page.locator('#node-config-input-maxConnections').fill('8');
    await service.selectOption('Outlook365');
    await service.selectOption('');
    assert.equal(await page.locator('#node-config-input-maxConnections').inputValue(), '8');
    await page.locator('#node-config-input-maxConnections').fill('5');
  });

  it('tests the connection with the values in the dialog: a wrong password is diagnosed, the right one succeeds', async () => {
    await page.locator('#node-config-input-name').fill('Loopback inbox');
    await page.locator('#node-config-input-host').fill('127.0.0.1');
    await page.locator('#node-config-input-port').fill(String(smtp.port));
    await page.locator('#node-config-input-security').selectOption('none');
    await page.locator('#node-config-input-authType').selectOption('basic');
    await page.locator('#node-config-input-user').fill(USER);
    await page.locator('#node-config-input-password').fill(WRONG_PASSWORD);
    await page.locator('#node-config-input-rateLimitPerMinute').fill('30');
    // The outbox cap is for the disk and Redis outboxes; memory has none.
    const outbox = page.locator('#node-config-input-outbox');
    assert.equal(await outbox.inputValue(), 'disk');
    await outbox.selectOption('memory');
    assert.equal(await page.locator('#node-config-input-outboxMaxMB').isVisible(), false);
    await outbox.selectOption('disk');
    await page.locator('#node-config-input-outboxMaxMB').fill('150');

    const test = async () => {
      const answered = page.waitForResponse((r) => r.url().endsWith('/smtp-oauth-config/test'));
      await page.locator('#smtp-config-test').click();
      const response = await answered;
      const body = await response.text();
      for (const secret of [PASSWORD, WRONG_PASSWORD, CLIENT_SECRET]) assert.ok(!body.includes(secret), 'the answer never echoes a secret');
      await page.locator('#smtp-config-test-result.smtp-ok, #smtp-config-test-result.smtp-fail').waitFor();
      return page.locator('#smtp-config-test-result');
    };

    // A field the check refuses (HTTP 400): the server's reason and hint, naming the section the field is in.
    await page.locator('#node-config-input-port').fill('${NO_SUCH_VARIABLE}');
    let result = await test();
    assert.match((await result.getAttribute('class')) ?? '', /smtp-fail/);
    const refused = await result.innerText();
    assert.match(refused, /ECONFIG/);
    assert.match(refused, /port must be a whole number from 1 to 65535, not "\$\{NO_SUCH_VARIABLE\}"/);
    assert.match(refused, /Set port in the connection \(under Server\)/);
    assert.doesNotMatch(refused, /HTTP 400/);
    await result.scrollIntoViewIfNeeded();
    await shootArtifact(page, 'connection-dialog-test-refused.png');

    // An environment variable is resolved as a deploy resolves it: the test reaches the server.
    await page.locator('#node-config-input-port').fill('${' + PORT_VARIABLE + '}');
    assert.equal(await page.locator('#node-config-input-port').evaluate((e: HTMLInputElement) => e.scrollWidth <= e.clientWidth), true);
    result = await test();
    assert.match((await result.getAttribute('class')) ?? '', /smtp-fail/);
    const failure = await result.innerText();
    assert.match(failure, /EAUTH/);
    assert.match(failure, /check the user and password/);
    assert.ok(!failure.includes(WRONG_PASSWORD));
    await result.scrollIntoViewIfNeeded();
    await shoot(page, 'connection-dialog-test-failed.png');

    await page.locator('#node-config-input-port').fill(String(smtp.port));
    await page.locator('#node-config-input-password').fill(PASSWORD);
    result = await test();
    assert.match((await result.getAttribute('class')) ?? '', /smtp-ok/);
    assert.match(await result.innerText(), /Connected and authenticated/);
    assert.deepEqual(
      smtp.authAttempts.map((a) => a.username),
      [USER, USER],
    );

    await result.scrollIntoViewIfNeeded();
    await shoot(page, 'connection-dialog.png');
    await page.locator('#node-config-dialog-ok').click();
    await page.locator('#node-config-input-service').waitFor({ state: 'detached' });
    assert.equal(await page.locator('#node-input-connection option:checked').innerText(), 'Loopback inbox');
  });

  it('saves the dialog, deploys, and the saved flow holds every property but no secret', async () => {
    await page.locator('.form-row:has(#node-input-to) input.red-ui-typedInput-input').fill('Bob <bob@example.com>, carol@example.com');
    await page.locator('.form-row:has(#node-input-subject) input.red-ui-typedInput-input').fill('Report for {{payload.name}}');
    await page.locator('#node-input-priority').selectOption('high');
    assert.equal(await page.locator('.form-row:has(#node-input-to) .red-ui-typedInput-container.input-error').count(), 0);
    await page.locator('#node-input-name').scrollIntoViewIfNeeded();
    await shoot(page, 'send-dialog.png');
    await page.locator('#smtp-send-advanced-toggle').scrollIntoViewIfNeeded();
    await page.locator('#node-input-async').scrollIntoViewIfNeeded();
    await shoot(page, 'send-dialog-lower.png');

    await page.locator('#node-dialog-ok').click();
    await page.locator('#smtp-html-editor').waitFor({ state: 'detached' });
    // Labelled like the core nodes: the name, else what the node is; never the subject, which
    // would make the node as wide as the subject.
    assert.equal(((await sendNode(page).locator('.red-ui-flow-node-label').textContent()) ?? '').trim(), 'send email');
    const labels = await page.evaluate((id) => {
      const node = RED.nodes.node(id);
      const label = RED.nodes.getType('send-smtp-email').label;
      // Bound rather than wrapped in an arrow: this function runs in the page, where tsx's __name()
      // helper (esbuild's keepNames, which it would wrap a named arrow in) does not exist.
      const _ = node._.bind(node);
      return { named: label.call({ _, name: 'Monthly report', subject: node.subject }), unnamed: label.call({ _, subject: node.subject }) };
    }, sendId);
    assert.deepEqual(labels, { named: 'Monthly report', unnamed: 'send email' });

    const deployed = page.waitForResponse((r) => r.url().endsWith('/flows') && r.request().method() === 'POST');
    await page.locator('#red-ui-header-button-deploy').click();
    assert.equal((await deployed).status(), 200);
    await page.locator('#red-ui-header-button-deploy.disabled').waitFor();

    const text = await (await fetch(`${nr.url}flows`, { headers: { 'Node-RED-API-Version': 'v2' } })).text();
    for (const secret of [PASSWORD, WRONG_PASSWORD, CLIENT_SECRET]) assert.ok(!text.includes(secret), 'no secret in /flows');
    const flows = (JSON.parse(text) as { flows: FlowNode[] }).flows;
    const send = flows.find((n) => n.type === 'send-smtp-email')!;
    const config = flows.find((n) => n.type === 'smtp-oauth-config')!;
    assert.equal(send.connection, config.id);
    assert.equal(send.to, 'Bob <bob@example.com>, carol@example.com');
    assert.equal(send.toType, 'str');
    assert.equal(send.subject, 'Report for {{payload.name}}');
    assert.equal(send.htmlType, 'str');
    assert.match(
      send.html as string,
      /^<h2>Weekly report<\/h2><p>Hello \{\{payload\.name\}\}, this is <strong>important<\/strong><\/p><ul><li>first point<\/li><li>second point<\/li><\/ul>/,
    );
    assert.equal(send.attachmentType, 'url');
    assert.equal(send.attachment, LOGO);
    assert.equal(send.attachmentFilename, 'logo.png');
    assert.equal(send.attachmentCid, 'logo');
    assert.deepEqual(
      {
        headers: send.headers,
        headersType: send.headersType,
        inReplyTo: send.inReplyTo,
        inReplyToType: send.inReplyToType,
        references: send.references,
        referencesType: send.referencesType,
      },
      {
        headers: '{"X-Ticket-Id":"T-1"}',
        headersType: 'json',
        inReplyTo: '<first@example.com>',
        inReplyToType: 'str',
        references: '<first@example.com>',
        referencesType: 'str',
      },
    );
    assert.equal(send.deliver, 'preview');
    assert.equal(send.previewFromMsg, true);
    assert.equal(send.storeResult, 'msg');
    assert.equal(send.resultKey, 'emailResult');
    assert.equal(send.stopOnError, true);
    assert.equal(send.async, false);
    assert.equal(send.priority, 'high');
    assert.deepEqual(
      {
        name: config.name,
        service: config.service,
        host: config.host,
        port: String(config.port),
        security: config.security,
        authType: config.authType,
        rejectUnauthorized: config.rejectUnauthorized,
        maxConnections: String(config.maxConnections),
        rateLimitPerMinute: String(config.rateLimitPerMinute),
        maxAttachmentMB: String(config.maxAttachmentMB),
        retryForSeconds: String(config.retryForSeconds),
        outbox: config.outbox,
        outboxMaxMB: String(config.outboxMaxMB),
      },
      {
        name: 'Loopback inbox',
        service: '',
        host: '127.0.0.1',
        port: String(smtp.port),
        security: 'none',
        authType: 'basic',
        rejectUnauthorized: true,
        maxConnections: '5',
        rateLimitPerMinute: '30',
        maxAttachmentMB: String(MAX_ATTACHMENT_SETTING),
        retryForSeconds: '600',
        outbox: 'disk',
        outboxMaxMB: '150',
      },
    );
    assert.equal(config.credentials, undefined);
    const credFile = fs.readFileSync(path.join(nr.userDir, 'flows_cred.json'), 'utf8');
    assert.ok(!credFile.includes(PASSWORD), 'credentials are stored encrypted');
  });

  it('reopens the saved connection without sending the stored password back to the browser', async () => {
    const credentials = page.waitForResponse((r) => /\/credentials\/smtp-oauth-config\//.test(r.url()));
    await sendNode(page).locator('rect.red-ui-flow-node').dblclick();
    await page.locator('#node-input-lookup-connection, #node-input-btn-connection-edit').first().click();
    const body = await (await credentials).text();
    assert.ok(!body.includes(PASSWORD));
    assert.match(body, /"has_password":true/);
    await page.locator('#node-config-input-service[data-loaded="true"]').waitFor();
    // Test connection with the stored password (the dialog holds only a placeholder).
    await page.locator('#smtp-config-test').click();
    await page.locator('#smtp-config-test-result.smtp-ok').waitFor();
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#smtp-html-editor').waitFor({ state: 'detached' });
  });

  it('asks for the password again, instead of using the stored one, when the host in the dialog changed', async () => {
    await sendNode(page).locator('rect.red-ui-flow-node').dblclick();
    await page.locator('#node-input-lookup-connection, #node-input-btn-connection-edit').first().click();
    await page.locator('#node-config-input-service[data-loaded="true"]').waitFor();
    await page.locator('#node-config-input-host').fill('localhost');
    const before = smtp.authAttempts.length;
    await page.locator('#smtp-config-test').click();
    const result = page.locator('#smtp-config-test-result.smtp-fail');
    await result.waitFor();
    const text = await result.innerText();
    assert.match(text, /ECONFIG/);
    assert.match(text, /these differ: host/);
    assert.match(text, /Type the Password again/);
    assert.ok(!text.includes(PASSWORD));
    assert.match((await page.locator('#node-config-input-password').getAttribute('class')) ?? '', /input-error/);
    assert.equal(await page.locator('#node-config-input-password').inputValue(), '');
    assert.equal(smtp.authAttempts.length, before, 'nothing was sent to any server');
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#smtp-html-editor').waitFor({ state: 'detached' });
  });

  it('lets a node that previews go without a connection, and marks one that sends without a connection', async () => {
    const valid = await page.evaluate(() =>
      ['preview', 'send'].map((deliver) => {
        const def = RED.nodes.getType('send-smtp-email');
        const node: Record<string, unknown> = { id: `check-${deliver}`, type: 'send-smtp-email', _def: def };
        for (const [key, property] of Object.entries(def.defaults)) node[key] = (property as { value: unknown }).value;
        Object.assign(node, { to: 'someone@example.com', subject: 'Hello', deliver, connection: '' });
        RED.editor.validateNode(node);
        return [deliver, node.valid];
      }),
    );
    assert.deepEqual(valid, [
      ['preview', true],
      ['send', false],
    ]);
  });

  it('opens Advanced by itself when it holds a value other than the default, and only then', async () => {
    const cases = {
      nothing: {},
      inReplyTo: { inReplyTo: '<first@example.com>' },
      references: { references: '<first@example.com>' },
      headers: { headers: '{"X-Ticket-Id":"T-1"}' },
      deliver: { deliver: 'preview' },
      previewFromMsg: { previewFromMsg: true },
      async: { async: true },
    };
    const wasDirty = await page.evaluate(() => RED.nodes.dirty());
    for (const [what, props] of Object.entries(cases)) {
      const id = await page.evaluate((props) => {
        const id = RED.nodes.id();
        RED.nodes.import([{ id, type: 'send-smtp-email', z: RED.workspaces.active(), x: 600, y: 400, wires: [], ...props }]);
        RED.editor.edit(RED.nodes.node(id));
        return id;
      }, props);
      await page.locator('#smtp-send-advanced-toggle').waitFor();
      assert.equal(await page.locator('#smtp-send-advanced').isVisible(), what !== 'nothing', `Advanced open with ${what}`);
      await page.locator('#node-dialog-cancel').click();
      await page.locator('#smtp-html-editor').waitFor({ state: 'detached' });
      await page.evaluate((id) => {
        RED.nodes.remove(id);
        RED.view.redraw(true);
      }, id);
    }
    await page.evaluate((dirty) => RED.nodes.dirty(dirty), wasDirty);
  });

  it('falls back to an HTML text area, without freezing the editor, when the rich-text editor cannot load', async () => {
    const second = await browser.context.newPage();
    try {
      second.on('pageerror', (err) => pageErrors.push(err));
      await second.route('**/quill.min.js', (route) => route.abort());
      await openEditor(second, nr.url);
      await sendNode(second).locator('rect.red-ui-flow-node').dblclick();
      await second.locator('#smtp-html-editor[data-editor="fallback"]').waitFor();
      const source = second.locator('#smtp-html-source');
      assert.ok(await source.isVisible());
      assert.match(await source.inputValue(), /^<h2>Weekly report<\/h2>/);
      assert.match(await second.locator('#smtp-html-notice').innerText(), /could not be loaded/);
      assert.equal(await second.locator('#smtp-html-toolbar').isVisible(), false);
    } finally {
      await second.close();
    }
  });

  it('shows the help of both nodes with Inputs, Outputs, Details and the error codes', async () => {
    for (const type of ['send-smtp-email', 'smtp-oauth-config']) {
      const help = await page.evaluate((t) => RED.nodes.getNodeHelp(t), type);
      assert.ok(help, `${type} has help`);
      for (const heading of type === 'send-smtp-email' ? ['Inputs', 'Outputs', 'Details', 'References'] : ['Details', 'References']) {
        assert.match(help, new RegExp(`<h3>${heading}</h3>`), `${type} help has ${heading}`);
      }
    }
    const sendHelp = await page.evaluate(() => RED.nodes.getNodeHelp('send-smtp-email'));
    for (const code of ['EAUTH', 'ECONNECTION', 'ETLS', 'EENVELOPE', 'EOAUTH2', 'EATTACHMENT', 'EINPUT', 'ECONFIG'])
      assert.match(sendHelp, new RegExp(code));
    const configHelp = await page.evaluate(() => RED.nodes.getNodeHelp('smtp-oauth-config'));
    assert.match(configHelp, /SMTP\.SendAsApp/);
    // The user's way in: the help tab of the sidebar for the selected node.
    await sendNode(page).locator('rect.red-ui-flow-node').click();
    await page.locator('#red-ui-tab-help-link-button').click();
    await page.locator('.red-ui-help h3', { hasText: 'Inputs' }).first().waitFor();
  });

  it('speaks German in the palette, both dialogs and the help', async () => {
    const german = await launch('de-DE');
    try {
      german.page.on('pageerror', (err) => pageErrors.push(err));
      await openEditor(german.page, nr.url);
      const p = german.page;
      // The palette wraps long labels at spaces and hyphens.
      const label = await p.locator('.red-ui-palette-node[data-palette-type="send-smtp-email"] .red-ui-palette-label').textContent();
      assert.equal((label ?? '').replace(/\s+/g, ''), 'E-Mailsenden');
      await sendNode(p).locator('rect.red-ui-flow-node').dblclick();
      await p.locator('#smtp-html-editor[data-editor="rich"]').waitFor();
      const sections = await visibleTexts(p.locator('.smtp-send-dialog .smtp-section'));
      assert.deepEqual(sections, ['Verbindung', 'Empfänger', 'Betreff', 'Inhalt', 'Anhang', 'Ergebnis & Fehler', 'Erweitert']);
      // Advanced is open: the saved node holds values there.
      assert.ok(await p.locator('#smtp-send-advanced').isVisible());
      const labels: Record<string, string> = {};
      for (const name of ['attachmentCid', 'inReplyTo', 'references', 'headers', 'deliver', 'previewFromMsg'])
        labels[name] = (await p.locator(`label[for="node-input-${name}"]`).innerText()).trim();
      assert.deepEqual(labels, {
        attachmentCid: 'Content-ID',
        inReplyTo: 'In-Reply-To',
        references: 'References',
        headers: 'Header',
        deliver: 'Zustellung',
        previewFromMsg: 'msg.preview erlauben',
      });
      assert.equal(
        await p.locator('#smtp-attachment-cid-hint').innerText(),
        'Wird eingebettet gesendet; verweisen Sie im Inhalt mit <img src="cid:logo"> darauf.',
      );
      assert.deepEqual(await p.locator('#node-input-deliver option').allInnerTexts(), [
        'Senden',
        'Vorschau: Nachricht als .eml erstellen, ohne zu senden',
      ]);
      assert.match(await p.locator('#smtp-preview-hint').innerText(), /^Es wird nichts gesendet/);
      assert.match(await p.locator('#smtp-thread-hint').innerText(), /im selben Verlauf/);
      assert.match(await p.locator('#smtp-preview-msg-hint').innerText(), /als Vorschau erstellt/);
      await p.locator('#node-input-attachmentCid').scrollIntoViewIfNeeded();
      await shootArtifact(p, 'send-dialog-de-attachment.png');
      await p.locator('#smtp-preview-msg-hint').scrollIntoViewIfNeeded();
      await shootArtifact(p, 'send-dialog-de-advanced.png');
      await p.locator('#node-input-btn-connection-edit').click();
      await p.locator('#node-config-input-service[data-loaded="true"]').waitFor();
      assert.equal(await p.locator('#node-config-input-service option').first().innerText(), 'Anderer SMTP-Dienst');
      assert.equal((await p.locator('#smtp-config-test').innerText()).trim(), 'Verbindung testen');
      const help = await p.evaluate(() => RED.nodes.getNodeHelp('send-smtp-email'));
      assert.match(help, /<h3>Eingaben<\/h3>/);
      assert.match(help, /<h3>Details<\/h3>/);
    } finally {
      await german.close();
    }
  });

  it('looks tidy in a narrow window (screenshots of both dialogs)', async () => {
    const narrow = await browser.context.newPage();
    try {
      narrow.on('pageerror', (err) => pageErrors.push(err));
      await narrow.setViewportSize({ width: 900, height: 1000 });
      await openEditor(narrow, nr.url);
      await sendNode(narrow).locator('rect.red-ui-flow-node').dblclick();
      await narrow.locator('#smtp-html-editor[data-editor="rich"]').waitFor();
      // Every labelled row fits: no input reaches past the dialog's edge.
      const overflow = await narrow.locator('.smtp-send-dialog').evaluate((dialog) => {
        const right = dialog.getBoundingClientRect().right;
        return [...dialog.querySelectorAll<HTMLElement>('.form-row')]
          .filter(
            (row) =>
              row.offsetParent &&
              ([...row.children] as HTMLElement[]).some((c) => c.offsetParent && c.getBoundingClientRect().right > right + 1),
          )
          .map((row) => row.textContent!.trim().slice(0, 40));
      });
      assert.deepEqual(overflow, []);
      await shoot(narrow, 'send-dialog-narrow.png');
      await narrow.locator('#node-input-btn-connection-edit').click();
      await narrow.locator('#node-config-input-service[data-loaded="true"]').waitFor();
      await shoot(narrow, 'connection-dialog-narrow.png');
      await narrow.locator('#node-config-dialog-cancel').click();
      await narrow.locator('#node-dialog-cancel').click();
      await narrow.locator('#smtp-html-editor').waitFor({ state: 'detached' });
    } finally {
      await narrow.close();
    }
  });

  it("is readable in Node-RED 5's dark colours on Node-RED 4.1 too (emulated: 4.1 has no dark theme)", async () => {
    const dark = await launch('en-US');
    try {
      dark.page.on('pageerror', (err) => pageErrors.push(err));
      await preferDarkTheme(dark.page);
      await openEditor(dark.page, nr.url);
      assert.equal(await applyDarkTheme(dark.page), 'emulated');
      await sendNode(dark.page).locator('rect.red-ui-flow-node').dblclick();
      await dark.page.locator('#smtp-html-editor[data-editor="rich"]').waitFor();
      await dark.page.locator('#smtp-html-toolbar').scrollIntoViewIfNeeded();
      const report = await toolbarContrast(dark.page);
      fs.mkdirSync(SHOT_DIRS[0], { recursive: true });
      // Only in test-artifacts: docs/screenshots/send-dialog-dark.png comes from Node-RED 5 (dark-theme.test.ts).
      await dark.page.screenshot({ path: path.join(SHOT_DIRS[0], 'send-dialog-dark-node-red-4.png') });
      assert.ok(report.marks >= 10, `toolbar marks found: ${report.marks}`);
      assert.ok(report.weakest.ratio >= 4.5, `WCAG AA needs 4.5:1 for the toolbar's icons: ${JSON.stringify(report)}`);
      assert.ok(report.editorText.ratio >= 4.5, `text in the editor area: ${JSON.stringify(report.editorText)}`);
      await dark.page.locator('#node-dialog-cancel').click();
      await dark.page.locator('#smtp-html-editor').waitFor({ state: 'detached' });
    } finally {
      await dark.close();
    }
  });
});
