// Delivery of the shared tasks (tasks.ts) on one bridge instance: every instance pulls from one
// durable, `jetgate_deliveries`, and settles every task exactly one way: ack after a 2xx; a new
// task with one more attempt and a not-before to retry; a dead letter when the attempts are used
// up; the held stream when the subscription is disabled. Nothing is acked before the receiver
// said 2xx or the task's successor (retry, dead letter, held copy) was acked by JetStream.
//
// Isolation (issue 13): what one subscription may hold of this instance's slots is bounded. At its
// in-flight bound a task waits in the subscription's small local queue; past that, or over its
// rate, it is parked (nak with a jittered delay) and the slot goes to the next task. A retry's
// wait is a not-before on the server (the durable's max_ack_pending is unlimited), never a slot.
// And a subscription whose last attempt failed is probed with FAILING_CONCURRENCY requests and no
// queue until one succeeds (as Svix throttles a failing endpoint), so a dead or hanging endpoint
// holds a couple of slots, not its maxConcurrency.
import { nanos } from "@nats-io/nats-core";
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { decodeEvent, EVENTS_STREAM, H_SOURCE_SUBJECT, type EventEnvelope } from "../../broker/index.ts";
import { attemptRecord, type AttemptContext, type AttemptRecord } from "../recovery/attempt-log.ts";
import { publishDeadLetter } from "../recovery/dlq.ts";
import { maxAttempts, type Subscription } from "../subscriptions/model.ts";
import { describe, postEvent, readHistory, retryDelay, SubscriptionMeters, withLast } from "./attempt.ts";
import { Semaphore } from "./flow-control.ts";
import type { SharedRate } from "./shared-rate.ts";
import { sharedDurable } from "./shared-durable.ts";
import type { RunnerDeps } from "./runner.ts";
import type { SubscriptionView } from "./subscription-view.ts";
import { shapeForSubscription, type SchemaMismatch } from "./shape.ts";
import { publishTask, readTaskMeta, subscriptionOfSubject, ALL_TASKS, TASKS_DURABLE, TASKS_STREAM, type TaskMeta } from "./tasks.ts";
import type { AttemptResult } from "./webhook-post.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";

const PULL_EXPIRES_MS = 2_000;
/** Tasks given back at shutdown wait past the expiry of this instance's last pull (runner.ts says why). */
const HANDBACK_DELAY_MS = PULL_EXPIRES_MS + 1_000;
/** A task whose successor could not be written is tried again after this long. */
const RETRY_WRITE_DELAY_MS = 1_000;
/**
 * A parked task (subscription at its bound) comes back after about the time its subscription needs
 * to work off what it holds now, by its recent latency, within these bounds, ±50%.
 */
const PARK_MIN_MS = 50;
const PARK_MAX_MS = 5_000;
/**
 * A failing endpoint's parked tasks come back after this, ±50%: its quick failures (a 503 in a
 * millisecond) would otherwise park them for the minimum and churn the shared durable, which the
 * subscriptions bench saw as a slower tail for the healthy ones.
 */
const FAILING_PARK_MS = 2_000;
/** Weight of the newest attempt in a subscription's latency average. */
const LATENCY_WEIGHT = 0.2;
/** Tasks a subscription may have waiting locally for one of its slots (at most its maxConcurrency). */
const QUEUE_CAP = 16;
/** Attempts in flight for a subscription whose last attempt failed. */
const FAILING_CONCURRENCY = 2;
/** A task of a subscription this view does not know yet (its watch lags) is looked at again after this. */
const UNKNOWN_DELAY_MS = 250;
/** After a dead letter could not be written, the next try (without a new attempt) waits this long. */
const DLQ_RETRY_DELAY_MS = 1_000;
/** Dead-letter tries that may wait for a readable attempt log before the letter goes without it. */
const HISTORY_RETRIES = 10;

export interface TaskWorkerDeps extends RunnerDeps {
  view: SubscriptionView;
  store: SubscriptionStore;
}

