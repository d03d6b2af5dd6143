// The send dialog in Node-RED 5's dark theme, as a user turns it on (User Settings > View:
// localStorage 'view-dark-theme' = 'dark'), on Node-RED 5 and Node 22 from the npm registry
// (test/support/node-red-5.ts). Quill's snow theme draws its toolbar icons #444 (1.8:1 on the dark
// background): every mark of the toolbar must reach WCAG AA, 4.5:1, in the dark and in the light
// theme. The dark screenshot goes to test-artifacts/screenshots/, and with UPDATE_SCREENSHOTS=1
// to docs/screenshots/send-dialog-dark.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { buildIfNeeded, installIntoUserDir } from '../../scripts/install-package';
import { ensureNodeRed5, type NodeRed5 } from '../support/node-red-5';
import { startNodeRed } from '../support/node-red-process';
import { assertNoPageErrors, launch, openEditor } from '../support/browser';
import { preferDarkTheme, toolbarContrast } from '../support/dark-theme';

const ROOT = path.join(__dirname, '..', '..');
const SHOT_DIRS = [path.join(ROOT, 'test-artifacts', 'screenshots')].concat(
  process.env.UPDATE_SCREENSHOTS ? [path.join(ROOT, 'docs', 'screenshots')] : [],
);
const IDS = { tab: 'da0000000000000a', connection: 'da0000000000000b', send: 'da0000000000000c' };

/** A send node with rich content (a heading, bold, a list) and its connection. */
const FLOW = [
  { id: IDS.tab, type: 'tab', label: 'Dark theme' },
  // Every property the dialog checks, so that nothing is marked invalid in the screenshot.
  {
    id: IDS.connection,
    type: 'smtp-oauth-config',
    name: 'Loopback',
    service: '',
    host: '127.0.0.1',
    port: '2525',
    security: 'none',
    rejectUnauthorized: true,
    authType: 'none',
    maxConnections: 5,
    rateLimitPerMinute: 0,
    timeout: 30,
    retryForSeconds: 600,
    maxAttachmentMB: 25,
  },
  {
    id: IDS.send,
    type: 'send-smtp-email',
    z: IDS.tab,
    name: 'monthly report',
    connection: IDS.connection,
    to: 'ada@example.com',
    toType: 'str',
    // The connection has Method None, so no user to send as: without a From the dialog flags the node.
    from: 'Node-RED <node-red@example.com>',
    fromType: 'str',
    subject: 'Report for {{payload.name}}',
    subjectType: 'str',
    html: '<h2>Monthly report</h2><p>Hello {{payload.name}}, this is <strong>important</strong>:</p><ul><li>first point</li><li>second point</li></ul><p>Details follow.</p>',
    htmlType: 'str',
    x: 200,
    y: 80,
    wires: [[]],
  },
];

/** What the test reads of a node in the editor page (RED.nodes). */
interface EditorNode {
  type: string;
  valid: boolean;
  validationErrors?: string[];
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const dir of SHOT_DIRS) fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(SHOT_DIRS[0], name) });
  for (const dir of SHOT_DIRS.slice(1)) fs.copyFileSync(path.join(SHOT_DIRS[0], name), path.join(dir, name));
}

/** Opens the editor (dark or not), then the send node's dialog with its rich-text editor. */
async function openSendDialog(page: Page, url: string, { dark }: { dark: boolean }): Promise<void> {
  if (dark) await preferDarkTheme(page);
  await openEditor(page, url);
  await page.locator(`g.red-ui-flow-node-group[id="${IDS.send}"] rect.red-ui-flow-node`).dblclick();
  await page.locator('#smtp-html-editor[data-editor="rich"]').waitFor();
  await page.locator('#smtp-html-toolbar').scrollIntoViewIfNeeded();
}

