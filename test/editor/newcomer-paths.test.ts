// A newcomer's error paths in the real editor (issue 18): what Test connection says when the
// server refuses a field, inline images through both content modes and a send, a missing sender
// flagged before deploy, readable failures in the debug sidebar, and a preview's own status.
// Screenshots go to test-artifacts/screenshots/newcomer-*.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { assertNoPageErrors, launchEditor, type LaunchedBrowser } from '../support/browser';
import { startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';
import { startSmtp } from '../support/smtp';

const ROOT = path.join(__dirname, '..', '..');
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

/** A node of a flow file. */
type FlowNode = Record<string, unknown> & { id: string; type: string };

/** Example 09 as Import brings it, its local connection pointed at the test server. */
function example09(port: number): FlowNode[] {
  const file = path.join(ROOT, 'examples', '09 - Inline image and preview.json');
  const nodes = JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[];
  for (const n of nodes) if (n.type === 'smtp-oauth-config') n.port = String(port);
  return nodes;
}
const idOf = (nodes: FlowNode[], name: string) => nodes.find((n) => n.name === name)!.id;

async function shoot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name) });
}

describe("a newcomer's error paths in the editor (Chromium)", function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let browser: LaunchedBrowser;
  let page: Page;
  const pageErrors: Error[] = [];
  let flow: FlowNode[];

  before(async function () {
    this.timeout(240000);
    smtp = await startSmtp({ auth: false });
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors);
    page = browser.page;
    flow = example09(smtp.port);
    await page.evaluate((nodes) => {
      RED.view.importNodes(nodes, { addFlow: true, touchImport: true, generateIds: false, notify: false });
      // As the Import dialog does after it imported: the workspace now differs from what is deployed.
      RED.nodes.dirty(true);
    }, flow);
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
    if (smtp) await smtp.close();
  });

  afterEach(async function () {
    if (this.currentTest!.state === 'failed' && page)
      await shoot(page, `failed-newcomer-${this.currentTest!.title.replace(/\W+/g, '-').slice(0, 50)}.png`);
    assertNoPageErrors(pageErrors);
  });

  const canvasNode = (id: string) => page.locator(`g.red-ui-flow-node-group[id="${id}"]`);
  async function openDialog(id: string) {
    await canvasNode(id).locator('rect.red-ui-flow-node').dblclick();
    await page.locator('#smtp-html-editor[data-editor]').waitFor();
  }
  async function saveDialog() {
    await page.locator('#node-dialog-ok').click();
    await page.locator('#smtp-html-editor').waitFor({ state: 'detached' });
  }
  async function deploy() {
    const from = nr.output().length;
    // A busy machine (two cores, other test runs) can take longer than the default 10 s to deploy.
    const deployed = page.waitForResponse((r) => r.url().endsWith('/flows') && r.request().method() === 'POST', { timeout: 30000 });
    await page.locator('#red-ui-header-button-deploy').click();
    // Nodes that are not properly configured make the editor ask first.
    const confirm = page.locator('#red-ui-notification-dialog .primary, .red-ui-notification .primary');
    await Promise.race([
      deployed,
      confirm
        .first()
        .waitFor()
        .then(() => confirm.first().click()),
    ]);
    assert.equal((await deployed).status(), 200);
    await nr.waitForOutput(/Started (modified )?flows/, from);
  }
  /** Clicks the button of an inject node, as the user does. */
  async function inject(id: string) {
    const injected = page.waitForResponse((r) => r.url().endsWith(`/inject/${id}`));
    await canvasNode(id).locator('.red-ui-flow-node-button').click();
    assert.equal((await injected).status(), 200);
  }

  it('keeps the inline image of example 09 through rich text and HTML source, and sends it (item 2)', async function () {
    const send = idOf(flow, 'send with logo');
    await openDialog(send);
    // It opens as rich text: nothing in it is lost there any more.
    assert.equal(await page.locator('#smtp-html-editor').getAttribute('data-editor'), 'rich');
    assert.equal(await page.locator('#smtp-html-editor.smtp-source-view').count(), 0);
    const rich = page.locator('#smtp-html-rich .ql-editor');
    assert.equal(await rich.locator('img').getAttribute('src'), 'cid:logo');
    assert.equal(await rich.locator('img').getAttribute('alt'), 'logo');
    await shoot(page, 'newcomer-inline-image-rich.png');

    // To HTML source and back, with an edit in each.
    await page.locator('#smtp-html-toolbar .ql-source').click();
    const source = page.locator('#smtp-html-source');
    assert.match(await source.inputValue(), /<img src="cid:logo" alt="logo">/);
    await source.fill((await source.inputValue()).replace('Daily report', 'Weekly report'));
    await page.locator('#smtp-html-toolbar .ql-source').click();
    assert.equal(await page.locator('#smtp-html-editor.smtp-source-view').count(), 0, 'back in rich text');
    assert.equal(await page.locator('#smtp-html-notice').isVisible(), false);
    assert.equal(await rich.locator('img').getAttribute('src'), 'cid:logo');
    await rich.locator('p').click();
    await page.keyboard.press('End');
    await page.keyboard.type(' (edited)');
    await saveDialog();
    const html = await page.evaluate((id) => RED.nodes.node(id).html as string, send);
    assert.equal(html, '<p><img src="cid:logo" alt="logo"> Weekly report of {{payload}} (edited)</p>');

    // An image the rich editor cannot keep: the dialog stays in HTML and says why.
    await openDialog(send);
    await page.locator('#smtp-html-toolbar .ql-source').click();
    const kept = html.replace('cid:logo', 'ftp://example.com/logo.png');
    await source.fill(kept);
    await page.locator('#smtp-html-toolbar .ql-source').click();
    assert.equal(await page.locator('#smtp-html-editor.smtp-source-view').count(), 1, 'still HTML source');
    assert.match(await page.locator('#smtp-html-notice').innerText(), /cannot keep these images.*ftp:\/\/example\.com\/logo\.png/s);
    assert.equal(await source.inputValue(), kept);
    await shoot(page, 'newcomer-inline-image-refused.png');
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#smtp-html-editor').waitFor({ state: 'detached' });

    await deploy();
    await inject(idOf(flow, 'inline image'));
    const [mail] = await smtp.waitForMessages(1);
    assert.match(mail.raw, /src=3D"cid:logo"|src="cid:logo"/);
    assert.match(mail.parsed.html, /Weekly report of \d{1,2} [A-Z][a-z]+ \d{4} \(edited\)/);
    assert.equal(mail.parsed.attachments[0].contentId, '<logo>');
    assert.doesNotMatch(nr.output(), /cid:logo.*(no attachment|not found)/i, 'no missing-cid warning');
  });

  it('shows a preview as "preview built" in grey, never as sent (item 5)', async function () {
    const preview = idOf(flow, 'preview only');
    await inject(idOf(flow, 'preview'));
    const label = canvasNode(preview).locator('.red-ui-flow-node-status-label');
    await page.waitForFunction((id) => RED.nodes.node(id).status?.text === 'preview built', preview);
    assert.equal(await label.textContent(), 'preview built');
    const shape = (await canvasNode(preview).locator('.red-ui-flow-node-status').getAttribute('class')) ?? '';
    assert.match(shape, /red-ui-flow-node-status-dot-grey/);
    await canvasNode(preview).scrollIntoViewIfNeeded();
    await shoot(page, 'newcomer-preview-status.png');
  });

  /** Adds nodes to the tab on show, with the defaults of their types (what a drag from the palette gives). */
  async function add(nodes: FlowNode[]) {
    await page.evaluate((list) => {
      const z = RED.workspaces.active();
      RED.view.importNodes(
        list.map((n) => ({ ...n, z })),
        { generateIds: false, notify: false, touchImport: true, applyNodeDefaults: true },
      );
      RED.nodes.dirty(true);
    }, nodes);
  }

  it('flags a missing sender before deploy: a warning triangle, and a line under Connection that leads to Custom From (item 3)', async function () {
    const connection = flow.find((n) => n.type === 'smtp-oauth-config')!.id;
    const id = 'e18a000000000001';
    // A new send node on the example's connection: Method None, so no user to send as.
    await add([
      { id, type: 'send-smtp-email', name: 'no sender', connection, to: 'someone@example.com', subject: 'Hi', x: 330, y: 300, wires: [] },
    ]);
    const state = () => page.evaluate((n) => ({ valid: RED.nodes.node(n).valid, errors: RED.nodes.node(n).validationErrors }), id);
    assert.deepEqual(await state(), { valid: false, errors: ['from'] });
    // The canvas draws the triangle on its next animation frame, not during the import: waited for
    // (a busy machine's frame can come after the check above), not read at once.
    const triangle = canvasNode(id).locator('.red-ui-flow-node-error');
    await triangle.waitFor({ state: 'visible', timeout: 10000 }).catch(() => undefined);
    assert.ok(await triangle.isVisible(), 'the warning triangle');

    await openDialog(id);
    const warning = page.locator('#smtp-send-no-sender');
    await warning.waitFor();
    assert.match(await warning.innerText(), /No sender: Custom From is empty, and this connection's user is not an email address/);
    assert.equal(await page.locator('#node-input-from').isVisible(), false, 'Custom From is under the closed Advanced');
    await shoot(page, 'newcomer-no-sender.png');
    await page.locator('#smtp-send-no-sender-fix').click();
    const from = page.locator('.form-row:has(#node-input-from) input.red-ui-typedInput-input');
    await from.waitFor();
    assert.ok(await from.evaluate((e) => e === document.activeElement), 'Custom From has the focus');
    await from.fill('Node-RED <node-red@example.com>');
    await from.press('Tab');
    await warning.waitFor({ state: 'hidden' });
    await saveDialog();
    assert.deepEqual(await state(), { valid: true, errors: [] });
  });

  it('shows failures in the debug sidebar: a caught one as its line of text without "Error: ", an uncaught one as its whole line above the error object (item 3)', async function () {
    const connection = flow.find((n) => n.type === 'smtp-oauth-config')!.id;
    const send = (id: string, name: string, y: number, wires: string[][]) => ({
      id,
      type: 'send-smtp-email',
      name,
      connection,
      to: 'not-an-address',
      from: 'Node-RED <node-red@example.com>',
      subject: 'Hi',
      x: 330,
      y,
      wires,
    });
    const trigger = (id: string, name: string, y: number, to: string) => ({ id, type: 'inject', name, x: 130, y, wires: [[to]] });
    await add([
      trigger('e18b000000000001', 'uncaught', 380, 'e18b000000000002'),
      send('e18b000000000002', 'fails uncaught', 380, []),
      trigger('e18b000000000003', 'caught', 440, 'e18b000000000004'),
      send('e18b000000000004', 'fails caught', 440, []),
      { id: 'e18b000000000005', type: 'catch', scope: ['e18b000000000004'], x: 130, y: 500, wires: [['e18b000000000006']] },
      {
        id: 'e18b000000000006',
        type: 'debug',
        name: 'caught error',
        complete: 'error.message',
        targetType: 'msg',
        x: 330,
        y: 500,
        wires: [],
      },
    ]);
    await deploy();
    await page.evaluate(() => RED.sidebar.show('debug'));
    await page.locator('#red-ui-sidebar-debug-clear').click();
    const messages = page.locator('#red-ui-sidebar-content .red-ui-debug-msg');
    await messages.first().waitFor({ state: 'detached' });
    await inject('e18b000000000001');
    await messages.nth(0).waitFor();
    await inject('e18b000000000003');
    await messages.nth(1).waitFor();
    await shoot(page, 'newcomer-debug-sidebar.png');
    const [uncaught, caught] = await messages.locator('.red-ui-debug-msg-payload').allInnerTexts();
    const line =
      'To has an invalid address: "not-an-address". Write each To address as name@example.com or Name <name@example.com>, separated by commas.';
    // Caught: the line a Catch node gets, as the result stores it: no "Error: " before it.
    assert.match(caught, /^"To has an invalid address: "not-an-address"\. Write each To address/);
    // Not caught: Node-RED's error object (code, stack), and above it the whole line, not cut off.
    assert.deepEqual(await messages.nth(0).locator('.smtp-debug-line').allInnerTexts(), [line]);
    assert.match(uncaught, /code: "EINPUT"/);
    assert.equal(await messages.nth(1).locator('.smtp-debug-line').count(), 0, "a debug node's own output is left as it is");
    await page.waitForFunction(() => RED.nodes.node('e18b000000000002').status?.text === 'EINPUT');
  });

  it('answers Test connection in the editor\'s language: German refusal with the section, Method None without "angemeldet", the service list in German (items 1, 6)', async function () {
    const german = await launchEditor(nr.url, pageErrors, { locale: 'de' });
    try {
      const p = german.page;
      const send = idOf(flow, 'send with logo');
      // The deployed flows arrive after the palette.
      await p.waitForFunction((id) => !!RED.nodes.node(id), send);
      await p.evaluate((id) => RED.workspaces.show(RED.nodes.node(id).z), send);
      await p.locator(`g.red-ui-flow-node-group[id="${send}"] rect.red-ui-flow-node`).dblclick();
      await p.locator('#smtp-html-editor[data-editor]').waitFor();
      await p.locator('#node-input-lookup-connection, #node-input-btn-connection-edit').first().click();
      await p.locator('#node-config-input-service[data-loaded="true"]').waitFor();
      // The service list in German: the kind of provider and the region said in German, sorted as German sorts.
      const options = await p
        .locator('#node-config-input-service option')
        .evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent!] as const));
      const services = new Map(options);
      assert.equal(services.get('SES-AP-NORTHEAST-1'), 'AWS SES Asien-Pazifik (Tokyo)');
      assert.equal(services.get('1und1'), '1&1 Mail (deutscher Hosting-Anbieter)');
      assert.equal(services.get('Ethereal'), 'Ethereal Email (Dienst zum Testen von E-Mails)');
      const names = options.slice(1).map(([, name]) => name);
      assert.deepEqual(
        names,
        [...names].sort((a, b) => a.localeCompare(b, 'de', { sensitivity: 'base' })),
      );

      const result = p.locator('#smtp-config-test-result');
      const test = async () => {
        const answered = p.waitForResponse((r) => r.url().endsWith('/smtp-oauth-config/test'));
        await p.locator('#smtp-config-test').click();
        await answered;
        await p.locator('#smtp-config-test-result.smtp-ok, #smtp-config-test-result.smtp-fail').waitFor();
        return result.innerText();
      };
      // Method None: connected, and it says that nobody signed in.
      const ok = await test();
      assert.match(ok.trim(), /^Verbunden: Der Server antwortet und nimmt Mail ohne Anmeldung an/);
      assert.doesNotMatch(ok, /angemeldet/);
      await p.locator('#node-config-input-port').fill('${NICHT_GESETZT}');
      const refused = await test();
      assert.match(refused, /ECONFIG/);
      assert.match(refused, /„Port“/);
      assert.match(refused, /unter „Server“/);
      assert.doesNotMatch(refused, /HTTP 400/);
      await result.scrollIntoViewIfNeeded();
      await shoot(p, 'newcomer-test-connection-de.png');
      await p.locator('#node-config-dialog-cancel').click();
      await p.locator('#node-dialog-cancel').click();
    } finally {
      await german.close();
    }
  });
});
