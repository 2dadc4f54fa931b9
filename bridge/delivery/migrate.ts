// Migration from the previous layout (one pair of durables per subscription) to delivery tasks
// (issue 13). In that layout an unordered subscription's position was its durable `jetgate_<id>`
// on EVENTS (its ack floor; nak'd retries pending above it), and the redrive and replay copies
// not yet delivered waited on `jetgate.redrive.<id>` in the work-queue stream JETGATE_REDRIVE for
// its second durable `jetgate_redrive_<id>`. Migration turns the first into a backfill from the
// ack floor up to the subscription's joinedAt (the fan-out writes what follows), the copies into
// tasks, and deletes both durables. It runs at every bridge start, before the fan-out, on every
// instance: each step is idempotent, and the EVENTS durable, which is what marks a subscription
// as not migrated yet, goes last, so a run that crashed anywhere is simply done again.
// Ordered subscriptions keep their durables (delivery/runner.ts) and are left alone; the DLQ is
// the same in both layouts.
import type { NatsConnection } from "@nats-io/nats-core";
import { DeliverPolicy, type ConsumerInfo, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { isConsumerNotFound, isStreamNotFound } from "../nats-errors.ts";
import { copyEventHeaders } from "../recovery/event-headers.ts";
import type { Subscription } from "../subscriptions/model.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";
import { recordBackfill } from "./backfill.ts";
import { publishTask } from "./tasks.ts";

// The previous layout's names, as they were (the modules that defined them go away).
const LEGACY_REDRIVE_STREAM = "JETGATE_REDRIVE";
const legacyEventsDurable = (id: string) => `jetgate_${id}`;
const legacyRedriveDurable = (id: string) => `jetgate_redrive_${id}`;
const legacyRedriveSubject = (id: string) => `jetgate.redrive.${id}`;

/** Subscriptions migrated at once: each is a dozen requests, so a few overlap well. */
const CONCURRENCY = 8;
/** Task publishes in flight while moving copies, as a backfill. */
const IN_FLIGHT = 256;

export interface MigrationDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: SubscriptionStore;
  log: Logger;
  wait: UntilReadyOptions;
}

/**
 * Migrates every unordered subscription of `subs` that still has its durable on EVENTS; returns
 * the ids migrated by this run (on several instances at once, a subscription may be in each's list).
 */
export async function migrateLegacyLayout(deps: MigrationDeps, subs: Subscription[]): Promise<{ migrated: string[] }> {
  const started = Date.now();
  // One listing of EVENTS' consumers, not an info per subscription: most have none (any more).
  const durables = await untilReady(`the consumers of stream ${EVENTS_STREAM}`, async () => {
    const found = new Map<string, ConsumerInfo>();
    for await (const info of deps.jsm.consumers.list(EVENTS_STREAM)) found.set(info.name, info);
    return found;
  }, deps.wait);
  const todo = subs.filter((s) => !s.ordered && durables.has(legacyEventsDurable(s.id)));
  const migrated: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const sub = todo[next++]!;
      if (await migrateOne(deps, sub, durables.get(legacyEventsDurable(sub.id))!)) migrated.push(sub.id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, todo.length) }, worker));
  if (todo.length > 0) deps.log.info({ migrated: migrated.length, ms: Date.now() - started }, "migration: subscriptions moved from their own durables to delivery tasks");
  return { migrated: migrated.sort() };
}

/** The steps for one subscription; false if it was deleted meanwhile (its durables are left). */
async function migrateOne(deps: MigrationDeps, sub: Subscription, durable: ConsumerInfo): Promise<boolean> {
  const { store, wait, log } = deps;
  // 1. Its position. Every event at or below the ack floor was delivered (or dead-lettered). The
  //    ones above it that were acked out of order, in flight, or waiting out a nak(delay) are
  //    delivered again from the backfill: at-least-once, with the same webhook-id (it comes from
  //    the event, not from the consumer), as a receiver must already accept.
  const ackFloor = durable.ack_floor.stream_seq;
  const from = legacyPosition(durable);
  // 2. joinedAt, once: on a conflicting write (another instance migrating) modify reads again and
  //    keeps the time that won, so every instance records the same backfill.
  const now = new Date().toISOString();
  const current = await store.get(sub.id);
  if (!current) {
    log.warn({ subscription: sub.id }, "migration: subscription deleted meanwhile; left as it is");
    return false;
  }
  const joined = current.sub.joinedAt ? current.sub : await store.modify(sub.id, (s) => (s.joinedAt ? s : { ...s, joinedAt: now }));
  // 3. The backfill from the floor to joinedAt; the fan-out delivers from joinedAt on.
  await recordBackfill(deps.nc, joined, new Date(joined.joinedAt!), from);
  // 4. The copies. The redrive durable goes first: JETGATE_REDRIVE is a work queue, so no legacy
  //    instance still running may deliver (and so remove) a copy while it is being moved. Deleting
  //    a consumer leaves its messages in the stream, so a crash from here on loses nothing.
  await deleteConsumer(LEGACY_REDRIVE_STREAM, legacyRedriveDurable(sub.id), deps);
  const copies = await moveCopies(deps, joined);
  // 5. The EVENTS durable last: while it exists the subscription counts as not migrated.
  await deleteConsumer(EVENTS_STREAM, legacyEventsDurable(sub.id), deps);
  const backfillFrom = "seq" in from ? from.seq : from.time.toISOString();
  log.info({ subscription: sub.id, ackFloor, backfillFrom, joinedAt: joined.joinedAt, copies }, "migration: subscription migrated");
  return true;
}

