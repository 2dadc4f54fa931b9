// Delivery for one subscription on one bridge instance: pulls from the subscription's two durable
// consumers, keeps at most maxConcurrency attempts in flight (and the rate limit), and settles
// every message exactly one way: ack after a 2xx, nak(delay) to retry, DLQ then term when the
// attempts are used up. Nothing is acked before the receiver said 2xx.
import type { JetStreamClient, JetStreamManager, JsMsg, ConsumerMessages } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decodeEvent, H_SOURCE_SUBJECT, type EventEnvelope } from "../../broker/index.ts";
import type { AttemptLog, AttemptRecord } from "../recovery/attempt-log.ts";
import { listAttempts } from "../recovery/attempt-log.ts";
import type { BridgeConfig } from "../config.ts";
import { ensureConsumer, durableName, streamOf, type Source } from "./durable-consumers.ts";
import type { Deliverer, AttemptResult } from "./webhook-post.ts";
import { publishDeadLetter } from "../recovery/dlq.ts";
import { renderEvent } from "./event.ts";
import type { HealthTracker } from "./auto-disable.ts";
import { RateLimiter, Semaphore } from "./flow-control.ts";
import type { BridgeMetrics } from "../metrics.ts";
import { honoursRetryAfter, nextDelay, parseRetryAfter } from "./retry-schedule.ts";
import { signHeaders } from "./sign.ts";
import { liveSecrets, maxAttempts, type Subscription } from "../subscriptions/model.ts";
import type { TickBatch } from "./tick-batch.ts";
import type { NatsConnection } from "@nats-io/nats-core";

/** After 410 Gone the message waits this long before it may be tried again (after re-enable). */
export const GONE_RETRY_DELAY_MS = 60_000;
/** How long a pull request waits on the server for messages (the client then pulls again). */
const PULL_EXPIRES_MS = 2_000;
/**
 * Messages given back at shutdown are nak'ed with this delay: nats-server 2.9 may still hold this
 * instance's last pull request (until it expires) and would hand an immediately nak'ed message
 * straight back to it, where it would sit unanswered for a whole AckWait.
 */
const HANDBACK_DELAY_MS = PULL_EXPIRES_MS + 1_000;
/** A failed DLQ publish is retried after this long. */
const DLQ_RETRY_DELAY_MS = 1_000;
/** At most this many earlier attempts travel with a dead letter. */
const HISTORY_LIMIT = 50;
/** Deliveries past the last attempt spent waiting for a readable attempt log before dead-lettering without it. */
const HISTORY_RETRIES = 10;

export interface RunnerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  deliverer: Deliverer;
  attempts: AttemptLog;
  metrics: BridgeMetrics;
  health: HealthTracker;
  config: BridgeConfig;
  log: Logger;
  /** Acks and attempt records of successes, sent together once per loop turn (tick-batch.ts). */
  settle: TickBatch;
}

/** Settings whose change needs the consumers updated and the pulls restarted. */
function pullKey(sub: Subscription): string {
  return JSON.stringify([sub.filter, sub.ackWaitMs, sub.maxConcurrency, sub.ordered]);
}

export class SubscriptionRunner {
  private sub: Subscription;
  private readonly slots: Semaphore;
  private readonly rate: RateLimiter;
  private pulls: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private abort = new AbortController();
  private stopping = false;
  /** The metric children of this subscription, looked up once instead of hashing labels per call. */
  private readonly gauges: { inFlight: { inc(): void; dec(): void }; attemptSeconds: { observe(v: number): void } };
  private readonly outcomes = new Map<AttemptRecord["outcome"], { inc(): void }>();

  constructor(
    sub: Subscription,
    private readonly deps: RunnerDeps,
  ) {
    this.sub = sub;
    this.slots = new Semaphore(sub.maxConcurrency);
    this.rate = new RateLimiter(sub.rateLimitPerSecond);
    this.gauges = {
      inFlight: deps.metrics.inFlight.labels({ subscription: sub.id }),
      attemptSeconds: deps.metrics.attemptSeconds.labels({ subscription: sub.id }),
    };
  }

  get id(): string {
    return this.sub.id;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.abort = new AbortController();
    for (const source of ["events", "redrive"] as const) {
      await ensureConsumer(this.deps.jsm, this.sub, source, {
        deadlineMs: this.deps.config.readyDeadlineMs,
        onWait: (line) => this.deps.log.warn({ subscription: this.sub.id }, line),
      });
      const consumer = await this.deps.js.consumers.get(streamOf(source), durableName(this.sub.id, source));
      const messages = await consumer.consume({ max_messages: this.sub.ordered ? 1 : this.sub.maxConcurrency, expires: PULL_EXPIRES_MS });
      this.pulls.push({ messages, done: this.pull(messages, source) });
    }
  }

