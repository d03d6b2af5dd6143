// Nothing lost, nothing crashed: every input msg ends in exactly one of sent, stored failure or
// error at a Catch node, also when the server goes away or the flow is redeployed mid-run.
import assert from 'node:assert/strict';
import { startSmtp, smtpError, type SmtpServer } from './support/smtp';
import type { MailError } from '../src/lib/errors/errors';
import { helper, deploy, type Deployed, type Msg } from './support/flow';

const basic = { user: 'sender@example.com', password: 'pw-1' };

/** How a msg ended: passed on, or reported as an error (with its code). */
interface Ending {
  kind: 'sent' | 'caught';
  code: string | undefined;
}

/**
 * Collects how each msg ended, by its id, as the send node reported it (passed on, or an error
 * with the msg) — also while a redeploy stops the nodes downstream. Resolves when `count` ended.
 */
function outcomes(nodes: Deployed, count: number): { all: Promise<Map<string, Ending>> } {
  const seen = new Map<string, Ending>();
  return {
    all: new Promise((resolve, reject) => {
      const record = (kind: Ending['kind'], msg: Msg, err?: MailError) => {
        if (seen.has(msg._msgid)) return reject(new Error(`msg ${msg._msgid} ended twice`));
        seen.set(msg._msgid, { kind, code: err && err.code });
        if (seen.size === count) resolve(seen);
      };
      nodes.send.on('call:send', (call) => record('sent', call.args[0]));
      nodes.send.on('call:error', (call) => record('caught', call.args[1]!, call.args[0]));
    }),
  };
}

describe('nothing lost, nothing crashed', function () {
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  it('reports every msg when the server goes away mid-run, and sends again once it is back', async function () {
    const smtp: SmtpServer = await startSmtp({
      users: { 'sender@example.com': 'pw-1' },
      onData: () => {
        // The 8th message arrives: the server crashes before answering it.
        if (smtp.messages.length === 7) setImmediate(() => smtp.destroy());
        return undefined;
      },
    });
    const port = smtp.port;
    // Retries off: this test reads how each msg ended when the server went away (provider-limits.test.ts retries them).
    const nodes = await deploy({ connection: { port, maxConnections: 2, timeout: 2, retryForSeconds: 0 }, credentials: basic });
    const run = outcomes(nodes, 30);
    for (let i = 0; i < 30; i++) nodes.send.receive({ payload: i });
    const seen = await run.all;
    const sent = [...seen.values()].filter((o) => o.kind === 'sent').length;
    const caught = [...seen.values()].filter((o) => o.kind === 'caught');
    assert.equal(sent + caught.length, 30);
    // Around the crash, answers already written may or may not reach the client before the socket dies.
    assert.ok(sent >= 6 && sent <= 9, `sent before the crash: ${sent}`);
    assert.ok(caught.length >= 21, `reported after the crash: ${caught.length}`);
    for (const c of caught) assert.match(c.code!, /^(ECONNECTION|ESOCKET|ETIMEDOUT)$/);

    const back = await startSmtp({ port, users: { 'sender@example.com': 'pw-1' } });
    try {
      const again = outcomes(nodes, 3);
      for (let i = 0; i < 3; i++) nodes.send.receive({ payload: `again ${i}` });
      const after = await again.all;
      assert.deepEqual(
        [...after.values()].map((o) => o.kind),
        ['sent', 'sent', 'sent'],
      );
      assert.equal(back.messages.length, 3);
    } finally {
      await helper.unload();
      await back.close();
    }
  });

  it('finishes every msg in flight or queued when the flow is redeployed', async function () {
    const held: (() => void)[] = [];
    let onHeld: (() => void) | undefined;
    // Each message is stored but answered only when released.
    const smtp = await startSmtp({
      users: { 'sender@example.com': 'pw-1' },
      holdAnswer: (answer) => {
        held.push(answer);
        if (onHeld) onHeld();
      },
    });
    try {
      const nodes = await deploy({ connection: { port: smtp.port, maxConnections: 2 }, credentials: basic });
      const run = outcomes(nodes, 10);
      for (let i = 0; i < 10; i++) nodes.send.receive({ payload: i });
      await new Promise<void>((resolve) => (onHeld = () => held.length === 2 && resolve()));
      const redeploy = helper.unload();
      // From now on the server answers at once, and the two held messages are answered too.
      onHeld = () => held.shift()!();
      while (held.length) held.shift()!();
      await redeploy;
      const seen = await run.all;
      assert.equal(seen.size, 10);
      assert.deepEqual(
        [...seen.values()].filter((o) => o.kind !== 'sent'),
        [],
      );
      assert.equal(smtp.messages.length, 10);

      const again = await deploy({ connection: { port: smtp.port }, credentials: basic });
      const one = outcomes(again, 1);
      again.send.receive({ payload: 'after redeploy' });
      assert.equal([...(await one.all).values()][0].kind, 'sent');
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('a transient 421 fails one send without poisoning the pool', async function () {
    let refused = 0;
    const smtp = await startSmtp({
      users: { 'sender@example.com': 'pw-1' },
      onMailFrom: () => (refused++ === 0 ? smtpError('421 4.3.2 Service not available, closing transmission channel') : undefined),
    });
    try {
      const nodes = await deploy({ connection: { port: smtp.port, maxConnections: 1, retryForSeconds: 0 }, credentials: basic });
      const first = outcomes(nodes, 1);
      nodes.send.receive({ payload: 'first' });
      const [r] = [...(await first.all).values()];
      assert.equal(r.kind, 'caught');
      const rest = outcomes(nodes, 5);
      for (let i = 0; i < 5; i++) nodes.send.receive({ payload: i });
      const seen = await rest.all;
      assert.equal([...seen.values()].filter((o) => o.kind === 'sent').length, 5);
      assert.equal(smtp.messages.length, 5);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });

  it('sends a msg nested 4,500 levels deep (27 KB of JSON from an http in node) and passes it on', async function () {
    // The outbox keeps a copy of the msg: a copy that overflows the stack would leave the msg unfinished.
    const smtp = await startSmtp({ users: { 'sender@example.com': 'pw-1' } });
    try {
      const nodes = await deploy({ connection: { port: smtp.port }, credentials: basic });
      const ended = outcomes(nodes, 1);
      nodes.send.receive({ payload: JSON.parse('{"a":'.repeat(4500) + '1' + '}'.repeat(4500)) });
      assert.deepEqual([...(await ended.all).values()], [{ kind: 'sent', code: undefined }]);
      assert.equal((await smtp.waitForMessages(1)).length, 1);
    } finally {
      await helper.unload();
      await smtp.close();
    }
  });
});
