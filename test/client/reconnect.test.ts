// The browser client (client/) run under Node, with the `ws` package as its WebSocket (Node 20 has
// none), against the real edge on each runtime and a real 3-node cluster: its own flow control,
// its reconnects and what it resends and resumes across them. The same client in a real browser
// is test/e2e/browser.test.ts.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ClientError, JetgateClient, ProblemError, type Ack, type CloudEvent, type JetgateClientOptions, type StatusChange, type WebSocketConstructor } from "../../client/index.ts";
import { buildRegistry } from "../../registry/index.ts";
import { devApiKeys, DEV_API_KEY } from "../../worker/index.ts";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type TestEdge, type TestEdgeOptions } from "../harness/worker.ts";
import { freePort } from "../harness/ports.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../harness/events.ts";
import { hashApiKey } from "../../worker/auth/keys.ts";
import { openapi } from "../../worker/http/openapi.ts";
import { Ajv2020 } from "ajv/dist/2020.js";
import { assertServerFramesMatchOpenApi } from "../edge/openapi-check.ts";

const ROOT = join(import.meta.dirname, "../..");
const TOKEN_SECRET = "client-test-token-secret-of-32-bytes-or-more";
/** A key that may publish order.* but subscribe only to payment.*: for the scope refusal. */
const NARROW_KEY = "jg_client_test_narrow_key";
/** Small, so that the client's own window is what keeps it clear of `backpressure`. */
const MAX_IN_FLIGHT = 4;
const DEADLINE_MS = 30_000;

const order = (orderId: string) => ({ orderId, customer: { id: "c-1", email: "a@example.com" }, total: { amount: "1.00", currency: "EUR" } });

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, deadlineMs = DEADLINE_MS): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) assert.fail(`waited ${deadlineMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rejects naming `what` if `promise` has not settled by the deadline. */
function within<T>(what: string, promise: Promise<T>, deadlineMs = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`waited ${deadlineMs} ms for ${what}`)), deadlineMs)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Every frame the clients sent and got, to hold them to the OpenAPI document's frame schemas. */
const sentFrames: unknown[] = [];
const gotFrames: unknown[] = [];

/** The ws package's WebSocket, recording what crosses it: a real socket, only watched. */
class RecordingWebSocket extends WebSocket {
  constructor(url: string, protocols: string[]) {
    super(url, protocols);
    this.on("message", (data: Buffer) => gotFrames.push(JSON.parse(data.toString())));
  }
  override send(data: string): void {
    sentFrames.push(JSON.parse(data));
    super.send(data);
  }
}

/** Each client a test makes: closed at the end, and its status changes kept. */
function clientFor(t: { after(fn: () => void): void }, edge: () => TestEdge, extra: Partial<JetgateClientOptions> & { key?: string; ttl?: number } = {}) {
  const statuses: StatusChange[] = [];
  let tokens = 0;
  const { key = DEV_API_KEY, ttl, ...options } = extra;
  const client = new JetgateClient({
    url: `${edge().url.replace(/^http/, "ws")}/v1/ws`,
    token: async () => {
      tokens++;
      const res = await fetch(`${edge().url}/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(ttl === undefined ? {} : { ttl }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/tokens answered ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    source: "/client-test",
    WebSocket: RecordingWebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 50, maxMs: 1_000 },
    onStatus: (change) => statuses.push(change),
    ...options,
  });
  t.after(() => client.close());
  return { client, statuses, tokens: () => tokens };
}

const opened = (statuses: StatusChange[]) => statuses.filter((s) => s.status === "open").length;

