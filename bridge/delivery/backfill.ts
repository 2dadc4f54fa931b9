// Durable backfills (issue 13): the fan-out delivers to a subscription only the events stamped at
// or after its joinedAt; the earlier events its startAt asks for (`all`, a sequence, a time) are
// written as delivery tasks by a backfill. A backfill can be millions of events and must survive a
// crash of the instance working it, so it is a record in the KV bucket `jetgate_backfills` (one key
// per subscription) that any instance may take under a lease, work in batches while saving how far
// it got, and delete when done. Ordered subscriptions keep their own durables and never backfill.
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { QueuedIterator } from "@nats-io/nats-core";
import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import type { Logger } from "pino";
import { decodeEvent, EVENTS_STREAM } from "../../broker/index.ts";
import { untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { isWrongLastSequence } from "../nats-errors.ts";
import { copyEventHeaders } from "../recovery/event-headers.ts";
import { scanStream, seqAtTime } from "../recovery/stream-scan.ts";
import type { Subscription } from "../subscriptions/model.ts";
import { eventsReplicas, SUBSCRIPTIONS_BUCKET } from "../subscriptions/buckets.ts";
import { coveringSubject, selectsSubject } from "../subscriptions/selection.ts";
import { whereOutcome, whereContext, type WhereOutcome } from "../subscriptions/where.ts";
import { eventTaskId, publishTask } from "./tasks.ts";

export const BACKFILLS_BUCKET = "jetgate_backfills";

/**
 * One backfill, stored as JSON under the subscription's id.
 * - subscription: the subscription's id (the key, repeated for whoever reads the value alone).
 * - fromSeq / fromTime: where it starts (one of the two): an EVENTS sequence, or an ISO time.
 * - untilTime: ISO; it covers the events stamped before this (the subscription's joinedAt: the
 *   fan-out writes the rest).
 * - next: the EVENTS sequence to resume from; every task below it (on the filter) is written.
 * - owner / leaseUntil: the instance working it and until when (ISO, its clock). A lease past
 *   leaseUntil is free: instances' clocks must agree to well within the lease (NTP does).
 */
export interface BackfillRecord {
  subscription: string;
  fromSeq?: number;
  fromTime?: string;
  untilTime: string;
  next?: number;
  owner?: string;
  leaseUntil?: string;
}

/** The bucket, created on first use with the EVENTS stream's replicas (as SubscriptionStore.open). */
export async function openBackfills(nc: NatsConnection, wait: UntilReadyOptions = {}): Promise<KV> {
  const replicas = await eventsReplicas(nc, wait);
  return untilReady(`KV bucket ${BACKFILLS_BUCKET} (stream KV_${BACKFILLS_BUCKET})`, () => new Kvm(nc).create(BACKFILLS_BUCKET, { replicas, history: 1, description: "Jetgate subscription backfills" }), wait);
}

/** One open bucket per connection: recordBackfill is called for every subscription created. */
const buckets = new WeakMap<NatsConnection, Promise<KV>>();

function bucketOf(nc: NatsConnection): Promise<KV> {
  let kv = buckets.get(nc);
  if (!kv) {
    kv = openBackfills(nc);
    // A failed open is not remembered: the next call tries again.
    kv.catch(() => buckets.delete(nc));
    buckets.set(nc, kv);
  }
  return kv;
}

/** Where the backfill of `sub` starts by its startAt; null for `new` (nothing before it joined). */
function startOf(sub: Subscription): { seq: number } | { time: Date } | null {
  switch (sub.startAt.policy) {
    case "all":
      return { seq: 1 };
    case "sequence":
      return { seq: sub.startAt.sequence };
    case "time":
      return { time: new Date(sub.startAt.time) };
    default:
      return null;
  }
}

/**
 * True when EVENTS holds no event on `filter` from `start` until `untilTime`: then there is nothing
 * to backfill and no record is written. A few direct reads, against a record's create, lease,
 * progress and delete writes (R3): 10,000 subscriptions created with a start just before their
 * creation cost the cluster minutes of CPU in records that had nothing to do (subscriptions bench).
 */
async function nothingBefore(nc: NatsConnection, filter: string, start: { seq: number } | { time: Date }, untilTime: Date): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  const from = "seq" in start ? start.seq : await seqAtTime(jsm, EVENTS_STREAM, start.time);
  const first = await jsm.streams.getMessage(EVENTS_STREAM, { seq: Math.max(1, from), next_by_subj: filter } as never);
  return !first || first.time.getTime() >= untilTime.getTime();
}