/** An attempt's slot goes to the next waiting task of the subscription, or is freed. */
function release(lane: Lane): void {
  const next = lane.waiting.shift();
  if (next) next(true);
  else lane.inFlight--;
}

/** Gives the task back for about `ms`, jittered so that parked tasks do not come back in one wave. */
function park(m: JsMsg, ms: number): void {
  const bounded = Math.min(PARK_MAX_MS, Math.max(PARK_MIN_MS, ms));
  m.nak(Math.round(bounded * (0.5 + Math.random())));
}

function lastAttemptOf(meta: TaskMeta): AttemptRecord | undefined {
  if (!meta.lastAttempt) return undefined;
  try {
    return JSON.parse(meta.lastAttempt) as AttemptRecord;
  } catch {
    return undefined;
  }
}

/** This instance's flow control of one subscription. */
interface Lane {
  inFlight: number;
  /** Tasks waiting for one of its slots (each holds one of the instance's slots meanwhile). */
  waiting: Array<(handed: boolean) => void>;
  /** The last attempt failed: probe with FAILING_CONCURRENCY until one succeeds. */
  failing: boolean;
  /** Moving average of its attempts' latency, ms. */
  latencyMs: number;
  /** When an attempt last ended (or the lane was made): a long silence is latency too. */
  lastDoneAt: number;
  /** The subscription's share of its rateLimit across instances (shared-rate.ts); null: none. */
  rate: SharedRate | null;
  meters: SubscriptionMeters;
}

