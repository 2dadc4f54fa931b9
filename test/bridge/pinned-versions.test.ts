// Pinned versions (issue 14) on a real 3-node cluster with real receivers and a registry built by
// `jetgate registry build` from a git repository of this repo's schemas (order.created v1/v2:
// v2 adds an optional `channel` that v1's closed object does not define) plus invoice.sent, whose
// v2 makes optional a field v1 requires. What a receiver gets is checked independently of the
// bridge: runtime ajv compiled here from the schema files, and standardwebhooks' own verify.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { nuid, type NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Webhook } from "standardwebhooks";
import type { BridgeError, RunningBridge } from "../../bridge/index.ts";
import { LoadedRegistry, loadBuild } from "../../bridge/registry/index.ts";
import { applySubscriptionsFile } from "../../bridge/subscriptions/file.ts";
import { encodeEvent, natsHeadersOf } from "../../broker/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import { SECRET_A, startTestBridge, waitPulling, waitRunning, waitUntil } from "./helpers.ts";
import { buildTestRegistry, INVOICE_V2, invoiceFiles, repoSchemas, type TestRegistry } from "./registry-fixtures.ts";
import { REPO_ROOT, version } from "../registry/helpers.ts";

const ID = (type: string, v: number) => `https://schemas.jetgate.dev/${type}/v${v}.json`;
const ORDER = { orderId: "o-1", customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" } };
const TOKEN = "test-admin-token";

let broker: TestBroker;
let bridge: RunningBridge;
let nc: NatsConnection;
let registry: TestRegistry;

/** One cluster, registry and bridge for the cases below (each adds its own subscriptions and receivers). */
async function setUp(t: TestContext): Promise<void> {
  broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  registry = await buildTestRegistry(t, { ...repoSchemas(), ...invoiceFiles() });
  bridge = await startTestBridge(broker, { registry: registry.out });
  t.after(() => bridge.stop());
  nc = await broker.connect();
}

/** Runtime ajv over the schema files as written, apart from the bridge's own build. */
function independentValidator(type: string, v: number): (data: unknown) => boolean {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormats as unknown as (a: unknown) => void)(ajv);
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "schemas/_common/money.json"), "utf8")));
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, `schemas/${type}/v${v}.json`), "utf8")));
}

async function publish(type: string, data: unknown, dataschema?: string): Promise<string> {
  const id = `evt_${nuid.next()}`;
  const message = encodeEvent({ id, source: "/tests", type, time: new Date().toISOString(), ...(dataschema ? { dataschema } : {}) }, new TextEncoder().encode(JSON.stringify(data)));
  await jetstream(nc).publish(message.subject, message.data, { headers: natsHeadersOf(message) });
  return id;
}

