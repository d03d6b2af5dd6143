import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { MailError } from '../../src/lib/errors/errors';
import { nextId, Spool, storableMsg, type SpoolLimits, type SpoolRecord } from '../../src/lib/delivery/spool';

const fields = (n: number): Omit<SpoolRecord, 'id' | 'size' | 'created'> => ({
  messageId: `<m${n}@x>`,
  envelope: { from: 'a@x', to: ['b@x'] },
  summary: { to: 'b@x', subject: `mail ${n}` },
  attempts: 0,
});
const LIMITS: SpoolLimits = { maxBytes: 1024 * 1024, maxCount: 100 };

describe('spool', function () {
  let dir: string;
  beforeEach(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'spool-')), 'conn-1');
  });
  afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('keeps mails across a reopen, oldest first, in 0600 files in a 0700 folder', async function () {
    const { spool } = await Spool.open(dir, LIMITS);
    for (let i = 0; i < 5; i++) await spool.add(fields(i), Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}`));
    await spool.add(fields(5), Readable.from([Buffer.from('Subject: 5\r\n'), Buffer.from('\r\nbody 5')]));
    const again = await Spool.open(dir, LIMITS);
    assert.deepEqual(
      again.pending.map((r) => r.summary.subject),
      ['mail 0', 'mail 1', 'mail 2', 'mail 3', 'mail 4', 'mail 5'],
    );
    assert.deepEqual(again.damaged, []);
    const last = again.pending[5];
    assert.equal(fs.readFileSync(again.spool.file(last.id, 'eml'), 'utf8'), 'Subject: 5\r\n\r\nbody 5');
    assert.equal(last.size, Buffer.byteLength('Subject: 5\r\n\r\nbody 5'));
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    for (const name of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, name)).mode & 0o777, 0o600, name);
  });

  it('removes a mail for good and updates a record in place', async function () {
    const { spool } = await Spool.open(dir, LIMITS);
    const a = await spool.add(fields(1), Buffer.from('a'));
    const b = await spool.add(fields(2), Buffer.from('b'));
    await spool.remove(a.id);
    await spool.update({ ...b, attempts: 3, lastError: { message: '451 try later', code: 'EMESSAGE', responseCode: 451 } });
    const again = await Spool.open(dir, LIMITS);
    assert.deepEqual(
      again.pending.map((r) => [r.id, r.attempts, r.lastError!.responseCode]),
      [[b.id, 3, 451]],
    );
    assert.deepEqual(fs.readdirSync(dir).sort(), [`${b.id}.eml`, `${b.id}.json`]);
  });

  it('sets aside a truncated record, deletes temporary files and a message without record, and keeps the rest', async function () {
    const { spool } = await Spool.open(dir, LIMITS);
    const good = await spool.add(fields(1), Buffer.from('good'));
    const cut = await spool.add(fields(2), Buffer.from('cut'));
    const orphan = await spool.add(fields(3), Buffer.from('orphan'));
    // A crash mid-write: a record cut short, a message whose record never got written, a temp file.
    const json = fs.readFileSync(spool.file(cut.id, 'json'), 'utf8');
    fs.writeFileSync(spool.file(cut.id, 'json'), json.slice(0, json.length / 2));
    fs.rmSync(spool.file(orphan.id, 'json'));
    fs.writeFileSync(path.join(dir, 'x.eml.tmp'), 'half');
    const again = await Spool.open(dir, LIMITS);
    assert.deepEqual(
      again.pending.map((r) => r.id),
      [good.id],
    );
    // A message without its record was never accepted, or was already sent (the record goes first).
    assert.deepEqual(again.damaged, [cut.id]);
    assert.equal(again.removedTemps, 2);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'damaged')).sort(), [`${cut.id}.eml`, `${cut.id}.json`]);
    assert.deepEqual(fs.readdirSync(dir).sort(), [`${good.id}.eml`, `${good.id}.json`, 'damaged']);
  });

  it('refuses a mail with EOUTBOX when full by count or by size, leaving nothing half-written', async function () {
    const { spool } = await Spool.open(dir, { maxBytes: 100, maxCount: 2 });
    await spool.add(fields(1), Buffer.alloc(10));
    await assert.rejects(
      spool.add(fields(2), Readable.from([Buffer.alloc(60), Buffer.alloc(60)])),
      (e: MailError) => e.code === 'EOUTBOX' && /outbox is full/.test(e.message) && /Outbox/.test(e.hint ?? ''),
    );
    await spool.add(fields(3), Buffer.alloc(10));
    await assert.rejects(spool.add(fields(4), Buffer.alloc(1)), (e: MailError) => e.code === 'EOUTBOX');
    assert.equal(spool.count, 2);
    assert.equal(fs.readdirSync(dir).length, 4, 'two mails, no temporary or partial file');
  });

  it('is held by one queue at a time: the next opens the folder only once the one before released it', async function () {
    const before = new Spool(dir, LIMITS);
    await before.open();
    const after = new Spool(dir, LIMITS);
    let opened = false;
    const opening = after.open().then((found) => {
      opened = true;
      return found;
    });
    // What the one before still holds is written before it lets go.
    const kept = await before.add(fields(1), Buffer.from('Subject: kept\r\n\r\nx'), { id: nextId() });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(opened, false, 'not while the one before holds it');
    before.release();
    const found = await opening;
    assert.deepEqual(
      found.pending.map((r) => r.id),
      [kept.id],
    );
    // One released before its turn came never reads the folder.
    const third = new Spool(dir, LIMITS);
    const late = third.open();
    third.release();
    after.release();
    assert.deepEqual((await late).pending, []);
  });

  it('never holds more than its cap on disk while 20 mails of 0.6 MB are written at once to a 1 MB outbox', async function () {
    const { spool } = await Spool.open(dir, { maxBytes: 1024 * 1024, maxCount: 100 });
    /** The bytes in the folder now: what the disk holds, written or being written. */
    // A refused write deletes its file between readdir and stat: that file holds nothing then.
    const size = (f: string) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.size ?? 0;
    const onDisk = () => fs.readdirSync(dir).reduce((n, f) => n + size(f), 0);
    let peak = 0;
    // Each message arrives in six chunks of 100 KB, so that the twenty writes interleave.
    async function* message() {
      for (let i = 0; i < 6; i++) {
        peak = Math.max(peak, onDisk());
        await new Promise((resolve) => setImmediate(resolve));
        yield Buffer.alloc(100 * 1024, 'x');
      }
    }
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => spool.add(fields(i), Readable.from(message()))));
    peak = Math.max(peak, onDisk());
    const accepted = outcomes.filter((o) => o.status === 'fulfilled').length;
    const refused = outcomes.filter((o) => o.status === 'rejected' && (o.reason as MailError).code === 'EOUTBOX').length;
    assert.equal(accepted + refused, 20, 'each mail kept or refused with EOUTBOX');
    assert.ok(accepted <= 1, `${accepted} mails of 0.6 MB kept under a 1 MB cap`);
    assert.ok(peak <= 1024 * 1024 + 4096, `${peak} bytes on disk at the most (the cap, and a record's JSON)`);
    assert.equal(spool.count, accepted);
  });

  it('reports an error of the message itself (a download that broke off) as it is, and keeps nothing of it', async function () {
    const { spool } = await Spool.open(dir, LIMITS);
    const broken = new Readable({ read() {} });
    broken.push(Buffer.from('Subject: x\r\n\r\npart'));
    setImmediate(() => broken.destroy(Object.assign(new Error('The attachment download broke off'), { code: 'EATTACHMENT' })));
    await assert.rejects(spool.add(fields(1), broken), (e: MailError) => e.code === 'EATTACHMENT' && /broke off/.test(e.message));
    assert.equal(spool.count, 0);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('orders ids by arrival even when the clock is set back', function () {
    const a = nextId(5000);
    const b = nextId(4000);
    const c = nextId(4000);
    assert.deepEqual([c, a, b].sort(), [a, b, c]);
  });

  it('reports an outbox folder that cannot be written as EOUTBOX, and keeps what it held', async function () {
    const { spool } = await Spool.open(dir, LIMITS);
    await spool.add(fields(1), Buffer.from('kept'));
    // Root writes through permission bits; the immutable attribute stops root too.
    const root = process.getuid!() === 0;
    if (root) execFileSync('chattr', ['+i', dir]);
    else fs.chmodSync(dir, 0o500);
    try {
      await assert.rejects(
        spool.add(fields(2), Buffer.from('x')),
        (e: MailError) =>
          e.code === 'EOUTBOX' && /could not be written to the outbox \((EPERM|EACCES)\)/.test(e.message) && /writable/.test(e.hint ?? ''),
      );
    } finally {
      if (root) execFileSync('chattr', ['-i', dir]);
      else fs.chmodSync(dir, 0o700);
    }
    assert.equal(spool.count, 1);
    assert.deepEqual(
      (await Spool.open(dir, LIMITS)).pending.map((r) => r.summary.subject),
      ['mail 1'],
    );
  });
});

describe('storableMsg', function () {
  it('keeps JSON and Buffers, drops functions, live objects and cycles', function () {
    const msg = {
      _msgid: 'm1',
      topic: 't',
      payload: { n: 1, b: Buffer.from('hi') } as Record<string, unknown>,
      req: { socket: {} },
      fn() {},
    };
    msg.payload.self = msg.payload;
    const stored = storableMsg(msg);
    assert.deepEqual(stored, { _msgid: 'm1', topic: 't', payload: { n: 1, b: Buffer.from('hi') } });
  });
  it('gives a stored msg back with its Buffers after a reopen', async function () {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'spool-')), 'c');
    try {
      const { spool } = await Spool.open(dir, LIMITS);
      await spool.add(
        { ...fields(1), msg: storableMsg({ _msgid: 'm1', payload: Buffer.from('pdf bytes'), when: new Date(0) }) },
        Buffer.from('x'),
      );
      const [record] = (await Spool.open(dir, LIMITS)).pending;
      assert.deepEqual(record.msg, { _msgid: 'm1', payload: Buffer.from('pdf bytes'), when: '1970-01-01T00:00:00.000Z' });
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('stops copying a msg as soon as it is above the cap (a 50 MB payload is never turned into JSON)', function () {
    const big = { _msgid: 'm3', topic: 't', payload: Buffer.alloc(50 * 1024 * 1024), more: 'x'.repeat(10) };
    const stored = storableMsg(big);
    assert.deepEqual(Object.keys(stored), ['_msgid', 'topic', 'truncated']);
  });

  it('keeps only the id and topic of a msg nested 4,500 levels deep (27 KB of JSON), instead of overflowing the stack', function () {
    const json = '{"a":'.repeat(4500) + '1' + '}'.repeat(4500);
    assert.ok(json.length < 28 * 1024);
    const stored = storableMsg({ _msgid: 'm4', topic: 't', payload: JSON.parse(json) });
    assert.deepEqual(stored, { _msgid: 'm4', topic: 't', truncated: 'the msg was nested deeper than 100 levels and was not kept' });
    // Arrays nest as deep, and a far deeper msg costs no more: the walk stops at the cap.
    const deepArray = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
    assert.match(storableMsg({ _msgid: 'm5', payload: deepArray }).truncated as string, /nested deeper than 100 levels/);
  });

  it('keeps a msg of 100 levels whole', function () {
    const payload = JSON.parse('{"a":'.repeat(99) + '1' + '}'.repeat(99));
    assert.deepEqual(storableMsg({ _msgid: 'm6', payload }), { _msgid: 'm6', payload });
  });

  it('keeps only the id and topic of a msg above the cap', function () {
    const stored = storableMsg({ _msgid: 'm2', topic: 't', payload: 'x'.repeat(2000) }, 1000);
    assert.equal(stored._msgid, 'm2');
    assert.equal(stored.payload, undefined);
    assert.match(stored.truncated as string, /larger than/);
  });
});
