// Delivery for one ordered subscription on one bridge instance (unordered ones share the fan-out's
// tasks, task-worker.ts): pulls from the subscription's two durable consumers, keeps at most
// maxConcurrency attempts in flight and its rate limit (held across instances, shared-rate.ts),
// and settles every message exactly one way: ack after a 2xx, nak(delay) to retry, DLQ then term
// when the attempts are used up. Nothing is acked before the receiver said 2xx.
import type { JetStreamClient, JetStreamManager, JsMsg, ConsumerMessages } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decodeEvent, H_SOURCE_SUBJECT, type EventEnvelope } from "../../broker/index.ts";
import type { AttemptContext, AttemptLog, AttemptRecord } from "../recovery/attempt-log.ts";
import { attemptRecord } from "../recovery/attempt-log.ts";
import type { BridgeConfig } from "../config.ts";
import { ensureConsumer, durableName, streamOf, type Source } from "./durable-consumers.ts";
import type { Deliverer, AttemptResult } from "./webhook-post.ts";
import { publishDeadLetter } from "../recovery/dlq.ts";
import type { RegistrySource } from "../registry/index.ts";
import { shapeForSubscription, type SchemaMismatch } from "./shape.ts";
import { describe, postEvent, readHistory, retryDelay, SubscriptionMeters, withLast, type History } from "./attempt.ts";
import type { HealthTracker } from "./auto-disable.ts";
import { Semaphore } from "./flow-control.ts";
import type { RateBudget, SharedRate } from "./shared-rate.ts";
import type { BridgeMetrics } from "../metrics.ts";
import { maxAttempts, type Subscription } from "../subscriptions/model.ts";
import { coveringSubjects, selectsSubject } from "../subscriptions/selection.ts";
import { whereContext, whereOutcome } from "../subscriptions/where.ts";
import type { TickBatch } from "./tick-batch.ts";
import type { NatsConnection } from "@nats-io/nats-core";

/** After 410 Gone the message waits this long before it may be tried again (after re-enable). */
const GONE_RETRY_DELAY_MS = 60_000;
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
  /** The rate-limit budgets shared by every instance (shared-rate.ts). */
  rates: RateBudget;
  /** Acks and attempt records of successes, sent together once per loop turn (tick-batch.ts). */
  settle: TickBatch;
  /** The registry build pinned versions are shaped with (absent: JETGATE_BRIDGE_REGISTRY unset). */
  registry?: RegistrySource;
}

/** Settings whose change needs the consumers updated and the pulls restarted. */
function pullKey(sub: Subscription): string {
  return JSON.stringify([coveringSubjects(sub), sub.ackWaitMs, sub.maxConcurrency, sub.ordered]);
}

export class SubscriptionRunner {
  private sub: Subscription;
  private readonly slots: Semaphore;
  /** Its share of the rateLimit across instances; null: none. */
  private rate: SharedRate | null;
  private pulls: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private abort = new AbortController();
  private stopping = false;
  private readonly meters: SubscriptionMeters;

  constructor(
    sub: Subscription,
    private readonly deps: RunnerDeps,
  ) {
    this.sub = sub;
    this.slots = new Semaphore(sub.maxConcurrency);
    this.rate = deps.rates.limiter(sub, null);
    this.meters = new SubscriptionMeters(deps.metrics, sub.id);
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
    this.rate = this.deps.rates.limiter(next, this.rate);
    if (!restart) return;
    await this.stop(this.deps.config.shutdownDeadlineMs);
    this.slots.resize(next.maxConcurrency);
    await this.start();
  }

