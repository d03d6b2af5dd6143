'use strict';
// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, as every browser test
// launches it: no network of its own, no first-run screens.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches Chromium with a fresh profile. Resolves with { context, page, close() }. */
async function launch({ locale = 'en-US', viewport = { width: 1400, height: 1000 } } = {}) {
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
async function openEditor(page, url) {
  await page.goto(url);
  await page.locator('.red-ui-palette-node[data-palette-type="send-smtp-email"]').waitFor();
}

module.exports = { CHROMIUM, ARGS, launch, openEditor };
