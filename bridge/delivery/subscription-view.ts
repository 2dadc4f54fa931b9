// This instance's view of the subscriptions bucket, as the fan-out and the task worker need it: the
// subscriptions by id, the ones an event is owed to, how far the view has read the bucket, and a
// generation that moves on every change (so the fan-out can tell which events it matched against
// an older view). It is fed by the one watch the ConsumerManager keeps (supervisor.ts).
import type { SubscriptionChange } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";
import { selectionKey, selectsSubject } from "../subscriptions/selection.ts";

interface Entry {
  sub: Subscription;
  /** Epoch ms from which events are owed to it by the fan-out (joinedAt, else its revision's time). */
  joinedAtMs: number;
  /** The view's generation when this entry last changed. */
  gen: number;
}

/** The event facts the fan-out matches on. */
export interface EventKey {
  subject: string;
  seq: number;
  /** The stream's timestamp of the event, epoch ms. */
  timeMs: number;
}

export class SubscriptionView {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private seenRevision = 0;
  private readonly revisionWaiters = new Set<{ revision: number; resolve: () => void }>();

  get gen(): number {
    return this.generation;
  }

  /** The highest bucket revision this view has applied. */
  get revision(): number {
    return this.seenRevision;
  }

  get size(): number {
    return this.entries.size;
  }

  apply(change: SubscriptionChange): void {
    this.generation++;
    if (change.op === "delete") {
      this.entries.delete(change.id);
    } else {
      const known = this.entries.get(change.id);
      // A revision before the joinedAt stamp carries none: its first-seen time stays the start.
      const joinedAtMs = change.sub.joinedAt ? Date.parse(change.sub.joinedAt) : known?.joinedAtMs ?? change.at.getTime();
      this.entries.set(change.id, { sub: change.sub, joinedAtMs, gen: this.generation });
    }
    this.advance(change.revision);
  }

  /** The watch delivered everything up to `revision` (its starting point), changes or not. */
  advance(revision: number): void {
    if (revision <= this.seenRevision) return;
    this.seenRevision = revision;
    for (const waiter of this.revisionWaiters) {
      if (waiter.revision > revision) continue;
      this.revisionWaiters.delete(waiter);
      waiter.resolve();
    }
  }

  /** Resolves once the view has applied `revision`; rejects after `timeoutMs`, naming it. */
  waitRevision(revision: number, timeoutMs: number): Promise<void> {
    if (revision <= this.seenRevision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { revision, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.revisionWaiters.delete(waiter);
        reject(new Error(`the subscriptions watch did not reach revision ${revision} within ${timeoutMs} ms (at ${this.seenRevision})`));
      }, timeoutMs);
      this.revisionWaiters.add(waiter);
    });
  }

  get(id: string): Subscription | undefined {
    return this.entries.get(id)?.sub;
  }

  all(): Subscription[] {
    return [...this.entries.values()].map((e) => e.sub);
  }

  /** The earliest time from which any unordered subscription is owed events (where a new fan-out starts). */
  earliestJoin(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) if (!e.sub.ordered && (min === undefined || e.joinedAtMs < min)) min = e.joinedAtMs;
    return min;
  }

  /**
   * The unordered subscriptions owed this event by the fan-out, optionally only those changed after
   * generation `since`: it selects the event's type (selection.ts), the event was stored at or after the subscription
   * joined, and its start position does not lie after the event. (Events from before joining are
   * a backfill's, backfill.ts.) Disabled ones are included: their tasks are held, not dropped.
   */
  owed(event: EventKey, since = -1): Subscription[] {
    const out: Subscription[] = [];
    // Many subscriptions select the same types (one per customer of a user): match each once.
    const matches = new Map<string, boolean>();
    for (const e of this.entries.values()) {
      if (e.gen <= since || e.sub.ordered || event.timeMs < e.joinedAtMs || !startsBy(e.sub, event)) continue;
      const key = selectionKey(e.sub);
      let match = matches.get(key);
      if (match === undefined) matches.set(key, (match = selectsSubject(e.sub, event.subject)));
      if (match) out.push(e.sub);
    }
    return out;
  }
}

/** False when the subscription's start position lies after the event (a start in the future). */
function startsBy(sub: Subscription, event: EventKey): boolean {
  switch (sub.startAt.policy) {
    case "sequence":
      return event.seq >= sub.startAt.sequence;
    case "time":
      return event.timeMs >= Date.parse(sub.startAt.time);
    default:
      return true;
  }
}