describe("the send dialog in Node-RED 5's dark theme (Chromium)", function () {
  this.timeout(60000);
  let nr5: NodeRed5;
  let userDir: string;
  let red: Awaited<ReturnType<typeof startNodeRed>>;
  const pageErrors: Error[] = [];

  before(async function () {
    // First run: Node 22 and Node-RED 5 from the registry (each npm install bounded to 5 min).
    this.timeout(12 * 60 * 1000);
    nr5 = ensureNodeRed5({ log: (line) => console.log(`      ${line}`) });
    const env = { ...process.env, PATH: nr5.nodeBin + path.delimiter + process.env.PATH };
    buildIfNeeded();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-dark-theme-'));
    installIntoUserDir(userDir, { npmCommand: [nr5.node, nr5.npmCli], env });
    red = await startNodeRed(userDir, '', { node: nr5.node, redJs: nr5.redJs, env });
    await red.deploy(FLOW);
  });

  after(async function () {
    if (red) await red.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  it('draws every toolbar icon, the heading picker and the editor text at 4.5:1 or more on the dark background (screenshot)', async function () {
    const browser = await launch();
    try {
      browser.page.on('pageerror', (err) => pageErrors.push(err));
      await openSendDialog(browser.page, red.url, { dark: true });
      const invalid = await browser.page.evaluate(() =>
        RED.nodes
          .filterNodes({})
          .concat(RED.nodes.node('da0000000000000b'))
          .filter((n: EditorNode | undefined) => n && !n.valid)
          .map((n: EditorNode) => `${n.type}: ${n.validationErrors}`),
      );
      assert.deepEqual(invalid, []);
      assert.ok(
        await browser.page.evaluate(() => document.documentElement.classList.contains('nr-theme-dark')),
        `Node-RED ${nr5.versions.nodeRed} turned its dark theme on`,
      );
      // The cursor in the heading: the picker shows "Heading 2" in the active colour.
      await browser.page.locator('#smtp-html-rich .ql-editor h2').click();
      const report = await toolbarContrast(browser.page);
      fs.mkdirSync(SHOT_DIRS[0], { recursive: true });
      fs.writeFileSync(
        path.join(SHOT_DIRS[0], 'send-dialog-dark-contrast.json'),
        `${JSON.stringify({ nodeRed: nr5.versions.nodeRed, ...report }, null, 2)}\n`,
      );
      await shoot(browser.page, 'send-dialog-dark.png');
      assert.ok(report.marks >= 10, `toolbar marks found: ${report.marks}`);
      assert.ok(report.weakest.ratio >= 4.5, `WCAG AA needs 4.5:1 for the toolbar's icons: ${JSON.stringify(report)}`);
      assert.ok(report.editorText.ratio >= 4.5, `text in the editor area: ${JSON.stringify(report.editorText)}`);
    } finally {
      await browser.close();
    }
  });

  it('keeps the same contrast in the light theme', async function () {
    const browser = await launch();
    try {
      browser.page.on('pageerror', (err) => pageErrors.push(err));
      await openSendDialog(browser.page, red.url, { dark: false });
      assert.equal(await browser.page.evaluate(() => document.documentElement.classList.contains('nr-theme-dark')), false);
      await browser.page.locator('#smtp-html-rich .ql-editor h2').click();
      const report = await toolbarContrast(browser.page);
      fs.mkdirSync(SHOT_DIRS[0], { recursive: true });
      fs.writeFileSync(
        path.join(SHOT_DIRS[0], 'send-dialog-light-contrast.json'),
        `${JSON.stringify({ nodeRed: nr5.versions.nodeRed, ...report }, null, 2)}\n`,
      );
      assert.ok(report.weakest.ratio >= 4.5, `WCAG AA needs 4.5:1 for the toolbar's icons: ${JSON.stringify(report)}`);
      assert.ok(report.editorText.ratio >= 4.5, `text in the editor area: ${JSON.stringify(report.editorText)}`);
    } finally {
      await browser.close();
    }
  });
});
