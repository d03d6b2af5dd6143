// Errors and hints in the language of Node-RED: the package installed the palette's way (nodes
// loaded from a folder get no catalog), a real Node-RED started with `lang: 'de'` in settings.js
// and one started without it, and a real SMTP server on loopback that refuses the login as
// Microsoft 365 does (535 5.7.139) and answers one recipient 451. What the flows store, what Catch
// nodes get, what Test connection and the Outbox tab answer is compared with locales/<lang>/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installIntoUserDir, root } from '../scripts/install-package';
import { builtDist } from './support/build';
import { deployFlows, startNodeRed, type FlowNode, type NodeRedProcess } from './support/node-red-process';
import { startSmtp, smtpError } from './support/smtp';

const MAILBOX_535 =
  '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.';
const QUEUE_451 = '451 4.3.0 Error: queue file write error';
const USER = 'alice@example.com';
const PASSWORD = 'right-pw-5c1e';

/** The parts of the send node's catalog these tests read. */
interface RuntimeTexts {
  errors: { attachment: { base64: string }; outbox: { deleted: string } };
  hints: { attachment: { base64: string }; server: { smtpAuthMailbox: string; storeFailedRetried: string }; outbox: { deleted: string } };
  fields: { base64Attachment: string };
}
/** The runtime texts of the send node's catalog in a language, as the package ships them. */
const catalog = (lang: string): RuntimeTexts =>
  JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, 'send-smtp-email.json'), 'utf8'))['send-smtp-email'];
const fill = (template: string, params: Record<string, string>) =>
  template.replace(/__(\w+?)__/g, (whole, name: string) => (name in params ? params[name] : whole));

/** What each case must read in a language: the catalog's own sentences. */
function expected(lang: string) {
  const c = catalog(lang);
  return {
    base64: { message: fill(c.errors.attachment.base64, { what: c.fields.base64Attachment }), hint: c.hints.attachment.base64 },
    mailboxHint: c.hints.server.smtpAuthMailbox,
    queueHint: c.hints.server.storeFailedRetried,
    deleted: { message: c.errors.outbox.deleted, hint: c.hints.outbox.deleted },
  };
}

const inject = (id: string, send: string): FlowNode => ({
  id,
  type: 'inject',
  z: 'tab',
  props: [{ p: 'payload' }],
  payload: '',
  payloadType: 'date',
  repeat: '',
  once: false,
  wires: [[send]],
});
const debug = (id: string, name: string, complete: string): FlowNode => ({
  id,
  type: 'debug',
  z: 'tab',
  name,
  active: true,
  tosidebar: true,
  console: false,
  complete,
  targetType: 'msg',
  wires: [],
});
const send = (id: string, fields: Record<string, unknown>): FlowNode => ({
  id,
  type: 'send-smtp-email',
  z: 'tab',
  connection: 'conn',
  to: 'bob@example.com',
  toType: 'str',
  subject: 'i18n',
  subjectType: 'str',
  html: '<p>Hallo</p>',
  htmlType: 'str',
  attachmentType: 'none',
  storeResult: 'msg',
  resultKey: 'emailResult',
  stopOnError: false,
  ...fields,
});

/**
 * Four sends, each with its debug node: a base64 attachment that is not base64 (refused before
 * any connection), a login the server refuses, the same refusal with Stop on error into a Catch
 * node, and a recipient the server answers 451, so that the mail waits in the outbox.
 */
