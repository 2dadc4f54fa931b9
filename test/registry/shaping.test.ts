// `registry check` says, for each new version, which earlier versions its events can still be
// shaped into for subscribers pinned to them (check/shaping.ts), on a real git repository: a
// pull request adding v3 of a type whose v2 made a v1 field optional and whose v3 adds an
// optional property to closed objects. The static answer is checked against the bridge's own
// projection (runtime ajv, removeAdditional) on concrete instances.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkRegistry, formatReport } from "../../registry/index.ts";
import { createAjv } from "../../registry/ajv.ts";
import { projectSchema } from "../../registry/check/shaping.ts";
import { Repo, typeFiles } from "./helpers.ts";

const V1 = { type: "object", properties: { invoiceId: { type: "string" }, dueDate: { type: "string", format: "date" }, lines: { type: "array", items: { type: "object", properties: { sku: { type: "string" } }, required: ["sku"], additionalProperties: false } } }, required: ["invoiceId", "dueDate"], additionalProperties: false };
// v2: dueDate optional (BACKWARD-compatible, but a v2 event may lack what v1 requires).
const V2 = { ...V1, required: ["invoiceId"] };
// v3: like v2, plus an optional note at the top and a qty in each line (v1's closed objects drop them).
const V3 = { ...V2, properties: { ...V2.properties, note: { type: "string" }, lines: { type: "array", items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer" } }, required: ["sku"], additionalProperties: false } } } };
const EX1 = { invoiceId: "i-1", dueDate: "2026-01-31", lines: [{ sku: "a" }] };

test("check reports which earlier versions each new version's events can be shaped into, in text and JSON", async (t) => {
  const repo = await Repo.create(t);
  repo.write(typeFiles("invoice.sent", "BACKWARD", [V1, V2], [EX1, { invoiceId: "i-2" }]));
  await repo.commit("v1 and v2");
  await repo.branch("feature");
  repo.write(typeFiles("invoice.sent", "BACKWARD", [V1, V2, V3], [EX1, { invoiceId: "i-2" }, { invoiceId: "i-3", dueDate: "2026-01-31", note: "n", lines: [{ sku: "a", qty: 2 }] }]));
  await repo.commit("v3 adds note and qty");
  const report = await checkRegistry({ dir: repo.dir, base: "main", head: "feature" });
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.deepEqual(report.newVersions, ["invoice.sent/v3"]);
  assert.equal(report.shaping.length, 1, "only the new version is reported");
  const [v3] = report.shaping;
  assert.equal(v3!.version, 3);
  assert.deepEqual(v3!.shapesInto, [2]);
  assert.deepEqual(v3!.notInto.map((n) => [n.version, n.problems.map((p) => [p.pointer, p.rule])]), [[1, [["/required", "required-removed"]]]]);

  const text = formatReport(report, "text");
  assert.match(text, /invoice\.sent v3: shapes into v2\n/);
  assert.match(text, /not into v1 .*schema-mismatch.*\n\s+\/required\s+required-removed: property "dueDate" is no longer required/);
  assert.deepEqual(JSON.parse(formatReport(report, "json")).shaping, JSON.parse(JSON.stringify(report.shaping)));

  // Without a base every version counts as new: v2 into v1 fails the same way.
  const all = await checkRegistry({ dir: repo.dir, head: "feature" });
  assert.deepEqual(all.shaping.map((s) => [s.version, s.shapesInto, s.notInto.map((n) => n.version)]), [[2, [], [1]], [3, [2], [1]]]);
});

test("the static answer agrees with the bridge's projection on concrete events", () => {
  const ajvOf = (schema: object) => {
    const check = createAjv("2020-12", { allErrors: true }).compile(schema);
    const project = createAjv("2020-12", { allErrors: true, removeAdditional: true }).compile(schema);
    return { check, project };
  };
  const v1 = ajvOf(V1);
  const v2 = ajvOf(V2);
  const v3Event = { invoiceId: "i-3", dueDate: "2026-01-31", note: "n", lines: [{ sku: "a", qty: 2 }] };
  // Into v2: shapeable by the report, and it is: note and qty dropped, the rest kept.
  const to2 = structuredClone(v3Event);
  v2.project(to2);
  assert.ok(v2.check(to2));
  assert.deepEqual(to2, { invoiceId: "i-3", dueDate: "2026-01-31", lines: [{ sku: "a" }] });
  // Into v1: not shapeable by the report, and a v3 event without dueDate indeed is not.
  const to1 = structuredClone({ invoiceId: "i-4", lines: [] });
  v1.project(to1);
  assert.equal(v1.check(to1), false);
  // The projected schema is what ajv leaves: v3's closed-object extras gone, v1's requirements kept only where v3 has them.
  assert.deepEqual(projectSchema(V3, V2), { ...V3, properties: { invoiceId: V3.properties.invoiceId, dueDate: V3.properties.dueDate, lines: { ...V3.properties.lines, items: { ...V3.properties.lines.items, properties: { sku: { type: "string" } } } } } });
});
