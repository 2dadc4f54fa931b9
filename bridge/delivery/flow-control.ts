// Per-instance flow control: a semaphore for a subscription's max concurrency (and the instance's
// slots). It waits without polling and can be resized live. The rate limit is held across
// instances instead (shared-rate.ts).

export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private max: number) {}

  get inUse(): number {
    return this.active;
  }

  resize(max: number): void {
    this.max = max;
    this.wake();
  }

  async acquire(): Promise<void> {
    if (this.active < this.max) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.active--;
    this.wake();
  }

  /** Wakes every waiter without a slot (used at shutdown; they must check and give the slot back). */
  releaseWaiters(): void {
    while (this.waiters.length > 0) {
      this.active++;
      this.waiters.shift()!();
    }
  }

  private wake(): void {
    while (this.active < this.max && this.waiters.length > 0) {
      this.active++;
      this.waiters.shift()!();
    }
  }
}
