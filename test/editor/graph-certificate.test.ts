// The connection dialog for Microsoft Graph and certificate credentials, in the real Node-RED editor
// in headless Chromium, with the package installed from its packed tarball: the rows each method,
// client authentication and transport show; a certificate chosen as a file or pasted, and what the
// dialog says of it (checked against openssl); Microsoft 365's scope with Graph; and the deployed
// flow, which holds the settings but neither the key nor the certificate.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
import { assertNoPageErrors, addConnectionDialog, saveAndDeploy, launchEditor, type LaunchedBrowser } from '../support/browser';
import { clientCertificate, opensslThumbprint, type ClientCertificate } from '../support/certificate';
import { startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';

const M365_SCOPE = 'https://outlook.office365.com/.default';
const MAILBOX = 'sender@contoso.com';
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

/** The rows of the Authentication part by the credential or setting they hold. */
const AUTH_ROWS = ['clientAuth', 'clientSecret', 'clientCertificate', 'clientPrivateKey', 'clientKeyPassphrase', 'transport', 'graphUrl'];
/** The Server part's rows that only SMTP uses. */
const SERVER_ROWS = ['host', 'port', 'security', 'rejectUnauthorized'];

/** Which rows of the dialog are shown, by name. */
async function shownRows(page: Page, names: string[]): Promise<string[]> {
  const shown: string[] = [];
  for (const name of names) {
    const row = page.locator(`.form-row:has(#node-config-input-${name}), .form-row:has(#smtp-config-${name})`).first();
    if (await row.isVisible()) shown.push(name);
  }
  return shown;
}

/** The PEM as one compares it: its lines, without the line ending of the file. */
const pem = (text: string | Buffer) => String(text).trim().replace(/\r\n/g, '\n');

describe('connection dialog: Microsoft Graph and certificate credentials (Chromium)', function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let browser: LaunchedBrowser;
  let page: Page;
  let dir: string;
  const pageErrors: Error[] = [];
  /** Every body the page posted to the certificate endpoint. */
  const certificateRequests: string[] = [];
  let current: ClientCertificate;
  let expiring: ClientCertificate;
  let expired: ClientCertificate;
  let configId: string;

  before(async function () {
    this.timeout(240000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-graph-editor-'));
    current = clientCertificate({ subject: '/CN=node-red-mailer/O=Contoso', days: 400 });
    expiring = clientCertificate({ subject: '/CN=expiring', days: 10 });
    expired = clientCertificate({ subject: '/CN=expired', days: -1 });
    fs.writeFileSync(path.join(dir, 'mailer.crt'), current.cert);
    fs.writeFileSync(path.join(dir, 'mailer.key'), current.key);
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors, { locale: 'en-US' });
    page = browser.page;
    page.on('request', (r: Request) => {
      if (r.url().endsWith('/smtp-oauth-config/certificate')) certificateRequests.push(r.postData() ?? '');
    });
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  it('shows client authentication and transport for client credentials only, and the rows each choice needs', async () => {
    await addConnectionDialog(page);
    const auth = page.locator('#node-config-input-authType');
    const clientAuth = page.locator('#node-config-input-clientAuth');
    const transport = page.locator('#node-config-input-transport');

    assert.deepEqual(await shownRows(page, AUTH_ROWS), [], 'user and password: none of them');
    assert.deepEqual(await shownRows(page, SERVER_ROWS), SERVER_ROWS);

    await auth.selectOption('oauth2-client-credentials');
    assert.equal(await clientAuth.inputValue(), 'secret');
    assert.equal(await transport.inputValue(), 'smtp');
    assert.deepEqual(await shownRows(page, AUTH_ROWS), ['clientAuth', 'clientSecret', 'transport']);

    await clientAuth.selectOption('certificate');
    assert.deepEqual(await shownRows(page, AUTH_ROWS), [
      'clientAuth',
      'clientCertificate',
      'clientPrivateKey',
      'clientKeyPassphrase',
      'transport',
    ]);
    await clientAuth.selectOption('secret');
    assert.deepEqual(await shownRows(page, AUTH_ROWS), ['clientAuth', 'clientSecret', 'transport']);

    // Graph: its URL, and no SMTP server; the service stays.
    await transport.selectOption('graph');
    assert.deepEqual(await shownRows(page, AUTH_ROWS), ['clientAuth', 'clientSecret', 'transport', 'graphUrl']);
    assert.deepEqual(await shownRows(page, SERVER_ROWS), []);
    assert.ok(await page.locator('#node-config-input-service').isVisible());
    assert.match(await page.locator('.smtp-config-graph-server').innerText(), /HTTPS to the Graph URL/);
    await transport.selectOption('smtp');
    assert.deepEqual(await shownRows(page, SERVER_ROWS), SERVER_ROWS);
    assert.equal(await page.locator('.smtp-config-graph-server').isVisible(), false);

    // Graph is for client credentials only: another method shows and uses SMTP.
    await transport.selectOption('graph');
    for (const method of ['basic', 'oauth2', 'none']) {
      await auth.selectOption(method);
      assert.deepEqual(await shownRows(page, ['clientAuth', 'transport', 'graphUrl']), [], method);
      assert.deepEqual(await shownRows(page, SERVER_ROWS), SERVER_ROWS, method);
    }
    await auth.selectOption('oauth2-client-credentials');
    assert.deepEqual(await shownRows(page, SERVER_ROWS), []);
    await transport.selectOption('smtp');
  });

  it('Microsoft 365: offers both transports with what each needs, and never puts the SMTP scope on Graph', async () => {
    const scope = page.locator('#node-config-input-scope');
    const transport = page.locator('#node-config-input-transport');
    await page.locator('#node-config-input-service').selectOption('Outlook365');
    assert.equal(await scope.inputValue(), M365_SCOPE);
    const options = await transport.locator('option').evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options, [
      ['smtp', 'SMTP (SMTP AUTH with XOAUTH2)'],
      ['graph', 'Microsoft Graph (sendMail)'],
    ]);
    const tip = await page.locator('.form-tips.smtp-config-auth-transport').innerText();
    for (const needed of [/SMTP AUTH enabled for the mailbox/, /not disabled for the whole tenant/, /SMTP\.SendAsApp/, /service principal/])
      assert.match(tip, needed);
    for (const needed of [/Mail\.Send/, /admin consent/, /RBAC for Applications/]) assert.match(tip, needed);

    // Graph: the pre-filled SMTP scope goes; empty means {graphUrl}/.default, which the placeholder and the tip say.
    await transport.selectOption('graph');
    assert.equal(await scope.inputValue(), '');
    assert.equal(await scope.getAttribute('placeholder'), 'https://graph.microsoft.com/.default');
    assert.match(await page.locator('#smtp-config-scope-hint').innerText(), /https:\/\/graph\.microsoft\.com\/\.default/);
    await page.locator('#node-config-input-graphUrl').fill('https://graph.microsoft.us/');
    assert.equal(await scope.getAttribute('placeholder'), 'https://graph.microsoft.us/.default');
    // Changing the service again does not bring the SMTP scope back.
    await page.locator('#node-config-input-service').selectOption('');
    await page.locator('#node-config-input-service').selectOption('Outlook365');
    assert.equal(await scope.inputValue(), '');

    // Back to SMTP: its default again; a scope the user typed stays through every switch.
    await transport.selectOption('smtp');
    assert.equal(await scope.inputValue(), M365_SCOPE);
    assert.equal(await scope.getAttribute('placeholder'), M365_SCOPE);
    await scope.fill('api://custom/.default');
    await transport.selectOption('graph');
    assert.equal(await scope.inputValue(), 'api://custom/.default');
    await transport.selectOption('smtp');
    assert.equal(await scope.inputValue(), 'api://custom/.default');
    await scope.fill('');
    await transport.selectOption('graph');
  });

  it('reads the certificate and the key from files, and shows subject, both thumbprints and the expiry', async () => {
    await page.locator('#node-config-input-clientAuth').selectOption('certificate');
    const info = page.locator('#smtp-config-certificate-info');
    assert.equal(await info.isVisible(), false, 'nothing to say without a certificate');

    const [certChooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.locator('#smtp-config-clientCertificate-file').click(),
    ]);
    assert.equal(await page.locator('#smtp-config-clientCertificate-input').getAttribute('accept'), '.pem,.crt,.cer,.key');
    await certChooser.setFiles(path.join(dir, 'mailer.crt'));
    await info.locator('.smtp-cert-sha256').waitFor();
    assert.equal(pem(await page.locator('#node-config-input-clientCertificate').inputValue()), pem(current.cert));
    assert.match(await info.locator('.smtp-cert-subject').innerText(), /CN=node-red-mailer/);
    assert.match(await info.locator('.smtp-cert-subject').innerText(), /O=Contoso/);
    const sha1 = await info.locator('.smtp-cert-sha1').innerText();
    assert.match(sha1, /as Entra's portal shows it/);
    assert.equal(await info.locator('.smtp-cert-sha1 code').innerText(), opensslThumbprint(current.cert, 'sha1'));
    assert.equal(await info.locator('.smtp-cert-sha256 code').innerText(), opensslThumbprint(current.cert, 'sha256'));
    // Valid for 400 days: the date, in neither amber nor red.
    const expiry = info.locator('.smtp-cert-expiry');
    const notAfter = new Date(Date.now() + 400 * 86400000);
    assert.match(await expiry.innerText(), new RegExp(`Valid until: .*${notAfter.getFullYear()}`));
    assert.match((await expiry.getAttribute('class')) ?? '', /smtp-cert-expires\b/);
    await info.scrollIntoViewIfNeeded();
    fs.mkdirSync(path.join(__dirname, '..', '..', 'test-artifacts', 'screenshots'), { recursive: true });
    await page.screenshot({ path: path.join(__dirname, '..', '..', 'test-artifacts', 'screenshots', 'connection-dialog-certificate.png') });

    const [keyChooser] = await Promise.all([page.waitForEvent('filechooser'), page.locator('#smtp-config-clientPrivateKey-file').click()]);
    await keyChooser.setFiles(path.join(dir, 'mailer.key'));
    const key = page.locator('#node-config-input-clientPrivateKey');
    await page.waitForFunction(() => ($('#node-config-input-clientPrivateKey').val() as string).includes('PRIVATE KEY'));
    assert.equal(pem(await key.inputValue()), pem(current.key), 'the key as the file holds it, line breaks and all');
    assert.equal(await page.locator('#smtp-config-clientPrivateKey').getAttribute('type'), 'password');
  });

  it('takes a pasted certificate and key: amber within 30 days, red when expired, a message when unreadable', async () => {
    const certificate = page.locator('#node-config-input-clientCertificate');
    const info = page.locator('#smtp-config-certificate-info');
    const expiryClass = async () => (await info.locator('.smtp-cert-expiry').getAttribute('class')) ?? '';

    await certificate.fill(String(expiring.cert));
    await info.locator('.smtp-cert-subject', { hasText: 'CN=expiring' }).waitFor();
    assert.match(await expiryClass(), /smtp-cert-expiresSoon/);
    assert.match(await info.locator('.smtp-cert-expiry').innerText(), /expires in 10 days/);
    const amber = await info.locator('.smtp-cert-expiry').evaluate((e) => getComputedStyle(e).color);

    await certificate.fill(String(expired.cert));
    await info.locator('.smtp-cert-subject', { hasText: 'CN=expired' }).waitFor();
    assert.match(await expiryClass(), /smtp-cert-expired/);
    assert.match(await info.locator('.smtp-cert-expiry').innerText(), /expired/);
    const red = await info.locator('.smtp-cert-expiry').evaluate((e) => getComputedStyle(e).color);
    const plain = await info.locator('.smtp-cert-subject').evaluate((e) => getComputedStyle(e).color);
    assert.equal(new Set([amber, red, plain]).size, 3, `amber ${amber}, red ${red}, others ${plain}`);

    // A key pasted here goes to its own field (a secret), never stays where the editor gets it back, and is never sent.
    const asked = certificateRequests.length;
    await page.locator('#node-config-input-clientPrivateKey').evaluate((e: HTMLTextAreaElement) => (e.value = ''));
    await certificate.fill(`${expired.key}${expired.cert}`);
    await page.locator('#smtp-config-certificate-key').waitFor();
    assert.equal(pem(await certificate.inputValue()), pem(expired.cert));
    assert.equal(pem(await page.locator('#node-config-input-clientPrivateKey').inputValue()), pem(expired.key));
    await certificate.fill(String(current.key));
    await page.locator('#smtp-config-certificate-key').waitFor();
    assert.equal(await certificate.inputValue(), '');
    assert.equal(pem(await page.locator('#node-config-input-clientPrivateKey').inputValue()), pem(expired.key), 'a key there stays');
    assert.match(await page.locator('#smtp-config-certificate-key').innerText(), /private key/);

    // Not a certificate: a short message.
    await certificate.fill('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    await page.locator('#smtp-config-certificate-info.smtp-cert-error').waitFor();
    assert.match(await info.innerText(), /no readable PEM certificate/);
    await certificate.fill('not a certificate');
    await page.waitForFunction(() => /no readable PEM certificate/.test($('#smtp-config-certificate-info').text()));
    // The bundle's certificate had been asked about already: only the broken one was sent.
    assert.equal(certificateRequests.length, asked + 1, 'only texts with a CERTIFICATE block are sent');

    // A key pasted into the password field loses its line breaks there; the dialog keeps it as PEM.
    await page.locator('#smtp-config-clientPrivateKey').fill(String(current.key));
    assert.ok(!(await page.locator('#smtp-config-clientPrivateKey').inputValue()).includes('\n'), 'the browser dropped the line breaks');
    assert.equal(pem(await page.locator('#node-config-input-clientPrivateKey').inputValue()), pem(current.key));

    await certificate.fill(String(current.cert));
    await info.locator('.smtp-cert-subject', { hasText: 'CN=node-red-mailer' }).waitFor();
    for (const body of certificateRequests) assert.doesNotMatch(body, /PRIVATE KEY/, 'no key is ever sent to the certificate endpoint');
  });

  it('saves and deploys Graph with a certificate: the flow holds the settings, the key is a credential only', async () => {
    await page.locator('#node-config-input-name').fill('Graph mailer');
    await page.locator('#node-config-input-user').fill(MAILBOX);
    await page.locator('#smtp-config-tenant').fill('contoso.onmicrosoft.com');
    await page.locator('#node-config-input-clientId').fill(CLIENT_ID);
    assert.equal(await page.locator('#node-config-input-graphUrl').inputValue(), 'https://graph.microsoft.us/');
    const text = await saveAndDeploy(page, nr.url);
    assert.doesNotMatch(text, /PRIVATE KEY/, 'no key in the flow');
    assert.ok(!text.includes(pem(current.key).split('\n')[1]), 'no line of the key in the flow');
    assert.doesNotMatch(text, /BEGIN CERTIFICATE/, 'the certificate is a credential too');
    const config = (JSON.parse(text) as { flows: Record<string, unknown>[] }).flows.find((n) => n.type === 'smtp-oauth-config')!;
    configId = String(config.id);
    assert.equal(config.authType, 'oauth2-client-credentials');
    assert.equal(config.transport, 'graph');
    assert.equal(config.graphUrl, 'https://graph.microsoft.us/');
    assert.equal(config.clientAuth, 'certificate');
    assert.equal(config.scope, '');
    assert.equal(config.tokenUrl, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');

    // The editor gets the certificate back (a text credential) and only word of the key.
    const creds = (await (await fetch(`${nr.url}credentials/smtp-oauth-config/${configId}`)).json()) as Record<string, unknown>;
    assert.equal(pem(String(creds.clientCertificate)), pem(current.cert));
    assert.equal(creds.has_clientPrivateKey, true);
    assert.ok(!JSON.stringify(creds).includes('PRIVATE KEY'));
  });

  it('reopens the stored connection with the certificate described at once, the key only as stored', async () => {
    await page.evaluate((id) => RED.editor.editConfig('', 'smtp-oauth-config', id, 'node-input'), configId);
    const info = page.locator('#smtp-config-certificate-info');
    await info.locator('.smtp-cert-sha1 code').waitFor();
    assert.equal(await info.locator('.smtp-cert-sha1 code').innerText(), opensslThumbprint(current.cert, 'sha1'));
    assert.equal(await page.locator('#node-config-input-clientPrivateKey').inputValue(), '__PWRD__');
    assert.deepEqual(await shownRows(page, AUTH_ROWS), [
      'clientAuth',
      'clientCertificate',
      'clientPrivateKey',
      'clientKeyPassphrase',
      'transport',
      'graphUrl',
    ]);
    assert.deepEqual(await shownRows(page, SERVER_ROWS), []);
    assert.equal(await page.locator('#node-config-input-scope').getAttribute('placeholder'), 'https://graph.microsoft.us/.default');
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-input-service').waitFor({ state: 'detached' });
  });
});
