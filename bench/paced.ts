// Open-loop load: sends at evenly spaced due times whether or not earlier sends finished, so a slow
// answer cannot hold back the next request (closed-loop tools, and autocannon's `overallRate`, which
// fires each second's quota as a burst, both under-report latency at a given rate).
import { setTimeout as sleep } from "node:timers/promises";

export interface PacedResult {
  /** Milliseconds from each send's due time (or its start, if that came first) to its promise settling, for sends that succeeded. */
  latencies: number[];
  failures: number;
  /** Successful sends per second over the whole phase. */
  rate: number;
}

/**
 * Calls `send(i, due)` for i = 0 … rate·seconds − 1, each at its due time `start + i/rate` (a
 * performance.now() value), and waits for all of them.
 * Bounded: rate·seconds sends, each of which the caller bounds in time.
 */
export async function paced(rate: number, seconds: number, send: (i: number, due: number) => Promise<unknown>): Promise<PacedResult> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let failures = 0;
  const pending: Array<Promise<void>> = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    // Timed from the due time when the start is late (a late start is latency too: wrk2's rule),
    // from the start when the timer woke a little early.
    const t0 = Math.min(due, performance.now());
    pending.push(send(i, due).then(() => void latencies.push(performance.now() - t0), () => void failures++));
  }
  await Promise.all(pending);
  return { latencies, failures, rate: latencies.length / ((performance.now() - started) / 1000) };
}
