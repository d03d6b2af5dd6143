// A connection's outbox on disk, driven as the config node drives it: a real Connection as its
// courier, a temporary folder, a loopback SMTP server, and the rate limit and backoff on the fake
// clock, so that nothing waits on the wall clock.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Mail from 'nodemailer/lib/mailer';
import {
  Connection,
  isHandedOver,
  type HandedOver,
  type Origin,
  type Outcome,
  type SendError,
  type SentInfo,
} from '../../src/lib/connection';
import { orphanedOutboxes, outboxFolder } from '../../src/lib/delivery/outbox-folders';
import type { SpoolRecord } from '../../src/lib/delivery/spool';
import type { ConnectionConfig } from '../../src/lib/config/transport-options';
import { fakeClock, type FakeClock } from '../support/clock';
import { startScriptedSmtp, type ScriptedSmtp } from '../support/smtp';
import { delivered } from '../support/connection';

const mail = (subject: string): Mail.Options => ({ from: 'sender@example.com', to: 'to@example.com', subject, text: `body of ${subject}` });

type Settled<T> = { value: T } | { error: SendError };
/** A send's outcome, taken at once so that a rejection is never left unhandled while the test waits. */
const settled = <T = SentInfo | HandedOver>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ value }),
    (error: SendError) => ({ error }),
  );

/** A promise and the function that resolves it: for the moments the outbox reports through a callback. */
function signal<T = void>(): { promise: Promise<T>; fire: (value: T) => void } {
  let fire!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (fire = resolve));
  return { promise, fire };
}

interface OutboxSetup {
  config?: ConnectionConfig;
  clock?: FakeClock;
  maxBytes?: number;
  report?: (record: SpoolRecord, outcome: Outcome) => void;
  onChange?: () => void;
}

