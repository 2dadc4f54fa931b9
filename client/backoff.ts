// How long to wait before the next connection attempt: exponential, capped, with "equal jitter"
// (half the step fixed, half random; AWS Architecture Blog, "Exponential Backoff And Jitter",
// 2015), so a thousand pages cut off by one edge restart do not all come back in the same tick,
// and none retries sooner than half its step.

export interface Backoff {
  /** The first step. */
  initialMs: number;
  /** No step is longer. */
  maxMs: number;
  /** Each failed attempt multiplies the step by this. */
  factor: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 10_000, factor: 2 };

/** The wait before attempt `attempt` (0 = the first retry after a connection was lost). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt));
  return Math.round(step / 2 + (random() * step) / 2);
}
