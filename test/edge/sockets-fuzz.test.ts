// Fuzzing the WebSocket frames on both runtimes (fast-check, fixed seed, printed): random JSON,
// garbage text and binary frames, every op with hostile rids, events, globs and starts. Whatever
// comes in, the socket stays open (nothing here is over the frame limit), every frame the edge
// sends is a WsServerFrame of the OpenAPI document, no answer is a 500, every publish and
// subscribe with a usable rid of its own gets exactly one answer, and the stream holds exactly
// the events that were acked. JETGATE_FUZZ_RUNS / 5 frames per runtime (300 in `npm test`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { EDGE_RUNTIMES } from "../harness/worker.ts";
import { VALID_ORDER_V2 } from "./fixtures.ts";
import { assertStreamMatchesLedger } from "./helpers.ts";
import { assertServerFramesMatchOpenApi } from "./openapi-check.ts";
import { connectSocket, signToken, SOCKET_SECRET, type Frame, type Rid } from "./socket-client.ts";
import { startSuite, type Suite } from "./suite.ts";

const SEED = Number(process.env.JETGATE_FUZZ_SEED ?? 20261201);
const FRAMES = Math.max(50, Math.floor(Number(process.env.JETGATE_FUZZ_RUNS ?? 1500) / 5));
/** Every this many frames, a ping round trip: the socket is still reading, and answers stay close to their frames. */
const PING_EVERY = 10;

let suite: Suite;
before(async () => {
  suite = await startSuite({ nodes: 1, vars: { TOKEN_SECRET: SOCKET_SECRET, WS_MAX_IN_FLIGHT: "16" } });
});
after(async () => {
  await suite?.stop();
});

/** One generated frame: what to send, and the rid its one answer must carry when it has a usable one of its own. */
interface FuzzFrame {
  data: string | Uint8Array;
  expectsAnswer?: "publish" | "subscribe";
}

const ridFor = (i: number) => fc.oneof(fc.constant<Rid>(`r${i}`), fc.constant<Rid>(1_000_000 + i));
const hostileRid = fc.oneof(fc.constant(-1), fc.constant(1.5), fc.constant(""), fc.constant("has space"), fc.constant("x".repeat(65)), fc.constant(null), fc.object());
const typeName = fc.oneof(fc.constantFrom("order.created", "payment.settled", "bench.tick", "order.unknown", "Order.Created", "order..x", "events.>", "*"), fc.string());
const event = fc.oneof(
  fc.record({ specversion: fc.constant("1.0"), id: fc.uuid(), source: fc.constantFrom("/fuzz", "urn:x"), type: fc.constant("order.created"), data: fc.constant(VALID_ORDER_V2) }),
  fc.record({ specversion: fc.oneof(fc.constant("1.0"), fc.string()), id: fc.oneof(fc.uuid(), fc.string(), fc.integer()), source: fc.oneof(fc.string(), fc.constant(undefined)), type: typeName, data: fc.jsonValue() }, { requiredKeys: [] }),
  fc.jsonValue(),
);
const glob = fc.oneof(fc.constantFrom("order.*", "**", "payment.**", "order-*.created", "*.created", "Order.*", "a..b", ""), fc.string());
const from = fc.oneof(fc.constant(undefined), fc.constantFrom("new", "last", "first", 0, -3, 1.5), fc.integer({ min: 1, max: 1_000_000 }));