async function admin(method: string, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${bridge.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function subscribe(t: TestContext, input: Record<string, unknown>): Promise<Receiver> {
  const rx = await startReceiver();
  t.after(() => rx.stop());
  const created = await admin("POST", "/v1/subscriptions", { url: rx.url, secret: SECRET_A, ...input });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  await waitRunning([bridge], input.id as string, 30_000);
  await waitPulling(nc, input.id as string, 1);
  return rx;
}

async function deadLetters(subscription: string, count: number): Promise<Array<Record<string, unknown>>> {
  let letters: Array<Record<string, unknown>> = [];
  await waitUntil(`${count} dead letter(s) of ${subscription}`, 30_000, async () => {
    letters = (await admin("GET", `/v1/dlq?subscription=${subscription}`)).json.deadLetters as Array<Record<string, unknown>>;
    return letters.length >= count;
  });
  return letters;
}

test("pinned versions on a 3-node cluster", async (t) => {
  await setUp(t);

  await t.test("a v1-pinned receiver gets v2 events shaped to v1 (ajv accepts them against v1, standardwebhooks verifies them, dataschema names v1); v1 events arrive unchanged", async (t) => {
    const structured = await subscribe(t, { id: "pin-v1", types: ["order.created@1"] });
    const binary = await subscribe(t, { id: "pin-v1-binary", types: ["order.created@1"], format: "binary" });
    const unpinned = await subscribe(t, { id: "unpinned", types: ["order.created"] });
    const v2Event = { ...ORDER, orderId: "o-2", channel: "web" };
    const v1Event = { ...ORDER, orderId: "o-1" };
    await publish("order.created", v2Event, ID("order.created", 2));
    await publish("order.created", v1Event, ID("order.created", 1));
    const [a, b] = await structured.waitFor(2, 30_000);
    const validV1 = independentValidator("order.created", 1);
    const byOrder = new Map([a!, b!].map((r) => [(JSON.parse(r.body) as { data: { orderId: string } }).data.orderId, r]));
    for (const r of [a!, b!]) {
      assert.doesNotThrow(() => new Webhook(SECRET_A).verify(r.body, r.headers), "standardwebhooks verifies the shaped delivery");
      const ce = JSON.parse(r.body) as { data: unknown; dataschema: string };
      assert.equal(ce.dataschema, ID("order.created", 1));
      assert.ok(validV1(ce.data), `v1 accepts ${JSON.stringify(ce.data)}`);
    }
    assert.deepEqual((JSON.parse(byOrder.get("o-2")!.body) as { data: unknown }).data, { ...ORDER, orderId: "o-2" }, "channel (not in v1) is dropped, nothing else changes");
    // Valid against v1 already: the producer's bytes, untouched.
    assert.ok(byOrder.get("o-1")!.body.endsWith(`,"data":${JSON.stringify(v1Event)}}`));

    const [bin2, bin1] = await binary.waitFor(2, 30_000);
    for (const r of [bin2!, bin1!]) {
      assert.equal(r.headers["ce-dataschema"], ID("order.created", 1));
      assert.ok(validV1(JSON.parse(r.body)));
      assert.doesNotThrow(() => new Webhook(SECRET_A).verify(r.body, r.headers));
    }
    // Who pins nothing gets the event as published.
    const plain = await unpinned.waitFor(2, 30_000);
    const plainV2 = plain.map((r) => JSON.parse(r.body) as { data: { orderId: string; channel?: string }; dataschema: string }).find((e) => e.data.orderId === "o-2")!;
    assert.equal(plainV2.data.channel, "web");
    assert.equal(plainV2.dataschema, ID("order.created", 2));
  });

  await t.test("an unshapeable event is dead-lettered at once as schema-mismatch with the versions and ajv's errors, and a redrive after fixing the subscription delivers it", async (t) => {
    const unordered = await subscribe(t, { id: "inv-pin", types: ["invoice.sent@1"], retry: { schedule: ["50ms", "50ms", "50ms"] } });
    const ordered = await subscribe(t, { id: "inv-pin-ordered", types: ["invoice.sent@1"], ordered: true, retry: { schedule: ["50ms"] } });
    const shapeable = { invoiceId: "i-1", dueDate: "2026-01-31", note: "dropped for v1" };
    const missing = { invoiceId: "i-2", note: "no due date" };
    await publish("invoice.sent", missing, ID("invoice.sent", 2));
    await publish("invoice.sent", shapeable, ID("invoice.sent", 2));
    for (const [id, rx] of [["inv-pin", unordered], ["inv-pin-ordered", ordered]] as const) {
      const [letter] = await deadLetters(id, 1);
      const shown = (await admin("GET", `/v1/dlq/${letter!.seq as number}`)).json.deadLetter as Record<string, unknown>;
      assert.match(shown.reason as string, /^schema-mismatch: /);
      const problem = shown.problem as Record<string, unknown>;
      assert.equal(problem.type, "https://jetgate.dev/problems/bridge/schema-mismatch");
      assert.equal(problem.eventType, "invoice.sent");
      assert.equal(problem.pinnedVersion, 1);
      assert.equal(problem.eventVersion, 2);
      assert.deepEqual((problem.errors as Array<Record<string, unknown>>).map((e) => [e.instancePath, e.keyword, e.params]), [["", "required", { missingProperty: "dueDate" }]]);
      assert.equal((shown.history as unknown[]).length, 1, `${id}: one attempt, no retries`);
      assert.equal(JSON.parse(shown.data as string).invoiceId, "i-2");
      // The shapeable one went through (projected), and only it.
      const [got] = await rx.waitFor(1, 30_000);
      assert.deepEqual((JSON.parse(got!.body) as { data: unknown }).data, { invoiceId: "i-1", dueDate: "2026-01-31" });
    }
    // A version the registry does not have is refused, naming the type and the versions it has.
    const refused = await admin("PATCH", "/v1/subscriptions/inv-pin", { types: ["invoice.sent@3"] });
    assert.equal(refused.status, 422);
    assert.equal(refused.json.type, "https://jetgate.dev/problems/bridge/pinned-version-unknown");
    assert.deepEqual((refused.json.errors as Array<Record<string, unknown>>).map((e) => [e.path, e.eventType, e.versions]), [["types[0]", "invoice.sent", [1, 2]]]);
    assert.match(refused.json.detail as string, /invoice\.sent to v3.*has v1, v2/);

    // Fixed: re-pinned to v2 (unordered) and unpinned (ordered); a redrive delivers each.
    assert.equal((await admin("PATCH", "/v1/subscriptions/inv-pin", { types: ["invoice.sent@2"] })).status, 200);
    assert.equal((await admin("PATCH", "/v1/subscriptions/inv-pin-ordered", { types: ["invoice.sent"] })).status, 200);
    for (const [id, rx, types] of [["inv-pin", unordered, ["invoice.sent@2"]], ["inv-pin-ordered", ordered, ["invoice.sent"]]] as const) {
      await waitUntil(`the bridge to see ${id} select ${types.join(",")}`, 30_000, async () => {
        await bridge.manager.settled();
        return JSON.stringify(bridge.manager.view.get(id)?.types) === JSON.stringify(types);
      });
      const redriven = await admin("POST", "/v1/dlq/redrive", { subscription: id });
      assert.equal(redriven.json.redriven, 1, JSON.stringify(redriven.json));
      const [, again] = await rx.waitFor(2, 30_000);
      const ce = JSON.parse(again!.body) as { data: unknown; dataschema: string };
      assert.deepEqual(ce.data, missing);
      assert.equal(ce.dataschema, ID("invoice.sent", 2), "re-pinned to v2, or unpinned: the event's own v2");
      assert.doesNotThrow(() => new Webhook(SECRET_A).verify(again!.body, again!.headers));
    }
  });

  await t.test("a registry rebuilt while the bridge runs is reloaded: a new version can be pinned and is delivered", async (t) => {
    // v3 = v2 with an optional amount (BACKWARD-compatible: v2 is closed).
    const v3 = { ...INVOICE_V2, properties: { ...(INVOICE_V2.properties as object), amount: { type: "string" } } };
    const before = await admin("POST", "/v1/subscriptions", { id: "inv-v3", url: "http://127.0.0.1:9/x", secret: SECRET_A, types: ["invoice.sent@3"] });
    assert.equal(before.status, 422, "v3 is not built yet");
    const commit = await registry.rebuild({ "schemas/invoice.sent/v3.json": version("invoice.sent", 3, v3), "schemas/invoice.sent/examples/v3.json": { invoiceId: "i-3", amount: "1" } }, "invoice.sent v3");
    await waitUntil("the bridge to serve the rebuilt registry", 30_000, async () => (await (await fetch(`${bridge.url}/metrics`)).text()).includes(`jetgate_bridge_registry_info{commit="${commit}"`));
    const rx = await subscribe(t, { id: "inv-v3", types: ["invoice.sent@3"] });
    await publish("invoice.sent", { invoiceId: "i-4", amount: "2" }, ID("invoice.sent", 3));
    await publish("invoice.sent", { invoiceId: "i-5", dueDate: "2026-03-01" }, ID("invoice.sent", 1));
    const got = await rx.waitFor(2, 30_000);
    for (const r of got) assert.equal((JSON.parse(r.body) as { dataschema: string }).dataschema, ID("invoice.sent", 3));
    assert.deepEqual(got.map((r) => (JSON.parse(r.body) as { data: { invoiceId: string } }).data.invoiceId).sort(), ["i-4", "i-5"]);
  });

  await t.test("a subscriptions file pinning a version the registry lacks is refused, naming the versions it has, and changes nothing", async () => {
    const file = path.join(registry.out, "..", "subs.yaml");
    fs.writeFileSync(file, `subscriptions:\n  - id: from-file\n    url: http://127.0.0.1:9/x\n    types: ["order.created@7"]\n`);
    const { compiled, hash } = await loadBuild(registry.out);
    const loaded = await LoadedRegistry.from(compiled, hash);
    await assert.rejects(applySubscriptionsFile(nc, file, { ssrfAllow: ["127.0.0.1"], registry: { current: () => loaded } }), (err: BridgeError) => {
      assert.equal(err.code, "PINNED_VERSION_UNKNOWN");
      assert.match(err.message, /order\.created to v7, but the registry has v1, v2/);
      return true;
    });
    assert.equal((await admin("GET", "/v1/subscriptions/from-file")).status, 404);
  });
});
