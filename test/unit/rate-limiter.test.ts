// The rate limiter on the fake clock: sends go one every windowMs / limit, first come first served,
// and a minute of waiting takes no time.
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/lib/delivery/rate-limiter';
import { fakeClock, type FakeClockOptions } from '../support/clock';

const limiterOn = (limit: number, clockOptions: FakeClockOptions = {}, windowMs?: number) => {
  const clock = fakeClock(clockOptions);
  return { clock, limiter: new RateLimiter(limit, { windowMs, now: clock.now, timers: clock }) };
};

describe('rate limiter', function () {
  it('lets the first send go at once and the next ones one interval apart, in order, telling each that it waits', async function () {
    const { clock, limiter } = limiterOn(2); // 2 a minute: one every 30 s
    const released: string[] = [];
    const told: string[] = [];
    const take = (name: string) =>
      limiter.acquire(() => told.push(name)).then(() => released.push(`${name} at ${(clock.now() - clock.start) / 1000} s`));
    const first = take('a');
    const others = [take('b'), take('c')];
    await first;
    assert.deepEqual(released, ['a at 0 s']);
    assert.deepEqual(told, ['b', 'c'], 'only the ones that wait are told');
    assert.equal(limiter.waiting, 2);
    assert.equal(clock.pending(), 1, 'one timer, whatever the queue');
    assert.equal(clock.delays[0], 30000);
    clock.step();
    await others[0];
    assert.deepEqual(released, ['a at 0 s', 'b at 30 s']);
    assert.equal(limiter.waiting, 1);
    clock.step();
    await others[1];
    assert.deepEqual(released, ['a at 0 s', 'b at 30 s', 'c at 60 s']);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pending(), 0, 'no timer left once nobody waits');
  });

  it('counts its interval in a window of one minute unless told otherwise', async function () {
    for (const [windowMs, interval] of [
      [undefined, 2000],
      [600, 20],
    ] as const) {
      const { clock, limiter } = limiterOn(30, {}, windowMs);
      await limiter.acquire();
      const next = limiter.acquire();
      assert.deepEqual(clock.delays, [interval]);
      clock.step();
      await next;
      assert.equal(clock.now() - clock.start, interval);
    }
  });

  it('never lets a rolling window hold more than the limit, with a steady queue or after a pause', async function () {
    const { clock, limiter } = limiterOn(3, { auto: true }); // 3 a minute: one every 20 s
    const at: number[] = [];
    const send = () => limiter.acquire().then(() => at.push(clock.now() - clock.start));
    await Promise.all(Array.from({ length: 7 }, send));
    assert.deepEqual(at, [0, 20000, 40000, 60000, 80000, 100000, 120000]);
    // A pause longer than the interval does not save up turns: after it, one goes at once and the next an interval later.
    clock.set(() => undefined, 300000);
    clock.step();
    const resumed = clock.now() - clock.start;
    await Promise.all([send(), send()]);
    assert.deepEqual(at.slice(-2), [resumed, resumed + 20000]);
    for (const t of at) assert.ok(at.filter((u) => u >= t && u < t + 60000).length <= 3, `at most 3 sends in the minute from ${t} ms`);
  });

  it('takes a free turn without waiting, and never one owed to a send that waits', async function () {
    // The time moves by hand here, apart from the timers: a turn can be due before its timer has run.
    const clock = fakeClock();
    let now = 0;
    const limiter = new RateLimiter(60, { now: () => now, timers: clock }); // one a second
    assert.equal(limiter.tryAcquire(), true);
    assert.equal(limiter.tryAcquire(), false, 'within the interval');
    now = 1000;
    assert.equal(limiter.tryAcquire(), true, 'the next interval');
    const waiting = limiter.acquire();
    now = 5000;
    assert.equal(limiter.tryAcquire(), false, 'the turn is owed to the send that waits');
    clock.step();
    await waiting;
    assert.equal(limiter.tryAcquire(), false, 'the waiting send took the turn just now');
    now = 6000;
    assert.equal(limiter.tryAcquire(), true);
  });

  it('fails every waiting send when closed, and leaves no timer behind', async function () {
    const { clock, limiter } = limiterOn(1);
    await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire()];
    assert.equal(limiter.waiting, 2);
    const closed = new Error('The connection was closed');
    limiter.close(closed);
    for (const w of waiting) await assert.rejects(w, (e) => e === closed);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pending(), 0);
  });
});