/**
 * Records the backfill of `sub` up to `untilTime` (its joinedAt), from `from` or else from its
 * startAt. Nothing for an ordered subscription or a `new` one without `from`. Recording again
 * with the same untilTime is a no-op (several instances may record the same one); a record with
 * another untilTime belongs to an earlier subscription of the same id and is replaced.
 */
export async function recordBackfill(nc: NatsConnection, sub: Subscription, untilTime: Date, from?: { seq: number } | { time: Date }): Promise<void> {
  if (sub.ordered) return;
  const start = from ?? startOf(sub);
  if (!start) return;
  if ("time" in start && start.time.getTime() >= untilTime.getTime()) return;
  const record: BackfillRecord = {
    subscription: sub.id,
    ...("seq" in start ? { fromSeq: start.seq } : { fromTime: start.time.toISOString() }),
    untilTime: untilTime.toISOString(),
  };
  if (await nothingBefore(nc, coveringSubject(sub), start, untilTime)) return;
  const kv = await bucketOf(nc);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await kv.create(sub.id, JSON.stringify(record));
      return;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const existing = await kv.get(sub.id);
    if (!existing || existing.operation !== "PUT") continue; // deleted in between: create again
    if (Date.parse(existing.json<BackfillRecord>().untilTime) === untilTime.getTime()) return;
    try {
      await kv.update(sub.id, JSON.stringify(record), existing.revision);
      return;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
  }
  throw new Error(`backfill record of subscription ${sub.id} kept changing under us`);
}

export interface BackfillRunnerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  /** This instance's name, written as the lease owner. */
  instance: string;
  /** The subscription as this instance knows it (from its KV watch); undefined if unknown. */
  lookup: (id: string) => Subscription | undefined;
  /** Counts an event the subscription's `where` does not pass (where.ts). */
  onFiltered?: (sub: Subscription, outcome: Exclude<WhereOutcome, "match">) => void;
  /** How long a lease lasts; renewed at a third of it while working (default 30 s). */
  leaseMs?: number;
  /** Pause between looks at the records (default 2 s). */
  pollMs?: number;
  /** How long the EVENTS scan waits for its next message before it counts as silence (default 2 s). */
  scanIdleMs?: number;
  wait?: UntilReadyOptions;
}

/** Task publishes in flight at once, as replayToSubscription: fast, and memory stays flat. */
const IN_FLIGHT = 256;

/** Thrown inside a scan to end it: stop() was called or the lease was lost. */
class Interrupted extends Error {}

/**
 * Works the backfill records, one at a time on this instance; every instance runs one, and the
 * leases spread the records over them. A crashed owner's record is taken over once its lease
 * expires and resumes from `next`: the tasks written again carry the same msg ids, so within the
 * tasks stream's duplicate window they are dropped, and after it they are duplicate deliveries
 * with the same webhook-id, which at-least-once allows.
 */
export class BackfillRunner {
  private kv: KV | undefined;
  private subscriptions: KV | undefined;
  /**
   * The records, as last written, followed through a watch: an empty bucket or one whose records
   * are all leased by others costs no request. A stale one only makes the lease write fail.
   */
  private readonly records = new Map<string, KvWatchEntry>();
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(private readonly deps: BackfillRunnerDeps) {
    this.leaseMs = deps.leaseMs ?? 30_000;
    this.pollMs = deps.pollMs ?? 2_000;
  }

  async start(): Promise<void> {
    const wait = this.deps.wait ?? {};
    this.kv = await openBackfills(this.deps.nc, wait);
    this.subscriptions = await untilReady(`KV bucket ${SUBSCRIPTIONS_BUCKET}`, () => new Kvm(this.deps.nc).open(SUBSCRIPTIONS_BUCKET), wait);
    this.loop = this.run();
  }

