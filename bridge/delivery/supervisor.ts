// Watches the subscriptions bucket and applies each change on this instance. Every change goes
// first, synchronously, into the view the fan-out and the task worker read (an unordered
// subscription needs nothing else to be active). Ordered subscriptions keep one runner each with
// their own durables (runner.ts); their changes are applied in order per subscription, and the
// starts of different ones run side by side with a bound (each waits for its durables' leaders,
// ~1 s on a cluster, which one at a time made thousands take a quarter of an hour).
import type { Logger } from "pino";
import type { JetStreamManager } from "@nats-io/jetstream";
import { deleteConsumers } from "./durable-consumers.ts";
import { Semaphore } from "./flow-control.ts";
import type { HeldReleaser } from "./held.ts";
import { SubscriptionRunner, type RunnerDeps } from "./runner.ts";
import type { SubscriptionView } from "./subscription-view.ts";
import type { TaskWorker } from "./task-worker.ts";
import { HELD_STREAM, heldSubject, TASKS_STREAM, taskSubject } from "./tasks.ts";
import { isStreamNotFound } from "../nats-errors.ts";
import type { SubscriptionChange, SubscriptionStore } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";

/** Ordered subscriptions whose durables are being created at once. */
const ORDERED_STARTS_IN_FLIGHT = 16;

export interface ManagerDeps extends RunnerDeps {
  view: SubscriptionView;
  worker: TaskWorker;
  held: HeldReleaser;
}

export class ConsumerManager {
  private readonly runners = new Map<string, SubscriptionRunner>();
  /** Per subscription, the tail of its chain of changes being applied. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly starts = new Semaphore(ORDERED_STARTS_IN_FLIGHT);
  private watcher: { stop(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly store: SubscriptionStore,
    private readonly deps: ManagerDeps,
    private readonly log: Logger,
  ) {}

  get view(): SubscriptionView {
    return this.deps.view;
  }

  /** Starts watching; resolves once the current set is applied. */
  async start(): Promise<void> {
    const watcher = await this.store.watch(
      (change) => this.enqueue(change),
      (err) => this.log.error({ err }, "the subscriptions watch stopped: this instance no longer sees subscription changes"),
    );
    this.watcher = watcher;
    this.deps.view.advance(watcher.revision);
    await this.settled();
  }

  /** Subscriptions as this instance last saw them. */
  known(): Subscription[] {
    return this.deps.view.all();
  }

  /** The subscriptions this instance delivers for: enabled unordered ones and running ordered ones. */
  running(): string[] {
    const unordered = this.deps.view.all().filter((s) => !s.ordered && s.enabled).map((s) => s.id);
    return [...unordered, ...this.runners.keys()];
  }

  /** The ordered subscriptions whose runners this instance runs. */
  orderedRunning(): string[] {
    return [...this.runners.keys()];
  }

  /** Resolves when every change seen so far has been applied (tests and readiness use it). */
  async settled(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  // Never awaited by the watch: one subscription's slow change must not hold up the others.
  private enqueue(change: SubscriptionChange): void {
    const previous = this.deps.view.get(change.id);
    this.deps.view.apply(change);
    const tail = (this.chains.get(change.id) ?? Promise.resolve())
      .then(() => this.applyChange(change, previous))
      .catch((err: unknown) => this.log.error({ err, subscription: change.id }, "could not apply subscription change"));
    this.chains.set(change.id, tail);
    void tail.then(() => {
      if (this.chains.get(change.id) === tail) this.chains.delete(change.id);
    });
  }

  private async applyChange(change: SubscriptionChange, previous: Subscription | undefined): Promise<void> {
    if (this.stopped) return;
    if (change.op === "delete") return this.deleted(change.id, previous);
    const sub = change.sub;
    if (!sub.ordered) {
      this.deps.worker.update(sub);
      // Enabled again: its held tasks go back to work. (Held tasks of subscriptions first seen
      // enabled, at start-up or held by another instance meanwhile, are the sweep's: held.ts.)
      if (sub.enabled && previous && !previous.enabled) await this.deps.held.release(sub.id);
      return;
    }
    const runner = this.runners.get(sub.id);
    if (!sub.enabled) {
      if (runner) {
        this.runners.delete(sub.id);
        await runner.stop(this.deps.config.shutdownDeadlineMs);
        this.log.info({ subscription: sub.id, reason: sub.disabledReason }, "subscription stopped (disabled)");
      }
      return;
    }
    if (runner) {
      await runner.update(sub);
      return;
    }
    const fresh = new SubscriptionRunner(sub, this.deps);
    this.runners.set(sub.id, fresh);
    await this.starts.acquire();
    try {
      await fresh.start();
    } catch (err) {
      this.runners.delete(sub.id);
      await fresh.stop(0).catch((stopErr: unknown) => this.log.warn({ subscription: sub.id, err: stopErr }, "stopping a runner that failed to start failed"));
      throw err;
    } finally {
      this.starts.release();
    }
    this.log.info({ subscription: sub.id, filter: sub.filter, types: sub.types, url: sub.url }, "ordered subscription started");
  }

  /** A deleted subscription: its runner and durables, or its tasks and held tasks, go with it. */
  private async deleted(id: string, previous: Subscription | undefined): Promise<void> {
    this.deps.health.forget(id);
    this.deps.worker.forget(id);
    const runner = this.runners.get(id);
    if (runner) {
      this.runners.delete(id);
      await runner.stop(this.deps.config.shutdownDeadlineMs);
    }
    const wait = { deadlineMs: this.deps.config.readyDeadlineMs, onWait: (line: string) => this.log.warn({ subscription: id }, line) };
    // Durables exist for ordered subscriptions, and for unordered ones of the previous layout.
    await deleteConsumers(this.deps.jsm, id, wait);
    if (!previous?.ordered) await purgeTasks(this.deps.jsm, id);
    this.log.info({ subscription: id }, "subscription deleted");
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.watcher?.stop();
    await this.settled();
    await Promise.allSettled([...this.runners.values()].map((r) => r.stop(deadlineMs)));
    this.runners.clear();
  }
}

/** Removes a deleted subscription's waiting tasks; "already gone" is success. */
async function purgeTasks(jsm: JetStreamManager, id: string): Promise<void> {
  for (const [stream, subject] of [[TASKS_STREAM, taskSubject(id)], [HELD_STREAM, heldSubject(id)]] as const) {
    await jsm.streams.purge(stream, { filter: subject }).catch((err: unknown) => {
      if (!isStreamNotFound(err)) throw err;
    });
  }
}
