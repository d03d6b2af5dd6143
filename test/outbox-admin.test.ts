// The Outbox tab's admin endpoints in a real Node-RED with adminAuth on: a read-only user may list
// the waiting mails but neither retry nor delete them, an admin may; only JSON is taken; and what
// the list answers holds no credential, no body, no attachment and no msg.
import assert from 'node:assert/strict';
import { builtDist } from './support/build';
import {
  startAuthNodeRed,
  startRefusingSmtp,
  leaveMailsWaiting,
  type AuthNodeRed,
  type OutboxMarks,
  type RefusingSmtp,
  type StatusWatcher,
  type UserName,
} from './support/outbox-admin';

/** A mail of GET /smtp-oauth-config/outbox: what the Outbox tab shows of it. */
interface OutboxMail {
  id: string;
  subject: string;
  to: string;
  attempts: number;
  created: number;
  nextAttemptAt: number;
  size: number;
  lastError: { responseCode: number; message: string };
}
/** A connection of GET /smtp-oauth-config/outbox, with its waiting mails. */
interface OutboxConnection {
  id: string;
  name: string;
  outbox: string;
  mails: OutboxMail[];
}

/** Recognisable strings: none of them may appear in the list. */
const MARKS: OutboxMarks = {
  user: 'sender@example.com',
  password: 'smtp-password-6b1f0d',
  clientSecret: 'client-secret-a93c2e',
  html: 'HTML-BODY-51d7',
  text: 'TEXT-BODY-0c8e',
  attachment: 'ATTACHMENT-CONTENT-e42b',
  filename: 'attached-notes-77d1.txt',
  payload: 'PAYLOAD-MSG-3f90',
  subjects: ['Invoice 1001', 'Invoice 1002'],
};

