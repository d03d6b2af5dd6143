// The disk outbox across real processes: Node-RED runs as a child process (this build installed as
// a linked module) against an SMTP server on loopback in this process. It is killed with
// SIGKILL mid-run and started again on the same user directory; a crash mid-write and a deleted
// connection's outbox are set up on disk before a start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtDist } from './support/build';
import { startSlowMta, startSmtp } from './support/smtp';
import { startNodeRed, stopChild, type FlowNode, type NodeRedProcess, type OutputWatcher } from './support/node-red-process';
import { Spool, storableMsg } from '../src/lib/delivery/spool';
import { composeStream } from '../src/lib/message/compose';

type Smtp = Awaited<ReturnType<typeof startSmtp>>;

const ROOT = path.join(__dirname, '..');
const PASSWORD = 'outbox-pw-5d2e91';
const CONN = 'c0nn0utb0x00001';
const SEND = 'send0utb0x00001';

/** settings.js lines: the rate limit's minute shortened (a test hook, not for users). */
const settings = (windowMs: number) => `smtpOauthConfigRateWindowMs: ${windowMs},`;

/**
 * A user directory with this package installed as a link (as `npm link` does), so that Node-RED
 * loads it as a module with its message catalogs: the log lines read as users read them.
 */
function makeUserDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-outbox-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'outbox-test', private: true, dependencies: {} }));
  fs.mkdirSync(path.join(dir, 'node_modules', '@mailwire'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', '@mailwire', 'node-red-send-smtp-email'), 'dir');
  return dir;
}

/**
 * tab, connection, inject -> function (n msgs, seq 1..n) -> send node. One pooled connection: over
 * several, a mail handed over later can arrive first (a new connection waits for its greeting), and
 * the order the server sees would no longer be the order the outbox sent them in.
 */
interface FlowOptions {
  count?: number;
  rate?: number;
  connection?: Record<string, unknown>;
}
function flow(port: number, { count = 50, rate = 60, connection = {} }: FlowOptions = {}): FlowNode[] {
  return [
    { id: 'tab1', type: 'tab', label: 'outbox' },
    {
      id: CONN,
      type: 'smtp-oauth-config',
      host: '127.0.0.1',
      port: String(port),
      security: 'none',
      authType: 'basic',
      rateLimitPerMinute: String(rate),
      maxConnections: '1',
      credentials: { user: 'sender@example.com', password: PASSWORD },
      ...connection,
    },
    { id: 'go', type: 'inject', z: 'tab1', x: 100, y: 100, props: [], repeat: '', once: false, wires: [['burst']] },
    {
      id: 'burst',
      type: 'function',
      z: 'tab1',
      x: 300,
      y: 100,
      func: `for (let i = 1; i <= ${count}; i++) node.send({ topic: 'seq ' + String(i).padStart(3, '0'), payload: { seq: i } });\nreturn null;`,
      outputs: 1,
      wires: [[SEND]],
    },
    {
      id: SEND,
      type: 'send-smtp-email',
      z: 'tab1',
      x: 500,
      y: 100,
      connection: CONN,
      to: 'to@example.com',
      toType: 'str',
      subject: 'topic',
      subjectType: 'msg',
      html: '<p>{{payload.seq}}</p>',
      htmlType: 'str',
      storeResult: 'none',
      wires: [[]],
    },
  ];
}

/** The sequence number in each delivered subject, in the order the server received them. */
const sequence = (smtp: Smtp) => smtp.messages.map((m) => Number(/seq (\d+)/.exec(m.parsed.subject ?? '')![1]));

/** Resolves with the first `count` lines of the child's output that match `re`, as they come. */
async function lines(output: OutputWatcher, re: RegExp, count: number): Promise<string[]> {
  const found: string[] = [];
  let from = 0;
  while (found.length < count) {
    const m = await output.waitFor(re, from);
    found.push(m[0]);
    from += m.index + m[0].length;
  }
  return found;
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('outbox across processes', function () {
  this.timeout(120000);
  let smtp: Smtp;
  let userDir: string;
  let red: NodeRedProcess | undefined;
  // Node-RED loads this package through the link: its dist/, built from the sources of this run.
  before(function () {
    builtDist();
  });
  beforeEach(async function () {
    smtp = await startSmtp({ users: { 'sender@example.com': PASSWORD } });
    userDir = makeUserDir();
  });
  afterEach(async function () {
    if (red) await red.close();
    red = undefined;
    await smtp.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('delivers all 50 mails of a burst in order after Node-RED is killed (SIGKILL) once 10 were delivered', async function () {
    // 60 a minute on a minute shortened to 6 s: one mail every 100 ms.
    red = await startNodeRed(userDir, settings(6000));
    await red.deploy(flow(smtp.port));
    await red.inject('go');
    await smtp.waitForMessages(10);
    const { child } = red;
    child.kill('SIGKILL');
    await new Promise<void>((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
    );
    const spoolDir = path.join(userDir, 'smtp-outbox', CONN);

    // What the crash left: the mails the server had not accepted, in 0600 files in a 0700 folder, no password.
    const left = filesUnder(spoolDir);
    const leftIds = left
      .filter((f) => f.endsWith('.json'))
      .map((f) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { messageId: string }).messageId);
    assert.equal(fs.statSync(spoolDir).mode & 0o777, 0o700);
    for (const file of left) {
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
      assert.ok(!fs.readFileSync(file, 'utf8').includes(PASSWORD), `${file} holds the password`);
    }
    await red.close();
    const beforeRestart = smtp.messages.length;

    red = await startNodeRed(userDir, settings(6000));
    // Every mail left in the outbox is sent, and its success logged by its send node (its msg went
    // with the killed process); the log line comes after the outbox deleted the mail.
    await lines(red.output, /\[info\] \[send-smtp-email:[^\]]*\] Sent from the outbox: "seq \d+"/, leftIds.length);

    const ids = smtp.messages.map((m) => m.parsed.messageId ?? '');
    const duplicates = ids.length - new Set(ids).size;
    const order = sequence(smtp);
    const firsts = order.filter((s, i) => order.indexOf(s) === i);
    console.log(
      `      crash test: ${beforeRestart} delivered before SIGKILL, ${leftIds.length} left in the outbox, ${smtp.messages.length} received in all, ` +
        `${new Set(ids).size} distinct Message-IDs, ${duplicates} duplicate(s); order of first deliveries: ${firsts.join(',')}`,
    );
    assert.deepEqual(
      [...new Set(order)].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
      'every mail delivered',
    );
    assert.deepEqual(
      firsts,
      Array.from({ length: 50 }, (_, i) => i + 1),
      'delivered oldest first, also across the restart',
    );
    assert.deepEqual(ids.slice(beforeRestart), leftIds, 'after the restart: exactly the mails left in the outbox, oldest first, each once');
    // At least once: the mail the server accepted at the moment of the kill, before its deletion, is
    // sent again after the restart with the same Message-ID. One pooled connection sends one mail at
    // a time, so at most one can be caught like that.
    assert.ok(duplicates <= 1, `${duplicates} duplicates`);
    for (const id of ids.slice(0, beforeRestart))
      if (leftIds.includes(id)) assert.equal(ids.indexOf(id), beforeRestart - 1, 'only the last mail before the kill is sent twice');
    assert.equal(ids.length, 50 + duplicates);
    assert.deepEqual(filesUnder(spoolDir), [], 'the outbox is empty');
    assert.doesNotMatch(red.output.text, /\[error\]|damaged/);
  });

  it('keeps a mail whose attempt a graceful stop (SIGTERM) cut short, and sends it once after the restart', async function () {
    // A server that takes its time over DATA: the mail is with it when Node-RED is told to stop.
    const mta = await startSlowMta({ auth: false });
    try {
      // The grace period for attempts under way, shortened (a test hook; Node-RED gives a closing node 15 s).
      const grace = 'smtpOauthConfigCloseGraceMs: 300,';
      red = await startNodeRed(userDir, grace);
      await red.deploy(flow(mta.port, { count: 1, rate: 0, connection: { authType: 'none' } }));
      await red.inject('go');
      await mta.waitForHeld(1);
      const [held] = mta.held;
      await stopChild(red.child, 'SIGTERM');
      const spoolDir = path.join(userDir, 'smtp-outbox', CONN);
      const records = filesUnder(spoolDir).filter((f) => f.endsWith('.json'));
      assert.equal(records.length, 1, 'the mail is in the outbox');
      assert.equal((JSON.parse(fs.readFileSync(records[0], 'utf8')) as { messageId: string }).messageId, held.messageId);
      assert.match(red.output.text, /\[warn\][^\n]*"seq 001"[^\n]*closed before the server answered/, 'the log says why');
      await red.close();

      // The server answers at last: the client is gone, so it never had the mail (an MTA discards it).
      mta.acceptAll();
      red = await startNodeRed(userDir, grace);
      await red.output.waitFor(/Sent from the outbox: "seq 001"/);
      assert.equal(mta.messages.length, 1, 'delivered once');
      assert.equal(mta.messages[0].parsed.messageId, held.messageId, 'with the same Message-ID');
      assert.deepEqual(filesUnder(spoolDir), [], 'the outbox is empty');
    } finally {
      if (red) await red.close();
      red = undefined;
      await mta.close();
    }
  });

  it("sets a record cut short by a crash aside with one warning, deletes an unfinished write, sends the rest, and never sends a deleted connection's mails", async function () {
    // What a crash mid-write leaves, made with the outbox's own code: four good mails (one of a send
    // node that is no longer in the flows), a record cut short, a temporary file.
    const spoolDir = path.join(userDir, 'smtp-outbox', CONN);
    const put = async (dir: string, n: number, node: string) => {
      const { spool } = await Spool.open(dir, { maxBytes: 1e9, maxCount: 100 });
      const built = await composeStream({
        from: 'sender@example.com',
        to: 'to@example.com',
        subject: `seq ${String(n).padStart(3, '0')}`,
        text: `mail ${n}`,
      });
      return spool.add(
        {
          messageId: built.messageId,
          envelope: built.envelope,
          summary: { to: 'to@example.com', subject: `seq ${n}` },
          attempts: 0,
          node,
          msg: storableMsg({ _msgid: `m${n}`, payload: n }),
        },
        built.message,
      );
    };
    const good = [await put(spoolDir, 1, SEND), await put(spoolDir, 2, SEND), await put(spoolDir, 3, 'gone0000000001')];
    const cut = await put(spoolDir, 4, SEND);
    good.push(await put(spoolDir, 5, SEND));
    const json = path.join(spoolDir, `${cut.id}.json`);
    fs.writeFileSync(json, fs.readFileSync(json, 'utf8').slice(0, 40));
    fs.writeFileSync(path.join(spoolDir, `${cut.id}-next.eml.tmp`), 'From: sender@exa');
    // The outbox of a connection deleted from the flows: two mails.
    const deadDir = path.join(userDir, 'smtp-outbox', 'deadc0nn0000001');
    await put(deadDir, 90, SEND);
    await put(deadDir, 91, SEND);

    // The flows as Node-RED finds them at start (credentials unencrypted: credentialSecret false).
    const nodes = flow(smtp.port, { rate: 0 });
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(nodes.map(({ credentials, ...n }) => n)));
    fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ [CONN]: nodes.find((n) => n.id === CONN)!.credentials }));
    red = await startNodeRed(userDir, settings(60000));
    await smtp.waitForMessages(4);
    await red.output.waitFor(
      /\[info\] \[smtp-oauth-config:[^\]]*\] Sent from the outbox: "seq 3"[^\n]*its send node is no longer deployed/,
    );
    await lines(red.output, /Sent from the outbox: "seq [125]"/, 3);

    assert.deepEqual(
      smtp.messages.map((m) => m.parsed.subject),
      ['seq 001', 'seq 002', 'seq 003', 'seq 005'],
      'the good mails, oldest first; none of the deleted connection',
    );
    assert.deepEqual(
      smtp.messages.map((m) => m.parsed.messageId),
      good.map((r) => r.messageId),
    );
    assert.deepEqual(fs.readdirSync(spoolDir), ['damaged'], 'sent mails deleted, the temporary file too');
    assert.deepEqual(fs.readdirSync(path.join(spoolDir, 'damaged')).sort(), [`${cut.id}.eml`, `${cut.id}.json`]);
    const warnings = red.output.text.split('\n').filter((l) => /\[warn\]/.test(l) && /outbox/i.test(l));
    assert.equal(warnings.filter((l) => /damaged/.test(l)).length, 1, warnings.join('\n'));
    assert.match(
      warnings.find((l) => /damaged/.test(l)) ?? '',
      new RegExp(`1 damaged mail.*${path.join(spoolDir, 'damaged').replace(/[/.]/g, '\\$&')}`),
    );
    assert.equal(warnings.filter((l) => /deleted connection/.test(l)).length, 1, warnings.join('\n'));
    assert.match(
      warnings.find((l) => /deleted connection/.test(l)) ?? '',
      new RegExp(`2 unsent mails of a deleted connection in ${deadDir.replace(/[/.]/g, '\\$&')}`),
    );

    // Deployed again: the deleted connection's mails are still not sent, and not warned about twice.
    const from = red.output.length;
    await red.deploy(nodes);
    assert.doesNotMatch(red.output.since(from), /deleted connection/);
    assert.equal(fs.readdirSync(deadDir).filter((f) => f.endsWith('.json')).length, 2);
    assert.equal(smtp.messages.length, 4);
  });
});