  /** Stops pulling, lets in-flight attempts finish until the deadline, then aborts and naks the rest. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const { messages } of this.pulls) {
      await messages.close().catch((err: unknown) => this.deps.log.warn({ subscription: this.sub.id, err }, "closing a pull failed; stopping anyway"));
    }
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
        if (this.rate) await this.untilRateAllows(this.rate, m);
        if (this.stopping) {
          this.slots.release();
          m.nak(HANDBACK_DELAY_MS);
          continue;
        }
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

  /** Waits for a turn under the subscription's rate limit, or for a stop, keeping the message ours. */
  private async untilRateAllows(rate: SharedRate, m: JsMsg): Promise<void> {
    for (let wait = await rate.take(); wait > 0 && !this.stopping; wait = await rate.take()) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      m.working();
    }
  }

  private async handle(m: JsMsg, source: Source): Promise<void> {
    const sub = this.sub;
    const { log } = this.deps;
    this.meters.inFlight.inc();
    try {
      await this.attempt(m, source, sub);
    } catch (err) {
      log.error({ subscription: sub.id, seq: m.seq, err }, "delivery failed unexpectedly; retrying");
      m.nak(DLQ_RETRY_DELAY_MS);
    } finally {
      this.meters.inFlight.dec();
    }
  }

  /** One delivery of one message: settle it from the history if it is overdue, else post and settle the outcome. */
  private async attempt(m: JsMsg, source: Source, sub: Subscription): Promise<void> {
    const subject = source === "redrive" ? (m.headers?.get(H_SOURCE_SUBJECT) || m.subject) : m.subject;
    // The durable's subjects may cover more types than the subscription's globs (selection.ts).
    if (source === "events" && !selectsSubject(sub, subject)) {
      m.ack();
      return;
    }
    const event = decodeEvent(subject, m.headers, m.data, `${streamOf(source)}:${m.seq}`);
    // Its `where` (where.ts): acked without delivery, counted. A redrive is not filtered again.
    const outcome = source === "events" ? whereOutcome(sub, () => whereContext(event)) : "match";
    if (outcome !== "match") {
      this.deps.metrics.filtered.inc({ subscription: sub.id, outcome });
      m.ack();
      return;
    }
    if (m.info.deliveryCount > maxAttempts(sub) && (await this.settleOverdue(m, source, event, sub))) return;
    const ctx: AttemptContext = {
      subscription: sub.id,
      event,
      source,
      streamSeq: m.seq,
      attempt: m.info.deliveryCount,
      startedAt: new Date(),
      instance: this.deps.config.instance,
    };
    const shaped = shapeForSubscription(this.deps.registry, sub, event);
    if (!shaped.ok) return this.mismatch(m, source, event, sub, ctx, shaped.problem);
    // A slow receiver may run past AckWait/2; keep the message ours while the request runs.
    const result = await postEvent(this.deps.deliverer, sub, shaped.event, { signal: this.abort.signal, keepAliveMs: sub.ackWaitMs / 2, keepAlive: () => m.working() });
    this.meters.attemptSeconds.observe(result.latencyMs / 1000);
    if (result.ok) this.delivered(m, sub, attemptRecord(ctx, result, "delivered"));
    else if (result.error === "ABORTED") this.handBack(m, sub, attemptRecord(ctx, result, "aborted"));
    else if (result.status === 410) await this.gone(m, sub, attemptRecord(ctx, result, "disabled"));
    else await this.failed(m, source, event, sub, ctx, result);
  }

  /**
   * A message past its last attempt: the last attempt's outcome was lost (a crash between attempt
   * and settle). True when settled from the history (or nak'ed to read it later); false when no
   * attempt is on record, so the event gets one real attempt, which dead-letters it if it fails.
   * Deliveries also count when they never reached a bridge (a pull request that died with its NATS
   * node takes a batch with it), so a delivery count alone does not prove that anything was tried.
   */
  private async settleOverdue(m: JsMsg, source: Source, event: EventEnvelope, sub: Subscription): Promise<boolean> {
    const history = await this.history(m, sub, event);
    if (history === null) return true;
    if (history.records.some((a) => a.outcome === "delivered" && a.source === source && a.streamSeq === m.seq)) {
      // This very message got a 2xx and only its ack was lost (a bridge or node died): it is
      // delivered. A dead letter would invite a redrive, and a second delivery.
      m.ack();
      return true;
    }
    if (history.records.length === 0) return false;
    await this.deadLetter(m, source, event, sub, "attempts exhausted", history);
    return true;
  }

  /** A 2xx: the ack and the (fire-and-forget) record leave together at the end of this loop turn. */
  private delivered(m: JsMsg, sub: Subscription, record: AttemptRecord): void {
    this.deps.settle.add(() => {
      m.ack();
      void this.deps.attempts.record(record);
    });
    this.count(sub, "delivered");
    this.deps.health.success(sub.id);
  }

  /** Shutdown aborted the request: give the message back so another instance can take it. */
  private handBack(m: JsMsg, sub: Subscription, record: AttemptRecord): void {
    m.nak(HANDBACK_DELAY_MS);
    this.count(sub, "aborted");
    void this.deps.attempts.record(record);
  }

  /** 410 Gone: the subscription is disabled; the message waits until it is enabled again. */
  private async gone(m: JsMsg, sub: Subscription, record: AttemptRecord): Promise<void> {
    m.nak(GONE_RETRY_DELAY_MS);
    this.count(sub, "disabled");
    await this.deps.attempts.record(record);
    await this.deps.health.gone(sub.id, sub.url);
  }

  /** Any other failure: nak with the schedule's next delay, or dead-letter when it has none left. */
  private async failed(m: JsMsg, source: Source, event: EventEnvelope, sub: Subscription, ctx: AttemptContext, result: AttemptResult): Promise<void> {
    this.deps.health.failure(sub);
    const delay = retryDelay(this.deps.config, sub, ctx.attempt, result);
    if (delay === null) {
      const last = attemptRecord(ctx, result, "dead-lettered");
      await this.deps.attempts.record(last);
      await this.deadLetter(m, source, event, sub, `attempts exhausted: last status ${result.status || result.error}`, undefined, last);
      return;
    }
    m.nak(delay);
    this.count(sub, "retrying");
    await this.deps.attempts.record(attemptRecord(ctx, result, "retrying", delay));
  }

  /** A pinned version the event cannot be shaped for: dead-lettered at once, since no retry changes it (shape.ts). */
  private async mismatch(m: JsMsg, source: Source, event: EventEnvelope, sub: Subscription, ctx: AttemptContext, problem: SchemaMismatch): Promise<void> {
    const last = attemptRecord(ctx, { ok: false, status: 0, latencyMs: 0, error: "SCHEMA_MISMATCH", message: problem.detail }, "dead-lettered");
    await this.deps.attempts.record(last);
    await this.deadLetter(m, source, event, sub, `schema-mismatch: ${problem.detail}`, undefined, last, problem);
  }

  private count(_sub: Subscription, outcome: AttemptRecord["outcome"]): void {
    this.meters.count(outcome);
  }

  /**
   * The attempt history a dead letter carries, or null when the log cannot be read right now (the
   * message is then nak'ed to try again; the attempts it holds were recorded, see AttemptLog).
   * While a cluster re-elects leaders the read fails, and `.catch(() => [])` here once sent the
   * letter with an empty history although the log held the attempts (seen in test/faults). After
   * HISTORY_RETRIES more deliveries it goes out with what this instance knows and the reason the
   * rest is missing (Jetgate-History-Error), so a broken log never holds a dead letter back for
   * good, and never passes for "no attempts".
   */
  private async history(m: JsMsg, sub: Subscription, event: EventEnvelope): Promise<History | null> {
    try {
      return await readHistory(this.deps.nc, this.deps.config, sub, event);
    } catch (err) {
      const where = { subscription: sub.id, seq: m.seq, deliveries: m.info.deliveryCount, err };
      if (m.info.deliveryCount > maxAttempts(sub) + HISTORY_RETRIES) {
        this.deps.log.error(where, "attempt history still unreadable; dead-lettering without it");
        return { records: [], error: `the attempt log could not be read: ${describe(err)}` };
      }
      this.deps.log.warn(where, "attempt history unreadable; dead-lettering later");
      m.nak(DLQ_RETRY_DELAY_MS);
      return null;
    }
  }

  /** DLQ publish, await its ack, then term (DESIGN.md decision 7). */
  private async deadLetter(m: JsMsg, source: Source, event: EventEnvelope, sub: Subscription, reason: string, known?: History, last?: AttemptRecord, problem?: SchemaMismatch): Promise<void> {
    const history = known ?? (await this.history(m, sub, event));
    if (history === null) return;
    const attempts = withLast(history, last);
    try {
      await publishDeadLetter(this.deps.js, {
        subscription: sub.id,
        subject: event.subject,
        stream: streamOf(source),
        seq: m.seq,
        headers: m.headers,
        data: m.data,
        reason,
        attempts,
        deliveries: m.info.deliveryCount,
        unrecorded: unrecordedDeliveries(m, source, attempts),
        ...(history.error ? { historyError: history.error } : {}),
        ...(problem ? { problem } : {}),
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

/** Deliveries of this very message (JetStream's count) with no attempt of it in the history. */
function unrecordedDeliveries(m: JsMsg, source: Source, attempts: AttemptRecord[]): number {
  const deliveries = m.info.deliveryCount;
  const recorded = new Set(attempts.filter((a) => a.source === source && a.streamSeq === m.seq && a.attempt <= deliveries).map((a) => a.attempt));
  return Math.max(0, deliveries - recorded.size);
}