/**
 * Where the legacy durable would deliver next, bar retries: just above its ack floor. A durable
 * that never acked anything reports a floor of 0 whatever its start (seen on nats-server
 * 2.10.27), and "from sequence 1" would then send a startAt-new or -time subscription every event
 * older than it; so then its start is its configured one, as the legacy layout set it
 * (durable-consumers.ts: all, a start sequence, or a start time, createdAt for startAt new).
 */
function legacyPosition(durable: ConsumerInfo): { seq: number } | { time: Date } {
  const floor = durable.ack_floor.stream_seq;
  const { deliver_policy: policy, opt_start_seq: startSeq, opt_start_time: startTime } = durable.config;
  if (floor === 0 && policy === DeliverPolicy.StartSequence && startSeq) return { seq: startSeq };
  if (floor === 0 && policy === DeliverPolicy.StartTime && startTime) return { time: new Date(startTime) };
  return { seq: floor + 1 };
}

/**
 * Writes a task for every copy on the subscription's redrive subject, then purges the subject up
 * to the last copy written. The copies are read with direct gets, no consumer, so the work queue
 * has nothing to refuse and nothing to remove on its own. A copy's task id is built on its
 * sequence, so a second run (after a crash before the purge, or on another instance at the same
 * time) writes the same msg ids, which the tasks stream drops inside its duplicate window; after
 * the window, a duplicate delivery with the same webhook-id (at-least-once). Purging up to the
 * last copy read, not the whole subject, leaves a copy written meanwhile for the next run.
 */
async function moveCopies(deps: MigrationDeps, sub: Subscription): Promise<number> {
  const { js, jsm, wait } = deps;
  const subject = legacyRedriveSubject(sub.id);
  const last = await untilReady(`stream ${LEGACY_REDRIVE_STREAM}`, () => jsm.streams.info(LEGACY_REDRIVE_STREAM), wait).then(
    (info) => info.state.last_seq,
    (err: unknown) => {
      if (isStreamNotFound(err)) return 0;
      throw err;
    },
  );
  let moved = 0;
  let lastMoved = 0;
  let pending: Promise<void>[] = [];
  for (let seq = 1; seq <= last; ) {
    const m = await untilReady(`a copy on ${subject}`, () => jsm.streams.getMessage(LEGACY_REDRIVE_STREAM, { seq, next_by_subj: subject } as never), wait);
    if (!m || m.seq > last) break;
    const meta = { id: `copy:${m.seq}`, origin: "redrive" as const, originSeq: m.seq, attempts: 0 };
    pending.push(publishTask(js, sub.id, copyEventHeaders(m.header), m.data, meta, { held: !sub.enabled }));
    if (pending.length >= IN_FLIGHT) {
      await Promise.all(pending);
      pending = [];
    }
    moved++;
    lastMoved = m.seq;
    seq = m.seq + 1;
  }
  await Promise.all(pending);
  if (lastMoved > 0) {
    await untilReady(`purging ${subject} from stream ${LEGACY_REDRIVE_STREAM}`, () => jsm.streams.purge(LEGACY_REDRIVE_STREAM, { filter: subject, seq: lastMoved + 1 }), wait);
  }
  return moved;
}

/** Deletes a legacy durable; already gone (another instance, an earlier run) is success. */
async function deleteConsumer(stream: string, name: string, deps: MigrationDeps): Promise<void> {
  await untilReady(`deleting consumer ${name} on stream ${stream}`, () => deps.jsm.consumers.delete(stream, name), deps.wait).catch((err: unknown) => {
    if (!isConsumerNotFound(err) && !isStreamNotFound(err)) throw err;
  });
}
