// The bridge's view of the registry build (bridge/registry/): what it answers about types and
// versions, shaping's two validators, and reloading when the build changes, on real builds made by
// `jetgate registry build` from a real git repository.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { LoadedRegistry, loadBuild, RegistryWatcher } from "../../bridge/registry/index.ts";
import { waitUntil } from "./helpers.ts";
import { buildTestRegistry, invoiceFiles, repoSchemas } from "./registry-fixtures.ts";

const ORDER = { orderId: "o-1", customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" } };
const V1_ID = "https://schemas.jetgate.dev/order.created/v1.json";

test("a loaded build answers types, versions, the version a dataschema names, and resolves the shared schemas its $refs reach", async (t) => {
  const reg = await buildTestRegistry(t, { ...repoSchemas(), ...invoiceFiles() });
  const { compiled, hash } = await loadBuild(reg.out);
  const loaded = await LoadedRegistry.from(compiled, hash);
  assert.deepEqual(loaded.types(), ["invoice.sent", "order.created"]);
  assert.deepEqual(loaded.versions("order.created"), [1, 2]);
  assert.deepEqual(loaded.versions("nope"), []);
  assert.deepEqual(loaded.versionOfSchemaId(V1_ID), { type: "order.created", version: 1 });
  assert.equal(loaded.idOf("order.created", 1), V1_ID);
  // $ref to _common/money.json resolves: through ajv and in the dereferenced copy.
  assert.equal(loaded.ajvOf("order.created", 1)!.getSchema(V1_ID)!({ ...ORDER, total: { amount: "x", currency: "EUR" } }), false);
  const deref = loaded.dereferenced("order.created", 1)! as { properties: { total: { properties: Record<string, unknown> } } };
  assert.deepEqual(Object.keys(deref.properties.total.properties), ["amount", "currency"]);
  assert.equal(loaded.strictValidator("order.created", 1)!(ORDER), true);
});

test("projection drops exactly what the pinned version's closed objects do not define, and the strict check reports the rest with JSON pointers", async (t) => {
  const reg = await buildTestRegistry(t, { ...repoSchemas(), ...invoiceFiles() });
  const { compiled, hash } = await loadBuild(reg.out);
  const loaded = await LoadedRegistry.from(compiled, hash);
  const v2 = { ...ORDER, channel: "web" };
  assert.equal(loaded.check("order.created", 1, v2).valid, false);
  const copy = structuredClone(v2);
  loaded.project("order.created", 1, copy);
  assert.deepEqual(copy, ORDER);
  assert.equal(loaded.check("order.created", 1, copy).valid, true);
  const missing = { invoiceId: "i-2", note: "thanks" };
  loaded.project("invoice.sent", 1, missing);
  const result = loaded.check("invoice.sent", 1, missing);
  assert.equal(result.valid, false);
  assert.deepEqual(result.errors.map((e) => [e.instancePath, e.keyword, e.params]), [["", "required", { missingProperty: "dueDate" }]]);
});

test("the watcher reloads a rebuilt registry, and a broken build keeps the last good one in service", async (t) => {
  const reg = await buildTestRegistry(t, repoSchemas());
  const metrics = new Registry();
  const watcher = new RegistryWatcher(reg.out, pino({ level: "silent" }), metrics, 200);
  t.after(() => watcher.stop());
  const first = await watcher.start();
  assert.deepEqual(first.versions("order.created"), [1, 2]);
  const v2 = JSON.parse(fs.readFileSync(path.join(reg.repo.dir, "schemas/order.created/v2.json"), "utf8"));
  const commit = await reg.rebuild({ "schemas/order.created/v3.json": { ...v2, $id: "https://schemas.jetgate.dev/order.created/v3.json", title: "order.created v3" }, "schemas/order.created/examples/v3.json": { ...ORDER, channel: "store" } }, "v3");
  await waitUntil("the watcher to load the build with v3", 20_000, async () => watcher.current()!.versions("order.created").includes(3));
  assert.equal(watcher.current()!.commit, commit);
  assert.match(await metrics.metrics(), new RegExp(`jetgate_bridge_registry_info\\{commit="${commit}"`));
  // A broken index.js (a half-copied deploy): the good build stays.
  fs.writeFileSync(path.join(reg.out, "index.js"), "export const manifest = ;");
  await waitUntil("the failed load to be counted", 20_000, async () => /jetgate_bridge_registry_loads_total\{outcome="failed"\} 1/.test(await metrics.metrics()));
  assert.equal(watcher.current()!.commit, commit);
});