  /** Applies a changed subscription: live for URL, secrets, schedule…; a restart for consumer settings. */
  async update(next: Subscription): Promise<void> {
    const restart = pullKey(next) !== pullKey(this.sub);
    this.sub = next;
    this.rate.setRate(next.rateLimitPerSecond);
    if (!restart) return;
    await this.stop(this.deps.config.shutdownDeadlineMs);
    this.slots.resize(next.maxConcurrency);
    await this.start();
  }

  /** Stops pulling, lets in-flight attempts finish until the deadline, then aborts and naks the rest. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const { messages } of this.pulls) await messages.close().catch(() => undefined);
    this.slots.releaseWaiters();
    await Promise.allSettled(this.pulls.map((p) => p.done));
    this.pulls = [];
    const settled = Promise.allSettled([...this.inFlight]);
    const timer = new Promise((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([settled, timer]);
    this.abort.abort();
    await settled;
    this.deps.settle.flush();
  }

  private async pull(messages: ConsumerMessages, source: Source): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.stopping) {
          m.nak(HANDBACK_DELAY_MS);
          continue;
        }
        const waitStart = performance.now();
        await this.slots.acquire();
        if (this.stopping) {
          this.slots.release();
          m.nak(HANDBACK_DELAY_MS);
          continue;
        }
        await this.rate.take();
        // Waiting for a slot ate into AckWait; tell the server we still hold the message.
        if (performance.now() - waitStart > this.sub.ackWaitMs / 4) m.working();
        const task = this.handle(m, source).finally(() => {
          this.slots.release();
          this.inFlight.delete(task);
        });
        this.inFlight.add(task);
      }
    } catch (err) {
      if (!this.stopping) this.deps.log.error({ subscription: this.sub.id, source, err }, "pull stopped");
    }
  }

  private async handle(m: JsMsg, source: Source): Promise<void> {
    const sub = this.sub;
    const { log } = this.deps;
    this.gauges.inFlight.inc();
    try {
      await this.attempt(m, source, sub);
    } catch (err) {
      log.error({ subscription: sub.id, seq: m.seq, err }, "delivery failed unexpectedly; retrying");
      m.nak(DLQ_RETRY_DELAY_MS);
    } finally {
      this.gauges.inFlight.dec();
    }
  }

  private async attempt(m: JsMsg, source: Source, sub: Subscription): Promise<void> {
    const count = m.info.deliveryCount;
    const subject = source === "redrive" ? (m.headers?.get(H_SOURCE_SUBJECT) || m.subject) : m.subject;
    const event = decodeEvent(subject, m.headers, m.data, `${streamOf(source)}:${m.seq}`);
    if (count > maxAttempts(sub)) {
      // The last attempt's outcome was lost (a crash between attempt and settle): dead-letter now,
      // if attempts were made at all. Deliveries also count when they never reached a bridge (a
      // pull request that died with its NATS node takes a batch with it); with none on record the
      // event was never tried, so it gets one real attempt, which dead-letters it if it fails.
      const history = await this.history(m, sub, event);
      if (history === null) return;
      if (history.some((a) => a.outcome === "delivered" && a.source === source && a.streamSeq === m.seq)) {
        // This very message got a 2xx and only its ack was lost (a bridge or node died): it is
        // delivered. A dead letter would invite a redrive, and a second delivery.
        m.ack();
        return;
      }
      if (history.length > 0) {
        await this.deadLetter(m, source, event, sub, "attempts exhausted", undefined, history);
        return;
      }
    }
    const { body, headers } = renderEvent(event, sub.format);
    const signed = signHeaders(event.webhookId, body, liveSecrets(sub));
    // A slow receiver may run past AckWait/2; keep the message ours while the request runs.
    const keepAlive = sub.timeoutMs > sub.ackWaitMs / 2 ? setInterval(() => m.working(), sub.ackWaitMs / 2) : undefined;
    const startedAt = new Date();
    let result: AttemptResult;
    try {
      result = await this.deps.deliverer.post({ url: sub.url, headers: { ...headers, ...signed }, body, timeoutMs: sub.timeoutMs, signal: this.abort.signal });
    } finally {
      clearInterval(keepAlive);
    }
    this.gauges.attemptSeconds.observe(result.latencyMs / 1000);
    const record = (outcome: AttemptRecord["outcome"], extra: Partial<AttemptRecord> = {}): AttemptRecord => ({
      subscription: sub.id,
      eventId: event.id,
      eventSource: event.source,
      eventType: event.type,
      source,
      streamSeq: m.seq,
      attempt: count,
      at: startedAt.toISOString(),
      status: result.status,
      latencyMs: result.latencyMs,
      outcome,
      ...(result.error ? { error: result.error } : {}),
      ...(result.message ? { message: result.message } : {}),
      ...(result.excerpt ? { excerpt: result.excerpt } : {}),
      instance: this.deps.config.instance,
      ...extra,
    });
    if (result.ok) {
      const delivered = record("delivered");
      this.deps.settle.add(() => {
        m.ack();
        void this.deps.attempts.record(delivered);
      });
      this.count(sub, "delivered");
      this.deps.health.success(sub.id);
      return;
    }
    if (result.error === "ABORTED") {
      // Shutdown: give it back so another instance can take it.
      m.nak(HANDBACK_DELAY_MS);
      this.count(sub, "aborted");
      void this.deps.attempts.record(record("aborted"));
      return;
    }
    if (result.status === 410) {
      m.nak(GONE_RETRY_DELAY_MS);
      this.count(sub, "disabled");
      await this.deps.attempts.record(record("disabled"));
      await this.deps.health.gone(sub.id, sub.url);
      return;
    }
    this.deps.health.failure(sub);
    const retryAfterMs = honoursRetryAfter(result.status) ? parseRetryAfter(result.retryAfter) : null;
    const delay = nextDelay(sub.retry, count, retryAfterMs, this.deps.config.maxRetryAfterMs);
    if (delay === null) {
      await this.deps.attempts.record(record("dead-lettered"));
      await this.deadLetter(m, source, event, sub, `attempts exhausted: last status ${result.status || result.error}`, record("dead-lettered"));
      return;
    }
    m.nak(delay);
    this.count(sub, "retrying");
    await this.deps.attempts.record(record("retrying", { nextDelayMs: delay }));
  }

  private count(sub: Subscription, outcome: AttemptRecord["outcome"]): void {
    let counter = this.outcomes.get(outcome);
    if (!counter) {
      counter = this.deps.metrics.deliveries.labels({ subscription: sub.id, outcome });
      this.outcomes.set(outcome, counter);
    }
    counter.inc();
  }

  /**
   * The attempt history a dead letter carries, or null when the log cannot be read right now (the
   * message is then nak'ed to try again; the attempts it holds were recorded, see AttemptLog).
   * While a cluster re-elects leaders the read fails, and `.catch(() => [])` here used to send the
   * letter with an empty history although the log held the attempts (seen in test/faults). After
   * HISTORY_RETRIES more deliveries it goes out with what there is, so a broken log never holds a
   * dead letter back for good.
   */
  private async history(m: JsMsg, sub: Subscription, event: EventEnvelope): Promise<AttemptRecord[] | null> {
    if (!this.deps.config.attemptLog) return [];
    try {
      return await listAttempts(this.deps.nc, { subscription: sub.id, eventId: event.id, eventSource: event.source, limit: HISTORY_LIMIT });
    } catch (err) {
      if (m.info.deliveryCount > maxAttempts(sub) + HISTORY_RETRIES) return [];
      this.deps.log.warn({ subscription: sub.id, seq: m.seq, err }, "attempt history unreadable; dead-lettering later");
      m.nak(DLQ_RETRY_DELAY_MS);
      return null;
    }
  }

  /** DLQ publish, await its ack, then term (DESIGN.md decision 7). */
  private async deadLetter(m: JsMsg, source: Source, event: EventEnvelope, sub: Subscription, reason: string, last?: AttemptRecord, known?: AttemptRecord[]): Promise<void> {
    const history = known ?? (await this.history(m, sub, event));
    if (history === null) return;
    if (last && !history.some((a) => a.attempt === last.attempt && a.at === last.at)) history.push(last);
    try {
      await publishDeadLetter(this.deps.js, {
        subscription: sub.id,
        subject: event.subject,
        stream: streamOf(source),
        seq: m.seq,
        headers: m.headers,
        data: m.data,
        reason,
        attempts: history,
      });
    } catch (err) {
      this.deps.log.error({ subscription: sub.id, seq: m.seq, err }, "DLQ publish failed; will retry");
      m.nak(DLQ_RETRY_DELAY_MS);
      return;
    }
    // nats-server ≥ 2.10 keeps the reason in its terminated-message advisory, for operators.
    m.term(`dead-lettered: ${reason}`.slice(0, 256));
    this.count(sub, "dead-lettered");
    this.deps.log.warn({ subscription: sub.id, eventId: event.id, eventSource: event.source, reason }, "event dead-lettered");
  }
}
