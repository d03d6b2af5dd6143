// The connection dialog and the deploy agree on every number, at both ends of its range: a value
// the dialog marks red is one a deploy refuses with ECONFIG, and a value it takes is one the
// deploy takes. Both sides are the real ones: the dialog in headless Chromium, and a full deploy
// to the Node-RED that serves it, with the package installed from its packed tarball.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { buildIfNeeded, installIntoUserDir } from '../../scripts/install-package';
import { CONNECTION_FIELDS, NUMBER_FIELD_NAMES, type NumberFieldName } from '../../src/shared/connection-fields';
import { assertNoPageErrors, launchEditor, type LaunchedBrowser } from '../support/browser';
import { startNodeRed, type FlowNode, type NodeRedProcess } from '../support/node-red-process';

/** A value typed into a field, and whether it lies in the field's range. */
interface Probe {
  field: NumberFieldName;
  value: string;
  inRange: boolean;
}

/** min − 1, min, max and max + 1 of every number field, as the dialog saves them: text. */
const PROBES: Probe[] = NUMBER_FIELD_NAMES.flatMap((field) => {
  const { min, max } = CONNECTION_FIELDS[field];
  return [
    { field, value: String(min - 1), inRange: false },
    { field, value: String(min), inRange: true },
    { field, value: String(max), inRange: true },
    { field, value: String(max + 1), inRange: false },
  ];
});

/** The config node's name in the log: `[smtp-oauth-config:<name>]`. */
const nameOf = (p: Probe) => `${p.field}=${p.value}`;

/** Types each probe into the open connection dialog, as a user does, and reads whether the field turns red. */
async function markedInDialog(page: Page): Promise<Map<string, boolean>> {
  const marked = new Map<string, boolean>();
  for (const probe of PROBES) {
    const input = page.locator(`#node-config-input-${probe.field}`);
    await input.fill(probe.value);
    // Node-RED validates the dialog on change (what leaving the field fires), keyup and paste.
    await input.dispatchEvent('change');
    marked.set(nameOf(probe), /\binput-error\b/.test((await input.getAttribute('class')) ?? ''));
  }
  return marked;
}

describe('connection fields: the dialog and the deploy agree on every range (Chromium)', function () {
  this.timeout(60000);
  let userDir: string;
  let red: NodeRedProcess;
  let browser: LaunchedBrowser;
  const pageErrors: Error[] = [];

  before(async function () {
    this.timeout(240000);
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-fields-'));
    buildIfNeeded();
    installIntoUserDir(userDir);
    red = await startNodeRed(userDir);
    browser = await launchEditor(`${red.url}/`, pageErrors);
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (red) await red.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  it('marks in the dialog exactly the values below the minimum or above the maximum that a deploy refuses', async () => {
    const { page } = browser;
    // A send node's dialog, then its "+" for a new connection, as a user adds one.
    await page.evaluate(() => {
      const id = RED.nodes.id();
      RED.nodes.import([{ id, type: 'send-smtp-email', z: RED.workspaces.active(), x: 300, y: 200, wires: [] }]);
      RED.editor.edit(RED.nodes.node(id));
    });
    await page.locator('#node-input-btn-connection-add').click();
    await page.locator('#node-config-input-host').fill('127.0.0.1');
    await page.locator('#smtp-config-advanced-toggle').click();
    const marked = await markedInDialog(page);
    // Clicked as events: a notification the editor shows meanwhile (under load, a slow one) may lie over the buttons.
    await page.locator('#node-config-dialog-cancel').dispatchEvent('click');
    await page.locator('#node-config-input-host').waitFor({ state: 'detached' });
    await page.locator('#node-dialog-cancel').dispatchEvent('click');

    // One full deploy with a connection per probe; a connection the runtime refuses logs why.
    const nodes: FlowNode[] = PROBES.map((probe, i) => ({
      id: `probe${i}`,
      type: 'smtp-oauth-config',
      name: nameOf(probe),
      host: '127.0.0.1',
      outbox: 'memory',
      [probe.field]: probe.value,
    }));
    const log = await red.deploy(nodes);
    const refused = new Map(PROBES.map((p) => [nameOf(p), log.includes(`[smtp-oauth-config:${nameOf(p)}]`)]));
    for (const probe of PROBES.filter((p) => refused.get(nameOf(p)))) {
      const line = log.split('\n').find((l) => l.includes(`[smtp-oauth-config:${nameOf(probe)}]`))!;
      const { min, max } = CONNECTION_FIELDS[probe.field];
      assert.match(line, new RegExp(`from ${min} to ${max}`), `the deploy says the range: ${line}`);
    }

    const expected = new Map(PROBES.map((p) => [nameOf(p), !p.inRange]));
    assert.deepEqual(marked, expected, 'values the dialog marks red');
    assert.deepEqual(refused, expected, 'values the deploy refuses');
  });
});
