/** A timer the limiter can use: setTimeout by default, a fake one in tests. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface RateLimiterOptions {
  /** The window the rate is counted in, in ms: one minute; shortened only by tests and the benchmark. */
  windowMs?: number;
  now?: () => number;
  timers?: Timers;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Lets sends out at an even pace, one every windowMs / limit, first come first served. Providers
 * count per rolling minute (Microsoft 365: 30 messages per mailbox), so an even pace never trips
 * them, where nodemailer's own limiter (rateDelta / rateLimit) lets a whole window's quota out at
 * once and then stalls. Its clock and its queue are ours, so tests need not wait minutes and the
 * node can show how many messages wait.
 */
export class RateLimiter {
  private readonly interval: number;
  private readonly now: () => number;
  private readonly timers: Timers;
  /** When the next send may start. */
  private nextAt = -Infinity;
  private readonly queue: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private timer: unknown;

  constructor(limit: number, options: RateLimiterOptions = {}) {
    this.interval = (options.windowMs ?? 60000) / limit;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
  }

  /** Number of callers waiting for their turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when the caller may send; `onWait` is called first when it has to wait. */
  acquire(onWait?: () => void): Promise<void> {
    if (!this.queue.length && this.now() >= this.nextAt) {
      this.take();
      return Promise.resolve();
    }
    onWait?.();
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Takes the next turn if it is free now (nobody waits, the interval has passed); false otherwise. */
  tryAcquire(): boolean {
    if (this.queue.length || this.now() < this.nextAt) return false;
    this.take();
    return true;
  }

  /** Fails every waiting caller with `err` (the connection is closing). */
  close(err: Error): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) w.reject(err);
  }

  private take() {
    // Counted from the later of the due time and now: two sends are never closer than one
    // interval, so no rolling window ever holds more than the limit.
    this.nextAt = Math.max(this.now(), this.nextAt) + this.interval;
  }

  private schedule() {
    if (this.timer !== undefined || !this.queue.length) return;
    this.timer = this.timers.set(
      () => {
        this.timer = undefined;
        while (this.queue.length && this.now() >= this.nextAt) {
          this.take();
          this.queue.shift()!.resolve();
        }
        this.schedule();
      },
      Math.max(0, this.nextAt - this.now()),
    );
  }
}