function frameAt(i: number): fc.Arbitrary<FuzzFrame> {
  const json = (value: unknown): string => JSON.stringify(value) ?? "null";
  return fc.oneof(
    ridFor(i).chain((rid) => event.map((e): FuzzFrame => ({ data: json({ op: "publish", rid, event: e }), expectsAnswer: "publish" }))),
    ridFor(i).chain((rid) =>
      fc.tuple(fc.oneof(glob, fc.array(glob, { maxLength: 4 }), fc.integer()), from).map(([types, start]): FuzzFrame => ({ data: json({ op: "subscribe", rid, types, from: start }), expectsAnswer: "subscribe" })),
    ),
    fc.oneof(ridFor(i), hostileRid).map((rid): FuzzFrame => ({ data: json({ op: "unsubscribe", rid }) })),
    fc.tuple(hostileRid, fc.constantFrom("publish", "subscribe", "ping", "dance", undefined, 7)).map(([rid, op]): FuzzFrame => ({ data: json({ op, rid, event: {} }) })),
    fc.jsonValue().map((value): FuzzFrame => ({ data: json(value) })),
    fc.string({ maxLength: 200 }).map((text): FuzzFrame => ({ data: text })),
    fc.uint8Array({ maxLength: 64 }).map((bytes): FuzzFrame => ({ data: bytes })),
    fc.integer({ min: 1, max: 40 }).map((depth): FuzzFrame => ({ data: "[".repeat(depth) + "]".repeat(depth) })),
  );
}

for (const runtime of EDGE_RUNTIMES) {
  describe(`fuzzing /v1/ws frames on ${runtime}`, () => {
    test(`${FRAMES} generated frames (seed ${SEED}): the socket stays open, every answer is a WsServerFrame, none a 500, one answer for each publish and subscribe`, async () => {
      process.stderr.write(`# sockets fuzz on ${runtime}: seed ${SEED}, ${FRAMES} frames (JETGATE_FUZZ_SEED, JETGATE_FUZZ_RUNS)\n`);
      const frames = Array.from({ length: FRAMES }, (_, i) => fc.sample(frameAt(i), { seed: SEED + i, numRuns: 1 })[0]!);
      const socket = await connectSocket(suite.edges.get(runtime)!.url, { token: signToken({ sub: `fuzz-${runtime}` }), ledger: suite.ledger });
      try {
        const expected: Array<{ rid: Rid; kind: "publish" | "subscribe"; index: number }> = [];
        for (let i = 0; i < frames.length; i++) {
          const frame = frames[i]!;
          if (frame.expectsAnswer) expected.push({ rid: (JSON.parse(frame.data as string) as { rid: Rid }).rid, kind: frame.expectsAnswer, index: i });
          socket.send(frame.data);
          if (i % PING_EVERY === PING_EVERY - 1) await socket.ping(`ping-${i}`);
        }
        await socket.ping("end");
        const answered = (rid: Rid) => socket.repliesTo(rid).filter((f) => f.op === "ack" || f.op === "problem" || f.op === "subscribed");
        await socket.waitFor("an answer to every publish and subscribe", () => (expected.every((e) => answered(e.rid).length > 0) ? true : undefined), 60_000);
        for (const e of expected) {
          const answers = answered(e.rid);
          assert.equal(answers.length, 1, `frame ${e.index} (${e.kind}, rid ${JSON.stringify(e.rid)}): ${answers.length} answers, ${JSON.stringify(answers).slice(0, 300)}`);
        }
        assert.equal(socket.closeEvent, null, `the socket stayed open, but closed ${JSON.stringify(socket.closeEvent)}`);
        const errors = socket.frames.filter((f: Frame) => f.op === "problem" && f.problem.status >= 500 && f.problem.status !== 503);
        assert.deepEqual(errors, [], "no answer is a 5xx other than the broker's 503");
        assertServerFramesMatchOpenApi(socket.frames);
        const counts: Record<string, number> = {};
        for (const f of socket.frames) counts[f.op === "problem" ? `problem ${f.problem.status}` : f.op] = (counts[f.op === "problem" ? `problem ${f.problem.status}` : f.op] ?? 0) + 1;
        process.stderr.write(`# sockets fuzz on ${runtime}: ${JSON.stringify(counts)}\n`);
      } finally {
        await socket.close();
      }
    });
  });
}

test("the stream holds exactly the events that were acked, once each", async () => {
  await assertStreamMatchesLedger(await suite.broker.connect(), suite.ledger);
});