function flow(port: number): FlowNode[] {
  const connection = (id: string, password: string, outbox: string): FlowNode => ({
    id,
    type: 'smtp-oauth-config',
    host: '127.0.0.1',
    port,
    security: 'none',
    authType: 'basic',
    outbox,
    credentials: { user: USER, password },
  });
  // x and y: without them the runtime takes a node for a config node.
  const placed = (n: FlowNode, i: number): FlowNode => (n.z ? { x: 100 + (i % 3) * 200, y: 40 + Math.floor(i / 3) * 60, ...n } : n);
  return [
    { id: 'tab', type: 'tab', label: 'i18n' },
    connection('conn', PASSWORD, 'disk'),
    connection('refused', 'wrong-pw', 'memory'),
    inject('injB64', 'sendB64'),
    send('sendB64', { attachmentType: 'base64', attachment: 'not base64!', attachmentValueType: 'str', wires: [['dbgB64']] }),
    debug('dbgB64', 'base64 result', 'emailResult'),
    inject('injAuth', 'sendAuth'),
    send('sendAuth', { connection: 'refused', wires: [['dbgAuth']] }),
    debug('dbgAuth', 'auth result', 'emailResult'),
    inject('injCatch', 'sendCatch'),
    send('sendCatch', { connection: 'refused', stopOnError: true, wires: [[]] }),
    { id: 'catchAuth', type: 'catch', z: 'tab', scope: ['sendCatch'], uncaught: false, wires: [['dbgCatch']] },
    debug('dbgCatch', 'caught', 'error'),
    inject('injQueue', 'sendQueue'),
    send('sendQueue', { to: 'queue@example.com', wires: [['dbgQueue']] }),
    debug('dbgQueue', 'queue result', 'emailResult'),
  ].map(placed);
}

/** Full deploy, as the editor's Deploy button, waiting for the runtime's "started" line in its language. */
async function deploy(red: NodeRedProcess, nodes: FlowNode[], lang: string) {
  const runtimeCatalog = JSON.parse(fs.readFileSync(require.resolve(`@node-red/runtime/locales/${lang}/runtime.json`), 'utf8'));
  await deployFlows(red.api, red.output, nodes, new RegExp(`\\[info\\] ${runtimeCatalog.nodes.flows['started-flows']}`));
}

/** A mail of the Outbox tab's list, as far as these tests read it. */
interface OutboxMail {
  lastError?: { code: string; message: string; responseCode: number; hint: string };
}

/** The environment without the system's locale, so that only settings.js decides the language. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['LANG', 'LC_ALL', 'LC_MESSAGES'].includes(k)));
/** A failed attempt waits an hour (a test hook): the mail answered 451 stays in the outbox. */
const SETTINGS = 'smtpOauthConfigRetryTiming: { baseMs: 3600000, maxMs: 3600000 },';

