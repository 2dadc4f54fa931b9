// When to try again. The schedule is indexed by how many attempts have failed (JetStream's
// delivery count), jitter spreads a burst of failures, and a receiver's Retry-After (RFC 9110
// §10.2.3) on 429 or 503 is honoured: the next attempt waits at least that long.
import type { Subscription } from "../subscriptions/model.ts";

/** Delay before attempt `failed + 1`, or null when the schedule is used up. */
export function scheduledDelay(retry: Subscription["retry"], failed: number, random: () => number = Math.random): number | null {
  const base = retry.scheduleMs[failed - 1];
  if (base === undefined) return null;
  const spread = base * retry.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Statuses whose Retry-After the bridge honours. */
export function honoursRetryAfter(status: number): boolean {
  return status === 429 || status === 503;
}

/** The delay to nak with: the schedule's, raised to Retry-After (capped) when the receiver sent one. */
export function nextDelay(
  retry: Subscription["retry"],
  failed: number,
  retryAfterMs: number | null,
  maxRetryAfterMs: number,
  random: () => number = Math.random,
): number | null {
  const scheduled = scheduledDelay(retry, failed, random);
  if (scheduled === null) return null;
  if (retryAfterMs === null) return scheduled;
  return Math.max(scheduled, Math.min(retryAfterMs, maxRetryAfterMs));
}