for (const runtime of EDGE_RUNTIMES) {
  describe(`the client under Node against the ${runtime} edge`, () => {
    let broker: TestBroker;
    let edge: TestEdge;
    /** The edge to stop at the end: none while a restart is under way, or if it failed. */
    let running: TestEdge | undefined;
    let edgeOptions: TestEdgeOptions;
    let registryDir: string;

    before(async () => {
      mkdirSync(join(ROOT, ".jetgate/tmp"), { recursive: true });
      registryDir = mkdtempSync(join(ROOT, ".jetgate/tmp/client-registry-"));
      await buildRegistry({ dir: join(ROOT, "schemas"), out: registryDir });
      broker = await startTestBroker({ nodes: 3 });
      const narrow = { name: "narrow", sha256: await hashApiKey(NARROW_KEY), types: ["order.*"], subscribe: ["payment.*"] };
      edgeOptions = {
        runtime,
        broker,
        registryDir,
        apiKeys: [...(await devApiKeys()), narrow],
        vars: { TOKEN_SECRET, WS_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) },
        port: await freePort(),
      };
      edge = running = await startTestEdge(edgeOptions);
    });

    after(async () => {
      await running?.stop();
      await broker?.stop();
      if (registryDir) rmSync(registryDir, { recursive: true, force: true });
    });

    async function restartEdge(whileDown: () => Promise<void> = async () => {}): Promise<void> {
      running = undefined;
      await edge.stop();
      await whileDown();
      edge = running = await startTestEdge(edgeOptions);
    }

    test("many publishes at once stay within the edge's maxInFlight: every one acked, none refused with backpressure", async (t) => {
      const { client } = clientFor(t, () => edge);
      const acks = await within("50 acks", Promise.all(Array.from({ length: 50 }, (_, i) => client.publish({ type: "order.created", data: order(`o-window-${i}`) }))));
      assert.equal(client.session?.maxInFlight, MAX_IN_FLIGHT);
      assert.equal(new Set(acks.map((a) => a.seq)).size, 50, "50 events, 50 seqs");
      assert.ok(acks.every((a) => !a.duplicate));
    });

    test("a refused publish rejects with the edge's problem; a frame over maxFrameBytes is refused unsent and the socket stays open", async (t) => {
      const { client, statuses } = clientFor(t, () => edge);
      const refused = await client.publish({ type: "order.created", data: { orderId: "" } }).catch((err: unknown) => err);
      assert.ok(refused instanceof ProblemError, `a ProblemError, got ${refused}`);
      assert.equal(refused.problem.type, "https://jetgate.dev/problems/schema-validation");
      assert.ok(Array.isArray(refused.problem.errors) && refused.problem.errors.length > 0);
      const huge = await client.publish({ type: "order.created", data: { ...order("o-huge"), pad: "x".repeat(client.session!.maxFrameBytes) } }).catch((err: unknown) => err);
      assert.ok(huge instanceof ClientError && huge.code === "FRAME_TOO_LARGE", `FRAME_TOO_LARGE, got ${huge}`);
      const ack = await within("an ack after the refusals", client.publish({ type: "order.created", data: order("o-after-huge") }));
      assert.ok(ack.seq > 0);
      assert.equal(opened(statuses), 1, "one socket throughout");
    });

    test("publishes in flight when the edge goes away are sent again on the next socket: each acked, each stored once", async (t) => {
      const { client, statuses } = clientFor(t, () => edge);
      await until("the first socket", () => (client.status === "open" ? true : undefined));
      const ids = Array.from({ length: 40 }, (_, i) => `resend-${runtime}-${i}`);
      const pending = ids.map((id, i) => client.publish({ type: "order.created", id, data: order(`o-resend-${i}`) }));
      await restartEdge();
      const acks: Ack[] = await within("every publish made across the restart to be acked", Promise.all(pending));
      assert.deepEqual(acks.map((a) => a.id), ids);
      assert.ok(opened(statuses) >= 2, "the client opened a second socket");
      const jsm = await jetstreamManager(await broker.connect());
      for (const ack of acks) {
        const stored = await jsm.streams.getMessage(EVENTS_STREAM, { seq: ack.seq });
        assert.equal(stored?.header.get("ce-id"), ack.id, `seq ${ack.seq} holds ${ack.id}`);
      }
      assert.equal(new Set(acks.map((a) => a.seq)).size, ids.length, "no event stored twice: a resend of a stored one is a duplicate with its first seq");
    });

    test("a subscription resumes after its last seq across an edge restart while events keep arriving: no gap, no repeat", async (t) => {
      const { client, statuses } = clientFor(t, () => edge);
      const js = jetstream(await broker.connect());
      const jsm = await jetstreamManager(await broker.connect());
      const start = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq + 1;
      const seen: Array<{ seq: number; event: CloudEvent }> = [];
      const sub = client.subscribe("order.*", { from: start }, (event, seq) => seen.push({ seq, event }));
      assert.deepEqual(await within("the subscription to be confirmed", sub.ready), ["order.*"]);
      // A steady trickle of events straight into JetStream, before, during and after the restart.
      let publishing = true;
      let stored = 0;
      const trickle = (async () => {
        while (publishing) {
          const data = new TextEncoder().encode(JSON.stringify(order(`o-trickle-${stored}`)));
          await publishEdgeStyle(js, edgeStyleEvent(`trickle-${runtime}-${stored}`, "order.created", "client-test", data));
          stored++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await until("some events before the restart", () => (seen.length >= 5 ? true : undefined));
      await restartEdge(() => new Promise((r) => setTimeout(r, 300)));
      await until("the second socket", () => (opened(statuses) >= 2 ? true : undefined));
      // Half a second more of events while the subscription runs on the new socket.
      await new Promise((r) => setTimeout(r, 500));
      publishing = false;
      await trickle;
      const last = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
      await until(`every event up to seq ${last}`, () => (sub.lastSeq >= last ? true : undefined));
      const expected = Array.from({ length: last - start + 1 }, (_, i) => start + i);
      assert.deepEqual(seen.map((s) => s.seq), expected, "each seq once, in order");
      assert.equal(sub.lastSeq, last);
    });

    test('a "new" subscription that had received nothing resumes from where the edge said it started: events stored while it was away arrive', async (t) => {
      const { client, statuses } = clientFor(t, () => edge);
      const js = jetstream(await broker.connect());
      const seen: number[] = [];
      const sub = client.subscribe("order.*", { from: "new" }, (_event, seq) => seen.push(seq));
      await within("the subscription to be confirmed", sub.ready);
      const away: number[] = [];
      await restartEdge(async () => {
        for (let i = 0; i < 3; i++) {
          const data = new TextEncoder().encode(JSON.stringify(order(`o-away-${i}`)));
          away.push((await publishEdgeStyle(js, edgeStyleEvent(`away-${runtime}-${i}`, "order.created", "client-test", data))).seq);
        }
      });
      await until("the second socket", () => (opened(statuses) >= 2 ? true : undefined));
      await until(`the events stored while the edge was down (seqs ${away.join(", ")})`, () => (away.every((seq) => seen.includes(seq)) ? true : undefined));
      assert.deepEqual(seen, away, "exactly the events stored while it was away, each once, in order");
    });

    test("a token that expires on an open socket is replaced: the client reconnects with a fresh one and the publish goes through", async (t) => {
      const { client, statuses, tokens } = clientFor(t, () => edge, { ttl: 2 });
      await until("the first socket", () => (client.status === "open" ? true : undefined));
      const expiresAt = Date.parse(client.session!.expiresAt);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 100));
      const ack = await within("a publish made after the token expired", client.publish({ type: "order.created", data: order("o-expired") }));
      assert.ok(ack.seq > 0);
      const closes = statuses.filter((s) => s.status === "reconnecting").map((s) => s.code);
      assert.ok(closes.includes(1008), `the edge closed with 1008 (closes: ${closes.join(", ")})`);
      assert.ok(tokens() >= 2, "a fresh token was fetched");
    });

    test("a subscription beyond the token's scope is refused with the problem, and the socket goes on", async (t) => {
      const { client } = clientFor(t, () => edge, { key: NARROW_KEY });
      const problems: string[] = [];
      const sub = client.subscribe("order.*", { onError: (p) => problems.push(p.type) }, () => assert.fail("no event for a refused subscription"));
      const refused = await sub.ready.catch((err: unknown) => err);
      assert.ok(refused instanceof ProblemError, `a ProblemError, got ${refused}`);
      assert.equal(refused.problem.type, "https://jetgate.dev/problems/forbidden-scope");
      assert.deepEqual(problems, [refused.problem.type]);
      const allowed = client.subscribe("payment.*", {}, () => {});
      assert.deepEqual(await within("the allowed subscription", allowed.ready), ["payment.*"]);
    });

    test("a quiet socket is kept open by pings and their pongs", async (t) => {
      const { client, statuses } = clientFor(t, () => edge, { pingIntervalMs: 100 });
      await until("the first socket", () => (client.status === "open" ? true : undefined));
      const pingsBefore = sentFrames.filter((f) => (f as { op: string }).op === "ping").length;
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(client.status, "open");
      assert.equal(opened(statuses), 1, "no reconnect: each pong showed the socket alive");
      assert.ok(sentFrames.filter((f) => (f as { op: string }).op === "ping").length - pingsBefore >= 3, "pings went out while nothing else did");
    });

    test("close() ends it for good: waiting publishes reject with CLOSED and it never reconnects", async (t) => {
      const { client, statuses } = clientFor(t, () => edge);
      await until("the first socket", () => (client.status === "open" ? true : undefined));
      const pending = Array.from({ length: 10 }, (_, i) => client.publish({ type: "order.created", data: order(`o-closed-${i}`) }).catch((err: unknown) => err));
      client.close();
      const outcomes = await within("the publishes to settle", Promise.all(pending));
      assert.ok(outcomes.every((o) => (o instanceof ClientError && o.code === "CLOSED") || (o as Ack).seq > 0), "each either acked before the close or CLOSED");
      assert.ok(outcomes.some((o) => o instanceof ClientError), "those not yet answered were rejected");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(statuses.at(-1)?.status, "closed");
      assert.equal(opened(statuses), 1, "no reconnect after close()");
      const late = await client.publish({ type: "order.created", data: order("o-late") }).catch((err: unknown) => err);
      assert.ok(late instanceof ClientError && late.code === "CLOSED");
    });

    test("a subscribe refused for a passing reason (the broker is down: 503) is sent again until it holds, and then delivers", async (t) => {
      const { client } = clientFor(t, () => edge);
      await until("the first socket", () => (client.status === "open" ? true : undefined));
      const problems: string[] = [];
      const got: number[] = [];
      for (let i = 0; i < broker.nodes.length; i++) await broker.stopNode(i);
      let restarted = false;
      t.after(async () => {
        if (restarted) return;
        for (let i = 0; i < broker.nodes.length; i++) await broker.startNode(i).catch(() => undefined);
      });
      const sub = client.subscribe("order.*", { from: "last", onError: (p) => problems.push(p.type) }, (_event, seq) => got.push(seq));
      await until("the edge's refusal of the subscribe while the broker is down", () => (gotFrames.some((f) => (f as { op: string; rid?: string; problem?: { status: number } }).op === "problem" && (f as { rid?: string }).rid === sub.rid) ? true : undefined), 60_000);
      for (let i = 0; i < broker.nodes.length; i++) await broker.startNode(i);
      restarted = true;
      await broker.ready(60_000);
      assert.deepEqual(await within("the subscription once the broker is back", sub.ready, 60_000), ["order.*"]);
      await client.publish({ type: "order.created", data: order("o-after-outage") }).catch(() => undefined);
      await until("an event on the subscription that held", () => (got.length > 0 ? true : undefined));
      assert.deepEqual(problems, [], "no final refusal was reported");
    });

    test("every frame the client sent is a WsClientFrame of the OpenAPI document, and every frame it got a WsServerFrame", () => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      const validate = ajv.compile({ components: openapi.components, $ref: "#/components/schemas/WsClientFrame" });
      assert.ok(sentFrames.length > 0, "the tests above sent frames");
      for (const frame of sentFrames) assert.ok(validate(frame), `a client frame is not a WsClientFrame: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(frame).slice(0, 300)}`);
      assert.ok(assertServerFramesMatchOpenApi(gotFrames) > 0);
    });
  });
}
