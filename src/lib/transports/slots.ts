/**
 * A counting semaphore whose size may change while it is in use (the pool shrinks after a "too
 * many connections" answer). Waiters are served first come, first served.
 */
export class Slots {
  private used = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly size: () => number) {}

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves when a slot is free; call release() exactly once afterwards. */
  acquire(): Promise<void> {
    if (this.used < this.size() && !this.waiters.length) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.used--;
    while (this.waiters.length && this.used < this.size()) {
      this.used++;
      this.waiters.shift()!();
    }
  }
}
