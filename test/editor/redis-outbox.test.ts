// The connection dialog's shared outbox, in the real Node-RED editor in headless Chromium with the
// package installed from its packed tarball: the rows each outbox shows (Redis: its URL and the cap;
// memory: neither), the URL typed as a secret that Test connection never sends, and the deployed
// flow, which says outbox "redis" while the URL lives only in the encrypted credentials. The URL
// points at a real redis-server (Debian's), started on a free port with a password of its own.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
import { assertNoPageErrors, addConnectionDialog, saveAndDeploy, launchEditor, type LaunchedBrowser } from '../support/browser';
import { freePort, startEditorNodeRed, type EditorNodeRed } from '../support/editor-node-red';
import { stopChild } from '../support/node-red-process';

const REDIS_PASSWORD = 'redis-pw-2b7c91';
/** The credentialSecret of startEditorNodeRed's settings.js. */
const CREDENTIAL_SECRET = 'editor-test-only';
/** The rows of the Outbox part, by the setting or credential they hold. */
const OUTBOX_ROWS = ['redisUrl', 'outboxMaxMB'];

/** Which rows of the dialog are shown, by name. */
async function shownRows(page: Page, names: string[]): Promise<string[]> {
  const shown: string[] = [];
  for (const name of names) if (await page.locator(`.form-row:has(#node-config-input-${name})`).isVisible()) shown.push(name);
  return shown;
}

/** Node-RED's credentials file as its runtime reads it (@node-red/runtime/lib/nodes/credentials.js): AES-256-CTR, key = SHA-256 of credentialSecret. */
function readCredentials(userDir: string): Record<string, Record<string, unknown>> {
  const { $: encrypted } = JSON.parse(fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8')) as { $: string };
  const key = crypto.createHash('sha256').update(CREDENTIAL_SECRET).digest();
  const decipher = crypto.createDecipheriv('aes-256-ctr', key, Buffer.from(encrypted.slice(0, 32), 'hex'));
  return JSON.parse(decipher.update(encrypted.slice(32), 'base64', 'utf8') + decipher.final('utf8'));
}

/** A redis-server of its own on a free loopback port, with a password, persisting nothing (a test's Redis). */
async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', REDIS_PASSWORD, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  return { url: `redis://:${REDIS_PASSWORD}@127.0.0.1:${port}/0`, stop: () => stopChild(child, 'SIGTERM') };
}