describe('errors and hints in the language of Node-RED', function () {
  this.timeout(240000);
  let userDir: string;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;

  before(async function () {
    builtDist(); // the package is packed from dist/
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-i18n-'));
    installIntoUserDir(userDir);
    smtp = await startSmtp({
      users: { [USER]: PASSWORD },
      authError: MAILBOX_535,
      onRcpt: (address) => (address.address === 'queue@example.com' ? smtpError(QUEUE_451) : undefined),
    });
  });
  after(async function () {
    if (smtp) await smtp.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** The `n`th message of the debug node `name` (from 0), within 20 s. */
  async function shown(red: NodeRedProcess, name: string, n: number) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`no message ${n} from debug "${name}" within 20 s:\n${JSON.stringify(red.debug)}\n${red.output.text.slice(-3000)}`),
          ),
        20000,
      );
    });
    try {
      return (await Promise.race([red.waitForDebug((d) => d.name === name, n + 1), late]))[n].value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a send of the flow and resolves with what its debug node showed. */
  async function run(red: NodeRedProcess, injectId: string, debugName: string) {
    const before = red.debug.filter((d) => d.name === debugName).length;
    await red.inject(injectId);
    return shown(red, debugName, before);
  }

  /** Test connection as the dialog posts it, with a password the server refuses. */
  async function testConnection(red: NodeRedProcess, headers: Record<string, string> = {}) {
    const res = await red.api('/smtp-oauth-config/test', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({
        host: '127.0.0.1',
        port: smtp.port,
        security: 'none',
        authType: 'basic',
        credentials: { user: USER, password: 'wrong-pw' },
      }),
    });
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { ok: boolean; error: { code: string; hint: string } };
    assert.equal(answer.ok, false);
    return answer.error;
  }

  describe("German: lang 'de' in settings.js", function () {
    const de = expected('de');
    const en = expected('en-US');
    let red: NodeRedProcess;

    before(async function () {
      red = await startNodeRed(userDir, `lang: 'de',\n  ${SETTINGS}`, { env });
      await deploy(red, flow(smtp.port), 'de');
    });
    after(async function () {
      if (red) await red.close();
    });

    it('stores the German message and hint of a bad base64 attachment in msg', async function () {
      assert.notEqual(de.base64.hint, en.base64.hint, 'the catalogs differ, so this test can tell the languages apart');
      const result = await run(red, 'injB64', 'base64 result');
      assert.equal(result.success, false);
      assert.equal(result.error.code, 'EATTACHMENT');
      assert.equal(result.error.message, de.base64.message);
      assert.equal(result.error.hint, de.base64.hint);
      assert.equal(result.attempts, 0);
    });

    it("gives the German hint for a refused login, and keeps the server's answer as it was sent", async function () {
      const result = await run(red, 'injAuth', 'auth result');
      assert.equal(result.error.code, 'EAUTH');
      assert.equal(result.error.responseCode, 535);
      assert.equal(result.error.hint, de.mailboxHint);
      assert.ok(result.error.message.includes(MAILBOX_535), result.error.message);
    });

    it('reports the failure to a Catch node in German, the hint in the message', async function () {
      const error = await run(red, 'injCatch', 'caught');
      assert.ok(error.message.endsWith(`information. ${de.mailboxHint}`), `one full stop between answer and hint: ${error.message}`);
      assert.ok(error.message.includes(MAILBOX_535), error.message);
    });

    it('answers Test connection with the German hint', async function () {
      const error = await testConnection(red);
      assert.equal(error.code, 'EAUTH');
      assert.equal(error.hint, de.mailboxHint);
    });

    it("shows a waiting mail's last error with the German hint in the Outbox tab, and reports its deletion in German", async function () {
      const before = red.debug.filter((d) => d.name === 'queue result').length;
      await red.inject('injQueue');
      // No event tells when the first attempt is recorded: the list is read until it is (bounded).
      const deadline = Date.now() + 20000;
      let mail: OutboxMail | undefined;
      while (!mail && Date.now() < deadline) {
        const connections = (await (await red.api('/smtp-oauth-config/outbox')).json()) as { id: string; mails: OutboxMail[] }[];
        mail = connections.find((c) => c.id === 'conn')!.mails.find((m) => m.lastError);
        if (!mail) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(mail?.lastError, 'the mail waits in the outbox with its last error');
      assert.equal(mail.lastError.responseCode, 451);
      assert.equal(mail.lastError.hint, de.queueHint);
      assert.ok(mail.lastError.message.includes(QUEUE_451), mail.lastError.message);
      assert.deepEqual(
        Object.keys(mail.lastError).sort(),
        ['code', 'hint', 'message', 'responseCode'],
        'only what the tab shows, no catalog keys',
      );

      // Delete, as the tab's button does.
      const res = await red.api('/smtp-oauth-config/outbox/conn/delete', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      const { count } = (await res.json()) as { count: number };
      assert.equal(count, 1);
      const result = await shown(red, 'queue result', before);
      assert.equal(result.error.code, 'EOUTBOX');
      assert.equal(result.error.message, de.deleted.message);
      assert.equal(result.error.hint, de.deleted.hint);
    });
  });

  describe('English: no lang in settings.js', function () {
    const de = expected('de');
    const en = expected('en-US');
    let red: NodeRedProcess;

    before(async function () {
      red = await startNodeRed(userDir, SETTINGS, { env });
      await deploy(red, flow(smtp.port), 'en-US');
    });
    after(async function () {
      if (red) await red.close();
    });

    it('stores the English message and hint of a bad base64 attachment in msg', async function () {
      const result = await run(red, 'injB64', 'base64 result');
      assert.equal(result.error.message, en.base64.message);
      assert.equal(result.error.hint, en.base64.hint);
    });

    it('gives the English hint for a refused login', async function () {
      const result = await run(red, 'injAuth', 'auth result');
      assert.equal(result.error.hint, en.mailboxHint);
    });

    it("answers Test connection in the editor's language: English, or German when the editor asks in German", async function () {
      assert.equal((await testConnection(red)).hint, en.mailboxHint);
      // The editor loads its catalogs in its language first, as here, then the dialog names it.
      assert.equal((await red.api('/nodes/messages?lng=de')).status, 200);
      assert.equal((await testConnection(red, { 'Accept-Language': 'de' })).hint, de.mailboxHint);
      assert.equal((await testConnection(red, { 'Accept-Language': 'en-US' })).hint, en.mailboxHint);
    });
  });
});
