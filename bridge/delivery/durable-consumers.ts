// The durable consumers of one subscription: `jetgate_<id>` on EVENTS (the live path) and
// `jetgate_redrive_<id>` on the redrive stream (DLQ redrives and replays). Every instance ensures
// them idempotently; all instances pull from the same durables and so share the work.
import { nanos } from "@nats-io/nats-core";
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from "@nats-io/jetstream";
import { BrokerError, EVENTS_STREAM } from "../../broker/index.ts";
import { LeaderMissingError, untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { isConsumerNotFound, isStreamNotFound } from "../nats-errors.ts";
import { REDRIVE_STREAM, redriveSubject } from "../recovery/redrive.ts";
import type { Subscription } from "../subscriptions/model.ts";
import { coveringSubjects } from "../subscriptions/selection.ts";

export type Source = "events" | "redrive";

export function durableName(id: string, source: Source): string {
  return source === "events" ? `jetgate_${id}` : `jetgate_redrive_${id}`;
}

export function streamOf(source: Source): string {
  return source === "events" ? EVENTS_STREAM : REDRIVE_STREAM;
}

/**
 * max_ack_pending: 1 for an ordered subscription — the server then hands out the next event only
 * after this one is acked or terminated, which is what keeps stream order across instances and
 * across nak(delay) retries. Otherwise it is well above the per-instance concurrency, because a
 * message waiting out a nak(delay) still counts as pending and must not stall the others.
 * max_deliver is unlimited: the bridge counts attempts itself and dead-letters, so no event can
 * be dropped silently by the server (and no BackOff is set, see DESIGN.md decision 4).
 */
/**
 * One subject as filter_subject, several as filter_subjects (nats-server 2.10), the other key
 * cleared: an update is merged into the current config, and a consumer may not have both.
 */
function filterConfig(subjects: string[]): Pick<ConsumerConfig, "filter_subject" | "filter_subjects"> {
  return subjects.length === 1 ? { filter_subject: subjects[0], filter_subjects: undefined } : { filter_subject: undefined, filter_subjects: subjects };
}

function filtersOf(config: Partial<ConsumerConfig>): string[] {
  return config.filter_subjects?.length ? config.filter_subjects : config.filter_subject ? [config.filter_subject] : [];
}

function consumerConfig(sub: Subscription, source: Source): Partial<ConsumerConfig> & { durable_name: string } {
  const base = {
    durable_name: durableName(sub.id, source),
    description: `Jetgate deliveries for subscription ${sub.id}`,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(sub.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: sub.ordered ? 1 : Math.max(1000, sub.maxConcurrency * 10),
    ...filterConfig(source === "events" ? coveringSubjects(sub) : [redriveSubject(sub.id)]),
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
      // "new" means the events published after the subscription was created, as a Svix endpoint
      // gets the messages sent after it was added. DeliverPolicy.New would start where the durable
      // is created instead: after the bridge has seen the subscription, which under load (or with
      // no bridge running) is later, and the events in between would never reach it. The creator's
      // clock against the server's stamps: NTP-close, and the same clock on one host.
      // joinedAt (the server's time of its first revision), as the fan-out reads it for unordered
      // subscriptions; createdAt (the creator's clock) until that stamp is written.
      return { ...base, deliver_policy: DeliverPolicy.StartTime, opt_start_time: sub.joinedAt ?? sub.createdAt };
  }
}

/**
 * Creates the durable, or updates what may change on an existing one (the start position may not).
 * After a restart an existing durable answers only once its Raft group has a leader again, so
 * this waits for it (untilReady, DESIGN.md decision 15) instead of taking a timeout for "absent".
 */
export async function ensureConsumer(jsm: JetStreamManager, sub: Subscription, source: Source, wait: UntilReadyOptions = {}): Promise<void> {
  const stream = streamOf(source);
  const config = consumerConfig(sub, source);
  await untilReady(`consumer ${config.durable_name} on stream ${stream}`, () => putConsumer(jsm, stream, config), wait);
}

async function consumerInfo(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | null> {
  const info = await jsm.consumers.info(stream, name).catch((err: unknown) => {
    if (isConsumerNotFound(err)) return null;
    throw err;
  });
  if (info?.cluster && !info.cluster.leader) throw new LeaderMissingError(`consumer ${name} on stream ${stream} has no leader`);
  return info;
}

async function putConsumer(jsm: JetStreamManager, stream: string, config: ReturnType<typeof consumerConfig>): Promise<void> {
  const existing = await consumerInfo(jsm, stream, config.durable_name);
  if (!existing) {
    try {
      const created = await jsm.consumers.add(stream, config);
      await waitForLeader(jsm, stream, config.durable_name, created.cluster?.leader);
      return;
    } catch (err) {
      // Another instance created it first; fall through to the update.
      if (!(await consumerInfo(jsm, stream, config.durable_name))) throw err;
    }
  }
  const current = existing?.config;
  if (
    current &&
    current.ack_wait === config.ack_wait &&
    current.max_ack_pending === config.max_ack_pending &&
    JSON.stringify(filtersOf(current)) === JSON.stringify(filtersOf(config))
  ) {
    return;
  }
  await jsm.consumers.update(stream, config.durable_name, {
    ack_wait: config.ack_wait,
    max_ack_pending: config.max_ack_pending,
    max_deliver: -1,
    ...filterConfig(filtersOf(config)),
    description: config.description,
  });
}

/**
 * In a cluster a new durable answers its create request before its Raft group has a leader, and a
 * pull sent in that gap is lost (the client then waits two missed heartbeats to pull again). Wait
 * for the leader, bounded; best effort, since the pull recovers on its own after the heartbeats:
 * only running out of that bound is tolerated, any other error (a permission) is thrown.
 */
async function waitForLeader(jsm: JetStreamManager, stream: string, name: string, leader: string | undefined): Promise<void> {
  if (leader) return;
  await untilReady(`new consumer ${name} on stream ${stream}`, () => consumerInfo(jsm, stream, name), {
    deadlineMs: 5_000,
    minDelayMs: 50,
    maxDelayMs: 200,
  }).catch((err: unknown) => {
    if (!(err instanceof BrokerError && err.code === "NOT_READY")) throw err;
  });
}

/**
 * Removes a deleted subscription's durables and its pending redrive copies. Every instance does
 * this on the same delete, so "already gone" (consumer or stream not found) is success; anything
 * else (a timeout, a permission) is thrown, so the caller logs a durable left behind instead of
 * the bridge forgetting it silently. Not-ready errors are retried within `wait`.
 */
export async function deleteConsumers(jsm: JetStreamManager, id: string, wait: UntilReadyOptions = {}): Promise<void> {
  for (const source of ["events", "redrive"] as const) {
    const name = durableName(id, source);
    await untilReady(`deleting consumer ${name} on stream ${streamOf(source)}`, () => jsm.consumers.delete(streamOf(source), name), wait).catch((err: unknown) => {
      if (!isConsumerNotFound(err) && !isStreamNotFound(err)) throw err;
    });
  }
  await untilReady(`purging ${redriveSubject(id)} from stream ${REDRIVE_STREAM}`, () => jsm.streams.purge(REDRIVE_STREAM, { filter: redriveSubject(id) }), wait).catch((err: unknown) => {
    if (!isStreamNotFound(err)) throw err;
  });
}
