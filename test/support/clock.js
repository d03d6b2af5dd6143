'use strict';
// A clock and timers that move only when told to (or, with auto, to each timer as soon as it is
// set), so that waits of seconds or minutes take no time and tests never depend on wall-clock time.

/**
 * Returns { now(), set(fn, ms), clear(handle), step(), pending(), delays, nextTimer(), start }.
 * - step(): moves to the earliest timer and runs it; false when none is set.
 * - auto: every timer is run on the next turn of the event loop, the clock moved to its due time.
 * - delays: every ms a timer was set for, in order.
 * - nextTimer(): resolves when a timer is set (at once if one is waiting).
 */
function fakeClock({ auto = false, start = 1_000_000 } = {}) {
  let t = start;
  let timers = [];
  let waiters = [];
  const clock = {
    start,
    delays: [],
    now: () => t,
    set(fn, ms) {
      const timer = { at: t + ms, fn };
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
      const timer = timers.shift();
      t = Math.max(t, timer.at);
      timer.fn();
      return true;
    },
    pending: () => timers.length,
    nextTimer() {
      if (timers.length) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
  return clock;
}

module.exports = { fakeClock };
