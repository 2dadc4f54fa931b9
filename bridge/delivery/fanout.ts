// The fan-out stage (issue 13, DESIGN decision 16): every bridge instance reads EVENTS through one
// shared durable, `jetgate_fanout`, and writes one delivery task per unordered subscription the
// event is owed to (tasks.ts). The broker's cost is then a constant number of durables whatever
// the number of subscriptions, and a new subscription is active as soon as this instance's view
// of the bucket has it: no consumer to create, no leader to wait for.
//
// An event is acked only once the tasks it owes are written, to every subscription that existed
// when it was stored. The view is fed by a watch, which may lag: a subscription committed just
// before an event was stored may not be in the view yet when the event is matched. So tasks are
// written at once (latency), but the event is acked only after a confirmation: the bucket's last
// revision is read *after* the event was matched, the view is waited on until it has applied that
// revision, and the event is matched again against every subscription that changed since; only
// then is it acked. Every subscription committed before the event was stored has a revision at or
// below the one read, so none is missed, and a crash before the ack redelivers the event to an
// instance that writes the same tasks again (their msg ids make that a no-op within the window).
//
// Matching is by type first (the view's owed(), selection.ts), then by each owed subscription's
// `where` (where.ts): the event is decoded only if one of them has a `where`, once, and each
// expression is evaluated once per event; an event a `where` does not pass gets no task and is
// counted (onFiltered), the confirmation's re-match included.
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { ALL_EVENTS_SUBJECT, decodeEvent, EVENTS_STREAM } from "../../broker/index.ts";
import type { UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { copyEventHeaders } from "../recovery/event-headers.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";
import { EventFilter, type WhereOutcome } from "../subscriptions/where.ts";
import { Semaphore } from "./flow-control.ts";
import { sharedDurable } from "./shared-durable.ts";
import type { SubscriptionView, EventKey } from "./subscription-view.ts";
import { eventTaskId, publishTask } from "./tasks.ts";
import type { TickBatch } from "./tick-batch.ts";

export const FANOUT_DURABLE = "jetgate_fanout";
/** Events being matched and written by this instance at once. */
const EVENTS_IN_FLIGHT = 256;
/** Task publishes awaiting their ack, across all events of this instance. */
const TASKS_IN_FLIGHT = 1024;
/** Longer than any confirmation takes; an instance that died holding events gives them back after it. */
const ACK_WAIT_MS = 60_000;
/** The server may hold this many unacked events for the fan-out (across instances). */
const MAX_ACK_PENDING = 4096;
const PULL_EXPIRES_MS = 2_000;
/** A failed write or confirmation is tried again after this long. */
const RETRY_MS = 1_000;
/** Events given back at shutdown wait this long: past the expiry of this instance's last pull (runner.ts says why). */
const HANDBACK_MS = PULL_EXPIRES_MS + 1_000;
/** How long a confirmation waits for the watch to reach the bucket's revision. */
const CONFIRM_TIMEOUT_MS = 10_000;

export interface FanOutDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: SubscriptionStore;
  view: SubscriptionView;
  log: Logger;
  settle: TickBatch;
  wait: UntilReadyOptions;
  /** Counts tasks written (by held or live) and events fanned out. */
  onFanned?: (event: EventKey, tasks: number) => void;
  /** Counts a subscription's `where` not delivering an event (where.ts). */
  onFiltered?: (sub: Subscription, outcome: Exclude<WhereOutcome, "match">) => void;
}

interface Unconfirmed {
  m: JsMsg;
  key: EventKey;
  /** The view's generation when the event was matched. */
  gen: number;
  written: Set<string>;
  /** The event's `where` outcomes, decoded at most once and only if an owed subscription has one. */
  filter: EventFilter;
  /** The subscriptions (objects) whose `where` this event was already evaluated and counted for. */
  judged: WeakMap<Subscription, boolean>;
}

