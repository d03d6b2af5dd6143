// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, as every browser test
// launches it: no network of its own, no first-run screens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchOptions {
  locale?: string;
  viewport?: { width: number; height: number };
}

/** A Chromium with its own profile: its context, the page it opened, and close() that also removes the profile. */
export interface LaunchedBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile. Resolves with { context, page, close() }. */
export async function launch({ locale = 'en-US', viewport = { width: 1400, height: 1000 } }: LaunchOptions = {}): Promise<LaunchedBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, viewport, locale });
  context.setDefaultTimeout(10000);
  const page = context.pages()[0] || (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the Node-RED editor at `url` and waits until the palette shows the package's send node. */
export async function openEditor(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('.red-ui-palette-node[data-palette-type="send-smtp-email"]').waitFor();
}

/**
 * Launches Chromium with a fresh profile, collects the errors its page throws into `pageErrors`,
 * and opens the Node-RED editor at `url` (closing the browser again if the editor does not open).
 */
export async function launchEditor(url: string, pageErrors: Error[], options?: LaunchOptions): Promise<LaunchedBrowser> {
  const browser = await launch(options);
  try {
    browser.page.on('pageerror', (err) => pageErrors.push(err));
    await openEditor(browser.page, url);
    return browser;
  } catch (err) {
    await browser.close();
    throw err;
  }
}

/** Asserts that no editor page threw any of the errors collected in `pageErrors`, and empties it for the next test. */
export function assertNoPageErrors(pageErrors: Error[]): void {
  const found = pageErrors.splice(0);
  assert.deepEqual(
    found.map((e) => e.message),
    [],
    'the editor page threw',
  );
}

/** Adds a send node to the flow, opens it, and opens its dialog for a new connection once the service list is loaded. */
export async function addConnectionDialog(page: Page): Promise<void> {
  await page.evaluate(() => {
    const id = RED.nodes.id();
    RED.nodes.import([{ id, type: 'send-smtp-email', z: RED.workspaces.active(), x: 300, y: 200, wires: [], to: 'bob@example.com' }]);
    RED.editor.edit(RED.nodes.node(id));
  });
  await page.locator('#node-input-btn-connection-add').click();
  await page.locator('#node-config-input-service[data-loaded="true"]').waitFor();
}

/**
 * Saves the open connection dialog and the send node's, deploys (the runtime must take it), and
 * resolves with the deployed flows as the admin API of the Node-RED at `url` gives them.
 */
export async function saveAndDeploy(page: Page, url: string): Promise<string> {
  await page.locator('#node-config-dialog-ok').click();
  await page.locator('#node-config-input-service').waitFor({ state: 'detached' });
  await page.locator('#node-dialog-ok').click();
  await page.locator('#node-input-connection').waitFor({ state: 'detached' });
  const deployed = page.waitForResponse((r) => r.url().endsWith('/flows') && r.request().method() === 'POST');
  await page.locator('#red-ui-header-button-deploy').click();
  assert.equal((await deployed).status(), 200);
  await page.locator('#red-ui-header-button-deploy.disabled').waitFor();
  return (await fetch(`${url}flows`, { headers: { 'Node-RED-API-Version': 'v2' } })).text();
}
