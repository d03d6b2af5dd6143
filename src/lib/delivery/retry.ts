import type { Timers } from './rate-limiter';

export interface RetryTiming {
  /** First delay in ms (1 s); doubled after every further failure. Shorter only in tests and the benchmark. */
  baseMs?: number;
  /** Longest delay in ms (5 min). */
  maxMs?: number;
  now?: () => number;
  timers?: Timers;
  /** Source of the jitter, in [0, 1). */
  random?: () => number;
}

export const RETRY_BASE_MS = 1000;
export const RETRY_MAX_MS = 5 * 60 * 1000;
/** A bound on the loop whatever the deadline: days of retrying at the longest delay. */
export const MAX_ATTEMPTS = 1000;

/**
 * The wait before the next attempt after `failures` failed ones: 1 s, 2 s, 4 s … up to 5 min, each
 * spread by ±25 % so that sends that failed together do not come back together, and never shorter
 * than what the token endpoint asked for (Retry-After).
 */
export function backoffDelay(failures: number, timing: RetryTiming = {}, retryAfterMs = 0): number {
  const baseMs = timing.baseMs ?? RETRY_BASE_MS;
  const maxMs = timing.maxMs ?? RETRY_MAX_MS;
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  const spread = plain * (0.75 + 0.5 * (timing.random ?? Math.random)());
  return Math.max(Math.round(Math.min(maxMs, spread)), retryAfterMs);
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The waits of sends between attempts, on a clock and timers tests can replace. Closing ends every
 * wait at once, so that a redeploy never waits minutes for a backoff.
 */
export class Backoff {
  readonly now: () => number;
  private readonly timers: Timers;
  private readonly pending = new Set<{ handle: unknown; reject: (err: Error) => void }>();

  constructor(readonly timing: RetryTiming = {}) {
    this.now = timing.now ?? Date.now;
    this.timers = timing.timers ?? realTimers;
  }

  /** Number of sends waiting for their next attempt. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Resolves after `ms`; rejects with the error given to close() if that comes first. `bind` gets a
   * function that ends this wait at once (the outbox's Retry now).
   */
  wait(ms: number, bind?: (wake: () => void) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        handle: undefined as unknown,
        reject,
      };
      const end = () => {
        if (!this.pending.delete(entry)) return;
        this.timers.clear(entry.handle);
        resolve();
      };
      entry.handle = this.timers.set(() => {
        this.pending.delete(entry);
        resolve();
      }, ms);
      this.pending.add(entry);
      bind?.(end);
    });
  }

  /** Ends every wait with `err`. */
  close(err: Error): void {
    for (const entry of [...this.pending]) {
      this.pending.delete(entry);
      this.timers.clear(entry.handle);
      entry.reject(err);
    }
  }
}