describe('outbox', function () {
  let smtp: ScriptedSmtp;
  let root: string;
  const connections: Connection[] = [];

  before(async function () {
    smtp = await startScriptedSmtp({ auth: false });
  });
  after(() => smtp.close());
  beforeEach(function () {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-'));
    smtp.reset();
  });
  afterEach(async function () {
    await Promise.all(connections.splice(0).map((c) => c.close(0)));
    fs.rmSync(root, { recursive: true, force: true });
  });

  const folder = (name: string) => path.join(root, name);
  /** The mails' files in an outbox folder (not its damaged/ folder). */
  const files = (dir: string) =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => /\.(eml|json)$/.test(f))
          .sort()
      : [];
  const subjects = () => smtp.messages.map((m) => m.parsed.subject);

  /** A connection with a disk outbox in `name`, as the config node creates it. */
  function connection(name: string, setup: OutboxSetup = {}): Connection {
    const { clock } = setup;
    const conn = new Connection(
      { host: '127.0.0.1', port: smtp.port, security: 'none', authType: 'none', ...setup.config },
      { user: 'sender@example.com' },
      {
        now: clock?.now,
        timers: clock,
        retry: { random: () => 0.5 },
        report: setup.report,
        onChange: setup.onChange,
        outbox: { dir: folder(name), maxBytes: setup.maxBytes ?? 10 * 1024 * 1024 },
      },
    );
    connections.push(conn);
    return conn;
  }

  it('writes the mails that have to wait, sends them oldest first, and deletes each once the server accepted it', async function () {
    const clock = fakeClock();
    const counts: number[] = [];
    // 2 a minute: the first goes at once, the others wait 30 s each.
    const conn = connection('queue', { config: { rateLimitPerMinute: 2 }, clock, onChange: () => counts.push(conn.outbox!.list().length) });
    const outbox = conn.outbox!;
    await outbox.open();
    const queued = [signal(), signal()];
    const one = settled(delivered(conn.send(mail('one'))));
    const two = settled(delivered(conn.send(mail('two'), false, (waits) => waits && queued[0].fire())));
    const three = settled(delivered(conn.send(mail('three'), false, (waits) => waits && queued[1].fire())));
    await Promise.all(queued.map((q) => q.promise));

    const first = await one;
    assert.ok('value' in first);
    assert.deepEqual(subjects(), ['one']);
    assert.equal(outbox.waiting, 2);
    assert.equal(conn.waiting, 2);
    const waiting = outbox.list();
    assert.deepEqual(
      waiting.map((e) => [e.subject, e.to, e.attempts]),
      [
        ['two', 'to@example.com', 0],
        ['three', 'to@example.com', 0],
      ],
      'the mail sent at once was never written',
    );
    assert.equal(files(outbox.dir).length, 4);
    for (const e of waiting) assert.equal(fs.statSync(path.join(outbox.dir, `${e.id}.eml`)).size, e.size);

    await clock.nextTimer();
    clock.step();
    const second = await two;
    assert.ok('value' in second);
    assert.deepEqual(subjects(), ['one', 'two']);
    assert.equal(smtp.messages[1].parsed.messageId, second.value.messageId);
    assert.deepEqual(
      outbox.list().map((e) => e.subject),
      ['three'],
    );
    assert.deepEqual(files(outbox.dir), [`${waiting[1].id}.eml`, `${waiting[1].id}.json`]);

    await clock.nextTimer();
    clock.step();
    assert.ok('value' in (await three));
    assert.deepEqual(subjects(), ['one', 'two', 'three']);
    assert.deepEqual(outbox.list(), []);
    assert.deepEqual(files(outbox.dir), []);
    assert.equal(clock.now() - clock.start, 60000);
    // The config node follows the count through onChange: up to 2 waiting, then down to none.
    const steps = counts.filter((n, i) => i === 0 || n !== counts[i - 1]);
    assert.equal(Math.max(...steps), 2);
    assert.deepEqual(steps.slice(-3), [2, 1, 0]);
  });

  it('sends a mail that arrives while an older one is being written at once, after it, without writing it', async function () {
    const listed = new Set<string>();
    const conn = connection('behind', {
      config: { maxConnections: 1 },
      onChange: () => conn.outbox!.list().forEach((e) => listed.add(e.subject)),
    });
    const outbox = conn.outbox!;
    await outbox.open();
    // Over a MB of content is written before it goes; the next mail arrives during that write.
    const big = settled(delivered(conn.send({ ...mail('big'), text: 'x'.repeat(1100 * 1024) })));
    const small = settled(delivered(conn.send(mail('small'))));
    assert.ok('value' in (await big));
    assert.ok('value' in (await small));
    assert.deepEqual(subjects(), ['big', 'small'], 'in the order they arrived');
    assert.deepEqual([...listed], ['big'], 'the younger mail was never written (it used to be, and so was every mail after it)');
    assert.deepEqual(files(outbox.dir), []);
  });

  it('keeps waiting mails across a restart: the next start sends them and reports each outcome with its msg', async function () {
    const clock = fakeClock(); // never moves: the second mail never gets its turn in this run
    const before = connection('restart', { config: { rateLimitPerMinute: 1 }, clock });
    await before.outbox!.open();
    await before.send(mail('sent at once'));
    const queued = signal();
    const origin: Origin = { node: 'send-1', msg: { _msgid: 'm-2', topic: 'daily', payload: Buffer.from('pdf'), req: { socket: {} } } };
    const left = settled(before.send(mail('left'), false, (waits) => waits && queued.fire(), undefined, origin));
    await queued.promise;
    await before.close();
    const outcome = await left;
    assert.ok('value' in outcome && isHandedOver(outcome.value), 'the msg ends: its mail stays in the outbox');
    assert.equal(files(folder('restart')).length, 2);
    assert.deepEqual(subjects(), ['sent at once']);

    const reported = signal<[SpoolRecord, Outcome]>();
    const after = connection('restart', { report: (record, result) => reported.fire([record, result]) });
    const outbox = after.outbox!;
    await outbox.open();
    assert.deepEqual(
      outbox.list().map((e) => e.subject),
      ['left'],
    );
    assert.equal(outbox.countFor('send-1'), 1, 'the send node is told that one of its mails waits');
    assert.deepEqual(subjects(), ['sent at once'], 'nothing is sent before resume (the flows have started)');
    outbox.resume();
    const [record, result] = await reported.promise;
    assert.ok('info' in result);
    assert.equal(result.info.messageId, record.messageId);
    assert.equal(record.node, 'send-1');
    assert.deepEqual(record.msg, { _msgid: 'm-2', topic: 'daily', payload: Buffer.from('pdf') }, 'the msg as stored: live objects dropped');
    assert.deepEqual(subjects(), ['sent at once', 'left']);
    assert.equal(smtp.messages[1].parsed.messageId, record.messageId);
    assert.equal(outbox.countFor('send-1'), 0);
    assert.deepEqual(files(folder('restart')), []);
  });

  it('refuses a mail it cannot hold with EOUTBOX and a hint, before any attempt', async function () {
    const conn = connection('full', { maxBytes: 100 });
    // Not opened yet, as before the flows have started: the send opens it, and writes the mail first.
    await assert.rejects(
      delivered(conn.send(mail('too large for the outbox'))),
      (e: SendError) => e.code === 'EOUTBOX' && e.attempts === 0 && !!e.hint,
    );
    assert.deepEqual(smtp.seen, [], 'the server never saw it');
    assert.deepEqual(files(folder('full')), []);
  });

  describe('a mail that waits for a retry', function () {
    /** A mail sent at once and refused with a 451: it waits for its retry, which the clock never brings. */
    async function refusedOnce(name: string) {
      const clock = fakeClock();
      const conn = connection(name, { clock });
      const outbox = conn.outbox!;
      await outbox.open();
      smtp.refuse = ['451 4.3.0 Error: queue file write error'];
      const retrying = signal();
      const sending = settled(delivered(conn.send(mail('refused once'), false, undefined, (waits) => waits && retrying.fire())));
      await retrying.promise;
      return { clock, conn, outbox, sending };
    }

    it('is written to the outbox with its error and when it is tried next', async function () {
      const { clock, outbox } = await refusedOnce('waits');
      const [entry] = outbox.list();
      assert.equal(entry.subject, 'refused once');
      assert.equal(entry.attempts, 1);
      assert.equal(entry.nextAttemptAt, clock.now() + 1000);
      assert.equal(entry.lastError?.responseCode, 451);
      assert.equal(entry.lastError?.code, 'EMESSAGE');
      assert.ok(entry.lastError?.hint);
      assert.deepEqual(files(outbox.dir), [`${entry.id}.eml`, `${entry.id}.json`]);
    });

    it('goes at once on Retry now, with the same Message-ID, and leaves the outbox', async function () {
      const { outbox, sending } = await refusedOnce('retry-now');
      assert.equal(await outbox.retryNow(), 1);
      const outcome = await sending;
      assert.ok('value' in outcome);
      assert.equal(outcome.value.attempts, 2);
      assert.equal(smtp.seen.length, 2);
      assert.equal(smtp.seen[0], smtp.seen[1]);
      assert.equal(outcome.value.messageId, smtp.seen[1]);
      assert.deepEqual(subjects(), ['refused once']);
      assert.deepEqual(outbox.list(), []);
      assert.deepEqual(files(outbox.dir), []);
    });

    it('ends its msg with EOUTBOX when deleted, and is never sent', async function () {
      const { conn, outbox, sending } = await refusedOnce('delete');
      const [entry] = outbox.list();
      assert.equal(await outbox.remove('no such id'), 0);
      assert.equal(await outbox.remove(entry.id), 1);
      const outcome = await sending;
      assert.ok('error' in outcome);
      assert.equal(outcome.error.code, 'EOUTBOX');
      assert.equal(outcome.error.attempts, 1);
      assert.ok(outcome.error.hint);
      assert.deepEqual(files(outbox.dir), []);
      assert.equal(conn.retrying, 0);
      assert.deepEqual(subjects(), []);
      assert.equal(smtp.seen.length, 1);
    });
  });

  describe('folders', function () {
    it("names a connection's folder by its id when that is a plain name, else by a hash of it", function () {
      assert.equal(outboxFolder('a1b2c3d4e5f6a7b8'), 'a1b2c3d4e5f6a7b8');
      // A flow file can hold any id: one with a dot (older Node-RED) or a path is never a path here.
      for (const id of ['8f3a1c2b.4d5e6f', '../../etc']) {
        const odd = outboxFolder(id);
        assert.match(odd, /^id-[0-9a-f]{32}$/, id);
        assert.equal(outboxFolder(id), odd, 'the same id, the same folder');
      }
      assert.notEqual(outboxFolder('../../etc'), outboxFolder('../../etd'));
      assert.match(outboxFolder('x'.repeat(101)), /^id-/);
    });

    it('finds the folders that hold mails of no deployed connection', async function () {
      const make = (name: string, mails: number) => {
        fs.mkdirSync(path.join(root, name));
        for (let i = 0; i < mails; i++) fs.writeFileSync(path.join(root, name, `${i}.json`), '{}');
      };
      make('deployed', 1);
      make(outboxFolder('a.b'), 1);
      make('orphan', 2);
      make('empty', 0);
      assert.deepEqual(await orphanedOutboxes(root, new Set(['deployed', 'a.b'])), [{ dir: path.join(root, 'orphan'), count: 2 }]);
      assert.deepEqual(await orphanedOutboxes(path.join(root, 'missing'), new Set()), []);
    });
  });
});
