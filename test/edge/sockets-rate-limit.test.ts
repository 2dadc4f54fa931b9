// A socket's publishes take from its API key's token bucket (RATE_LIMIT_PER_SECOND/BURST), as the
// key's POSTs do: a socket cannot publish faster than its key may over HTTPS. Past the bucket each
// publish is answered with 429 rate-limited and retryAfter, the socket stays open, and the stream
// holds exactly the acked events. On workerd and Node, against a real 3-node cluster.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { VALID_ORDER_V2 } from "./fixtures.ts";
import { assertStreamMatchesLedger } from "./helpers.ts";
import { assertProblemFrame, connectSocket, signToken, SOCKET_SECRET, structuredEvent, type Frame, receivedFrames } from "./socket-client.ts";
import { assertServerFramesMatchOpenApi } from "./openapi-check.ts";
import { startSuite, type Suite } from "./suite.ts";

/** A bucket of 3 that refills one token a second (the vars are whole numbers): a burst of 20 sent at once meets its end. */
const BURST = 3;
const BURST_SENT = 20;

let suite: Suite;
before(async () => {
  suite = await startSuite({ vars: { TOKEN_SECRET: SOCKET_SECRET, RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: String(BURST) } });
});
after(async () => {
  await suite?.stop();
});

for (const runtime of EDGE_RUNTIMES) {
  describe(`the rate limit over /v1/ws on ${runtime}`, () => {
    test(`a key's socket publishes past its burst (${BURST}) are answered 429 rate-limited with retryAfter, and the socket goes on`, async () => {
      const socket = await connectSocket(suite.edges.get(runtime)!.url, { token: signToken({ sub: `burst-${runtime}` }), ledger: suite.ledger });
      try {
        const events = Array.from({ length: BURST_SENT }, () => structuredEvent("order.created", VALID_ORDER_V2));
        socket.sendAtOnce(events.map((event, i) => ({ op: "publish", rid: i, event })));
        const answers: Frame[] = await Promise.all(events.map((_, i) => socket.reply(i)));
        // Taken in the order they came: the first BURST find the bucket full.
        assert.deepEqual(answers.slice(0, BURST).map((a) => a.op), Array(BURST).fill("ack"), JSON.stringify(answers.slice(0, BURST)));
        const refused = answers.filter((a) => a.op === "problem");
        assert.ok(refused.length > 0, `a burst of ${BURST_SENT} past a bucket of ${BURST} refilling 1/s is refused in part`);
        for (const problem of refused) {
          assertProblemFrame(problem, "rate-limited", 429);
          assert.ok(Number.isInteger(problem.problem.retryAfter) && (problem.problem.retryAfter as number) >= 1, JSON.stringify(problem));
        }
        assert.equal(answers.filter((a) => a.op === "ack").length + refused.length, BURST_SENT, "every publish is answered, acked or refused");
        const pong = await socket.request({ op: "ping", rid: "after" });
        assert.equal(pong.op, "pong", "the socket stays open");
        // Another key's bucket is its own.
        const other = await connectSocket(suite.edges.get(runtime)!.url, { token: signToken({ sub: `other-${runtime}` }), ledger: suite.ledger });
        try {
          assert.equal((await other.request({ op: "publish", rid: "x", event: structuredEvent("order.created", VALID_ORDER_V2) })).op, "ack");
        } finally {
          await other.close();
        }
      } finally {
        await socket.close();
      }
    });
  });
}

test("the stream holds exactly the events that were acked, once each", async () => {
  await assertStreamMatchesLedger(await suite.broker.connect(), suite.ledger);
});


test("every frame the edge sent in this suite is a WsServerFrame of the OpenAPI document", () => {
  assert.ok(assertServerFramesMatchOpenApi(receivedFrames) > 0, "the suite received frames");
});
