// Per-instance flow control for one subscription: a semaphore for max concurrency and a token
// bucket for the rate limit. Both wait without polling and can be resized live.

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

/**
 * A subscription's deliveries per second on this instance (`null`: unlimited). Named for what it
 * is, apart from the edge's per-API-key RateLimiter (worker/auth/authenticate.ts).
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(private perSecond: number | null) {
    this.tokens = perSecond ?? 0;
  }

  setRate(perSecond: number | null): void {
    this.perSecond = perSecond;
    this.tokens = Math.min(this.tokens, perSecond ?? 0);
  }

  /** Takes a token if one is there now (the shared task worker parks a task instead of waiting). */
  tryTake(): boolean {
    const rate = this.perSecond;
    if (rate === null) return true;
    const now = performance.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Resolves when one delivery may start. A burst of up to one second's worth is allowed. */
  async take(): Promise<void> {
    while (!this.tryTake()) {
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(((1 - this.tokens) / this.perSecond!) * 1000)));
    }
  }
}
