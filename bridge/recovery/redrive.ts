// Copies of events meant for one subscription only (DLQ redrives and replays). Publishing back to
// events.<type> would reach every subscription on that type. For an unordered subscription the
// copy is a delivery task of its own (delivery/tasks.ts); an ordered one has its own durables, and
// the copy goes to the redrive stream on jetgate.redrive.<subscription>, pulled by its second
// durable. Either way it is delivered through the same pipeline (same signing, retries and DLQ).
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { nuid } from "@nats-io/nats-core";
import { decodeEvent, EVENTS_STREAM } from "../../broker/index.ts";
import { ensureStream, jetstreamManagerReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { BridgeError } from "../errors.ts";
import { scanStream } from "./stream-scan.ts";
import { copyEventHeaders } from "./event-headers.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";
import { coveringSubject, selectsSubject } from "../subscriptions/selection.ts";
import { whereContext, whereOutcome } from "../subscriptions/where.ts";
import { publishTask } from "../delivery/tasks.ts";

export const REDRIVE_STREAM = "JETGATE_REDRIVE";
const REDRIVE_PREFIX = "jetgate.redrive";

export interface Progress {
  start(total: number): void;
  update(done: number): void;
  stop(): void;
}

export function redriveSubject(subscription: string): string {
  return `${REDRIVE_PREFIX}.${subscription}`;
}

/** Work-queue retention: a copy is gone once its subscription acked (or dead-lettered) it. */
export async function ensureRedriveStream(nc: NatsConnection, replicas: number, maxAgeMs: number, wait: UntilReadyOptions = {}): Promise<void> {
  const jsm = await jetstreamManagerReady(nc, wait);
  const config = {
    name: REDRIVE_STREAM,
    subjects: [`${REDRIVE_PREFIX}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: maxAgeMs * 1_000_000,
    duplicate_window: Math.min(120_000, maxAgeMs) * 1_000_000,
  };
  // Waits for the stream's leader after a restart (DESIGN.md decision 15).
  await ensureStream(jsm, config, wait);
}

/**
 * Writes one copy for `sub` only. `msgID` names the copy (a second redrive or replay of the same
 * thing within the window is one copy); `originSeq` is where it came from (the DLQ or EVENTS).
 */
export async function publishRedrive(
  js: JetStreamClient,
  sub: Pick<Subscription, "id" | "ordered">,
  data: Uint8Array,
  h: MsgHdrs,
  copy: { msgID: string; originSeq: number },
): Promise<void> {
  if (sub.ordered) {
    await js.publish(redriveSubject(sub.id), data, { headers: h, msgID: copy.msgID, timeout: 10_000 });
    return;
  }
  await publishTask(js, sub.id, h, data, { id: copy.msgID, origin: "redrive", originSeq: copy.originSeq, attempts: 0 }, { msgID: copy.msgID });
}

export interface ReplayRange {
  fromSeq?: number;
  toSeq?: number;
  fromTime?: Date;
  toTime?: Date;
}

/**
 * Replays a range of EVENTS (by sequence or by time) matching the subscription's filter to that
 * subscription only. Each replay gets its own id, so replaying the same range twice sends twice.
 */
export async function replayToSubscription(
  nc: NatsConnection,
  store: SubscriptionStore,
  subscription: string,
  range: ReplayRange,
  progress?: Progress,
): Promise<{ replayed: number; replayId: string }> {
  if (range.fromSeq === undefined && range.fromTime === undefined) {
    throw new BridgeError("REQUEST_INVALID", "a replay needs fromSeq or fromTime", {});
  }
  const { sub } = await store.require(subscription);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const replayId = nuid.next();
  const info = await jsm.streams.info(EVENTS_STREAM);
  const last = range.toSeq ?? info.state.last_seq;
  const first = range.fromSeq ?? info.state.first_seq;
  progress?.start(range.fromSeq !== undefined ? Math.max(0, last - first + 1) : 0);
  let replayed = 0;
  let pending: Promise<unknown>[] = [];
  await scanStream(
    js,
    jsm,
    {
      stream: EVENTS_STREAM,
      filter: coveringSubject(sub),
      ...(range.fromSeq !== undefined ? { startSeq: range.fromSeq } : { startTime: range.fromTime! }),
      endSeq: last,
      ...(range.toTime ? { endTime: range.toTime } : {}),
      idleMs: 2000,
    },
    async (m) => {
      if (!selectsSubject(sub, m.subject)) return;
      // A replay delivers what the subscription wants now: its `where` too (a dead letter's redrive is not filtered).
      if (whereOutcome(sub, () => whereContext(decodeEvent(m.subject, m.headers, m.data, `${EVENTS_STREAM}:${m.seq}`))) !== "match") return;
      const h = copyEventHeaders(m.headers, m.subject);
      pending.push(publishRedrive(js, sub, m.data, h, { msgID: `replay:${replayId}:${m.seq}`, originSeq: m.seq }));
      replayed++;
      // Keep a bounded number of publishes in flight: fast, and memory stays flat for big ranges.
      if (pending.length >= 256) {
        await Promise.all(pending);
        pending = [];
        progress?.update(range.fromSeq !== undefined ? m.seq - first + 1 : replayed);
      }
    },
  );
  await Promise.all(pending);
  progress?.update(range.fromSeq !== undefined ? Math.max(0, last - first + 1) : replayed);
  progress?.stop();
  return { replayed, replayId };
}
