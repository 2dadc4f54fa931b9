// The previous bridge layout, written by hand, for the migration tests (and, later, an end-to-end
// test that starts the whole bridge on it): per subscription a durable `jetgate_<id>` on EVENTS
// and `jetgate_redrive_<id>` on the work-queue stream JETGATE_REDRIVE, in the configuration
// bridge/delivery/durable-consumers.ts and bridge/recovery/redrive.ts gave them, copied here
// because those modules go away with that layout. On top: acks through the EVENTS durable (its
// ack floor), a nak'd event waiting above it, redrive copies and dead letters.
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerConfig } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { ensureStream } from "../../broker/jetstream/index.ts";
import { publishDeadLetter } from "../../bridge/recovery/dlq.ts";
import { copyEventHeaders } from "../../bridge/recovery/event-headers.ts";
import type { Subscription } from "../../bridge/subscriptions/model.ts";
import { SubscriptionStore } from "../../bridge/subscriptions/store.ts";

export const LEGACY_REDRIVE_STREAM = "JETGATE_REDRIVE";
export const legacyEventsDurable = (id: string) => `jetgate_${id}`;
export const legacyRedriveDurable = (id: string) => `jetgate_redrive_${id}`;
export const legacyRedriveSubject = (id: string) => `jetgate.redrive.${id}`;

export interface LegacySubscription {
  /** Stored as it is with a plain put (the previous layout had no joinedAt and no backfills). */
  sub: Subscription;
  /** Matching events to deliver and ack through `jetgate_<id>`, in order (sets its ack floor). */
  ack?: number;
  /** Then deliver one more and nak it with a long delay: a retry pending above the floor. */
  nakNext?: boolean;
  /** EVENTS sequences copied to `jetgate.redrive.<id>`, as a replay left them. */
  copies?: number[];
  /** EVENTS sequences dead-lettered on `dlq.<id>`. */
  deadLetters?: number[];
}

export interface LegacyLayoutOptions {
  subscriptions: LegacySubscription[];
  /** Replicas of JETGATE_REDRIVE (default 1). */
  replicas?: number;
}

export interface LegacyLayout {
  /** Per subscription: its EVENTS durable's ack floor once the acks are in. */
  ackFloors: Record<string, number>;
  /** Per subscription: the JETGATE_REDRIVE sequences of its copies. */
  copies: Record<string, number[]>;
  /** Per subscription: the DLQ sequences of its dead letters. */
  deadLetters: Record<string, number[]>;
}

/** The previous layout's consumer configuration (durable-consumers.ts, consumerConfig). */
function legacyConsumerConfig(sub: Subscription, source: "events" | "redrive"): Partial<ConsumerConfig> & { durable_name: string } {
  const base = {
    durable_name: source === "events" ? legacyEventsDurable(sub.id) : legacyRedriveDurable(sub.id),
    description: `Jetgate deliveries for subscription ${sub.id}`,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(sub.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: sub.ordered ? 1 : Math.max(1000, sub.maxConcurrency * 10),
    filter_subject: source === "events" ? sub.filter : legacyRedriveSubject(sub.id),
  };
  if (source === "redrive") return { ...base, deliver_policy: DeliverPolicy.All };
  switch (sub.startAt.policy) {
    case "all":
      return { ...base, deliver_policy: DeliverPolicy.All };
    case "sequence":
      return { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: sub.startAt.sequence };
    case "time":
      return { ...base, deliver_policy: DeliverPolicy.StartTime, opt_start_time: sub.startAt.time };
    default:
      return { ...base, deliver_policy: DeliverPolicy.StartTime, opt_start_time: sub.createdAt };
  }
}

/** Writes the layout; the EVENTS and DLQ streams must exist (startTestBroker creates them). */
export async function writeLegacyLayout(nc: NatsConnection, opts: LegacyLayoutOptions): Promise<LegacyLayout> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const store = await SubscriptionStore.open(nc);
  // The previous layout's redrive stream (redrive.ts, ensureRedriveStream, with a 1-day max age).
  await ensureStream(jsm, {
    name: LEGACY_REDRIVE_STREAM,
    subjects: ["jetgate.redrive.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.Old,
    num_replicas: opts.replicas ?? 1,
    max_age: nanos(86_400_000),
    duplicate_window: nanos(120_000),
  });
  const layout: LegacyLayout = { ackFloors: {}, copies: {}, deadLetters: {} };
  for (const { sub, ack = 0, nakNext = false, copies = [], deadLetters = [] } of opts.subscriptions) {
    await store.put(sub);
    await jsm.consumers.add(EVENTS_STREAM, legacyConsumerConfig(sub, "events"));
    await jsm.consumers.add(LEGACY_REDRIVE_STREAM, legacyConsumerConfig(sub, "redrive"));
    const consumer = await js.consumers.get(EVENTS_STREAM, legacyEventsDurable(sub.id));
    const deadline = Date.now() + 30_000;
    for (let acked = 0; acked < ack; ) {
      if (Date.now() > deadline) throw new Error(`legacy layout: only ${acked} of ${ack} events of ${sub.id} could be acked`);
      // A first pull on a new durable can come back empty while it starts: pull again.
      for await (const m of await consumer.fetch({ max_messages: ack - acked, expires: 2_000 })) {
        await m.ackAck();
        acked++;
      }
    }
    if (nakNext) {
      const m = await consumer.next({ expires: 5_000 });
      if (!m) throw new Error(`legacy layout: no event of ${sub.id} left to nak`);
      m.nak(3_600_000);
    }
    layout.ackFloors[sub.id] = (await jsm.consumers.info(EVENTS_STREAM, legacyEventsDurable(sub.id))).ack_floor.stream_seq;
    layout.copies[sub.id] = [];
    for (const seq of copies) {
      const event = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
      if (!event) throw new Error(`legacy layout: no event ${seq} to copy`);
      const ack = await js.publish(legacyRedriveSubject(sub.id), event.data, { headers: copyEventHeaders(event.header, event.subject), msgID: `replay:fixture:${seq}` });
      layout.copies[sub.id]!.push(ack.seq);
    }
    layout.deadLetters[sub.id] = [];
    for (const seq of deadLetters) {
      const event = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
      if (!event) throw new Error(`legacy layout: no event ${seq} to dead-letter`);
      const dlqSeq = await publishDeadLetter(js, {
        subscription: sub.id,
        subject: event.subject,
        stream: EVENTS_STREAM,
        seq,
        headers: event.header,
        data: event.data,
        reason: "legacy layout fixture",
        attempts: [],
        deliveries: 1,
        unrecorded: 1,
      });
      layout.deadLetters[sub.id]!.push(dlqSeq);
    }
  }
  return layout;
}
