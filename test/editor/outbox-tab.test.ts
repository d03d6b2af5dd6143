// The editor's Outbox sidebar tab in headless Chromium, against a real Node-RED (adminAuth on) with
// the package installed from its packed tarball, and an SMTP server on loopback that answers every
// mail `451 4.3.0 Try again later` until the test lets it accept. A failed attempt waits an hour
// for the next one (a test hook), so every later attempt the server sees comes from Retry now.
//
// The tab with two waiting mails is screenshot into test-artifacts/screenshots/outbox-tab.png on
// every run; with UPDATE_SCREENSHOTS=1 also into docs/screenshots/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page, Response } from 'playwright-core';
import { assertNoPageErrors, launch, CHROMIUM, type LaunchedBrowser } from '../support/browser';
import { USERS, startAuthNodeRed, startRefusingSmtp, leaveMailsWaiting, type RefusingSmtp } from '../support/outbox-admin';

const ROOT = path.join(__dirname, '..', '..');
const SHOT_DIRS = [path.join(ROOT, 'test-artifacts', 'screenshots')].concat(
  process.env.UPDATE_SCREENSHOTS ? [path.join(ROOT, 'docs', 'screenshots')] : [],
);
const MARKS = {
  user: 'sender@example.com',
  password: 'smtp-password-2d84aa',
  clientSecret: 'client-secret-c15e70',
  html: 'HTML-BODY-9a02',
  text: 'TEXT-BODY-4b6d',
  attachment: 'ATTACHMENT-CONTENT-18fe',
  filename: 'report.txt',
  payload: 'PAYLOAD-MSG-e5c3',
  subjects: ['Invoice 1001 for ACME Ltd', 'Invoice 1002 for Globex Corporation'],
};

/** A connection in the answer of GET /smtp-oauth-config/outbox: what the tab lists. */
interface OutboxConnection {
  id: string;
  mails: { id: string; subject: string }[];
}

async function shoot(page: Page, name: string): Promise<void> {
  const file = path.join(SHOT_DIRS[0], name);
  for (const dir of SHOT_DIRS) fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: file });
  for (const dir of SHOT_DIRS.slice(1)) fs.copyFileSync(file, path.join(dir, name));
}

/** Opens the editor, logs in with the login form and waits until the palette shows the package's node. */
async function logIn(page: Page, url: string, username: keyof typeof USERS): Promise<void> {
  await page.goto(url);
  await page.locator('#node-dialog-login-username').fill(username);
  await page.locator('#node-dialog-login-password').fill(USERS[username].password);
  await page.locator('#node-dialog-login-submit').click();
  await page.locator('.red-ui-palette-node[data-palette-type="send-smtp-email"]').waitFor();
}

/**
 * Shows the Outbox tab as a user does: the sidebar shows the first tabs' icons only, the others are
 * in the menu of its caret button.
 */
async function openOutboxTab(page: Page): Promise<void> {
  await page.locator('#red-ui-sidebar .red-ui-tab-link-button-menu').click();
  await page.locator('#red-ui-tabs-menu-option-smtp-outbox').click();
  await page.locator('#smtp-outbox-list').waitFor();
}

