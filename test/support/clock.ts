// A clock and timers that move only when told to (or, with auto, to each timer as soon as it is
// set), so that waits of seconds or minutes take no time and tests never depend on wall-clock time.

export interface FakeClockOptions {
  auto?: boolean;
  start?: number;
}

/** A timer of the fake clock: due at `at` (clock ms), running `fn`. */
export interface FakeTimer {
  at: number;
  fn: () => void;
}

/** The clock and timers; usable wherever the sources take `now` and `Timers` (rate limiter, backoff). */
export interface FakeClock {
  readonly start: number;
  /** Every ms a timer was set for, in order. */
  readonly delays: number[];
  now(): number;
  set(fn: () => void, ms: number): FakeTimer;
  clear(handle: unknown): void;
  /** Moves to the earliest timer and runs it; false when none is set. */
  step(): boolean;
  pending(): number;
  /** Resolves when a timer is set (at once if one is waiting). */
  nextTimer(): Promise<void>;
}

/**
 * Returns { now(), set(fn, ms), clear(handle), step(), pending(), delays, nextTimer(), start }.
 * - step(): moves to the earliest timer and runs it; false when none is set.
 * - auto: every timer is run on the next turn of the event loop, the clock moved to its due time.
 * - delays: every ms a timer was set for, in order.
 * - nextTimer(): resolves when a timer is set (at once if one is waiting).
 */
export function fakeClock({ auto = false, start = 1_000_000 }: FakeClockOptions = {}): FakeClock {
  let t = start;
  let timers: FakeTimer[] = [];
  const waiters: (() => void)[] = [];
  const clock: FakeClock = {
    start,
    delays: [],
    now: () => t,
    set(fn, ms) {
      const timer: FakeTimer = { at: t + ms, fn };
      timers.push(timer);
      clock.delays.push(ms);
      for (const w of waiters.splice(0)) w();
      if (auto) setImmediate(() => clock.step());
      return timer;
    },
    clear(timer) {
      timers = timers.filter((x) => x !== timer);
    },
    step() {
      if (!timers.length) return false;
      timers.sort((a, b) => a.at - b.at);
      const timer = timers.shift()!;
      t = Math.max(t, timer.at);
      timer.fn();
      return true;
    },
    pending: () => timers.length,
    nextTimer() {
      if (timers.length) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
  return clock;
}
