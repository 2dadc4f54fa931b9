// The publish link both publishers share (worker/publish/broker-link.ts), against a real nats-server:
// acks on one inbox, duplicates, and a message nats-core refuses failing alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { BrokerLink } from "../../worker/publish/broker-link.ts";
import type { PublishRequest } from "../../worker/publish/publisher.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";

let broker: TestBroker;
let link: BrokerLink;

before(async () => {
  broker = await startTestBroker({ nodes: 1 });
  link = new BrokerLink({ servers: broker.servers, connect, publishTimeoutMs: 2_000, name: "broker-link-test" });
});
after(async () => {
  await link?.close();
  await broker?.stop();
});

const request = (msgID: string, headers: Record<string, string> = {}): PublishRequest => ({
  subject: "events.order.created",
  data: new TextEncoder().encode("{}"),
  msgID,
  headers: { "ce-id": msgID, ...headers },
});

test("each publish gets its own ack, in order; a repeat inside the duplicate window is flagged", async () => {
  const [a, b, again] = await link.publishMany([request("link-a"), request("link-b"), request("link-a")]);
  assert.ok(a?.ok && b?.ok && again?.ok, JSON.stringify([a, b, again]));
  assert.equal(b.ack.seq, a.ack.seq + 1);
  assert.equal(a.ack.stream, "EVENTS");
  assert.equal(again.ack.duplicate, true);
  assert.equal(again.ack.seq, a.ack.seq, "the duplicate answers the original seq");
});

test("a message nats-core refuses fails alone; the others in the same call are published", async () => {
  const [bad, good] = await link.publishMany([request("link-bad", { "ce-subject": "two\r\nlines" }), request("link-good")]);
  assert.equal(bad?.ok, false);
  assert.ok(good?.ok, JSON.stringify(good));
});

test("a subject no stream captures is refused, not acked", async () => {
  const [outcome] = await link.publishMany([{ ...request("link-nostream"), subject: "nowhere.at.all" }]);
  assert.equal(outcome?.ok, false);
  assert.equal(!outcome?.ok && outcome?.code, "UNAVAILABLE");
});
