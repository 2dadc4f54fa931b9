// Watches the subscriptions bucket and keeps one runner per enabled subscription on this instance:
// a new subscription starts one, a change updates it live, disabling stops it (the durable stays,
// so events wait), and deleting stops it and removes the durables.
import type { Logger } from "pino";
import { deleteConsumers } from "./durable-consumers.ts";
import { SubscriptionRunner, type RunnerDeps } from "./runner.ts";
import type { SubscriptionChange, SubscriptionStore } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";

export class ConsumerManager {
  private readonly runners = new Map<string, SubscriptionRunner>();
  private readonly subs = new Map<string, Subscription>();
  private queue: Promise<void> = Promise.resolve();
  private watcher: { stop(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly store: SubscriptionStore,
    private readonly deps: RunnerDeps,
    private readonly log: Logger,
  ) {}

  /** Starts watching; resolves once the current set is running. */
  async start(): Promise<void> {
    this.watcher = await this.store.watch(
      (change) => this.enqueue(change),
      (err) => this.log.error({ err }, "the subscriptions watch stopped: this instance no longer sees subscription changes"),
    );
    await this.queue;
  }

  /** Subscriptions as this instance last saw them. */
  known(): Subscription[] {
    return [...this.subs.values()];
  }

  running(): string[] {
    return [...this.runners.keys()];
  }

  /** Resolves when every change seen so far has been applied (tests and readiness use it). */
  settled(): Promise<void> {
    return this.queue;
  }

  // Changes are applied one at a time, in the order the bucket produced them.
  private enqueue(change: SubscriptionChange): Promise<void> {
    this.queue = this.queue.then(() => this.apply(change)).catch((err) => {
      this.log.error({ err, subscription: change.id }, "could not apply subscription change");
    });
    return this.queue;
  }

  private async apply(change: SubscriptionChange): Promise<void> {
    if (this.stopped) return;
    const runner = this.runners.get(change.id);
    if (change.op === "delete") {
      this.subs.delete(change.id);
      this.deps.health.forget(change.id);
      if (runner) {
        this.runners.delete(change.id);
        await runner.stop(this.deps.config.shutdownDeadlineMs);
      }
      await deleteConsumers(this.deps.jsm, change.id, {
        deadlineMs: this.deps.config.readyDeadlineMs,
        onWait: (line) => this.log.warn({ subscription: change.id }, line),
      });
      this.log.info({ subscription: change.id }, "subscription deleted");
      return;
    }
    const sub = change.sub;
    this.subs.set(sub.id, sub);
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
    try {
      await fresh.start();
    } catch (err) {
      this.runners.delete(sub.id);
      await fresh.stop(0).catch((stopErr: unknown) => this.log.warn({ subscription: sub.id, err: stopErr }, "stopping a runner that failed to start failed"));
      throw err;
    }
    this.log.info({ subscription: sub.id, filter: sub.filter, url: sub.url }, "subscription started");
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.watcher?.stop();
    await this.queue;
    await Promise.allSettled([...this.runners.values()].map((r) => r.stop(deadlineMs)));
    this.runners.clear();
  }
}