export class TaskWorker {
  private readonly slots: Semaphore;
  private readonly lanes = new Map<string, Lane>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly deps: TaskWorkerDeps) {
    this.slots = new Semaphore(deps.config.maxInFlight);
  }

  async start(): Promise<void> {
    const { jsm, js, config, log } = this.deps;
    const consumer = await sharedDurable(js, jsm, TASKS_STREAM, () => ({
      durable_name: TASKS_DURABLE,
      description: "Jetgate deliveries of every unordered subscription",
      filter_subject: ALL_TASKS,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(config.taskAckWaitMs),
      // Unlimited: a task waiting out a retry's not-before holds a pending slot, and those must
      // never add up to a stall of every other subscription.
      max_ack_pending: -1,
      max_deliver: -1,
      deliver_policy: DeliverPolicy.All,
    }), { deadlineMs: config.readyDeadlineMs, onWait: (line) => log.warn(line) }, ["ack_wait"]);
    this.messages = await consumer.consume({ max_messages: Math.min(config.maxInFlight, 512), expires: PULL_EXPIRES_MS });
    this.loop = this.pull(this.messages);
  }

  /** Forgets a deleted subscription's flow control. */
  forget(id: string): void {
    this.lanes.delete(id);
  }

  /** Applies a changed rate limit to the subscription's limiter. */
  update(sub: Subscription): void {
    const lane = this.lanes.get(sub.id);
    if (lane) lane.rate = this.deps.rates.limiter(sub, lane.rate);
  }

  private lane(sub: Subscription): Lane {
    let lane = this.lanes.get(sub.id);
    if (!lane) {
      lane = { inFlight: 0, waiting: [], failing: false, latencyMs: 0, lastDoneAt: Date.now(), rate: this.deps.rates.limiter(sub, null), meters: new SubscriptionMeters(this.deps.metrics, sub.id) };
      this.lanes.set(sub.id, lane);
    }
    return lane;
  }

  private async pull(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        await this.slots.acquire();
        if (this.stopping) {
          this.slots.release();
          m.nak(HANDBACK_DELAY_MS);
          continue;
        }
        const task = this.handle(m)
          .catch((err: unknown) => {
            this.deps.log.error({ subject: m.subject, seq: m.seq, err }, "delivery failed unexpectedly; retrying");
            m.nak(RETRY_WRITE_DELAY_MS);
          })
          .finally(() => {
            this.slots.release();
            this.inFlight.delete(task);
          });
        this.inFlight.add(task);
      }
    } catch (err) {
      if (!this.stopping) this.deps.log.error({ err }, "the task pull stopped");
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const id = subscriptionOfSubject(m.subject);
    const meta = readTaskMeta(m.headers);
    if (typeof meta === "string") {
      // Not written by a bridge: nothing can deliver it; say so and let it go.
      this.deps.log.error({ subject: m.subject, seq: m.seq, problem: meta }, "not a delivery task; terminated");
      m.term(`not a delivery task: ${meta}`);
      return;
    }
    const sub = this.deps.view.get(id);
    if (!sub) return this.unknown(m, id);
    if (!sub.enabled) return this.hold(m, sub, meta);
    const wait = (meta.notBefore ?? 0) - Date.now();
    if (wait > 0) {
      m.nak(wait);
      return;
    }
    const lane = this.lane(sub);
    if (meta.attempts >= maxAttempts(sub)) return this.exhausted(m, sub, meta, lane);
    const limit = lane.failing ? Math.min(sub.maxConcurrency, FAILING_CONCURRENCY) : sub.maxConcurrency;
    if (lane.inFlight < limit) {
      lane.inFlight++;
    } else {
      if (lane.waiting.length >= (lane.failing ? 0 : Math.min(limit, QUEUE_CAP))) return park(m, lane.failing ? FAILING_PARK_MS : ((lane.inFlight + lane.waiting.length) / limit) * Math.max(lane.latencyMs, Date.now() - lane.lastDoneAt));
      // Woken with the slot of the attempt that ended (handed over, so no newcomer takes it first).
      // Behind slow requests the wait may outlast AckWait: keep the task ours meanwhile.
      const keepAlive = setInterval(() => m.working(), this.deps.config.taskAckWaitMs / 3);
      const handed = await new Promise<boolean>((resolve) => lane.waiting.push(resolve)).finally(() => clearInterval(keepAlive));
      if (!handed) {
        m.nak(HANDBACK_DELAY_MS);
        return;
      }
    }
    // Over the subscription's rate (summed over instances): the slot goes to another task.
    const rateWait = lane.rate ? await lane.rate.take() : 0;
    if (rateWait > 0) {
      release(lane);
      return park(m, rateWait);
    }
    lane.meters.inFlight.inc();
    try {
      await this.attempt(m, sub, meta, lane);
    } finally {
      lane.meters.inFlight.dec();
      release(lane);
    }
  }

  /**
   * A subscription this view lacks: deleted (the task goes), or not seen yet (it comes back). Asked
   * of the bucket's leader: a lagging replica's "not found" would drop the task of a live one.
   */
  private async unknown(m: JsMsg, id: string): Promise<void> {
    if (await this.deps.store.getFromLeader(id)) m.nak(UNKNOWN_DELAY_MS);
    else m.ack();
  }

  /** Disabled: the task waits in the held stream until the subscription is enabled (held.ts). */
  private async hold(m: JsMsg, sub: Subscription, meta: TaskMeta): Promise<void> {
    try {
      // The msg id is this task message's own: held twice (disabled again later) is two copies.
      await publishTask(this.deps.js, sub.id, m.headers!, m.data, meta, { held: true, msgID: `held:${sub.id}:t${m.seq}` });
    } catch (err) {
      this.deps.log.warn({ subscription: sub.id, seq: m.seq, err }, "holding a task of a disabled subscription failed; trying again");
      m.nak(RETRY_WRITE_DELAY_MS);
      return;
    }
    m.ack();
  }

  private event(m: JsMsg, meta: TaskMeta): EventEnvelope {
    return decodeEvent(m.headers?.get(H_SOURCE_SUBJECT) || m.subject, m.headers, m.data, `${TASKS_STREAM}:${m.seq}:${meta.id}`);
  }

  private async attempt(m: JsMsg, sub: Subscription, meta: TaskMeta, lane: Lane): Promise<void> {
    const event = this.event(m, meta);
    const ctx: AttemptContext = {
      subscription: sub.id,
      event,
      source: meta.origin,
      streamSeq: meta.originSeq,
      attempt: meta.attempts + 1,
      startedAt: new Date(),
      instance: this.deps.config.instance,
    };
    const shaped = shapeForSubscription(this.deps.registry, sub, event);
    if (!shaped.ok) return this.mismatch(m, sub, meta, lane, ctx, shaped.problem);
    const result = await postEvent(this.deps.deliverer, sub, shaped.event, { signal: this.abort.signal, keepAliveMs: this.deps.config.taskAckWaitMs / 3, keepAlive: () => m.working() });
    lane.meters.attemptSeconds.observe(result.latencyMs / 1000);
    lane.latencyMs += LATENCY_WEIGHT * (result.latencyMs - lane.latencyMs);
    lane.lastDoneAt = Date.now();
    if (result.error !== "ABORTED") lane.failing = !result.ok;
    if (result.ok) {
      this.deps.settle.add(() => {
        m.ack();
        void this.deps.attempts.record(attemptRecord(ctx, result, "delivered"));
      });
      lane.meters.count("delivered");
      this.deps.health.success(sub.id);
      return;
    }
    if (result.error === "ABORTED") {
      m.nak(HANDBACK_DELAY_MS);
      lane.meters.count("aborted");
      void this.deps.attempts.record(attemptRecord(ctx, result, "aborted"));
      return;
    }
    if (result.status === 410) {
      // Gone: the subscription is disabled, and this task waits for it as held, attempt counted.
      lane.meters.count("disabled");
      await this.deps.attempts.record(attemptRecord(ctx, result, "disabled"));
      await this.deps.health.gone(sub.id, sub.url);
      await this.hold(m, sub, { ...meta, attempts: meta.attempts + 1 });
      return;
    }
    await this.failed(m, sub, meta, lane, ctx, result);
  }

  /** Any other failure: a successor task after the schedule's next delay, or the DLQ when none is left. */
  private async failed(m: JsMsg, sub: Subscription, meta: TaskMeta, lane: Lane, ctx: AttemptContext, result: AttemptResult): Promise<void> {
    this.deps.health.failure(sub);
    const delay = retryDelay(this.deps.config, sub, ctx.attempt, result);
    if (delay === null) {
      const last = attemptRecord(ctx, result, "dead-lettered");
      await this.deps.attempts.record(last);
      await this.deadLetter(m, sub, { ...meta, attempts: meta.attempts + 1 }, lane, `attempts exhausted: last status ${result.status || result.error}`, last);
      return;
    }
    lane.meters.count("retrying");
    await this.deps.attempts.record(attemptRecord(ctx, result, "retrying", delay));
    await this.succeed(m, sub, { ...meta, attempts: meta.attempts + 1, notBefore: Date.now() + delay }, delay);
  }

  /** A pinned version the event cannot be shaped for: dead-lettered at once, since no retry changes it (shape.ts). */
  private async mismatch(m: JsMsg, sub: Subscription, meta: TaskMeta, lane: Lane, ctx: AttemptContext, problem: SchemaMismatch): Promise<void> {
    const last = attemptRecord(ctx, { ok: false, status: 0, latencyMs: 0, error: "SCHEMA_MISMATCH", message: problem.detail }, "dead-lettered");
    await this.deps.attempts.record(last);
    await this.deadLetter(m, sub, { ...meta, attempts: meta.attempts + 1 }, lane, `schema-mismatch: ${problem.detail}`, last, problem);
  }

  /** Writes the task's successor, then acks this one; if the write fails, this one comes back. */
  private async succeed(m: JsMsg, sub: Subscription, next: TaskMeta, fallbackDelayMs: number): Promise<void> {
    try {
      await publishTask(this.deps.js, sub.id, m.headers!, m.data, next);
    } catch (err) {
      this.deps.log.warn({ subscription: sub.id, seq: m.seq, err }, "writing a retry task failed; the attempt will be made again");
      m.nak(Math.min(fallbackDelayMs, 60_000));
      return;
    }
    this.deps.settle.add(() => m.ack());
  }

  /** A task whose attempts are used up (its dead letter could not be written before): dead-letter it now. */
  private async exhausted(m: JsMsg, sub: Subscription, meta: TaskMeta, lane: Lane): Promise<void> {
    await this.deadLetter(m, sub, meta, lane, "attempts exhausted", lastAttemptOf(meta));
  }

  /**
   * DLQ publish with the history, await its ack, then ack the task (DESIGN.md decision 7). While
   * the attempt log cannot be read the letter waits (a successor task with no new attempt); after
   * HISTORY_RETRIES such waits it goes with what this instance knows and why the rest is missing.
   */
  private async deadLetter(m: JsMsg, sub: Subscription, meta: TaskMeta, lane: Lane, reason: string, last?: AttemptRecord, problem?: SchemaMismatch): Promise<void> {
    const event = this.event(m, meta);
    const tries = meta.attempts - maxAttempts(sub);
    let history;
    try {
      history = await readHistory(this.deps.nc, this.deps.config, sub, event);
    } catch (err) {
      if (tries < HISTORY_RETRIES) {
        this.deps.log.warn({ subscription: sub.id, seq: m.seq, err }, "attempt history unreadable; dead-lettering later");
        await this.letterLater(m, sub, meta, last);
        return;
      }
      this.deps.log.error({ subscription: sub.id, seq: m.seq, err }, "attempt history still unreadable; dead-lettering without it");
      history = { records: [], error: `the attempt log could not be read: ${describe(err)}` };
    }
    const attempts = withLast(history, last);
    const made = Math.min(meta.attempts, maxAttempts(sub));
    try {
      await publishDeadLetter(this.deps.js, {
        subscription: sub.id,
        subject: event.subject,
        // Where the message that died came from: the event in EVENTS, or (a redrive or replay) this task.
        stream: meta.origin === "events" ? EVENTS_STREAM : TASKS_STREAM,
        seq: meta.origin === "events" ? meta.originSeq : m.seq,
        // One letter per task chain: a redriven event that dies again is a second letter.
        msgID: `dlq:${sub.id}:${meta.id}`,
        headers: m.headers,
        data: m.data,
        reason,
        attempts,
        deliveries: made,
        unrecorded: Math.max(0, made - new Set(attempts.map((a) => a.attempt)).size),
        ...(history.error ? { historyError: history.error } : {}),
        ...(problem ? { problem } : {}),
      });
    } catch (err) {
      this.deps.log.error({ subscription: sub.id, seq: m.seq, err }, "DLQ publish failed; will retry");
      await this.letterLater(m, sub, meta, last);
      return;
    }
    m.ack();
    lane.meters.count("dead-lettered");
    this.deps.log.warn({ subscription: sub.id, eventId: event.id, eventSource: event.source, reason }, "event dead-lettered");
  }

  /**
   * The dead letter waits: a successor with no new attempt, one more count (so the wait for a
   * readable log is bounded) and the last attempt's record, which a later letter must not lose.
   */
  private async letterLater(m: JsMsg, sub: Subscription, meta: TaskMeta, last: AttemptRecord | undefined): Promise<void> {
    const next: TaskMeta = { ...meta, attempts: meta.attempts + 1, notBefore: Date.now() + DLQ_RETRY_DELAY_MS, ...(last ? { lastAttempt: JSON.stringify(last) } : {}) };
    await this.succeed(m, sub, next, DLQ_RETRY_DELAY_MS);
  }

  /** Stops pulling, lets in-flight attempts finish until the deadline, then aborts them (handed back). */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch((err: unknown) => this.deps.log.warn({ err }, "closing the task pull failed; stopping anyway"));
    this.slots.releaseWaiters();
    for (const lane of this.lanes.values()) for (const wake of lane.waiting.splice(0)) wake(false);
    await this.loop;
    const settled = Promise.allSettled([...this.inFlight]);
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())]);
    this.abort.abort();
    await settled;
    this.deps.settle.flush();
  }
}
