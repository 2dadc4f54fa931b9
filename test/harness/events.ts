// Events as the edge publishes them (binary mode): ce-* NATS headers, percent-encoded, the JSON
// data as the body, and Nats-Msg-Id = the event's identity (source + id) from the same module the
// edge uses. For bridge tests and benchmarks that publish straight into JetStream, without an edge.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { eventMsgId, percentEncode } from "../../broker/event-identity.ts";

export function edgeStyleHeaders(id: string, type: string, source: string): MsgHdrs {
  const h = natsHeaders();
  h.set("ce-specversion", "1.0");
  h.set("ce-id", percentEncode(id));
  h.set("ce-source", percentEncode(source));
  h.set("ce-type", type);
  h.set("ce-time", new Date().toISOString());
  h.set("content-type", "application/json");
  return h;
}

/** The publish options the edge would use for this event: its Nats-Msg-Id and ce-* headers. */
export function edgeStylePublishOptions(id: string, type: string, source: string): { msgID: string; headers: MsgHdrs } {
  return { msgID: eventMsgId(source, id), headers: edgeStyleHeaders(id, type, source) };
}