describe('Outbox admin endpoints with adminAuth on', function () {
  this.timeout(60000);
  let red: AuthNodeRed;
  let smtp: RefusingSmtp;
  /** The node statuses; `retry n: EMESSAGE` tells that n mails wait for a retry after a 451 and Retry now can reach them. */
  let status: StatusWatcher;
  const list = async (user: UserName = 'admin'): Promise<OutboxConnection[]> => {
    const res = await red.api('/smtp-oauth-config/outbox', {}, user);
    assert.equal(res.status, 200);
    return res.json() as Promise<OutboxConnection[]>;
  };
  const mailsOf = async (user?: UserName) => (await list(user)).find((c) => c.id === 'conn1')!.mails;
  const post = (action: string, body: object | string, user: UserName | null = 'admin', type = 'application/json') =>
    red.api(
      `/smtp-oauth-config/outbox/conn1/${action}`,
      { method: 'POST', headers: { 'Content-Type': type }, body: type === 'application/json' ? JSON.stringify(body) : (body as string) },
      user,
    );

  // startAuthNodeRed() installs the package packed from dist/: built from the sources of this run, in a hook of its own.
  before(function () {
    builtDist();
  });
  before(async function () {
    smtp = await startRefusingSmtp({ [MARKS.user]: MARKS.password });
    red = await startAuthNodeRed();
    status = await leaveMailsWaiting(red, smtp, MARKS);
    assert.equal((await mailsOf()).length, 2);
  });
  after(async function () {
    if (red) await red.close();
    if (smtp) await smtp.close();
  });

  it('lists the waiting mails for a read-only user, and for nobody without a token', async function () {
    assert.equal((await red.api('/smtp-oauth-config/outbox', {}, null)).status, 401);
    const connections = await list('viewer');
    assert.deepEqual(
      connections.map((c) => [c.id, c.name, c.outbox]),
      [['conn1', 'Greylisting server', 'disk']],
    );
    const mails = connections[0].mails;
    assert.deepEqual(
      mails.map((m) => [m.subject, m.to, m.attempts]),
      [
        ['Invoice 1001', 'accounts@example.com', 1],
        ['Invoice 1002', 'accounts@example.com', 1],
      ],
    );
    for (const m of mails) {
      assert.deepEqual(Object.keys(m).sort(), ['attempts', 'created', 'id', 'lastError', 'nextAttemptAt', 'size', 'subject', 'to']);
      assert.equal(m.lastError.responseCode, 451);
      assert.match(m.lastError.message, /Try again later/);
      assert.ok(m.nextAttemptAt > Date.now() + 30 * 60000, 'the next attempt is far away (the test hook)');
      assert.ok(m.size > 0);
    }
  });

  it('holds no credential, body, attachment or msg in the list', async function () {
    const res = await red.api('/smtp-oauth-config/outbox', {}, 'viewer');
    const text = await res.text();
    for (const [what, mark] of Object.entries(MARKS)) {
      if (what === 'subjects' || what === 'user') continue;
      assert.ok(!text.includes(mark), `the list holds the ${what}: ${text}`);
    }
    assert.doesNotMatch(text, /base64|Content-Type|<p>/i, 'no MIME source');
    // The marks were in the mails the server was offered: their absence above means something.
    const offered = smtp.offered[0];
    const html = offered.html || ''; // false: no HTML part
    assert.ok(html.includes(MARKS.html) && html.includes(MARKS.payload));
    assert.ok(offered.text?.includes(MARKS.text));
    assert.deepEqual(
      offered.attachments.map((a) => [a.filename, a.content.toString()]),
      [[MARKS.filename, MARKS.attachment]],
    );
  });

  it('refuses Retry now and Delete to a read-only user and to nobody', async function () {
    const [first] = await mailsOf();
    for (const action of ['retry', 'delete']) {
      for (const body of [{}, { mail: first.id }]) {
        assert.equal((await post(action, body, 'viewer')).status, 401, `${action} ${JSON.stringify(body)} as viewer`);
        assert.equal((await post(action, body, null)).status, 401, `${action} ${JSON.stringify(body)} without a token`);
      }
    }
    // Nothing happened: both still wait, each tried once.
    assert.deepEqual(
      (await mailsOf()).map((m) => m.attempts),
      [1, 1],
    );
    assert.deepEqual(
      MARKS.subjects.map((s) => smtp.attempts(s)),
      [1, 1],
    );
  });

  it('takes JSON only: a form or plain text is refused with 415, even from an admin', async function () {
    const [first] = await mailsOf();
    for (const action of ['retry', 'delete']) {
      const form = await post(action, `mail=${first.id}`, 'admin', 'application/x-www-form-urlencoded');
      assert.equal(form.status, 415, `${action} form-encoded`);
      assert.equal((await post(action, JSON.stringify({ mail: first.id }), 'admin', 'text/plain')).status, 415, `${action} text/plain`);
    }
    assert.deepEqual(
      (await mailsOf()).map((m) => m.attempts),
      [1, 1],
    );
  });

  it('answers 404 for an unknown connection, 400 for a mail id that is not text, count 0 for an unknown mail', async function () {
    const res = await red.api('/smtp-oauth-config/outbox/nope/retry', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 404);
    assert.equal((await post('retry', { mail: 42 })).status, 400);
    const unknown = await post('delete', { mail: 'no-such-mail' });
    assert.equal(unknown.status, 200);
    assert.deepEqual(await unknown.json(), { count: 0 });
    assert.equal((await mailsOf()).length, 2);
  });

  it('lets an admin retry one mail (the server sees another attempt) and delete the other (its msg fails, the server never had it)', async function () {
    const [first, second] = await mailsOf();
    let mark = status.mark();
    const retried = await post('retry', { mail: first.id });
    assert.equal(retried.status, 200);
    assert.deepEqual(await retried.json(), { count: 1 });
    await smtp.untilAttempts(first.subject, 2);
    await status.until('send1', 'retry 2: EMESSAGE', mark);
    const after = await mailsOf();
    assert.deepEqual(
      after.map((m) => [m.id, m.attempts]),
      [
        [first.id, 2],
        [second.id, 1],
      ],
      'only the one mail was retried',
    );

    const from = red.output.length;
    const deleted = await post('delete', { mail: second.id });
    assert.equal(deleted.status, 200);
    assert.deepEqual(await deleted.json(), { count: 1 });
    const [line] = await red.output.waitFor(/FAILED Invoice 1002: [^\n]*/, from);
    assert.match(line, /deleted from the outbox/);
    assert.deepEqual(
      (await mailsOf()).map((m) => m.id),
      [first.id],
    );
    assert.equal(smtp.attempts(second.subject), 1);
    assert.equal(smtp.messages.length, 0, 'the server accepted nothing');

    // Without a mail id: every waiting mail (here the one left).
    await status.until('send1', 'retry 1: EMESSAGE', mark);
    mark = status.mark();
    const all = await post('retry', {});
    assert.deepEqual(await all.json(), { count: 1 });
    await smtp.untilAttempts(first.subject, 3);
    await status.until('send1', 'retry 1: EMESSAGE', mark);
    assert.equal((await mailsOf())[0].attempts, 3);
    const fromAll = red.output.length;
    const gone = await post('delete', {});
    assert.deepEqual(await gone.json(), { count: 1 });
    await red.output.waitFor(/FAILED Invoice 1001: [^\n]*deleted from the outbox/, fromAll);
    assert.deepEqual(await mailsOf(), []);
    assert.equal(smtp.messages.length, 0);
  });
});