  /** Ends the loop: the record being worked is left with its `next` saved and its lease released. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.watcher?.stop();
    await this.loop;
  }

  /** Backfills not done yet, as this instance sees them (for a jetgate_backfills_pending gauge). */
  pending(): number {
    return this.records.size;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (!this.watcher) await this.follow();
        await this.pass();
      } catch (err) {
        this.deps.log.warn({ err }, "backfill: looking at the backfills failed; trying again");
      }
      await this.pause();
    }
  }

  /**
   * Watches the bucket (its current records first, then every change) into `records`; a key new to
   * this instance ends the pause, so a new backfill starts at once. If the watch ends with an
   * error, the next turn of the loop watches again from the start.
   */
  private async follow(): Promise<void> {
    const iter = await this.kv!.watch();
    this.watcher = iter;
    // A watch again after a failed one starts from the bucket's current records: forget the old.
    this.records.clear();
    void (async () => {
      for await (const entry of iter) {
        const isNew = !this.records.has(entry.key);
        if (entry.operation !== "PUT") this.records.delete(entry.key);
        else {
          this.records.set(entry.key, entry);
          if (isNew) this.wake?.();
        }
      }
    })()
      .catch((err: unknown) => this.deps.log.warn({ err }, "backfill: the watch on the backfills failed; watching again"))
      .finally(() => {
        if (this.watcher === iter) this.watcher = undefined;
      });
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) return resolve();
      const timer = setTimeout(done, this.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One look at every record: a lease taken on those that are free, and the work done. */
  private async pass(): Promise<void> {
    for (const key of [...this.records.keys()]) {
      if (this.stopping) return;
      const entry = this.records.get(key);
      if (!entry) continue;
      await this.tryWork(entry).catch((err: unknown) => {
        this.deps.log.warn({ err, subscription: key }, "backfill: failed; its lease is released and the next pass takes it again");
      });
    }
  }

  private async tryWork(entry: KvWatchEntry): Promise<void> {
    const kv = this.kv!;
    const key = entry.key;
    const record = entry.json<BackfillRecord>();
    if (record.leaseUntil && Date.parse(record.leaseUntil) > Date.now()) return;
    const sub = await this.subscription(key);
    if (!sub || sub.ordered || (sub.joinedAt && Date.parse(sub.joinedAt) !== Date.parse(record.untilTime))) {
      // Gone, ordered, or the record is an earlier subscription's with the same id: nothing to do.
      await kv.delete(key, { previousSeq: entry.revision }).catch((err: unknown) => {
        if (!isWrongLastSequence(err)) throw err;
      });
      this.deps.log.info({ subscription: key, reason: !sub ? "subscription gone" : sub.ordered ? "ordered" : "earlier subscription" }, "backfill: dropped");
      return;
    }
    const lease = new Lease(kv, key, record, entry.revision, this.deps.instance, this.leaseMs);
    if (!(await lease.take())) return;
    if (record.owner && record.leaseUntil) {
      this.deps.log.info({ subscription: key, from: record.owner, next: record.next }, "backfill: took over an expired lease");
    }
    await this.work(sub, lease);
  }

  /** The subscription from this instance's view, else from the bucket (the view may lag a create). */
  private async subscription(id: string): Promise<Subscription | undefined> {
    const known = this.deps.lookup(id);
    if (known) return known;
    const entry = await this.subscriptions!.get(id);
    return entry && entry.operation === "PUT" ? entry.json<Subscription>() : undefined;
  }

  private async work(sub: Subscription, lease: Lease): Promise<void> {
    const { js, jsm, log } = this.deps;
    const record = lease.record;
    const untilMs = Date.parse(record.untilTime);
    const resumeSeq = record.next ?? record.fromSeq;
    log.info({ subscription: sub.id, from: resumeSeq ?? record.fromTime, until: record.untilTime }, "backfill: working");
    let pending: Promise<void>[] = [];
    let written = 0;
    let lastSaved = Date.now();
    const flush = async (next: number) => {
      await Promise.all(pending);
      pending = [];
      if (!(await lease.save(next))) throw new Interrupted(`lease on backfill ${sub.id} lost`);
      lastSaved = Date.now();
      log.debug({ subscription: sub.id, next, written }, "backfill: progress");
    };
    try {
      await scanStream(
        js,
        jsm,
        {
          stream: EVENTS_STREAM,
          filter: coveringSubject(sub),
          // By sequence, so that an empty range (the common case: a start time just before the
          // subscription was created) costs a few direct reads, not a consumer and its idle wait.
          startSeq: resumeSeq ?? (await seqAtTime(jsm, EVENTS_STREAM, new Date(record.fromTime!))),
          endSeq: (await seqAtTime(jsm, EVENTS_STREAM, new Date(untilMs))) - 1,
          // scanStream stops at the first message newer than endTime; message times are whole
          // milliseconds (floored), so "newer than until − 1 ms" is "stamped at or after until",
          // the same line the fan-out draws at joinedAt.
          endTime: new Date(untilMs - 1),
          idleMs: this.deps.scanIdleMs ?? 2_000,
        },
        async (m: JsMsg) => {
          if (this.stopping) throw new Interrupted("stopping");
          if (!selectsSubject(sub, m.subject)) return;
          const outcome = whereOutcome(sub, () => whereContext(decodeEvent(m.subject, m.headers, m.data, `${EVENTS_STREAM}:${m.seq}`)));
          if (outcome !== "match") {
            this.deps.onFiltered?.(sub, outcome);
            return;
          }
          // Held or not by the subscription's state now: it may be disabled while backfilling.
          const held = !(this.deps.lookup(sub.id) ?? sub).enabled;
          const meta = { id: eventTaskId(m.seq), origin: "events" as const, originSeq: m.seq, attempts: 0 };
          pending.push(publishTask(js, sub.id, copyEventHeaders(m.headers, m.subject), m.data, meta, { held }));
          written++;
          if (pending.length >= IN_FLIGHT || Date.now() - lastSaved >= this.leaseMs / 3) await flush(m.seq + 1);
        },
      );
      await Promise.all(pending);
      if (await lease.finish()) log.info({ subscription: sub.id, written }, "backfill: done");
      else log.warn({ subscription: sub.id, written }, "backfill: done, but its record changed meanwhile and is left for another pass");
    } catch (err) {
      // Whatever was written before the last saved `next` is kept; the rest is written again.
      await Promise.allSettled(pending);
      await lease.release().catch(() => undefined);
      if (err instanceof Interrupted) log.info({ subscription: sub.id, written, reason: err.message }, "backfill: interrupted");
      else throw err;
    }
  }
}

