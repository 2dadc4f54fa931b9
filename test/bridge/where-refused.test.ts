// A `where` is checked against the registry's schemas when a subscription is saved (issue 14): the
// admin API (and a subscriptions file) refuses with 422 `where-invalid` an expression that reads a
// path no covered version defines, or compares a field with a value of another type, and names the
// path and the versions; one that does not compile is a 422 `subscription-invalid` at `where`.
// The registry is this repository's schemas (order.created v1, v2: total.amount is a decimal
// string; v2 adds `channel`) plus invoice.sent (v2 adds a string `note`), built by
// `jetgate registry build` from a real git repository and loaded by the bridge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { applySubscriptionsFile, BridgeError, type RunningBridge } from "../../bridge/index.ts";
import { loadBuild, LoadedRegistry } from "../../bridge/registry/index.ts";
import { startTestBroker } from "../harness/nats.ts";
import { repoTempDir } from "../registry/helpers.ts";
import { startTestBridge } from "./helpers.ts";
import { buildTestRegistry, invoiceFiles, repoSchemas } from "./registry-fixtures.ts";

interface ProblemBody {
  type: string;
  status: number;
  detail: string;
  code: string;
  errors?: Array<{ path: string; versions?: string[]; message: string }>;
}

function api(bridge: RunningBridge, method: string, urlPath: string, body?: unknown): Promise<Response> {
  return fetch(`${bridge.url}${urlPath}`, {
    method,
    headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function refused(res: Response, type: string): Promise<ProblemBody> {
  assert.equal(res.status, 422, `422 for a refused where (got ${res.status})`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const problem = (await res.json()) as ProblemBody;
  assert.equal(problem.type, `https://jetgate.dev/problems/bridge/${type}`);
  return problem;
}

test("a where that does not fit the schemas of the types it selects is refused with 422, naming the path, the types and the versions", async (t) => {
  const registry = await buildTestRegistry(t, { ...repoSchemas(), ...invoiceFiles() });
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker, { registry: registry.out });
  t.after(() => bridge.stop());
  const base = { url: "http://127.0.0.1:9/hook", types: ["order.created"] };

  // A decimal string compared with a number.
  let p = await refused(await api(bridge, "POST", "/v1/subscriptions", { ...base, id: "num", where: "data.total.amount > 100" }), "where-invalid");
  assert.equal(p.code, "WHERE_INVALID");
  assert.match(p.detail, /data\.total\.amount is a string in order\.created v1, v2 but is compared with a number \(100\)/);
  assert.deepEqual(p.errors?.map((e) => [e.path, e.versions]), [["data.total.amount", ["order.created v1", "order.created v2"]]]);

  // A path no version defines (customer is closed: id and email).
  p = await refused(await api(bridge, "POST", "/v1/subscriptions", { ...base, id: "path", where: "data.customer.country == 'DE'" }), "where-invalid");
  assert.match(p.detail, /data\.customer\.country: no version of order\.created defines it \(v1, v2\)/);
  assert.equal(p.errors?.[0]?.path, "data.customer.country");
  assert.equal((p.errors?.[0] as { pointer?: string } | undefined)?.pointer, "/customer/country", "the JSON pointer into the event's data");

  // Several findings at once, each with its versions; a path inside a list macro is named as written.
  p = await refused(await api(bridge, "POST", "/v1/subscriptions", { ...base, id: "both", where: "data.customer.id == 7 || data.nope.x == 'a'" }), "where-invalid");
  assert.deepEqual(p.errors?.map((e) => e.path).sort(), ["data.customer.id", "data.nope"]);

  // Over a glob: invoice.sent v2 alone defines `note`, as a string; the number is refused for that version.
  p = await refused(await api(bridge, "POST", "/v1/subscriptions", { ...base, id: "glob", types: ["order.*", "invoice.*"], where: "data.note == 1" }), "where-invalid");
  assert.deepEqual(p.errors?.map((e) => [e.path, e.versions]), [["data.note", ["invoice.sent v2"]]]);

  // What does not compile is refused before any schema is read, at `where`, with the library's message.
  p = await refused(await api(bridge, "POST", "/v1/subscriptions", { ...base, id: "syntax", where: "data.total.amount >" }), "subscription-invalid");
  assert.equal(p.errors?.[0]?.path, "where");

  // Accepted: a field only v2 defines, a string compared as a string, attributes, an int literal against a JSON number.
  for (const [id, where] of [
    ["channel", "data.channel == 'web'"],
    ["strings", "data.total.amount == '19.99' && data.customer.id.startsWith('c') && source == '/shop'"],
    ["attrs", "event.type == 'order.created' && has(event.subject)"],
  ] as const) {
    const res = await api(bridge, "POST", "/v1/subscriptions", { ...base, id, where });
    assert.equal(res.status, 201, `${where} is accepted (${await res.clone().text()})`);
  }
  // A change is checked as a creation is, and a refused one leaves the subscription as it was.
  p = await refused(await api(bridge, "PATCH", "/v1/subscriptions/channel", { where: "data.channel > 1" }), "where-invalid");
  assert.match(p.detail, /data\.channel is a string in order\.created v2/);
  const kept = (await (await api(bridge, "GET", "/v1/subscriptions/channel")).json()) as { subscription: { where: string } };
  assert.equal(kept.subscription.where, "data.channel == 'web'");

  // The subscriptions file is checked against the same build.
  const file = path.join(repoTempDir(t, "where-file"), "subscriptions.yaml");
  await writeFile(file, `subscriptions:\n  - id: from-file\n    url: http://127.0.0.1:9/hook\n    types: ["order.created"]\n    where: "data.total.currency == 3"\n`);
  const nc = await broker.connect();
  const { compiled, hash } = await loadBuild(registry.out);
  const loaded = await LoadedRegistry.from(compiled, hash);
  await assert.rejects(applySubscriptionsFile(nc, file, { ssrfAllow: ["127.0.0.1"], registry: { current: () => loaded } }), (err: unknown) => {
    assert.ok(err instanceof BridgeError);
    assert.equal(err.code, "WHERE_INVALID");
    assert.match(err.message, /subscriptions\[0\]: where: data\.total\.currency is a string in order\.created v1, v2/);
    return true;
  });
});
