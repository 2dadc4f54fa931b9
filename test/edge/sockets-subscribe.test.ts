// Subscribing over /v1/ws on workerd and on Node (docs/browsers.md, "Frames", "Resuming without
// loss"): events come from JetStream in stream order from the seq asked for (or only new ones, or
// the last one), filtered by type globs; a client that drops and reconnects with from = last seq + 1
// sees every matching event once while events keep arriving; a spent token closes the socket with
// 1008 at its next frame or event; a subscriber that stops reading is closed with 1013 naming the
// seq to resume from (Node; workerd cannot see it). What each subscriber received is compared with
// the stream itself. At the end the stream holds exactly the events that were acked, once each.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { VALID_ORDER_V2 } from "./fixtures.ts";
import { assertStreamMatchesLedger, bearer, KEYS, send, waitUntil } from "./helpers.ts";
import { closeAllSockets, connectSocket, FIRST_PULL_STALL_MS, lastSeq, signToken, SOCKET_SECRET, storedTypes, structuredEvent, type SocketClient, receivedFrames } from "./socket-client.ts";
import { assertServerFramesMatchOpenApi } from "./openapi-check.ts";
import { startSuite, type Suite } from "./suite.ts";

/** Small enough that a paused reader passes it once the kernel's socket buffers are full; far above what the other cases send. */
const MAX_BUFFERED_BYTES = 256 * 1024;

let suite: Suite;
before(async () => {
  suite = await startSuite({ vars: { TOKEN_SECRET: SOCKET_SECRET, WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) } });
});
after(async () => {
  await suite?.stop();
});
// A case that fails leaves no socket (nor its consumers) to the next.
afterEach(closeAllSockets);

const DATA: Record<string, unknown> = { "order.created": VALID_ORDER_V2, "payment.settled": { paymentId: "p-1" } };

