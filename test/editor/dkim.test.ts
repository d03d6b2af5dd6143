// The connection dialog's DKIM part in the real Node-RED editor in headless Chromium, with the
// package installed from its packed tarball: a pasted key shows the DNS TXT record to publish (as
// openssl computes it) with its copy buttons; a key that cannot sign is refused in the dialog; the
// deployed flow holds domain and selector, never the key; reopened, the record comes from the stored key.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertNoPageErrors, addConnectionDialog, saveAndDeploy, launchEditor, type LaunchedBrowser } from '../support/browser';
import { opensslKey, opensslRecord } from '../support/dkim';
import { startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';

const key = opensslKey('rsa', 2048);
const ed25519 = opensslKey('ed25519');
/** A line of a key's base64: none may be in the flow, nor in what the editor gets back. */
const keyLine = (pem: string) => pem.split('\n')[1];

describe('connection dialog: DKIM (Chromium)', function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let browser: LaunchedBrowser;
  let page: Page;
  const pageErrors: Error[] = [];
  let configId: string;

  before(async function () {
    this.timeout(240000);
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors, { locale: 'en-US' });
    page = browser.page;
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  const record = () => page.locator('#smtp-config-dkim-record');

  it('shows the TXT record of a pasted key, with copy buttons that copy name and value', async () => {
    await addConnectionDialog(page);
    assert.equal(await record().isVisible(), false, 'no key, no record');
    await page.locator('#node-config-input-host').fill('relay.example.com');
    // The sender: the send node needs one to be valid.
    await page.locator('#node-config-input-user').fill('sender@example.com');
    await page.locator('#node-config-input-dkimDomain').fill('example.com');
    await page.locator('#node-config-input-dkimSelector').fill('s2026');
    // Pasted into the password field, which drops the line breaks: the stored key gets them back.
    await page.locator('#smtp-config-dkimPrivateKey').fill(key);
    await record().locator('.smtp-dkim-value code').waitFor();
    assert.equal(await record().locator('.smtp-dkim-name code').innerText(), 's2026._domainkey.example.com');
    assert.equal(await record().locator('.smtp-dkim-value code').innerText(), opensslRecord(key));
    assert.equal(await page.locator('#node-config-input-dkimPrivateKey').inputValue(), key.trim() + '\n');

    // The name follows domain and selector as they are typed.
    await page.locator('#node-config-input-dkimSelector').fill('mail');
    assert.equal(await record().locator('.smtp-dkim-name code').innerText(), 'mail._domainkey.example.com');

    const copied = await page.evaluate(async () => {
      const texts: string[] = [];
      const clipboard = RED.clipboard as unknown as { copyText: (value: string, ...rest: unknown[]) => boolean };
      const copy = clipboard.copyText;
      clipboard.copyText = (value: string, ...rest: unknown[]) => {
        texts.push(value);
        return copy.call(clipboard, value, ...rest);
      };
      for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#smtp-config-dkim-record .smtp-dkim-copy'))) b.click();
      clipboard.copyText = copy;
      return texts;
    });
    assert.deepEqual(copied, ['mail._domainkey.example.com', opensslRecord(key)]);

    // An Ed25519 key: its own record, and a word on who verifies it.
    await page.locator('#smtp-config-dkimPrivateKey').fill(ed25519);
    await record().locator('.smtp-dkim-ed25519').waitFor();
    assert.equal(await record().locator('.smtp-dkim-value code').innerText(), opensslRecord(ed25519));
  });

  it('refuses a key that cannot sign, in the dialog, with what to do', async () => {
    await page.locator('#smtp-config-dkimPrivateKey').fill('not a key');
    await record().locator('.smtp-dkim-refused').waitFor();
    assert.match(await record().innerText(), /not a PEM private key[\s\S]*openssl genpkey/);
    assert.equal(await record().locator('.smtp-dkim-value').count(), 0);
    await page.locator('#smtp-config-dkimPrivateKey').fill(opensslKey('rsa', 768));
    await record().filter({ hasText: '768 bits' }).waitFor();
    assert.match(await record().innerText(), /2048/);
    await page.locator('#smtp-config-dkimPrivateKey').fill(key);
    await record().locator('.smtp-dkim-value code').waitFor();
  });

  it('deploys domain and selector in the flow, and the key only as a credential the editor never gets back', async () => {
    const text = await saveAndDeploy(page, nr.url);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.ok(!text.includes(keyLine(key)), 'no line of the key in the flow');
    const config = (JSON.parse(text) as { flows: Record<string, unknown>[] }).flows.find((n) => n.type === 'smtp-oauth-config')!;
    configId = String(config.id);
    assert.equal(config.dkimDomain, 'example.com');
    assert.equal(config.dkimSelector, 'mail');
    const creds = (await (await fetch(`${nr.url}credentials/smtp-oauth-config/${configId}`)).json()) as Record<string, unknown>;
    assert.equal(creds.has_dkimPrivateKey, true);
    assert.ok(!JSON.stringify(creds).includes(keyLine(key)));
  });

  it('reopened, shows the record of the stored key, derived by the runtime', async () => {
    await page.evaluate((id) => RED.editor.editConfig('', 'smtp-oauth-config', id, 'node-input'), configId);
    await record().locator('.smtp-dkim-value code').waitFor();
    assert.equal(await page.locator('#node-config-input-dkimPrivateKey').inputValue(), '__PWRD__');
    assert.equal(await record().locator('.smtp-dkim-value code').innerText(), opensslRecord(key));
    assert.equal(await record().locator('.smtp-dkim-name code').innerText(), 'mail._domainkey.example.com');
    assert.match(await record().innerText(), /From the stored key/);
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-input-service').waitFor({ state: 'detached' });
  });
});
