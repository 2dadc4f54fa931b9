// What one delivery attempt is, whichever path the event came by (an ordered subscription's own
// durable, runner.ts, or a shared task, task-worker.ts): render, sign and post it; count its
// outcome per subscription; read the attempt history a dead letter carries. The paths differ only
// in how they settle a message (nak(delay) on a durable vs. a new task with a not-before).
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventEnvelope } from "../../broker/index.ts";
import { listAttempts, type AttemptRecord } from "../recovery/attempt-log.ts";
import type { BridgeConfig } from "../config.ts";
import type { BridgeMetrics } from "../metrics.ts";
import { liveSecrets, type Subscription } from "../subscriptions/model.ts";
import { renderEvent } from "./event.ts";
import { honoursRetryAfter, nextDelay, parseRetryAfter } from "./retry-schedule.ts";
import { signHeaders } from "./sign.ts";
import type { AttemptResult, Deliverer } from "./webhook-post.ts";

/**
 * The wait before the next attempt after a failed one, or null when the schedule has none left:
 * the subscription's schedule, or the receiver's Retry-After on 429/503 (bounded by the setting).
 */
export function retryDelay(config: Pick<BridgeConfig, "maxRetryAfterMs">, sub: Subscription, attempt: number, result: AttemptResult): number | null {
  const retryAfterMs = honoursRetryAfter(result.status) ? parseRetryAfter(result.retryAfter) : null;
  return nextDelay(sub.retry, attempt, retryAfterMs, config.maxRetryAfterMs);
}

/** At most this many earlier attempts travel with a dead letter. */
const HISTORY_LIMIT = 50;

/**
 * Renders, signs and posts the event; the outcome comes back as data. `keepAlive` runs every
 * `keepAliveMs` while the request is out, so the message stays this instance's past its AckWait.
 */
export async function postEvent(
  deliverer: Deliverer,
  sub: Subscription,
  event: EventEnvelope,
  opts: { signal: AbortSignal; keepAliveMs: number; keepAlive: () => void },
): Promise<AttemptResult> {
  const { body, headers } = renderEvent(event, sub.format);
  const signed = signHeaders(event.webhookId, body, liveSecrets(sub));
  const timer = sub.timeoutMs > opts.keepAliveMs ? setInterval(opts.keepAlive, opts.keepAliveMs) : undefined;
  try {
    return await deliverer.post({ url: sub.url, headers: { ...headers, ...signed }, body, timeoutMs: sub.timeoutMs, signal: opts.signal });
  } finally {
    clearInterval(timer);
  }
}

/** An event's attempts as read for a dead letter. */
export interface History {
  records: AttemptRecord[];
  /** Why the attempt log could not be read (records is then empty). */
  error?: string;
}

/** The subscription's earlier attempts at this event; throws when the log cannot be read now. */
export async function readHistory(nc: NatsConnection, config: Pick<BridgeConfig, "attemptLog">, sub: Subscription, event: EventEnvelope): Promise<History> {
  if (!config.attemptLog) return { records: [], error: "the attempt log is off (JETGATE_BRIDGE_ATTEMPT_LOG=false)" };
  return { records: await listAttempts(nc, { subscription: sub.id, eventId: event.id, eventSource: event.source, limit: HISTORY_LIMIT }) };
}

/** The history with the last attempt added when the log did not have it yet. */
export function withLast(history: History, last?: AttemptRecord): AttemptRecord[] {
  const attempts = [...history.records];
  if (last && !attempts.some((a) => a.attempt === last.attempt && a.at === last.at)) attempts.push(last);
  return attempts;
}

export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** The metric children of one subscription, looked up once instead of hashing labels per call. */
export class SubscriptionMeters {
  readonly inFlight: { inc(): void; dec(): void };
  readonly attemptSeconds: { observe(v: number): void };
  private readonly outcomes = new Map<AttemptRecord["outcome"], { inc(): void }>();

  constructor(
    private readonly metrics: BridgeMetrics,
    private readonly id: string,
  ) {
    this.inFlight = metrics.inFlight.labels({ subscription: id });
    this.attemptSeconds = metrics.attemptSeconds.labels({ subscription: id });
  }

  count(outcome: AttemptRecord["outcome"]): void {
    let counter = this.outcomes.get(outcome);
    if (!counter) {
      counter = this.metrics.deliveries.labels({ subscription: this.id, outcome });
      this.outcomes.set(outcome, counter);
    }
    counter.inc();
  }
}
