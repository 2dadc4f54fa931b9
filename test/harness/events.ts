// Events as the edge publishes them (binary mode): ce-* NATS headers and the JSON data as the body.
// For bridge tests and benchmarks that publish straight into JetStream, without an edge.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";

export function edgeStyleHeaders(id: string, type: string, source: string): MsgHdrs {
  const h = natsHeaders();
  h.set("ce-specversion", "1.0");
  h.set("ce-id", id);
  h.set("ce-source", source);
  h.set("ce-type", type);
  h.set("ce-time", new Date().toISOString());
  h.set("content-type", "application/json");
  return h;
}
