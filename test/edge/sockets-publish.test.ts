// Publishing over /v1/ws on workerd and on Node (docs/browsers.md, "Frames"): every publish gets
// exactly one answer with its rid, an ack only after JetStream's; refusals are problem frames with
// the HTTPS catalogue's types, and the socket stays open after each; a frame over MAX_EVENT_BYTES
// closes it with 1009; past WS_MAX_IN_FLIGHT the excess publishes get `backpressure`, never
// silence; cloudevents.json takes one structured event a message. At the end the stream holds
// exactly the events that were acked, once each.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { VALID_ORDER_V2 } from "./fixtures.ts";
import { assertStreamMatchesLedger, SUITE_VARS } from "./helpers.ts";
import { assertProblemFrame, connectSocket, signToken, SOCKET_SECRET, structuredEvent, type Frame, type SocketClient, receivedFrames } from "./socket-client.ts";
import { assertServerFramesMatchOpenApi } from "./openapi-check.ts";
import { startSuite, type Suite } from "./suite.ts";

/** Small, so a burst of a few publishes passes it. */
const MAX_IN_FLIGHT = 3;
const MAX_EVENT_BYTES = Number(SUITE_VARS.MAX_EVENT_BYTES);

let suite: Suite;
before(async () => {
  suite = await startSuite({ vars: { TOKEN_SECRET: SOCKET_SECRET, WS_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) } });
});
after(async () => {
  await suite?.stop();
});