export class FanOut {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly events = new Semaphore(EVENTS_IN_FLIGHT);
  private readonly tasks = new Semaphore(TASKS_IN_FLIGHT);
  private readonly processing = new Set<Promise<void>>();
  private unconfirmed: Unconfirmed[] = [];
  private confirming: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly deps: FanOutDeps) {}

  /**
   * Attaches to the shared durable, creating it if it is missing, starting where the earliest
   * subscription joined (or now): a first bridge started on subscriptions created while none ran
   * owes them the events since. An existing durable keeps its position.
   */
  async start(): Promise<void> {
    const { js, jsm, view, wait } = this.deps;
    const consumer = await sharedDurable(js, jsm, EVENTS_STREAM, () => ({
      durable_name: FANOUT_DURABLE,
      description: "Jetgate fan-out: every event, once, into per-subscription delivery tasks",
      filter_subject: ALL_EVENTS_SUBJECT,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: MAX_ACK_PENDING,
      max_deliver: -1,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(Math.min(Date.now(), view.earliestJoin() ?? Date.now())).toISOString(),
    }), wait);
    this.messages = await consumer.consume({ max_messages: EVENTS_IN_FLIGHT, expires: PULL_EXPIRES_MS });
    this.loop = this.pull(this.messages);
  }

  private async pull(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        await this.events.acquire();
        if (this.stopping) {
          this.events.release();
          m.nak(HANDBACK_MS);
          break;
        }
        const task = this.fanOut(m).finally(() => {
          this.events.release();
          this.processing.delete(task);
        });
        this.processing.add(task);
      }
    } catch (err) {
      if (!this.stopping) this.deps.log.error({ err }, "the fan-out pull stopped");
    }
  }

  private async fanOut(m: JsMsg): Promise<void> {
    const key: EventKey = { subject: m.subject, seq: m.seq, timeMs: Number(m.info.timestampNanos) / 1e6 };
    const gen = this.deps.view.gen;
    const filter = new EventFilter(() => decodeEvent(m.subject, m.headers, m.data, `${EVENTS_STREAM}:${m.seq}`));
    const item: Unconfirmed = { m, key, gen, written: new Set(), filter, judged: new WeakMap() };
    try {
      await this.write(item, this.wanted(item, this.deps.view.owed(key)));
    } catch (err) {
      this.deps.log.warn({ seq: m.seq, err }, "writing delivery tasks failed; the event is fanned out again later");
      m.nak(RETRY_MS);
      return;
    }
    this.unconfirmed.push(item);
    this.kickConfirm();
  }

  /** The owed subscriptions whose `where` the event passes; each subscription's outcome is counted once. */
  private wanted(item: Unconfirmed, owed: Subscription[]): Subscription[] {
    if (owed.every((s) => s.where === undefined)) return owed;
    return owed.filter((sub) => {
      let pass = item.judged.get(sub);
      if (pass === undefined) {
        const outcome = item.filter.outcome(sub);
        pass = outcome === "match";
        if (outcome !== "match") this.deps.onFiltered?.(sub, outcome);
        item.judged.set(sub, pass);
      }
      return pass;
    });
  }

  /** One confirmation loop at a time; one that ends while an event was added starts again. */
  private kickConfirm(): void {
    if (this.confirming || this.unconfirmed.length === 0) return;
    this.confirming = this.confirm().finally(() => {
      this.confirming = undefined;
      if (!this.stopping) this.kickConfirm();
    });
  }

  private async write(item: Unconfirmed, subs: Subscription[]): Promise<void> {
    const fresh = subs.filter((s) => !item.written.has(s.id));
    if (fresh.length === 0) return;
    const h = copyEventHeaders(item.m.headers, item.m.subject);
    const meta = { id: eventTaskId(item.m.seq), origin: "events" as const, originSeq: item.m.seq, attempts: 0 };
    await Promise.all(
      fresh.map(async (sub) => {
        await this.tasks.acquire();
        try {
          await publishTask(this.deps.js, sub.id, h, item.m.data, meta, { held: !sub.enabled });
        } finally {
          this.tasks.release();
        }
        item.written.add(sub.id);
      }),
    );
    this.deps.onFanned?.(item.key, fresh.length);
  }

  /** Confirms and acks what was written, batch by batch, until nothing is left (see the header). */
  private async confirm(): Promise<void> {
    while (this.unconfirmed.length > 0) {
      const batch = this.unconfirmed;
      this.unconfirmed = [];
      try {
        const revision = await this.deps.store.lastRevision();
        await this.deps.view.waitRevision(revision, CONFIRM_TIMEOUT_MS);
        for (const item of batch) await this.write(item, this.wanted(item, this.deps.view.owed(item.key, item.gen)));
      } catch (err) {
        if (this.stopping) {
          for (const item of batch) item.m.nak(RETRY_MS);
          return;
        }
        this.deps.log.warn({ err, events: batch.length }, "confirming fanned-out events failed; trying again");
        this.unconfirmed.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      this.deps.settle.add(() => {
        for (const item of batch) item.m.ack();
      });
    }
  }

  /** Stops pulling, finishes the events in hand (bounded) and gives back what is not confirmed. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch((err: unknown) => this.deps.log.warn({ err }, "closing the fan-out pull failed; stopping anyway"));
    this.events.releaseWaiters();
    await this.loop;
    const done = (async () => {
      await Promise.allSettled([...this.processing]);
      await this.confirming;
    })();
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())]);
    for (const item of this.unconfirmed.splice(0)) item.m.nak(HANDBACK_MS);
    this.deps.settle.flush();
  }
}
