// Events as the edge publishes them, for bridge tests and benchmarks that publish straight into
// JetStream without an edge: the message comes from the broker contract's encoder, the edge's
// own, so subject, ce-* headers (percent-encoded), content-type and Nats-Msg-Id (the event's
// identity, source + id) are exactly what the edge would write.
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { encodeEvent, natsHeadersOf, type EventMessage } from "../../broker/index.ts";

/** The message of a JSON event of `type` from `source`, stamped with the current time. */
export function edgeStyleEvent(id: string, type: string, source: string, data: Uint8Array): EventMessage {
  return encodeEvent({ id, source, type, time: new Date().toISOString() }, data);
}

/** Publishes the message with its headers and Nats-Msg-Id, as the edge's publisher does. */
export function publishEdgeStyle(js: JetStreamClient, message: EventMessage): Promise<PubAck> {
  return js.publish(message.subject, message.data, { headers: natsHeadersOf(message) });
}
