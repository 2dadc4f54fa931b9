// Tasks of a disabled subscription wait in JETGATE_HELD (tasks.ts), where no consumer reads them,
// so a disabled endpoint with a large backlog costs no redeliveries. When the subscription is
// enabled again they go back into the task stream, in the order they were held. Every instance
// releases on the change it sees, and sweeps every SWEEP_MS for tasks held by a worker that still
// saw the subscription disabled after it was enabled; two instances releasing the same tasks
// write them once (msg id = the held message's sequence), and a crash between the writes and the
// purge only repeats writes.
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { isStreamNotFound } from "../nats-errors.ts";
import { scanStream } from "../recovery/stream-scan.ts";
import type { SubscriptionView } from "./subscription-view.ts";
import { ALL_HELD, HELD_STREAM, heldSubject, publishTask, readTaskMeta, subscriptionOfSubject } from "./tasks.ts";

const SWEEP_MS = 30_000;
const WRITES_IN_FLIGHT = 256;

/** Moves one subscription's held tasks back into the task stream; returns how many. */
export async function releaseHeld(js: JetStreamClient, jsm: JetStreamManager, subscription: string): Promise<number> {
  const subject = heldSubject(subscription);
  const last = await jsm.streams.getMessage(HELD_STREAM, { last_by_subj: subject });
  if (!last) return 0;
  let pending: Array<Promise<void>> = [];
  let moved = 0;
  await scanStream(js, jsm, { stream: HELD_STREAM, filter: subject, endSeq: last.seq, idleMs: 2_000 }, async (m) => {
    const meta = readTaskMeta(m.headers);
    if (typeof meta === "string") return;
    pending.push(publishTask(js, subscription, m.headers!, m.data, { ...meta, notBefore: undefined }, { msgID: `unheld:${subscription}:${m.seq}` }));
    moved++;
    if (pending.length >= WRITES_IN_FLIGHT) {
      await Promise.all(pending);
      pending = [];
    }
  });
  await Promise.all(pending);
  // Only what was written: a task held meanwhile (after `last`) stays for the next release.
  await jsm.streams.purge(HELD_STREAM, { filter: subject, seq: last.seq + 1 });
  return moved;
}

export class HeldReleaser {
  private readonly busy = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: { js: JetStreamClient; jsm: JetStreamManager; view: SubscriptionView; log: Logger },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** Releases the subscription's held tasks (once at a time per subscription). */
  release(id: string): Promise<void> {
    const running = this.busy.get(id);
    if (running) return running;
    const run = releaseHeld(this.deps.js, this.deps.jsm, id)
      .then((moved) => {
        if (moved > 0) this.deps.log.info({ subscription: id, moved }, "held tasks released");
      })
      .catch((err: unknown) => this.deps.log.warn({ subscription: id, err }, "releasing held tasks failed; the next sweep tries again"))
      .finally(() => this.busy.delete(id));
    this.busy.set(id, run);
    return run;
  }

  /** One stream info for every held subject; enabled subscriptions with tasks held get them back. */
  async sweep(): Promise<void> {
    try {
      const info = await this.deps.jsm.streams.info(HELD_STREAM, { subjects_filter: ALL_HELD });
      for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
        const id = subscriptionOfSubject(subject);
        if (count > 0 && this.deps.view.get(id)?.enabled) void this.release(id);
      }
    } catch (err) {
      if (!isStreamNotFound(err)) this.deps.log.warn({ err }, "sweeping held tasks failed");
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.busy.values()]);
  }
}