/** A record held under an optimistic lock: every write names the revision it last wrote. */
class Lease {
  private current: BackfillRecord;

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    record: BackfillRecord,
    private revision: number,
    private readonly owner: string,
    private readonly leaseMs: number,
  ) {
    this.current = record;
  }

  get record(): BackfillRecord {
    return this.current;
  }

  take(): Promise<boolean> {
    return this.write({ ...this.current, owner: this.owner, leaseUntil: this.until() });
  }

  /** Saves the progress and renews the lease; false if another writer got in (lease lost). */
  save(next: number): Promise<boolean> {
    return this.write({ ...this.current, next, owner: this.owner, leaseUntil: this.until() });
  }

  /** Frees the lease at once (a stop or a failure), so the next pass of any instance can take it. */
  async release(): Promise<void> {
    const { owner: _o, leaseUntil: _l, ...rest } = this.current;
    await this.write(rest);
  }

  /** Deletes the record if it is still this lease's. */
  async finish(): Promise<boolean> {
    try {
      await this.kv.delete(this.key, { previousSeq: this.revision });
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  private until(): string {
    return new Date(Date.now() + this.leaseMs).toISOString();
  }

  private async write(value: BackfillRecord): Promise<boolean> {
    try {
      this.revision = await this.kv.update(this.key, JSON.stringify(value), this.revision);
      this.current = value;
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }
}
