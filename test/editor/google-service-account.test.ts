// The connection dialog for a Google service account, in the real Node-RED editor in headless
// Chromium, with the package installed from its packed tarball: Gmail offers the method with its
// three admin steps; the key row, pasted or chosen as a file, shows the account and its client ID
// parsed in the browser and never the key; Test connection against a Google-shaped token endpoint
// and an SMTP server on loopback; the deployed flow holds no key, the credentials hold it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
import { assertNoPageErrors, addConnectionDialog, saveAndDeploy, launchEditor, type LaunchedBrowser } from '../support/browser';
import { startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';
import { startGoogleTokenEndpoint, type GoogleTokenEndpoint, type ServiceAccount } from '../support/google-token';
import { startSmtp, type SmtpServer } from '../support/smtp';

const MAILBOX = 'sales@example.org';
/** The rows of the Authentication part by the credential or setting they hold. */
const AUTH_ROWS = ['user', 'password', 'clientId', 'clientSecret', 'tokenUrl', 'clientAuth', 'transport', 'serviceAccountKey', 'scope'];

async function shownRows(page: Page, names: string[]): Promise<string[]> {
  const shown: string[] = [];
  for (const name of names) if (await page.locator(`.form-row:has(#node-config-input-${name})`).first().isVisible()) shown.push(name);
  return shown;
}

describe('connection dialog: Google service account (Chromium)', function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let browser: LaunchedBrowser;
  let page: Page;
  let dir: string;
  let google: GoogleTokenEndpoint;
  let smtp: SmtpServer;
  let account: ServiceAccount;
  let configId: string;
  const pageErrors: Error[] = [];
  /** Every body the page posted to Test connection. */
  const tests: string[] = [];

  before(async function () {
    this.timeout(240000);
    google = await startGoogleTokenEndpoint();
    account = google.createAccount('node-red-mailer');
    google.users.add(MAILBOX);
    google.delegate(account.clientId, ['https://mail.google.com/']);
    smtp = await startSmtp({ tokens: (user, token) => google.acceptsForGmail(user, token) || 'reject' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-google-editor-'));
    fs.writeFileSync(path.join(dir, 'project-1-0a1b2c3d4e5f.json'), account.keyJson);
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors, { locale: 'en-US' });
    page = browser.page;
    page.on('request', (r: Request) => {
      if (r.url().endsWith('/smtp-oauth-config/test')) tests.push(r.postData() ?? '');
    });
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
    if (smtp) await smtp.close();
    if (google) await google.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  it("offers the method with Gmail, and shows the key row, the mailbox and Gmail's scope for it", async () => {
    await addConnectionDialog(page);
    const tip = page.locator('#smtp-config-google-tip');
    assert.equal(await tip.isVisible(), false);
    await page.locator('#node-config-input-service').selectOption('Gmail');
    assert.equal(await page.locator('#node-config-input-host').inputValue(), 'smtp.gmail.com');
    assert.ok(await tip.isVisible(), 'Gmail shows the tip');
    const steps = await tip.innerText();
    for (const step of [
      /Cloud console: create a service account and a JSON key/,
      /Domain-wide delegation: add the account's client ID with the scope https:\/\/mail\.google\.com\//,
      /Method Google service account, paste the key/,
    ])
      assert.match(steps, step);
    const methods = await page
      .locator('#node-config-input-authType option')
      .evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(methods[2], ['google-service-account', 'Google service account']);

    await page.locator('#node-config-input-authType').selectOption('google-service-account');
    assert.deepEqual(await shownRows(page, AUTH_ROWS), ['user', 'serviceAccountKey', 'scope']);
    assert.equal(await page.locator('#smtp-config-user-label').innerText(), 'Mailbox');
    assert.match(await page.locator('#smtp-config-user-hint').innerText(), /mailbox to send as/);
    assert.equal(await page.locator('#node-config-input-scope').getAttribute('placeholder'), 'https://mail.google.com/');
    assert.equal(await page.locator('#node-config-input-serviceAccountKey').getAttribute('type'), 'password');
    assert.equal(await page.locator('#smtp-config-service-account-info').isVisible(), false, 'nothing to say without a key');
  });

  it('shows client_email and client_id of a pasted key, a short message for what is no key, and reads a chosen file', async () => {
    const key = page.locator('#node-config-input-serviceAccountKey');
    const info = page.locator('#smtp-config-service-account-info');
    await key.fill(account.keyJson);
    assert.ok(!(await key.inputValue()).includes('\n'), 'the password field dropped the line breaks');
    await info.locator('.smtp-sa-client-id').waitFor();
    assert.equal(await info.locator('.smtp-sa-client-email code').innerText(), account.clientEmail);
    assert.equal(await info.locator('.smtp-sa-client-id code').innerText(), account.clientId);
    assert.doesNotMatch(await page.locator('.smtp-config-dialog').innerText(), /PRIVATE KEY|private_key_id/);

    await key.fill('{"installed": {"client_id": "x"}}');
    await page.waitForFunction(() => /not a service account's key/.test($('#smtp-config-service-account-info').text()));
    await key.fill('-----BEGIN PRIVATE KEY-----');
    await page.waitForFunction(() => /not the content of a JSON key file/.test($('#smtp-config-service-account-info').text()));

    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.locator('#smtp-config-serviceAccountKey-file').click()]);
    assert.equal(await page.locator('#smtp-config-serviceAccountKey-input').getAttribute('accept'), '.json,application/json');
    await chooser.setFiles(path.join(dir, 'project-1-0a1b2c3d4e5f.json'));
    await info.locator('.smtp-sa-client-email', { hasText: account.clientEmail }).waitFor();
    assert.deepEqual(JSON.parse(await key.inputValue()), JSON.parse(account.keyJson), 'the whole key file');
  });

  it('Test connection sends the mailbox and the key, and signs in through the token endpoint', async () => {
    // The SMTP server on this machine instead of Gmail's.
    await page.locator('#node-config-input-service').selectOption('');
    await page.locator('#node-config-input-host').fill('127.0.0.1');
    await page.locator('#node-config-input-port').fill(String(smtp.port));
    await page.locator('#node-config-input-security').selectOption('none');
    await page.locator('#node-config-input-user').fill(MAILBOX);
    await page.locator('#smtp-config-test').click();
    await page.locator('#smtp-config-test-result.smtp-ok').waitFor();
    const body = JSON.parse(tests.at(-1)!);
    assert.deepEqual(Object.keys(body.credentials).sort(), ['serviceAccountKey', 'user']);
    assert.equal(body.authType, 'google-service-account');
    assert.deepEqual(
      smtp.authAttempts.map((a) => [a.method, a.username]),
      [['XOAUTH2', MAILBOX]],
    );
    assert.equal(google.requests.length, 1);
  });

  it('deploys: the flow holds no key, the credentials hold it, and the reopened dialog names the account', async () => {
    const text = await saveAndDeploy(page, nr.url);
    assert.doesNotMatch(text, /PRIVATE KEY|service_account|private_key/, 'no key file in the flow');
    assert.ok(!text.includes(account.privateKeyId));
    const config = (JSON.parse(text) as { flows: Record<string, unknown>[] }).flows.find((n) => n.type === 'smtp-oauth-config')!;
    configId = String(config.id);
    assert.equal(config.authType, 'google-service-account');
    const onDisk = fs.readFileSync(path.join(nr.userDir, 'flows.json'), 'utf8');
    assert.doesNotMatch(onDisk, /PRIVATE KEY|service_account/, 'nor in the flow file');

    // The editor gets only word of the key; the runtime holds it (and reads the account from it).
    const creds = (await (await fetch(`${nr.url}credentials/smtp-oauth-config/${configId}`)).json()) as Record<string, unknown>;
    assert.equal(creds.has_serviceAccountKey, true);
    assert.equal(creds.user, MAILBOX);
    assert.ok(!JSON.stringify(creds).includes('PRIVATE KEY'));
    const held = await (await fetch(`${nr.url}smtp-oauth-config/service-account/${configId}`)).json();
    assert.deepEqual(held, { clientEmail: account.clientEmail, clientId: account.clientId });
    assert.doesNotMatch(fs.readFileSync(path.join(nr.userDir, 'flows_cred.json'), 'utf8'), /PRIVATE KEY|service_account/, 'encrypted');

    // The deploy's notification lies over the dialog's buttons until it fades.
    await page.locator('#red-ui-notifications .red-ui-notification').first().waitFor({ state: 'detached', timeout: 15000 });
    await page.evaluate((id) => RED.editor.editConfig('', 'smtp-oauth-config', id, 'node-input'), configId);
    const info = page.locator('#smtp-config-service-account-info');
    await info.locator('.smtp-sa-client-email', { hasText: account.clientEmail }).waitFor();
    assert.equal(await info.locator('.smtp-sa-client-id code').innerText(), account.clientId);
    assert.equal(await page.locator('#node-config-input-serviceAccountKey').inputValue(), '__PWRD__');
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-input-service').waitFor({ state: 'detached' });
  });
});