/** Clicks a button of the tab and resolves with the answer to the POST it makes. */
async function press(page: Page, button: Locator, action: string): Promise<Response> {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/smtp-oauth-config/outbox/conn1/${action}`)),
    button.click(),
  ]);
  return res;
}

describe('Outbox tab in a real browser (Chromium)', function () {
  this.timeout(60000);
  let red: Awaited<ReturnType<typeof startAuthNodeRed>>;
  let smtp: RefusingSmtp;
  let admin: LaunchedBrowser;
  let viewer: LaunchedBrowser | undefined;
  /** The node statuses; `retry n: EMESSAGE` tells that n mails wait for a retry after a 451 and Retry now can reach them. */
  let status: Awaited<ReturnType<typeof red.watchStatus>>;
  const pageErrors: Error[] = [];
  /** Ids of the two waiting mails, by subject. */
  const ids: Record<string, string> = {};
  const row = (subject: string) => admin.page.locator(`.smtp-outbox-mail[data-mail="${ids[subject]}"]`);
  const [first, second] = MARKS.subjects;

  before(async function () {
    this.timeout(240000);
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    smtp = await startRefusingSmtp({ [MARKS.user]: MARKS.password });
    red = await startAuthNodeRed();
    status = await leaveMailsWaiting(red, smtp, MARKS);
    const mails = ((await (await red.api('/smtp-oauth-config/outbox')).json()) as OutboxConnection[]).find((c) => c.id === 'conn1')!.mails;
    assert.equal(mails.length, 2);
    for (const m of mails) ids[m.subject] = m.id;
    admin = await launch();
    admin.page.on('pageerror', (err) => pageErrors.push(err));
    await logIn(admin.page, red.url, 'admin');
  });

  after(async function () {
    this.timeout(60000);
    if (viewer) await viewer.close();
    if (admin) await admin.close();
    if (red) await red.close();
    if (smtp) await smtp.close();
  });

  afterEach(async function () {
    if (this.currentTest!.state === 'failed') {
      fs.mkdirSync(SHOT_DIRS[0], { recursive: true });
      for (const [who, b] of [
        ['admin', admin],
        ['viewer', viewer],
      ] as const) {
        if (b)
          await b.page.screenshot({
            path: path.join(SHOT_DIRS[0], `failed-outbox-${who}-${this.currentTest!.title.replace(/\W+/g, '-').slice(0, 50)}.png`),
          });
      }
    }
    assertNoPageErrors(pageErrors);
  });

  it('lists both waiting mails with subject, recipient, attempts, next try and the 451 (screenshot)', async function () {
    const page = admin.page;
    await openOutboxTab(page);
    await page.locator('.smtp-outbox-mail').nth(1).waitFor();
    const connection = page.locator('.smtp-outbox-connection[data-connection="conn1"]');
    assert.equal(await connection.locator('.smtp-outbox-name').innerText(), 'Greylisting server');
    assert.equal(await connection.locator('.smtp-outbox-count').innerText(), '2 waiting');
    assert.deepEqual(await connection.locator('.smtp-outbox-subject').allInnerTexts(), MARKS.subjects);
    for (const subject of MARKS.subjects) {
      const facts = await row(subject).locator('.smtp-outbox-facts').innerText();
      assert.match(facts, /^accounts@example\.com · \d+ (B|KB) · 1 attempt · next try at \S/);
      assert.equal(await row(subject).locator('.smtp-outbox-subject').getAttribute('title'), subject, 'a cut subject can be read in full');
      assert.equal(await row(subject).locator('.smtp-outbox-error code').innerText(), 'EMESSAGE');
      assert.match(await row(subject).locator('.smtp-outbox-error').innerText(), /^EMESSAGE Message failed: 451 4\.3\.0 Try again later$/);
      for (const button of ['.smtp-outbox-retry', '.smtp-outbox-delete'])
        assert.ok(await row(subject).locator(button).isEnabled(), `${button} enabled for the admin`);
    }
    // Nothing of the body, the attachment or the credentials reached the page.
    const html = await page.locator('#smtp-outbox-list').innerHTML();
    for (const mark of [MARKS.password, MARKS.clientSecret, MARKS.html, MARKS.text, MARKS.attachment, MARKS.payload])
      assert.ok(!html.includes(mark), mark);
    await shoot(page, 'outbox-tab.png');
    // The sidebar alone at full size, for a reviewer (test-artifacts only).
    await page.locator('#red-ui-sidebar').screenshot({ path: path.join(SHOT_DIRS[0], 'outbox-tab-sidebar.png') });
  });

  it('shows a read-only user the list with every button disabled', async function () {
    viewer = await launch();
    viewer.page.on('pageerror', (err) => pageErrors.push(err));
    await logIn(viewer.page, red.url, 'viewer');
    await openOutboxTab(viewer.page);
    await viewer.page.locator('.smtp-outbox-mail').nth(1).waitFor();
    assert.deepEqual(await viewer.page.locator('.smtp-outbox-subject').allInnerTexts(), MARKS.subjects);
    const buttons = viewer.page.locator('.smtp-outbox-retry, .smtp-outbox-delete, .smtp-outbox-retry-all, .smtp-outbox-delete-all');
    assert.equal(await buttons.count(), 6);
    assert.deepEqual(await buttons.evaluateAll((bs: HTMLButtonElement[]) => bs.map((b) => b.disabled)), [
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    // Refresh is reading: it stays usable.
    assert.ok(await viewer.page.locator('#smtp-outbox-refresh').isEnabled());
    await viewer.close();
    viewer = undefined;
  });

  it('Retry now makes another attempt at once: the server sees it, the tab shows 2 attempts', async function () {
    const page = admin.page;
    const mark = status.mark();
    const res = await press(page, row(first).locator('.smtp-outbox-retry'), 'retry');
    assert.equal(res.status(), 200);
    assert.deepEqual(JSON.parse(res.request().postData()!), { mail: ids[first] });
    assert.deepEqual(await res.json(), { count: 1 });
    await smtp.untilAttempts(first, 2);
    await row(first).locator('.smtp-outbox-facts', { hasText: '2 attempts' }).waitFor();
    // Waiting again (Retry now reaches it only from then on: the list shows the attempt a moment before).
    await status.until('send1', 'retry 2: EMESSAGE', mark);
    assert.match(await row(second).locator('.smtp-outbox-facts').innerText(), /· 1 attempt ·/, 'the other mail was not retried');
    assert.equal(smtp.attempts(second), 1);
  });

  it('Retry now once the server accepts: the mail is delivered and leaves the list', async function () {
    const page = admin.page;
    smtp.refuse = false;
    const from = red.output.length;
    assert.deepEqual(await (await press(page, row(first).locator('.smtp-outbox-retry'), 'retry')).json(), { count: 1 });
    const [delivered] = await smtp.waitForMessages(1);
    assert.equal(delivered.parsed.subject, first);
    assert.ok(delivered.parsed.html.includes(MARKS.html));
    await red.output.waitFor(new RegExp(`SENT ${first}`), from);
    await row(first).waitFor({ state: 'detached' });
    assert.equal(await page.locator('.smtp-outbox-mail').count(), 1);
    assert.equal(await page.locator('.smtp-outbox-count').innerText(), '1 waiting');
  });

  it('Delete asks first: Cancel leaves the mail waiting, and nothing is sent to the server', async function () {
    const page = admin.page;
    let asked = 0;
    const count = (req: { url(): string }) => req.url().endsWith('/smtp-oauth-config/outbox/conn1/delete') && asked++;
    page.on('request', count);
    try {
      await row(second).locator('.smtp-outbox-delete').click();
      const dialog = page.locator('.red-ui-notification', { has: page.locator('.smtp-outbox-cancel-delete') });
      assert.equal(await dialog.locator('p').innerText(), 'Delete 1 waiting mail? Its send reports it as failed, and it is never sent.');
      await dialog.locator('.smtp-outbox-cancel-delete').click();
      await dialog.waitFor({ state: 'detached' });
      // The list is read again (Refresh): had the delete gone out, the mail would be gone by then.
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/smtp-oauth-config/outbox')),
        page.locator('#smtp-outbox-refresh').click(),
      ]);
    } finally {
      page.off('request', count);
    }
    assert.equal(asked, 0, 'no delete request');
    assert.equal(await row(second).count(), 1);
  });

  it('Delete removes the other mail: it leaves the list, the server never gets it, its msg fails', async function () {
    const page = admin.page;
    const from = red.output.length;
    await row(second).locator('.smtp-outbox-delete').click();
    assert.deepEqual(await (await press(page, page.locator('.smtp-outbox-confirm-delete'), 'delete')).json(), { count: 1 });
    const [line] = await red.output.waitFor(new RegExp(`FAILED ${second}: [^\\n]*`), from);
    assert.match(line, /deleted from the outbox/);
    await row(second).waitFor({ state: 'detached' });
    assert.equal(await page.locator('.smtp-outbox-mail').count(), 0);
    assert.equal(await page.locator('.smtp-outbox-count').innerText(), '0 waiting');
    assert.equal(smtp.attempts(second), 1, 'no attempt after the first');
    assert.deepEqual(
      smtp.messages.map((m) => m.parsed.subject),
      [first],
      'the server accepted only the retried mail',
    );
    assert.equal((await (await red.api('/smtp-oauth-config/outbox')).json())[0].mails.length, 0);
  });
});