for (const runtime of EDGE_RUNTIMES) {
  describe(`publishing over /v1/ws on ${runtime}`, () => {
    const url = () => suite.edges.get(runtime)!.url;
    const open = (claims: Parameters<typeof signToken>[0] = {}, protocols?: string[]) =>
      connectSocket(url(), { token: signToken(claims), ledger: suite.ledger, ...(protocols ? { protocols } : {}) });
    let socket: SocketClient;
    before(async () => {
      socket = await open({ publish: ["order.*", "nobody.*"], subscribe: ["order.*"] });
    });
    after(async () => {
      await socket?.close();
    });

    test("a publish is acked with its rid, id, type, seq and duplicate only once JetStream holds the event at that seq", async () => {
      const event = structuredEvent("order.created", VALID_ORDER_V2);
      const ack = await socket.request({ op: "publish", rid: "p-1", event });
      assert.deepEqual(ack, { op: "ack", rid: "p-1", id: event.id, type: "order.created", seq: ack.seq, duplicate: false });
      const jsm = await jetstreamManager(await suite.broker.connect());
      const stored = await jsm.streams.getMessage(EVENTS_STREAM, { seq: ack.seq });
      assert.ok(stored, `no message at seq ${ack.seq}`);
      assert.equal(stored.subject, "events.order.created");
      assert.equal(stored.header?.get("ce-id"), event.id);
      assert.equal(stored.header?.get("ce-source"), "/socket-tests");
      assert.deepEqual(stored.json(), VALID_ORDER_V2);
      // A numeric rid, and the same event again: the duplicate window answers with the original seq.
      const again = await socket.request({ op: "publish", rid: 7, event });
      assert.deepEqual([again.op, again.rid, again.duplicate, again.seq], ["ack", 7, true, ack.seq]);
    });

    test("several publishes in flight each get exactly one answer with their own rid and seq", async () => {
      const events = Array.from({ length: MAX_IN_FLIGHT }, () => structuredEvent("order.created", VALID_ORDER_V2));
      socket.sendAtOnce(events.map((event, i) => ({ op: "publish", rid: `many-${i}`, event })));
      const acks = await Promise.all(events.map((_, i) => socket.reply(`many-${i}`)));
      acks.forEach((ack, i) => assert.deepEqual([ack.op, ack.id], ["ack", events[i]!.id], JSON.stringify(ack)));
      assert.equal(new Set(acks.map((a) => a.seq)).size, MAX_IN_FLIGHT, "every event has its own seq");
      await socket.ping("after-many");
      for (let i = 0; i < MAX_IN_FLIGHT; i++) assert.equal(socket.repliesTo(`many-${i}`).length, 1, `many-${i} was answered once`);
    });

    test("an event that fails its schema is a schema-validation problem with each error's instancePath", async () => {
      const event = structuredEvent("order.created", { orderId: 7, total: { amount: "x", currency: "EUR" } });
      const problem = await socket.request({ op: "publish", rid: "bad-data", event });
      assertProblemFrame(problem, "schema-validation", 422, "bad-data");
      const errors = problem.problem.errors as Array<{ instancePath: string; keyword: string }>;
      assert.ok(errors.length >= 2, JSON.stringify(errors));
      for (const e of errors) assert.equal(typeof e.instancePath, "string", JSON.stringify(e));
      const paths = errors.map((e) => e.instancePath);
      assert.ok(paths.includes("/orderId"), `an error at /orderId: ${paths}`);
      assert.ok(paths.includes("/total/amount"), `an error at /total/amount: ${paths}`);
      assert.ok(errors.some((e) => e.instancePath === "" && e.keyword === "required"), "the missing customer is an error at the root");
    });

    test("a type outside the token's publish scope is forbidden-type; an unregistered one is unknown-type", async () => {
      const forbidden = await socket.request({ op: "publish", rid: "forbidden", event: structuredEvent("payment.settled", { paymentId: "p-1" }) });
      assertProblemFrame(forbidden, "forbidden-type", 403, "forbidden");
      const unknown = await socket.request({ op: "publish", rid: "unknown", event: structuredEvent("nobody.registered", {}) });
      assertProblemFrame(unknown, "unknown-type", 404, "unknown");
      const attrs = await socket.request({ op: "publish", rid: "no-id", event: { specversion: "1.0", source: "/x", type: "order.created", data: VALID_ORDER_V2 } });
      assertProblemFrame(attrs, "missing-attribute", 400, "no-id");
    });

    test("malformed frames each get a malformed-frame problem and the socket stays open", async () => {
      const cases: Array<[string, unknown, string | number | undefined]> = [
        ["not JSON", "{op: publish", undefined],
        ["an array", "[1,2]", undefined],
        ["a string", '"ping"', undefined],
        ["an unknown op", { op: "dance", rid: "u-op" }, "u-op"],
        ["no op", { rid: "no-op" }, "no-op"],
        ["a negative rid", { op: "ping", rid: -1 }, undefined],
        ["a rid of 65 characters", { op: "ping", rid: "r".repeat(65) }, undefined],
        ["a rid with a space", { op: "ping", rid: "a b" }, undefined],
        ["a fractional rid", { op: "publish", rid: 1.5, event: {} }, undefined],
        ["a publish without rid", { op: "publish", event: structuredEvent("order.created", VALID_ORDER_V2) }, undefined],
        ["a publish without event", { op: "publish", rid: "no-event" }, "no-event"],
        ["a subscribe with a bad glob", { op: "subscribe", rid: "bad-glob", types: "order.>" }, "bad-glob"],
        ["a subscribe from seq 0", { op: "subscribe", rid: "bad-from", types: "order.*", from: 0 }, "bad-from"],
        ["a subscribe to no types", { op: "subscribe", rid: "no-types", types: [] }, "no-types"],
        ["a subscribe to 33 globs", { op: "subscribe", rid: "many-types", types: Array.from({ length: 33 }, (_, i) => `t${i}.*`) }, "many-types"],
        ["a subscribe without rid", { op: "subscribe", types: "order.*" }, undefined],
        ["an unsubscribe without rid", { op: "unsubscribe" }, undefined],
      ];
      for (const [what, frame, rid] of cases) {
        const from = socket.frames.length;
        socket.send(frame);
        const problem = rid === undefined ? await socket.ridlessProblem(from) : await socket.reply(rid);
        assertProblemFrame(problem, "malformed-frame", 400);
        assert.equal(problem.rid, rid, what);
        await socket.ping(`alive-${from}`);
      }
    });

    test("a ping without rid is answered by a pong without rid", async () => {
      const from = socket.frames.length;
      socket.send({ op: "ping" });
      assert.deepEqual(await socket.waitFor("the pong", () => socket.frames.slice(from).find((f) => f.op === "pong")), { op: "pong" });
    });

    test("a rid already naming an open subscription is malformed-frame for a publish or a second subscribe", async () => {
      const subscribed = await socket.request({ op: "subscribe", rid: "taken", types: "order.*" });
      assert.equal(subscribed.op, "subscribed", JSON.stringify(subscribed));
      socket.send({ op: "publish", rid: "taken", event: structuredEvent("order.created", VALID_ORDER_V2) });
      const refused = await socket.waitFor("the refusal of a publish under a rid in use", () => socket.repliesTo("taken").find((f) => f.op === "problem"));
      assertProblemFrame(refused, "malformed-frame", 400, "taken");
      assert.match(refused.problem.detail, /in use/);
      socket.send({ op: "subscribe", rid: "taken", types: "order.*" });
      await socket.waitFor("the refusal of a second subscribe under the same rid", () => (socket.repliesTo("taken").filter((f) => f.op === "problem").length === 2 ? true : undefined));
      const unsubscribed = await socket.request({ op: "unsubscribe", rid: "taken" });
      assert.deepEqual(unsubscribed, { op: "unsubscribed", rid: "taken" }, "the subscription itself was left open by the refusals");
      await socket.ping("after-taken");
    });

    test("a binary frame is a malformed-frame problem on a jetgate.v1 socket, which stays open", async () => {
      const from = socket.frames.length;
      socket.ws.send(Buffer.from(JSON.stringify({ op: "ping", rid: "binary" })), { binary: true });
      const problem = await socket.ridlessProblem(from);
      assertProblemFrame(problem, "malformed-frame", 400);
      await socket.ping("after-binary");
    });

    test("unsubscribing a rid that names no subscription is unknown-subscription", async () => {
      const problem = await socket.request({ op: "unsubscribe", rid: "never-subscribed" });
      assertProblemFrame(problem, "unknown-subscription", 404, "never-subscribed");
      await socket.ping("after-unknown-subscription");
    });

    test("subscribing beyond the token's subscribe scope is forbidden-scope; a token without one may subscribe to nothing", async () => {
      const outside = await socket.request({ op: "subscribe", rid: "too-wide", types: ["order.*", "payment.*"] });
      assertProblemFrame(outside, "forbidden-scope", 403, "too-wide");
      assert.deepEqual(outside.problem.outside, ["payment.*"]);
      const publishOnly = await open({ publish: ["**"], subscribe: [] });
      const none = await publishOnly.request({ op: "subscribe", rid: "s", types: "order.created" });
      assertProblemFrame(none, "forbidden-scope", 403, "s");
      await publishOnly.ping("still-open");
      await publishOnly.close();
    });

    test(`more than WS_MAX_IN_FLIGHT (${MAX_IN_FLIGHT}) publishes at once: the first are acked, the excess get 429 backpressure, none is silent`, async () => {
      const burst = await open({ publish: ["order.*"] });
      assert.equal(burst.ready.maxInFlight, MAX_IN_FLIGHT);
      const n = MAX_IN_FLIGHT * 4;
      const events = Array.from({ length: n }, () => structuredEvent("order.created", VALID_ORDER_V2));
      burst.sendAtOnce(events.map((event, i) => ({ op: "publish", rid: i, event })));
      const answers: Frame[] = await Promise.all(events.map((_, i) => burst.reply(i)));
      // The k-th publish finds at most k-1 in flight, so the first MAX_IN_FLIGHT always pass.
      answers.slice(0, MAX_IN_FLIGHT).forEach((a, i) => assert.deepEqual([a.op, a.id], ["ack", events[i]!.id], JSON.stringify(a)));
      const refused = answers.filter((a) => a.op === "problem");
      assert.ok(refused.length > 0, "a burst past the limit read in one go is refused in part");
      for (const problem of refused) {
        assertProblemFrame(problem, "backpressure", 429);
        assert.equal(problem.problem.limit, MAX_IN_FLIGHT);
      }
      assert.equal(answers.filter((a) => a.op === "ack").length + refused.length, n, "every publish is answered, acked or refused");
      await burst.ping("after-burst");
      for (let i = 0; i < n; i++) assert.equal(burst.repliesTo(i).length, 1, `publish ${i} was answered exactly once`);
      // Nothing refused was published: the refused ids are not in the stream (the ledger check at the end holds the acked ones).
      const retry = await burst.request({ op: "publish", rid: "retry", event: events[answers.indexOf(refused[0]!)] });
      assert.deepEqual([retry.op, retry.duplicate], ["ack", false], "a refused publish sent again is stored as new");
      await burst.close();
    });

    test("a frame over MAX_EVENT_BYTES closes the socket with 1009", async () => {
      const big = await open();
      assert.equal(big.ready.maxFrameBytes, MAX_EVENT_BYTES);
      big.send({ op: "publish", rid: "big", event: structuredEvent("order.created", { ...VALID_ORDER_V2, pad: "x".repeat(MAX_EVENT_BYTES) }) });
      const { code } = await big.closed("the close after a frame over the limit");
      assert.equal(code, 1009);
      assert.equal(big.repliesTo("big").length, 0, "nothing was answered for it");
    });

    test("cloudevents.json: each message is one structured event, answered by an ack or problem whose rid is the event's id", async () => {
      const ce = await open({ publish: ["order.*"] }, ["cloudevents.json"]);
      assert.equal(ce.ws.protocol, "cloudevents.json");
      assert.equal(ce.ready.protocol, "cloudevents.json");
      const event = structuredEvent("order.created", VALID_ORDER_V2);
      ce.send(event);
      const ack = await ce.reply(event.id as string);
      assert.deepEqual(ack, { op: "ack", rid: event.id, id: event.id, type: "order.created", seq: ack.seq, duplicate: false });
      const invalid = structuredEvent("order.created", { orderId: "" });
      ce.send(invalid);
      assertProblemFrame(await ce.reply(invalid.id as string), "schema-validation", 422, invalid.id as string);
      const forbidden = structuredEvent("payment.settled", { paymentId: "p" });
      ce.send(forbidden);
      assertProblemFrame(await ce.reply(forbidden.id as string), "forbidden-type", 403);
      // A jetgate.v1 frame is not an event here.
      const from = ce.frames.length;
      ce.send({ op: "ping", rid: "not-here" });
      const notEvent = await ce.waitFor("the answer to a frame that is not an event", () => ce.frames.slice(from)[0]);
      assert.equal(notEvent.op, "problem", JSON.stringify(notEvent));
      const binary = structuredEvent("order.created", VALID_ORDER_V2);
      ce.ws.send(Buffer.from(JSON.stringify(binary)), { binary: true });
      assert.equal((await ce.reply(binary.id as string)).op, "ack", "a binary message holding the JSON is accepted too");
      await ce.close();
    });
  });
}

test("the stream holds exactly the events that were acked over the sockets, once each", async () => {
  await assertStreamMatchesLedger(await suite.broker.connect(), suite.ledger);
  assert.ok(suite.ledger.accepted.size >= 2 * 8, `only ${suite.ledger.accepted.size} events were acked`);
});


test("every frame the edge sent in this suite is a WsServerFrame of the OpenAPI document", () => {
  assert.ok(assertServerFramesMatchOpenApi(receivedFrames) > 0, "the suite received frames");
});
