// Subscription health: 410 Gone disables at once (the receiver says the endpoint is gone for good),
// and a long run of failures disables too (Svix: an endpoint failing for 5 days). The start of the
// run is shared through KV so instances agree; each instance writes only on a transition.
import type { Logger } from "pino";
import type { BridgeConfig } from "../config.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";

type Known = { state: "healthy" } | { state: "failing"; since: number } | { state: "unknown" };

export class HealthTracker {
  private readonly known = new Map<string, Known>();
  private readonly streak = new Map<string, number>();
  private readonly busy = new Map<string, Promise<void>>();

  constructor(
    private readonly store: SubscriptionStore,
    private readonly config: Pick<BridgeConfig, "autoDisableAfterMs" | "autoDisableMinFailures">,
    private readonly log: Logger,
  ) {}

  success(id: string): void {
    this.streak.set(id, 0);
    if (this.known.get(id)?.state === "healthy") return;
    this.serial(id, async () => {
      // A subscription never marked failing has no key: read rather than write a delete marker,
      // which for thousands of subscriptions would be thousands of R3 writes on their first delivery.
      if (this.known.get(id)?.state === "failing" || (await this.store.getHealth(id))) await this.store.markHealthy(id);
      this.known.set(id, { state: "healthy" });
    });
  }

  failure(sub: Subscription): void {
    const id = sub.id;
    this.streak.set(id, (this.streak.get(id) ?? 0) + 1);
    this.serial(id, async () => {
      let known = this.known.get(id) ?? { state: "unknown" };
      if (known.state !== "failing") {
        const health = await this.store.markFailing(id, new Date());
        known = { state: "failing", since: Date.parse(health.failingSince) };
        this.known.set(id, known);
      }
      const after = this.config.autoDisableAfterMs;
      if (after <= 0 || known.state !== "failing") return;
      if (Date.now() - known.since < after || (this.streak.get(id) ?? 0) < this.config.autoDisableMinFailures) return;
      await this.disable(id, `auto-disabled: failing since ${new Date(known.since).toISOString()} (${this.streak.get(id)} failures in a row)`);
    });
  }

  /** 410 Gone: RFC 9110 §15.5.11 says the resource is gone and no forwarding address is known. */
  gone(id: string, url: string): Promise<void> {
    return this.disable(id, `receiver answered 410 Gone at ${url}`);
  }

  forget(id: string): void {
    this.known.delete(id);
    this.streak.delete(id);
  }

  private async disable(id: string, reason: string): Promise<void> {
    try {
      await this.store.modify(id, (sub) => {
        if (!sub.enabled) return sub;
        return { ...sub, enabled: false, disabledReason: reason, disabledAt: new Date().toISOString(), updatedAt: new Date().toISOString() };
      });
      this.log.warn({ subscription: id, reason }, "subscription disabled");
    } catch (err) {
      this.log.error({ subscription: id, err }, "could not disable subscription");
    }
  }

  private serial(id: string, task: () => Promise<void>): void {
    const previous = this.busy.get(id) ?? Promise.resolve();
    const next = previous.then(task).catch((err) => this.log.warn({ subscription: id, err }, "health update failed"));
    this.busy.set(id, next);
    void next.then(() => {
      if (this.busy.get(id) === next) this.busy.delete(id);
    });
  }
}
