// Where the bridge's own state lives and how durable it is, for every module that opens it: the
// subscriptions bucket's name and the EVENTS stream's replicas (the store, backfills and the
// service read them without importing each other).
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { jetstreamManagerReady, LeaderMissingError, untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { BridgeError } from "../errors.ts";
import { isStreamNotFound } from "../nats-errors.ts";

export const SUBSCRIPTIONS_BUCKET = "jetgate_subscriptions";

/** Replicas of the EVENTS stream, so the bridge's own state is as durable as the events. */
export async function eventsReplicas(nc: NatsConnection, wait: UntilReadyOptions = {}): Promise<number> {
  const jsm = await jetstreamManagerReady(nc, wait);
  const info = await untilReady(`stream ${EVENTS_STREAM}`, async () => {
    const found = await jsm.streams.info(EVENTS_STREAM);
    if (found.cluster && !found.cluster.leader) throw new LeaderMissingError(`stream ${EVENTS_STREAM} has no leader`);
    return found;
  }, wait).catch((err: unknown) => {
    if (isStreamNotFound(err)) {
      throw new BridgeError("NOT_READY", `stream ${EVENTS_STREAM} not found: start the broker stack first`, {}, { cause: err });
    }
    throw err;
  });
  return info.config.num_replicas;
}
