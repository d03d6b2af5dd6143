// The rate limit (rateLimitPerMinute): an even pace, nothing dropped, the queue visible in the
// status. Time is a fake clock here, so a minute's worth of sends takes no minute.
import assert from 'node:assert/strict';
import type { NodeStatus } from 'node-red';
import { RateLimiter, type Timers } from '../src/lib/delivery/rate-limiter';
import { Connection } from '../src/lib/connection';
import { transportOptions, type ConnectionConfig } from '../src/lib/config/transport-options';
import { startSmtp, type SmtpServer } from './support/smtp';
import { delivered } from './support/connection';
import { deploy, useHelperWithSmtp, type Msg } from './support/flow';

interface FakeTimer {
  at: number;
  fn: () => void;
}

/** A clock and timers that move only when told to. */
interface FakeTime {
  t: number;
  timers: FakeTimer[];
  now(): number;
  set(fn: () => void, ms: number): FakeTimer;
  clear(timer: unknown): void;
  /** Moves to the next due timer and runs it; false when none is set. */
  step(): boolean;
  /** Its timers, as the rate limiter and the connection take them. */
  timersApi: Timers;
}

/** A clock and timers that move only when told to. */
function fakeTime(start = 1_000_000): FakeTime {
  const clock: Omit<FakeTime, 'timersApi'> = {
    t: start,
    timers: [],
    now: () => clock.t,
    set(fn, ms) {
      const timer = { at: clock.t + ms, fn };
      clock.timers.push(timer);
      return timer;
    },
    clear(timer) {
      clock.timers = clock.timers.filter((x) => x !== timer);
    },
    /** Moves to the next due timer and runs it; false when none is set. */
    step() {
      if (!clock.timers.length) return false;
      clock.timers.sort((a, b) => a.at - b.at);
      const timer = clock.timers.shift()!;
      clock.t = Math.max(clock.t, timer.at);
      timer.fn();
      return true;
    },
  };
  return Object.assign(clock, { timersApi: { set: clock.set, clear: clock.clear } });
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('rate limiter', function () {
  it('lets 60 sends out at 120 per minute one every 500 ms, in order, the last after 29.5 s', async function () {
    const clock = fakeTime();
    const limiter = new RateLimiter(120, { now: clock.now, timers: clock.timersApi });
    const start = clock.t;
    const released: { i: number; at: number }[] = [];
    let waitedCalls = 0;
    const all = Array.from({ length: 60 }, (_, i) =>
      limiter.acquire(() => waitedCalls++).then(() => released.push({ i, at: clock.t - start })),
    );
    await flush();
    assert.equal(released.length, 1, 'the first goes at once');
    assert.equal(limiter.waiting, 59);
    assert.equal(waitedCalls, 59, 'every other caller is told it waits');
    while (clock.step()) await flush();
    await Promise.all(all);
    assert.deepEqual(
      released.map((r) => r.i),
      [...Array(60).keys()],
      'first come, first served',
    );
    assert.deepEqual(
      released.map((r) => r.at),
      Array.from({ length: 60 }, (_, i) => i * 500),
    );
    assert.equal(limiter.waiting, 0);
  });

  it('never lets two sends closer than the interval, also after a pause, and counts a short window', async function () {
    const clock = fakeTime();
    const limiter = new RateLimiter(120, { windowMs: 600, now: clock.now, timers: clock.timersApi }); // 5 ms apart
    const times: number[] = [];
    const take = () => limiter.acquire().then(() => times.push(clock.t));
    const first = [take(), take(), take()];
    await flush();
    while (clock.step()) await flush();
    await Promise.all(first);
    clock.t += 3; // a pause shorter than the interval
    const second = [take(), take()];
    await flush();
    while (clock.step()) await flush();
    await Promise.all(second);
    for (let i = 1; i < times.length; i++)
      assert.ok(times[i] - times[i - 1] >= 5, `sends ${i - 1} and ${i} are ${times[i] - times[i - 1]} ms apart`);
  });

  it('fails the waiting callers when it is closed, and only them', async function () {
    const clock = fakeTime();
    const limiter = new RateLimiter(60, { now: clock.now, timers: clock.timersApi });
    const outcomes = await Promise.allSettled([
      limiter.acquire(),
      limiter.acquire(),
      limiter.acquire(),
      flush().then(() => limiter.close(new Error('closed'))),
    ]);
    assert.deepEqual(
      outcomes.slice(0, 3).map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected'],
    );
    assert.equal(clock.timers.length, 0, 'no timer is left behind');
  });
});

describe('rate limit of a connection', function () {
  let smtp: SmtpServer;
  before(async () => (smtp = await startSmtp({ auth: false })));
  after(() => smtp.close());
  afterEach(() => (smtp.messages.length = 0));

  const config = (port: number, extra?: ConnectionConfig): ConnectionConfig => ({
    host: '127.0.0.1',
    port,
    security: 'none',
    authType: 'none',
    rateLimitPerMinute: 120,
    ...extra,
  });

  it('queues what exceeds the rate, reports each waiting send, and delivers them all as time passes', async function () {
    const clock = fakeTime();
    const conn = new Connection(config(smtp.port), { user: 'sender@example.com' }, { now: clock.now, timers: clock.timersApi });
    const queueEvents: [number, boolean][] = [];
    const sends = Array.from({ length: 6 }, (_, i) =>
      delivered(
        conn.send({ from: 'sender@example.com', to: 'to@example.com', subject: `m${i}`, text: 'x' }, false, (waiting) =>
          queueEvents.push([i, waiting]),
        ),
      ),
    );
    await smtp.waitForMessages(1);
    assert.equal(conn.waiting, 5);
    assert.equal(smtp.messages.length, 1);
    assert.deepEqual(
      queueEvents,
      [1, 2, 3, 4, 5].map((i) => [i, true]),
    );
    while (clock.step()) await flush();
    const results = await Promise.all(sends);
    assert.equal(results.length, 6);
    // Released in order; over several pooled connections they may arrive in any order.
    assert.deepEqual(smtp.messages.map((m) => m.parsed.subject).sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    assert.deepEqual(
      queueEvents.filter(([, w]) => !w).map(([i]) => i),
      [1, 2, 3, 4, 5],
      'each waiting send reported leaving the queue',
    );
    await conn.close();
  });

  it('fails the sends still waiting when it is closed, with ECONNECTION and a hint: none is lost silently', async function () {
    const clock = fakeTime();
    const conn = new Connection(config(smtp.port), { user: 'sender@example.com' }, { now: clock.now, timers: clock.timersApi });
    const sends = [0, 1, 2].map((i) =>
      delivered(conn.send({ from: 'sender@example.com', to: 'to@example.com', subject: `m${i}`, text: 'x' })),
    );
    await sends[0];
    await conn.close(0);
    const outcomes = await Promise.allSettled(sends);
    assert.equal(outcomes[0].status, 'fulfilled');
    for (const o of outcomes.slice(1)) {
      assert.equal(o.status, 'rejected');
      assert.equal(o.reason.code, 'ECONNECTION');
      assert.match(o.reason.hint, /rate limit/);
    }
    assert.equal(smtp.messages.length, 1);
  });

  it('gives nodemailer no rate limit of its own', function () {
    const options = transportOptions(config(25), {});
    assert.equal(options.rateLimit, undefined);
    assert.equal(options.rateDelta, undefined);
  });
});

describe('send-smtp-email under a rate limit', function () {
  const smtp = useHelperWithSmtp({ auth: false });

  it('shows how many messages wait (blue ring), passes every msg on, then shows the success', async function () {
    // 600 per minute: one every 100 ms, so the queue drains in under half a second without a fake clock.
    const nodes = await deploy({
      connection: { port: smtp().port, authType: 'none', rateLimitPerMinute: '600' },
      credentials: { user: 'sender@example.com' },
    });
    const statuses: NodeStatus[] = [];
    const onStatus = (match: (status: NodeStatus) => boolean) =>
      new Promise<{ status: NodeStatus; waiting: number }>((resolve) =>
        nodes.send.on('call:status', (c) => {
          if (match(c.args[0])) resolve({ status: c.args[0], waiting: nodes.config.connection().waiting });
        }),
      );
    nodes.send.on('call:status', (c) => statuses.push(c.args[0]));
    const queued = onStatus((s) => /queued/.test(String(s.text)));
    const outputs: Msg[] = [];
    const allOut = new Promise<void>((resolve) => nodes.out.on('input', (msg) => outputs.push(msg) === 5 && resolve()));
    const success = onStatus((s) => s.fill === 'green');
    for (let i = 0; i < 5; i++) nodes.send.receive({ payload: i, topic: `t${i}` });
    const q = await queued;
    assert.deepEqual([q.status.fill, q.status.shape], ['blue', 'ring']);
    assert.ok(q.waiting >= 1, `sends were waiting when the ring showed (${q.waiting})`);
    await allOut;
    await success;
    assert.equal(smtp().messages.length, 5);
    assert.deepEqual(outputs.map((m) => m.payload).sort(), [0, 1, 2, 3, 4]);
    assert.equal(statuses.at(-1)!.fill, 'green', 'the last status is the success');
  });
});