for (const runtime of EDGE_RUNTIMES) {
  describe(`subscribing over /v1/ws on ${runtime}`, () => {
    const url = () => suite.edges.get(runtime)!.url;
    const subscriber = (claims: Parameters<typeof signToken>[0] = {}) =>
      connectSocket(url(), { token: signToken({ publish: ["order.*", "payment.*", "bench.*"], subscribe: ["order.*", "payment.*", "bench.*"], ...claims }), ledger: suite.ledger });
    /** One event over HTTPS; its 202 goes into the ledger. */
    const post = async (type: string, data: unknown = DATA[type]): Promise<number> => {
      const res = await send(suite.ledger, url(), { path: `/v1/events/${type}`, method: "POST", headers: { ...bearer(KEYS.full), "content-type": "application/json" }, body: JSON.stringify(data) });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.seq as number;
    };
    const subscribe = async (socket: SocketClient, rid: string, types: string | string[], from?: number | string) => {
      const answer = await socket.request({ op: "subscribe", rid, types, ...(from === undefined ? {} : { from }) });
      assert.equal(answer.op, "subscribed", JSON.stringify(answer));
      return answer;
    };
    /** The seqs in [from, to] the stream holds of types matching `prefix`. */
    const matching = async (from: number, to: number, prefix: string) =>
      (await storedTypes(await suite.broker.connect(), from, to)).filter((e) => e.type.startsWith(prefix)).map((e) => e.seq);

    test("subscribe from a seq receives every matching stored event from there in stream order, then live ones, as structured CloudEvents", async () => {
      const seqs: number[] = [];
      for (const type of ["order.created", "payment.settled", "order.created", "order.created", "payment.settled", "order.created"]) seqs.push(await post(type));
      const socket = await subscriber();
      const subscribed = await subscribe(socket, "orders", "order.*", seqs[0]);
      assert.deepEqual(subscribed, { op: "subscribed", rid: "orders", types: ["order.*"], from: seqs[0] }, "the answer names the seq the subscription starts at");
      const last = Math.max(...seqs);
      await socket.untilSeq("orders", last);
      assert.deepEqual(socket.seqs("orders"), await matching(seqs[0]!, last, "order."), "every order event from the asked seq, in order, each once");
      const first = socket.events("orders")[0]!;
      assert.deepEqual(Object.keys(first).sort(), ["event", "op", "rid", "seq"]);
      assert.equal(first.event.specversion, "1.0");
      assert.equal(first.event.type, "order.created");
      assert.equal(first.event.source, "full");
      assert.deepEqual(first.event.data, VALID_ORDER_V2);
      const live = await post("order.created");
      await socket.untilSeq("orders", live);
      assert.equal(socket.seqs("orders").at(-1), live, "the live event follows the stored ones");
      await socket.close();
    });

    test('from "new" (and no from at all) receives only events stored after the subscription opened', async () => {
      const earlier = await post("order.created");
      const socket = await subscriber();
      const answers = [await subscribe(socket, "new", "order.*", "new"), await subscribe(socket, "default", "order.*")];
      // "new" resolved: the sequence after the stream's last when it opened (a client resumes from it before any event).
      for (const answer of answers) assert.ok(answer.from > earlier, `${JSON.stringify(answer)} starts after seq ${earlier}`);
      const later = await post("order.created");
      await socket.untilSeq("new", later);
      await socket.untilSeq("default", later);
      assert.deepEqual(socket.seqs("new"), [later]);
      assert.deepEqual(socket.seqs("default"), [later]);
      await socket.close();
    });

    test('a from "new" subscription whose consumer is lost (its node restarted) carries on without replaying older events', async () => {
      await post("order.created");
      const jsm = await jetstreamManager(await suite.broker.connect());
      const names = async () => new Set((await jsm.consumers.list(EVENTS_STREAM).next()).map((c) => c.name));
      const before = await names();
      const socket = await subscriber();
      // A filter no other test reads live: an earlier test's socket on "order.*" may still be
      // closing on a loaded box, and this one would then join its tail instead of getting a consumer.
      await subscribe(socket, "new", "order.created", "new");
      const created = [...(await names())].filter((name) => !before.has(name));
      assert.equal(created.length, 1, `one consumer for the subscription: ${created}`);
      // What a restart of the node holding this in-memory, one-replica consumer does to it.
      await jsm.consumers.delete(EVENTS_STREAM, created[0]!);
      const live = await post("order.created");
      // nats.js finds the consumer gone after two missed idle heartbeats (about 30 s) and recreates it.
      await socket.untilSeq("new", live, FIRST_PULL_STALL_MS + 90_000);
      assert.deepEqual(socket.seqs("new"), [live], "only the event stored after subscribing, none from before");
    });

    test('from "last" receives the last matching event, not a later one of another type, then live ones', async () => {
      const lastOrder = await post("order.created");
      await post("payment.settled");
      const socket = await subscriber();
      await subscribe(socket, "last", "order.*", "last");
      await socket.untilSeq("last", lastOrder);
      const live = await post("order.created");
      await socket.untilSeq("last", live);
      assert.deepEqual(socket.seqs("last"), [lastOrder, live]);
      await socket.close();
    });

    test('from "last" over several globs receives the last event matching any of them', async () => {
      await post("order.created");
      const lastPayment = await post("payment.settled");
      await post("bench.tick", { n: 0 });
      const socket = await subscriber();
      await subscribe(socket, "either", ["order.*", "payment.*"], "last");
      await socket.untilSeq("either", lastPayment);
      const live = await post("order.created");
      await socket.untilSeq("either", live);
      assert.deepEqual(socket.seqs("either"), [lastPayment, live]);
      await socket.close();
    });

    // Overlapping globs share one filter, events.> (NATS 2.10 refuses overlapping filters in one
    // consumer, feed.ts filterSubjects), whose last event may be of another type: the feed replays
    // the last event of each subject and the session sends the newest that matches.
    test('from "last" over overlapping globs receives the last event matching them, not nothing', async () => {
      const lastOrder = await post("order.created");
      await post("bench.tick", { n: 0 });
      const socket = await subscriber({ subscribe: ["**"] });
      await subscribe(socket, "overlapping", ["order.*", "*.created"], "last");
      // As the tests above: the last one first, then a live one. Posted at once, the live event
      // can land before the feed's consumer takes its last-per-subject snapshot (its first pull
      // lost and the consumer made again, under CI load), and then it is "the last" (CI saw [126]).
      await socket.untilSeq("overlapping", lastOrder);
      const live = await post("order.created");
      await socket.untilSeq("overlapping", live);
      try {
        assert.deepEqual(socket.seqs("overlapping"), [lastOrder, live], "the last order.created (though bench.tick came after it), then the live one");
      } finally {
        await socket.close();
      }
    });

    test("type globs filter: order.* and payment.* subscriptions on one socket each get only and all of their own types", async () => {
      const socket = await subscriber();
      await subscribe(socket, "o", "order.*", "new");
      await subscribe(socket, "p", ["payment.*"], "new");
      const seqs: number[] = [];
      for (const type of ["payment.settled", "order.created", "order.created", "payment.settled", "order.created", "payment.settled"]) seqs.push(await post(type));
      const [from, to] = [Math.min(...seqs), Math.max(...seqs)];
      const orders = await matching(from, to, "order.");
      const payments = await matching(from, to, "payment.");
      await socket.untilSeq("o", orders.at(-1)!);
      await socket.untilSeq("p", payments.at(-1)!);
      assert.deepEqual(socket.seqs("o"), orders);
      assert.deepEqual(socket.seqs("p"), payments);
      assert.ok(socket.events("o").every((e) => e.event.type === "order.created"));
      assert.ok(socket.events("p").every((e) => e.event.type === "payment.settled"));
      assert.deepEqual(await socket.request({ op: "unsubscribe", rid: "p" }), { op: "unsubscribed", rid: "p" });
      await socket.ping("after-unsubscribe");
      await socket.close();
    });

    test("after unsubscribed, no event of that subscription follows; a socket's closing leaves no consumer in JetStream", async () => {
      const jsm = await jetstreamManager(await suite.broker.connect());
      const consumerCount = async () => (await jsm.consumers.list(EVENTS_STREAM).next()).length;
      const consumersBefore = await consumerCount();
      const socket = await subscriber();
      await subscribe(socket, "o", "order.*", "new");
      await subscribe(socket, "p", "payment.*", "new");
      const before = await post("payment.settled");
      await socket.untilSeq("p", before);
      assert.deepEqual(await socket.request({ op: "unsubscribe", rid: "p" }), { op: "unsubscribed", rid: "p" });
      const cut = socket.frames.findIndex((f) => f.op === "unsubscribed");
      await post("payment.settled");
      const marker = await post("order.created");
      await socket.untilSeq("o", marker);
      await socket.ping("after-marker");
      assert.deepEqual(socket.frames.slice(cut).filter((f) => f.op === "event" && f.rid === "p"), [], "nothing for p after its unsubscribed frame");
      await socket.close();
      await waitUntil("the socket's ordered consumers to leave the EVENTS stream", 60_000, async () => (await consumerCount()) <= consumersBefore);
    });

    test("resume from last seq + 1 after a drop, while events keep arriving over HTTPS and a socket: every matching seq once, no gap, no repeat", async () => {
      const start = (await lastSeq(await suite.broker.connect())) + 1;
      const publisher = await subscriber();
      let posted = 0;
      let stop = false;
      // The publisher: a bounded loop, alternating HTTPS and socket publishes of both types.
      const publishing = (async () => {
        for (let i = 0; i < 600 && !stop; i++, posted++) {
          if (i % 3 === 0) {
            await post("order.created");
            continue;
          }
          const event = structuredEvent(i % 3 === 1 ? "order.created" : "payment.settled", i % 3 === 1 ? VALID_ORDER_V2 : { paymentId: `p-${i}` });
          const ack = await publisher.request({ op: "publish", rid: `pub-${i}`, event });
          assert.equal(ack.op, "ack", JSON.stringify(ack));
        }
      })();
      try {
        const first = await subscriber();
        await subscribe(first, "orders", "order.*", start);
        await first.waitFor("20 events before the drop", () => (first.events("orders").length >= 20 ? true : undefined), FIRST_PULL_STALL_MS + 60_000);
        first.ws.terminate();
        await first.closed("the dropped socket to close");
        const received = first.seqs("orders");
        const postedAtDrop = posted;
        await waitUntil("10 more events published while the subscriber is away", 60_000, async () => posted >= postedAtDrop + 10);
        const second = await subscriber();
        await subscribe(second, "orders", "order.*", received.at(-1)! + 1);
        await second.waitFor("20 events after the resume", () => (second.events("orders").length >= 20 ? true : undefined), FIRST_PULL_STALL_MS + 60_000);
        stop = true;
        await publishing;
        const end = await lastSeq(await suite.broker.connect());
        const expected = await matching(start, end, "order.");
        await second.untilSeq("orders", expected.at(-1)!);
        const union = [...received, ...second.seqs("orders")];
        assert.equal(new Set(union).size, union.length, "no seq was received twice");
        assert.deepEqual(union, expected, "the two sockets together received exactly the order events of the range, in order");
        assert.ok(posted > postedAtDrop, "events were published while the subscriber was away");
        await second.close();
      } finally {
        stop = true;
        await publishing.catch(() => undefined);
        await publisher.close();
      }
    });

    test("a token that expires while the socket is open closes it with 1008 at its next frame, or its next event", async () => {
      // Seconds enough to open both sockets on a busy machine before the token is spent.
      const exp = Math.floor(Date.now() / 1000) + 4;
      const pinging = await subscriber({ exp });
      const listening = await subscriber({ exp });
      await subscribe(listening, "orders", "order.*", "new");
      await pinging.ping("before-expiry");
      await sleep(Math.max(0, exp * 1000 - Date.now()) + 500);
      pinging.send({ op: "ping", rid: "after-expiry" });
      const closed = await pinging.closed("the close of a socket whose token expired, at its next frame");
      assert.equal(closed.code, 1008);
      assert.match(closed.reason, /expired/);
      assert.equal(pinging.repliesTo("after-expiry").length, 0, "the frame after expiry is not answered");
      await post("order.created");
      const closedByEvent = await listening.closed("the close of a subscribed socket whose token expired, at its next event", FIRST_PULL_STALL_MS + 60_000);
      assert.equal(closedByEvent.code, 1008);
      assert.equal(listening.events("orders").length, 0, "no event is sent past the token's expiry");
    });

    const slowSkip =
      runtime === "workerd"
        ? {
            skip: "workerd tells a Worker nothing of a socket's unsent output (its WebSocket has no bufferedAmount), so the socket hub's transport has no bufferedBytes and the edge cannot detect a slow consumer there (docs/browsers.md, Close codes)",
          }
        : {};
    test("a subscriber that stops reading while events flow is closed with 1013 naming the seq to resume from, and resumes from it", slowSkip, async () => {
      const slow = await subscriber();
      await subscribe(slow, "ticks", "bench.*", "new");
      slow.ws.pause();
      const slowClosesBefore = await slowConsumerCloses();
      const pad = "x".repeat(30 * 1024);
      let n = 0;
      // Batches of about 210 KiB, until the edge reports the slow consumer; bounded (~60 MiB).
      for (let batch = 0; batch < 300 && (await slowConsumerCloses()) === slowClosesBefore; batch++) {
        const events = Array.from({ length: 7 }, () => ({ specversion: "1.0", id: `tick-${n}`, source: "/slow", type: "bench.tick", data: { n: n++, pad } }));
        const res = await send(suite.ledger, url(), { path: "/v1/events", method: "POST", headers: { ...bearer(KEYS.full), "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(events) });
        assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 300));
      }
      assert.ok((await slowConsumerCloses()) > slowClosesBefore, `the edge reported no slow consumer after ${n} events of 30 KiB`);
      slow.ws.resume();
      const closed = await slow.closed("the 1013 close of the paused subscriber", 60_000);
      assert.equal(closed.code, 1013, JSON.stringify(closed));
      const resumeFrom = Number(/resume from (\d+)/.exec(closed.reason)?.[1]);
      assert.ok(resumeFrom > 0, `the reason names the seq to resume from: ${closed.reason}`);
      const got = slow.seqs("ticks");
      assert.equal(got.at(-1)! + 1, resumeFrom, "every event up to the resume point was delivered before the close");
      // Events after the close too, so there is always something past the resume point.
      const after = await post("bench.tick", { n: -1 });
      const expected = await matching(got[0]!, after, "bench.");
      const again = await subscriber();
      await subscribe(again, "ticks", "bench.*", resumeFrom);
      await again.untilSeq("ticks", expected.at(-1)!);
      assert.deepEqual([...got, ...again.seqs("ticks")], expected, "resumed from the named seq: no gap, no repeat");
      await again.close();
    });

    async function slowConsumerCloses(): Promise<number> {
      const text = await (await fetch(`${url()}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
      const line = text.split("\n").find((l) => l.startsWith("jetgate_edge_socket_slow_consumers_total"));
      return Number(line?.split(" ")[1] ?? 0);
    }
  });
}

test("the stream holds exactly the events that were acked (HTTPS 202s and socket acks), once each", async () => {
  await assertStreamMatchesLedger(await suite.broker.connect(), suite.ledger);
  assert.ok(suite.ledger.accepted.size >= 2 * 40, `only ${suite.ledger.accepted.size} events were acked`);
});


test("every frame the edge sent in this suite is a WsServerFrame of the OpenAPI document", () => {
  assert.ok(assertServerFramesMatchOpenApi(receivedFrames) > 0, "the suite received frames");
});