describe('connection dialog: the outbox in Redis, shared by several instances (Chromium)', function () {
  this.timeout(60000);
  let nr: EditorNodeRed;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let browser: LaunchedBrowser;
  let page: Page;
  const pageErrors: Error[] = [];
  /** Every body the page posted to Test connection. */
  const testRequests: string[] = [];
  let configId: string;

  before(async function () {
    this.timeout(240000);
    redis = await startRedis();
    nr = await startEditorNodeRed();
    browser = await launchEditor(nr.url, pageErrors, { locale: 'en-US' });
    page = browser.page;
    page.on('request', (r: Request) => {
      if (r.url().endsWith('/smtp-oauth-config/test')) testRequests.push(r.postData() ?? '');
    });
  });

  after(async function () {
    this.timeout(60000);
    if (browser) await browser.close();
    if (nr) await nr.stop();
    if (redis) await redis.stop();
  });

  afterEach(function () {
    assertNoPageErrors(pageErrors);
  });

  it('shows the Redis URL and the cap for Redis, the cap alone on disk, neither in memory', async () => {
    await addConnectionDialog(page);
    await page.locator('#smtp-config-advanced-toggle').click();
    const outbox = page.locator('#node-config-input-outbox');
    const options = await outbox.locator('option').evaluateAll((os: HTMLOptionElement[]) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options, [
      ['disk', 'On disk (survives restarts and crashes)'],
      ['memory', 'In memory (lost on restart)'],
      ['redis', 'Redis (shared by several Node-RED instances)'],
    ]);

    assert.equal(await outbox.inputValue(), 'disk');
    assert.deepEqual(await shownRows(page, OUTBOX_ROWS), ['outboxMaxMB']);
    await outbox.selectOption('redis');
    assert.deepEqual(await shownRows(page, OUTBOX_ROWS), ['redisUrl', 'outboxMaxMB']);
    const url = page.locator('#node-config-input-redisUrl');
    assert.equal(await url.getAttribute('type'), 'password', 'typed as a secret: masked');
    assert.equal(await url.getAttribute('placeholder'), 'redis://:password@host:6379/0');
    const tip = await page.locator('.form-tips.smtp-config-outbox-redisUrl').innerText();
    for (const needed of [
      /same flows \(same node ids\)/,
      /same credentials/,
      /credentialSecret/,
      /appendonly yes/,
      /maxmemory-policy noeviction/,
    ])
      assert.match(tip, needed);
    assert.match(await page.locator('.form-tips.smtp-config-outbox-outboxMaxMB').innerText(), /caps the bytes of mails waiting in Redis/);

    await outbox.selectOption('memory');
    assert.deepEqual(await shownRows(page, OUTBOX_ROWS), []);
    assert.equal(await page.locator('.form-tips.smtp-config-outbox-redisUrl').isVisible(), false);
    await outbox.selectOption('disk');
    assert.deepEqual(await shownRows(page, OUTBOX_ROWS), ['outboxMaxMB']);
    await outbox.selectOption('redis');
  });

  it('never sends the Redis URL with Test connection, which tests the sign-in only', async () => {
    await page.locator('#node-config-input-name').fill('Shared outbox');
    await page.locator('#node-config-input-host').fill('127.0.0.1');
    await page.locator('#node-config-input-port').fill('1');
    await page.locator('#node-config-input-security').selectOption('none');
    await page.locator('#node-config-input-user').fill('mailer@example.com');
    await page.locator('#node-config-input-password').fill('smtp-pw-5d1e');
    await page.locator('#node-config-input-redisUrl').fill(redis.url);
    await page.locator('#node-config-input-outboxMaxMB').fill('50');
    const answered = page.waitForResponse((r) => r.url().endsWith('/smtp-oauth-config/test'));
    await page.locator('#smtp-config-test').click();
    const answer = await (await answered).text();
    await page.locator('#smtp-config-test-result.smtp-fail').waitFor();
    assert.equal(testRequests.length, 1);
    assert.match(testRequests[0], /smtp-pw-5d1e/, 'the sign-in secret typed in the dialog is sent');
    assert.ok(!testRequests[0].includes(REDIS_PASSWORD), 'the Redis URL is not');
    assert.ok(!answer.includes(REDIS_PASSWORD));
  });

  it('deploys outbox "redis" and the cap in the flow, and the Redis URL in the credentials only', async () => {
    const text = await saveAndDeploy(page, nr.url);
    assert.ok(!text.includes(REDIS_PASSWORD), 'no Redis password in the flow');
    assert.doesNotMatch(text, /redis:\/\//, 'no Redis URL in the flow');
    const config = (JSON.parse(text) as { flows: Record<string, unknown>[] }).flows.find((n) => n.type === 'smtp-oauth-config')!;
    configId = String(config.id);
    assert.equal(config.outbox, 'redis');
    assert.equal(config.outboxMaxMB, '50');
    assert.ok(!('redisUrl' in config), 'redisUrl is no property of the node');
    const file = fs.readFileSync(path.join(nr.userDir, 'flows.json'), 'utf8');
    assert.ok(!file.includes(REDIS_PASSWORD) && !file.includes('redisUrl'), 'nor of the flow file');

    // The editor gets back only word of it; the runtime's encrypted credentials hold it as typed.
    const creds = (await (await fetch(`${nr.url}credentials/smtp-oauth-config/${configId}`)).json()) as Record<string, unknown>;
    assert.equal(creds.has_redisUrl, true);
    assert.ok(!JSON.stringify(creds).includes(REDIS_PASSWORD));
    assert.ok(!fs.readFileSync(path.join(nr.userDir, 'flows_cred.json'), 'utf8').includes(REDIS_PASSWORD), 'stored encrypted');
    assert.equal(readCredentials(nr.userDir)[configId].redisUrl, redis.url);
  });

  it('reopens the stored connection with Redis chosen and the URL only as stored', async () => {
    await page.evaluate((id) => RED.editor.editConfig('', 'smtp-oauth-config', id, 'node-input'), configId);
    await page.locator('#node-config-input-service[data-loaded="true"]').waitFor();
    assert.equal(await page.locator('#node-config-input-outbox').inputValue(), 'redis');
    assert.deepEqual(await shownRows(page, OUTBOX_ROWS), ['redisUrl', 'outboxMaxMB'], 'Advanced opens by itself: Redis is no default');
    assert.equal(await page.locator('#node-config-input-redisUrl').inputValue(), '__PWRD__');
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-input-service').waitFor({ state: 'detached' });
  });
});
