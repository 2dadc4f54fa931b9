// The app in-process (app.request(), no server, no broker): behaviour that needs a publisher
// that misbehaves on purpose, the access log, and the small pure parts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../worker/http/app.ts";
import { parseConfig, ConfigError } from "../../worker/config.ts";
import { typeMatches, hashApiKey } from "../../worker/auth/keys.ts";
import { percentEncode } from "../../broker/index.ts";
import { jsonDepth } from "../../worker/http/request-limits.ts";
import { loadRegistry } from "../../worker/node/registry-loader.ts";
import type { Publisher, PublishOutcome } from "../../worker/publish/publisher.ts";
import { writeTestRegistry, VALID_ORDER_V2 } from "./fixtures.ts";

const KEY = "jg_unit";

async function appWith(outcome: PublishOutcome, log?: (line: string) => void) {
  const registry = await loadRegistry(writeTestRegistry());
  const publisher: Publisher = {
    publishMany: async (requests) => requests.map(() => outcome),
    health: async () => ({ reachable: outcome.ok, detail: "fake" }),
    close: async () => {},
  };
  const config = parseConfig({
    NATS_URLS: "nats://127.0.0.1:1",
    API_KEYS: JSON.stringify([{ name: "unit", sha256: await hashApiKey(KEY), types: ["order.*"] }]),
    LOG_REQUESTS: log ? "true" : "false",
  }, "NATS_URLS");
  return createApp({ registry, publisher, config, log });
}

const postOrder = (app: Awaited<ReturnType<typeof appWith>>) =>
  app.request("/v1/events/order.created", {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "idempotency-key": "u-1" },
    body: JSON.stringify(VALID_ORDER_V2),
  });

test("a publish that times out is 503 publish-timeout with Retry-After, never a 202", async () => {
  const app = await appWith({ ok: false, code: "TIMEOUT", message: "no ack within 5000 ms" });
  const res = await postOrder(app);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "2");
  assert.equal((await res.json()).type, "https://jetgate.dev/problems/publish-timeout");
});

test("a batch whose every publish fails is 503 broker-unavailable with per-event results", async () => {
  const app = await appWith({ ok: false, code: "UNAVAILABLE", message: "down" });
  const res = await app.request("/v1/events", {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/cloudevents-batch+json" },
    body: JSON.stringify([{ specversion: "1.0", id: "b1", source: "/u", type: "order.created", data: VALID_ORDER_V2 }]),
  });
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.type, "https://jetgate.dev/problems/broker-unavailable");
  assert.equal(body.results[0].status, 503);
});

test("each request writes one JSON log line with id, type, status and latency", async () => {
  const lines: string[] = [];
  const app = await appWith({ ok: true, ack: { stream: "EVENTS", seq: 7, duplicate: false } }, (l) => lines.push(l));
  const res = await postOrder(app);
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), { id: "u-1", type: "order.created", seq: 7, duplicate: false });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.equal(line.eventId, "u-1");
  assert.equal(line.eventType, "order.created");
  assert.equal(line.status, 202);
  assert.equal(line.keyName, "unit");
  assert.equal(typeof line.reqId, "string");
  assert.equal(typeof line.latencyMs, "number");
});

test("type globs: * stays within a segment, ** crosses segments", () => {
  assert.ok(typeMatches("order.*", "order.created"));
  assert.ok(!typeMatches("order.*", "order.item.added"));
  assert.ok(typeMatches("order.**", "order.item.added"));
  assert.ok(typeMatches("**", "anything.at.all"));
  assert.ok(!typeMatches("order.*", "orders.created"));
});

test("attributes are percent-encoded per the CloudEvents HTTP binding and decode back", () => {
  for (const value of ["/plain", "a b", 'quo"te', "50%", "café ☕", "line\nbreak"]) {
    const encoded = percentEncode(value);
    assert.match(encoded, /^[\x21-\x7e]*$/);
    assert.equal(decodeURIComponent(encoded), value);
  }
});

test("jsonDepth ignores brackets inside strings", () => {
  assert.equal(jsonDepth('{"a":[1,{"b":"[[[["}]}'), 3);
  assert.equal(jsonDepth('"\\"[["'), 0);
});

test("bad vars fail at start with every problem named", () => {
  assert.throws(
    () => parseConfig({ NATS_WS_URLS: "", PUBLISHER_SHARDS: "0", API_KEYS: "[{}]" }),
    (err: unknown) => err instanceof ConfigError && err.problems.length === 3,
  );
  assert.throws(
    () => parseConfig({ NATS_WS_URLS: "ws://127.0.0.1:9222", NATS_USER: "edge" }),
    (err: unknown) => err instanceof ConfigError && /NATS_USER and NATS_PASS/.test(err.problems.join()),
  );
  assert.throws(
    () => parseConfig({ NATS_WS_URLS: "ws://127.0.0.1:9222", NATS_TOKEN: "t", NATS_USER: "edge", NATS_PASS: "p" }),
    (err: unknown) => err instanceof ConfigError && /not both/.test(err.problems.join()),
  );
  assert.deepEqual(parseConfig({ NATS_WS_URLS: "ws://127.0.0.1:9222", NATS_USER: "edge", NATS_PASS: "p" }).natsAuth, { user: "edge", pass: "p" });
});
